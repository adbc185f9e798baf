#!/usr/bin/env bash
# Acceptance on the box: the ZED 2 as a UVC camera with its factory calibration.
#   scripts/acceptance-uvc.sh SN<serial>.conf [DEVICE]
# Installs the calibration, shows the rectified values, records 10 s from the camera into a
# scratch database and checks that frames were stored at about 30 fps. No image is written.
# Whatever way it ends, it stops the recorder it started and removes the scratch folder.
set -euo pipefail
conf=${1:?usage: $0 SN<serial>.conf [DEVICE]}
device=${2:-0}
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/procs.sh
source "$(dirname "$0")/procs.sh"
agma_env
scratch=$(mktemp -d)
at_exit 'rm -rf "$scratch"'
agma calib install "$conf"
agma calib show "$conf" --resolution HD720
AGMA_CAPTURE__DEVICE="$device" run_fg agma record --source uvc \
  --model "${AGMA_MODEL:-onnx:/var/lib/agma/models/darkpose32.onnx}" --duration 10 --db "$scratch/uvc.sqlite" --json \
  >"$scratch/record.out"
tail -n 1 "$scratch/record.out" >"$scratch/summary.json"
python - "$scratch/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps(s, indent=1))
assert s["end_reason"] == "duration", s
assert s["frames"] + s["dropped_frames"] >= 290, "the camera delivered fewer than 290 of 300 frames"
assert s["fps"] > 25, "stored frame rate below 25 fps"
print("uvc acceptance: ok")
PY
