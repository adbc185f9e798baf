#!/usr/bin/env bash
# The main job: a bounded simulated recording session (20 s of a simulated infant below a
# simulated ZED 2), stored in var/demo.sqlite, then its summary. Sets itself up on first run
# (the environment .venv, shared with scripts/test.sh; see scripts/env.sh).
source "$(dirname "$0")/env.sh"
agma_env
mkdir -p "$AGMA_ROOT/var"
status=0
agma record --source synthetic --duration "${AGMA_DEMO_DURATION:-20}" --db "$AGMA_ROOT/var/demo.sqlite" "$@" || status=$?
rel=${VENV#"$PWD"/}
echo "next: . $rel/bin/activate (puts agma on PATH), then: agma sessions --db $AGMA_ROOT/var/demo.sqlite" >&2
exit "$status"
