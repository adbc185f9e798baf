#!/usr/bin/env bash
# The test suite, with its own setup (the environment .venv shared with scripts/demo.sh, pip
# packages, Debian packages (g++, mosquitto) when root; AGMA_PYTHON=python3.10 uses .venv-3.10 instead).
source "$(dirname "$0")/env.sh"
command -v g++ >/dev/null || apt_install g++
# a real MQTT broker and its command-line clients for the MQTT tests (tests/runtime/mqtt_daemon.py), and
# openssl, which docs/mosquitto/README.md's trial certificates use (tests/status/test_mosquitto_readme.py)
# and rsync, which the dump-pulling commands of docs/research-data.md use (tests/cli/test_pull_docs.py)
apt_install mosquitto mosquitto-clients openssl rsync
agma_env test
cd "$AGMA_ROOT"
exec python -m pytest -q "$@"
