#!/usr/bin/env bash
# The test suite, with its own setup (virtual environment, pip packages, Debian packages when root).
source "$(dirname "$0")/env.sh"
command -v g++ >/dev/null || apt_install g++
agma_env test
cd "$AGMA_ROOT"
exec python -m pytest -q "$@"
