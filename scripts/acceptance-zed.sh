#!/usr/bin/env bash
# Acceptance on the box: the ZED 2 through the ZED SDK (capture.source = "zed").
#   scripts/acceptance-zed.sh [SN<serial>.conf]
# 1. the SDK's version and the camera's serial (python -m appliance.capture.zed); without the
#    SDK's Python module it stops at once with one line (exit 78);
# 2. calibration for that serial: with FILE, `agma calib install FILE` first (state directory and
#    the SDK's settings folder); then SN<serial>.conf must be where the SDK reads it, and equal to
#    the state directory's copy;
# 3. a 60 s session through the SDK (`agma record --duration 60`, AGMA_CAPTURE__SOURCE=zed): at
#    least 97 % of 30 fps x 60 s delivered, and the session's calibrations row from the SDK
#    (source zed_sdk, this serial, the installed file's sha256, a baseline near 120 mm);
# 4. unplug and replug, with a daemon running (`agma daemon` with capture.process, `agma
#    start`/`status`/`stop`): the camera leaves `ok` after the unplug, is `ok` and recording again
#    after the replug, and the session holds camera_lost before camera_restored and a frame_index
#    hole. Interactive (it asks on the terminal); skipped without one or with AGMA_ZED_SKIP_REPLUG=1;
# 5. the USB re-enumeration ioctl (python -m appliance.capture.usb_reset --reset-now on the 2b03
#    devices; root or the SDK's udev rule): the camera is seen again afterwards;
# then a pass/fail table. Exit 0 only when every step passed (a skipped one is not a pass).
# Scratch databases only; no image is written. Whatever way it ends, what it started is stopped
# (scripts/procs.sh) and the scratch folder removed.
set -euo pipefail
conf=${1:-}
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/procs.sh
source "$(dirname "$0")/procs.sh"
agma_env
cd "$AGMA_ROOT"
model=${AGMA_MODEL:-onnx:/var/lib/agma/models/darkpose32.onnx}
fps=30

# -- 1. the SDK and the camera (stops here, with the probe's one line, when pyzed is missing) ------------
probe() { python -m appliance.capture.zed | tail -n 1; }
probe_json=$(probe)
scratch=$(mktemp -d)
at_exit 'rm -rf "$scratch"'

STEPS=() RESULTS=() DETAILS=()
result() { STEPS+=("$1"); RESULTS+=("$2"); DETAILS+=("$3"); }
table() {
  local i all_run=("SDK and serial" "calibration installed" "60 s session" "unplug / replug" "USB reset")
  printf '\n%-24s %-6s %s\n' STEP RESULT DETAIL
  for i in "${!STEPS[@]}"; do printf '%-24s %-6s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}" "${DETAILS[$i]}"; done
  for i in "${all_run[@]:${#STEPS[@]}}"; do printf '%-24s %-6s %s\n' "$i" "-" "not run (the script stopped before it)"; done
}
at_exit table

field() {  # field JSON EXPR: a value of the probe's document (EXPR in Python, on `d`)
  python -c 'import json, sys; d = json.loads(sys.argv[1]); v = eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}
sdk_version=$(field "$probe_json" 'd["sdk_version"]')
serial=${AGMA_CAPTURE__SERIAL:-$(field "$probe_json" 'd["cameras"][0]["serial"] if d["cameras"] else ""')}
if [ -z "$serial" ] || [ "$serial" = 0 ]; then
  result "SDK and serial" FAIL "ZED SDK $sdk_version, but no camera found"
  exit 1
fi
result "SDK and serial" PASS "ZED SDK $sdk_version, camera $serial"
echo "ZED SDK $sdk_version; camera serial $serial" >&2

# -- 2. calibration ------------------------------------------------------------------------------------
if [ -n "$conf" ]; then agma calib install "$conf" || true; probe_json=$(probe); fi
cam() { field "$probe_json" "next((c for c in d['cameras'] if c['serial'] == '$serial'), {}).get('$1')"; }
sdk_conf=$(cam sdk_conf) sdk_sha=$(cam sdk_conf_sha256)
if [ "$(cam installed)" = True ]; then
  result "calibration installed" PASS "$sdk_conf (sha256 ${sdk_sha:0:16}…)"
elif [ -n "$sdk_conf" ]; then
  result "calibration installed" FAIL "$sdk_conf differs from $(cam state_conf): run agma calib install SN$serial.conf"
else
  result "calibration installed" FAIL "no SN$serial.conf where the SDK looks ($(field "$probe_json" 'd["settings_dir"]')): agma calib install SN$serial.conf"
fi

# -- 3. a 60 s session through the SDK ------------------------------------------------------------------
session_60s() {
  AGMA_CAPTURE__SOURCE=zed AGMA_CAPTURE__SERIAL="$serial" AGMA_CAPTURE__FPS="$fps" run_fg agma record \
    --model "$model" --duration 60 --db "$scratch/zed.sqlite" --json >"$scratch/record.out" || return 1
  python - "$scratch/record.out" "$scratch/zed.sqlite" "$serial" "$sdk_sha" "$fps" >"$scratch/record.check" <<'PY' || return 1
import json, sqlite3, sys
out, db, serial, sha, fps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
s = json.loads(open(out, encoding="utf-8").read().strip().splitlines()[-1])
assert s["end_reason"] == "duration", f"ended {s['end_reason']}: {s['error']}"
assert s["frames"] + s["dropped_frames"] >= 0.97 * fps * 60, f"{s['frames']} + {s['dropped_frames']} frames"
assert s["fps"] > 25, f"stored frame rate {s['fps']:.1f} fps, under 25"
row = sqlite3.connect(db).execute(
    "SELECT c.serial, c.source, c.file_sha256, c.width, c.height, c.baseline_mm FROM sessions s "
    "JOIN calibrations c ON c.id = s.calibration_id WHERE s.uid = ?", (s["session_id"],)).fetchone()
assert row[0] == serial and row[1] == "zed_sdk", row
assert row[2] == (sha or None), f"calibrations.file_sha256 {row[2]} != the installed file's {sha}"
assert 100 < row[5] < 140, f"baseline {row[5]} mm (a ZED 2 has 120)"
print(f"{s['frames']} frames stored, {s['dropped_frames']} dropped, {s['fps']:.1f} fps; {row[3]}x{row[4]}, "
      f"baseline {row[5]:.2f} mm")
PY
}
if session_60s; then result "60 s session" PASS "$(cat "$scratch/record.check")"
else result "60 s session" FAIL "see above; $(tail -n 1 "$scratch/record.out" 2>/dev/null | cut -c1-160)"; fi

# -- 4. unplug and replug under a running daemon -------------------------------------------------------
status_field() {  # status_field EXPR: a value of `agma status --json` (EXPR on `d`), "" without an answer
  local doc
  doc=$(agma status --db "$scratch/daemon.sqlite" --json --timeout 5 2>/dev/null | tail -n 1) || true
  [ -n "$doc" ] || { echo ""; return 0; }
  field "$doc" "$1" 2>/dev/null || echo ""
}
wait_for() {  # wait_for SECONDS EXPR WANT: until status_field EXPR prints WANT
  local i
  for ((i = 0; i < $1 * 2; i++)); do [ "$(status_field "$2")" = "$3" ] && return 0; pause 0.5; done
  return 1
}
ask() { local _; read -r -p "$1 " _ </dev/tty; }
replug_steps() {  # with the daemon running: start, unplug, replug, stop; REPLUG_S: Enter to recording again
  local t0 frames_before
  wait_for 180 'd["ready"]' True || { echo "the daemon never became ready" >&2; return 1; }
  agma start --db "$scratch/daemon.sqlite" --bed acceptance-zed >/dev/null || return 1
  wait_for 30 'd["frames"] > 0' True || { echo "no frames stored after the start" >&2; return 1; }
  ask "Recording. UNPLUG the ZED's USB cable now, then press Enter."
  wait_for 30 'd["camera"] != "ok"' True || { echo "the camera still reads ok 30 s after the unplug" >&2; return 1; }
  echo "camera: $(status_field 'd["camera"]') while unplugged" >&2
  ask "PLUG the ZED back in, then press Enter."
  t0=$(date +%s)
  frames_before=$(status_field 'd["frames"]')
  wait_for 60 'd["camera"]' ok || { echo "the camera is not ok 60 s after the replug" >&2; return 1; }
  wait_for 30 "d['frames'] > ${frames_before:-0}" True || { echo "no new frame after the replug" >&2; return 1; }
  REPLUG_S=$(($(date +%s) - t0))
  agma stop --db "$scratch/daemon.sqlite" >/dev/null || return 1
}
replug() {  # the daemon is stopped however the steps end (the USB reset step wants the camera free)
  AGMA_CAPTURE__SOURCE=zed AGMA_CAPTURE__SERIAL="$serial" AGMA_CAPTURE__PROCESS=true start_bg agma daemon \
    --db "$scratch/daemon.sqlite" --model "$model" 2>"$scratch/daemon.err"
  local daemon=$STARTED_PID rc=0
  replug_steps || rc=$?
  kill -TERM "$daemon" 2>/dev/null || true
  wait_bg "$daemon" || true
  [ "$rc" = 0 ] || return "$rc"
  python - "$scratch/daemon.sqlite" "$REPLUG_S" >"$scratch/replug.check" <<'PY' || return 1
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
sid = conn.execute("SELECT MAX(id) FROM sessions").fetchone()[0]
kinds = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY id", (sid,))]
camera = [k for k in kinds if k.startswith("camera_")]
assert "camera_lost" in camera and "camera_restored" in camera[camera.index("camera_lost"):], camera
idx = [i for (i,) in conn.execute("SELECT frame_index FROM frames WHERE session_id = ? ORDER BY frame_index", (sid,))]
hole = max((b - a for a, b in zip(idx, idx[1:])), default=0)
assert hole > 1, "no frame_index hole"
print(f"events {' > '.join(camera)}; largest frame_index hole {hole - 1} frames; recording again "
      f"{sys.argv[2]} s after Enter")
PY
}
if [ "${AGMA_ZED_SKIP_REPLUG:-}" = 1 ] || ! { : </dev/tty; } 2>/dev/null; then
  result "unplug / replug" SKIP "needs a terminal (or AGMA_ZED_SKIP_REPLUG=1 was set)"
elif replug; then result "unplug / replug" PASS "$(cat "$scratch/replug.check")"
else result "unplug / replug" FAIL "see above; the daemon's log: $(tail -n 1 "$scratch/daemon.err" 2>/dev/null | cut -c1-160)"; fi

# -- 5. the USB re-enumeration ioctl ------------------------------------------------------------------
usb_reset() {
  python -m appliance.capture.usb_reset --reset-now >"$scratch/usb.out" || return 1
  local i
  for ((i = 0; i < 60; i++)); do
    pause 0.5
    probe_json=$(probe 2>/dev/null) || continue
    [ "$(cam serial)" = "$serial" ] && return 0
  done
  echo "camera $serial not seen again 30 s after the reset" >&2
  return 1
}
if usb_reset; then result "USB reset" PASS "$(field "$(cat "$scratch/usb.out")" '", ".join(x["node"] for x in d["devices"])') reset; camera $serial back"
else result "USB reset" FAIL "see above (needs root or the ZED SDK's udev rule for the 2b03 nodes)"; fi

for r in "${RESULTS[@]}"; do [ "$r" = PASS ] || exit 1; done
echo "zed acceptance: ok" >&2
