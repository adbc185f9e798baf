#!/usr/bin/env bash
# Acceptance of an installed box (scripts/install.sh), through its real service, agma.service:
#   sudo scripts/acceptance-box.sh [MODEL.onnx]      (default /var/lib/agma/models/darkpose32.onnx)
# 1. doctor: `agma doctor --json` as the agma user, with the service's environment;
# 2. engine build and verify: agma.service stopped; `agma engine build --onnx MODEL --fp16
#    --batch 4` into the engine the configuration's pose.model names (trt:PATH), as the agma
#    user; then `agma engine verify --onnx MODEL --against ENGINE` on seeded random views: joints'
#    p95 <= 0.5 px. Without an engine nothing after it can run: the script stops here on a failure;
# 2b. frame budget: `agma bench --engine ENGINE --json` (the stage table) as the agma user, kept in
#    AGMA_BOX_BENCH_OUT (default /var/lib/agma/bench-<date>.json) for docs/performance.md: the hot
#    path (ring, preprocess_cuda, engine_tensorrt, decode_cuda, triangulate, store) within 33.3 ms;
# 3. a 5-minute session: agma.service started, ready, `agma start --bed acceptance-box`, 300 s
#    (AGMA_BOX_SESSION_S), `agma stop`: at least 97 % of capture.fps x the duration delivered,
#    stored at AGMA_BOX_MIN_FPS (default 25) or more, every stored frame in the database;
# 4. a dump: that session's dump appears in store.dump_dir with its .sha256, which matches, and
#    holds the session's frames (integrity_check ok);
# 5. unplug / replug: recording, you unplug the ZED, the camera leaves `ok`; you plug it back in,
#    it is `ok` and recording again; the session holds camera_lost then camera_restored and a
#    frame_index hole. Interactive (asks on the terminal); skipped without one or with
#    AGMA_BOX_SKIP_REPLUG=1;
# 6. SIGKILL: recording, the daemon's main process is sent SIGKILL;
# 7. restart and resume: systemd restarts agma.service by itself (Restart=on-failure), and the new
#    daemon continues the interrupted recording as a new session (continues_session, a
#    session_continues event; the old one `interrupted` with its frames kept); then stopped;
# then a Markdown table (box, JetPack, agma version, then step / result / detail) to paste into an
# issue. Exit 0 only when every step passed (a skipped one is not a pass).
# The sessions are real ones, in the box's own database (bed label acceptance-box), and their dumps
# wait in store.dump_dir like any other. Whatever way the script ends, a session it started is
# stopped and what it started itself is stopped (scripts/procs.sh); agma.service is left running.
# Environment: AGMA_BOX_VENV (default /opt/agma/venv) is the installed agma; AGMA_BOX_SESSION_S,
# AGMA_BOX_MIN_FPS, AGMA_BOX_SKIP_REPLUG, AGMA_BOX_BENCH_OUT as above.
set -euo pipefail
me=acceptance-box
die() { echo "$me: $1" >&2; exit "${2:-1}"; }
# the terminal's stderr and stdout: progress lines from inside a step (whose output is kept), and
# the table, which the exit trap may print while a step's output is redirected (a Ctrl-C mid-step)
exec 3>&2 4>&1
[ $# -le 1 ] || die "usage: $0 [MODEL.onnx]" 2
case "${1:-}" in -*) die "usage: $0 [MODEL.onnx]" 2 ;; esac
[ "$(id -u)" = 0 ] || die "run it as root: sudo $0${1:+ $1}"
model=${1:-/var/lib/agma/models/darkpose32.onnx}
[ -f "$model" ] || die "$model: no such ONNX model (engines/RECIPE.md: agma engine export, into /var/lib/agma/models/)"
model=$(readlink -f "$model")
venv=${AGMA_BOX_VENV:-/opt/agma/venv}
[ -x "$venv/bin/agma" ] || die "no agma in $venv: install the box first (sudo scripts/install.sh, docs/install.md)"
[ -d /run/systemd/system ] || die "systemd is not running here: this acceptance drives the installed agma.service (docs/install.md)"
unit=agma.service
systemctl cat "$unit" >/dev/null 2>&1 || die "$unit is not installed: sudo scripts/install.sh"
session_s=${AGMA_BOX_SESSION_S:-300}
min_fps=${AGMA_BOX_MIN_FPS:-25}
bench_out=${AGMA_BOX_BENCH_OUT:-/var/lib/agma/bench-$(date -u +%Y%m%dT%H%M%SZ).json}
[[ $session_s =~ ^[1-9][0-9]*$ ]] || die "AGMA_BOX_SESSION_S=$session_s: a whole number of seconds"
if ((session_s % 60 == 0)); then session_label="$((session_s / 60))-minute session"; else session_label="${session_s} s session"; fi
# shellcheck source=scripts/procs.sh
source "$(dirname "$0")/procs.sh"

# The service's environment: /etc/agma/agma.env (systemd's VAR=value syntax) and the unit's own
service_env=(AGMA_STATE_DIR=/var/lib/agma AGMA_CACHE_DIR=/var/cache/agma CUDA_CACHE_PATH=/var/cache/agma/nv)
if [ -f /etc/agma/agma.env ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z $line || $line == \#* || $line == \;* || $line != *=* ]] && continue
    v=${line#*=}
    [[ $v == \"*\" || $v == \'*\' ]] && v=${v:1:${#v}-2}
    service_env+=("${line%%=*}=$v")
  done </etc/agma/agma.env
fi
agma() { env "${service_env[@]}" "$venv/bin/agma" "$@"; }  # as root (the control socket lets root in)
as_agma() { (cd / && runuser -u agma -- env "${service_env[@]}" "$venv/bin/agma" "$@"); }
py() { "$venv/bin/python" "$@"; }

scratch=$(mktemp -d)
# shellcheck disable=SC2016  # expanded when the exit trap evals it
at_exit 'rm -rf "$scratch"'
# field JSON EXPR: a value of a JSON document (EXPR in Python, on `d`), "" for None
field() { py -c 'import json, sys; d = json.loads(sys.argv[1]); v = eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
config=$(agma config show --json | tail -n 1)
db=$(field "$config" 'd["in_use"]["store.db"]')
dump_dir=$(field "$config" 'd["in_use"]["store.dump_dir"]')
fps=$(field "$config" 'd["values"]["capture"]["fps"]')
pose_model=$(field "$config" 'd["values"]["pose"]["model"]')
engine=""
case "$pose_model" in trt:*) engine=${pose_model#trt:} ;; tensorrt:*) engine=${pose_model#tensorrt:} ;; esac

STEPS=() RESULTS=() DETAILS=()
result() { STEPS+=("$1"); RESULTS+=("$2"); DETAILS+=("$3"); }
table() {
  local i all_run=("doctor" "engine build and verify" "$session_label" "dump" "unplug / replug" "SIGKILL"
                   "restart and resume")
  local jetpack
  jetpack=$(head -n 1 /etc/nv_tegra_release 2>/dev/null | sed 's/^# //; s/, GCID.*//' || true)
  # shellcheck disable=SC2016  # Markdown's backquotes, not a command
  printf '\n**Box acceptance** (%s) on `%s` (%s; %s; %s, %s)\n\n' "$me" "$(hostname)" "${jetpack:-no /etc/nv_tegra_release}" \
    "$("$venv/bin/agma" --version 2>/dev/null || echo "agma ?")" "$(date -u +%Y-%m-%dT%H:%MZ)" "$(uname -m)"
  printf '| step | result | detail |\n|---|---|---|\n'
  for i in "${!STEPS[@]}"; do printf '| %s | %s | %s |\n' "${STEPS[$i]}" "${RESULTS[$i]}" "${DETAILS[$i]//|/\\|}"; done
  for i in "${all_run[@]:${#STEPS[@]}}"; do printf '| %s | - | not run (the script stopped before it) |\n' "$i"; done
}
# a session this script started (bed label acceptance-box: also one the restarted daemon resumed) is
# stopped however the script ends
stop_ours() {
  [ "$(status 'd["state"] == "recording" and d["bed_label"] == "acceptance-box"')" = True ] || return 0
  agma stop --timeout 30 >/dev/null 2>&1 || true
}
at_exit stop_ours
at_exit 'table >&4'

# step TITLE FUNCTION: runs FUNCTION; PASS with the last line it printed, or FAIL with the last line
# of its stderr (all of it is shown above the table).
step() {
  local rc=0
  echo "$me: $1 ..." >&2
  "$2" >"$scratch/step.out" 2>"$scratch/step.err" || rc=$?
  if [ "$rc" = 0 ]; then
    result "$1" PASS "$(tail -n 1 "$scratch/step.out")"
  else
    cat "$scratch/step.err" >&2
    result "$1" FAIL "$(grep -v '^[[:space:]]*$' "$scratch/step.err" | tail -n 1 | cut -c1-240)"
  fi
  return "$rc"
}

# status EXPR: a value of `agma status --json` (EXPR on `d`), "" without an answer
status() {
  local doc
  doc=$(agma status --json --timeout 5 2>/dev/null | tail -n 1) || true
  [ -n "$doc" ] || { echo ""; return 0; }
  field "$doc" "$1" 2>/dev/null || echo ""
}
# wait_for SECONDS EXPR WANT: until status EXPR prints WANT
wait_for() {
  local i
  for ((i = 0; i < $1 * 2; i++)); do [ "$(status "$2")" = "$3" ] && return 0; pause 0.5; done
  return 1
}
service_up() {  # the service started (again) and its daemon ready to start a session
  systemctl reset-failed "$unit" 2>/dev/null || true
  systemctl start "$unit" || { echo "systemctl start $unit failed: journalctl -u $unit" >&2; return 1; }
  wait_for 180 'd["ready"]' True || { echo "the daemon is not ready 180 s after its start: $(status 'd["error"]')" >&2; return 1; }
}
start_session() {  # prints the new session's uid
  local answer
  answer=$(agma start --bed acceptance-box --json | tail -n 1) || { echo "agma start refused: $answer" >&2; return 1; }
  field "$answer" 'd["session_id"]'
}
stop_session() {
  agma stop --json >/dev/null || { echo "agma stop failed" >&2; return 1; }
}
# session UID: the session's row as JSON (frames counted in the frames table, events in order)
session() {
  py - "$db" "$1" <<'PY'
import json, sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
conn.row_factory = sqlite3.Row
row = conn.execute("SELECT * FROM sessions WHERE uid = ?", (sys.argv[2],)).fetchone()
if row is None:
    sys.exit(f"no session {sys.argv[2]} in {sys.argv[1]}")
d = dict(row)
d["stored"] = conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (row["id"],)).fetchone()[0]
d["events"] = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY id", (row["id"],))]
idx = [i for (i,) in conn.execute("SELECT frame_index FROM frames WHERE session_id = ? ORDER BY frame_index", (row["id"],))]
d["largest_hole"] = max((b - a - 1 for a, b in zip(idx, idx[1:])), default=0)
print(json.dumps(d))
PY
}

# -- 1. doctor ------------------------------------------------------------------------------------------
doctor_step() {
  local rc=0
  as_agma doctor --json >"$scratch/doctor.json" || rc=$?
  py - "$scratch/doctor.json" "$rc" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().strip().splitlines()
try:
    d = json.loads(lines[-1])
except (IndexError, ValueError):
    sys.exit(f"agma doctor exited {sys.argv[2]} without its JSON")
checks = d.get("checks", []) if isinstance(d, dict) else []
failed = [c.get("name", "?") for c in checks if isinstance(c, dict) and not c.get("ok")]
if sys.argv[2] != "0" or failed:
    sys.exit(f"agma doctor exited {sys.argv[2]}; failed: {', '.join(failed) or 'see above'}")
print(f"{len(checks)} checks passed" if checks else "passed")
PY
}
step "doctor" doctor_step || true

# -- 2. the engine, built and verified on this box -------------------------------------------------------
engine_step() {
  [ -n "$engine" ] || { echo "pose.model is $pose_model: the box runs a TensorRT engine (trt:PATH in /etc/agma/agma.toml)" >&2; return 1; }
  systemctl stop "$unit" || true
  echo "$me: building $engine from $model (minutes on an Orin) ..." >&3
  as_agma engine build --onnx "$model" -o "$engine" --fp16 --batch 4 --json >"$scratch/build.json" || return 1
  as_agma engine verify --onnx "$model" --against "$engine" --json >"$scratch/verify.json" || true
  py - "$scratch/build.json" "$scratch/verify.json" <<'PY'
import json, sys
def last(path):
    lines = open(path, encoding="utf-8").read().strip().splitlines()
    return json.loads(lines[-1]) if lines else {}
b, v = last(sys.argv[1]), last(sys.argv[2])
if b.get("precision") != "fp16":
    sys.exit(f"built {b.get('precision')}, not fp16")
if "kp_px_p95" not in v:
    sys.exit(v.get("error", "agma engine verify printed no figures"))
p95 = v["kp_px_p95"]
figures = (f"fp16, TensorRT {b['tensorrt_version']}, {b['gpu_name']} sm {b['compute_capability']}; verify: kp p95 "
           f"{'inf' if p95 is None else f'{p95:.3g}'} px, heatmaps {100 * v['heatmap_max_rel']:.3g} % on {v['views']} views")
if not v.get("ok") or p95 is None or p95 > 0.5:
    sys.exit(figures + ": " + "; ".join(v.get("failures") or ["kp p95 > 0.5 px"]))
print(figures)
PY
}
step "engine build and verify" engine_step || exit 1

# -- 2b. the frame budget measured on this box (docs/performance.md) -------------------------------------
bench_step() {
  # agma.service is still stopped: the stage table alone on the CPU and GPU, TensorRT included
  as_agma bench --engine "$engine" --json >"$scratch/bench.json" || return 1
  cp "$scratch/bench.json" "$bench_out"
  py - "$scratch/bench.json" "$bench_out" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().strip().splitlines()
rows = {r["name"]: r for r in json.loads(lines[-1])["benches"]["stages"]}
hot = ["ring", "preprocess_cuda", "engine_tensorrt", "decode_cuda", "triangulate", "store"]
missing = [n for n in hot if rows[n]["median_us"] is None]
if missing:
    sys.exit("not measured: " + "; ".join(f"{n}: {rows[n].get('skipped_reason')}" for n in missing))
share = sum(rows[n]["budget_share"] for n in hot)
print(f"{' + '.join(hot)}: {100 * share:.0f} % of 33.3 ms; pipeline {rows['pipeline']['fps']} fps offline; "
      f"the table in {sys.argv[2]}")
if share > 1.0:
    sys.exit(f"the hot path takes {100 * share:.0f} % of the 30 FPS budget")
PY
}
step "frame budget" bench_step || true

# -- 3. a 5-minute session through the service ----------------------------------------------------------
session_step() {
  local uid t
  service_up || return 1
  uid=$(start_session) || return 1
  for ((t = 0; t < session_s; t += 60)); do
    pause "$((session_s - t < 60 ? session_s - t : 60))"
    echo "$me: session $uid: $(status '"%s frames, %s fps, %s dropped, camera %s" % (d["frames"], d["fps"], d["dropped_frames"], d["camera"])')" >&3
  done
  stop_session || return 1
  echo "$uid" >"$scratch/session.uid"
  session "$uid" >"$scratch/session.json" || return 1
  py - "$scratch/session.json" "$fps" "$session_s" "$min_fps" <<'PY'
import json, sys
s, fps, duration, min_fps = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
if s["end_reason"] != "stopped":
    sys.exit(f"the session ended {s['end_reason']}")
if s["stored"] != s["frames"]:
    sys.exit(f"{s['stored']} frame rows, the session row says {s['frames']}")
elapsed = (s["ended_at_ns"] - s["started_at_ns"]) / 1e9
delivered = s["frames"] + (s.get("dropped_frames") or 0)
stored_fps = s["frames"] / elapsed if elapsed > 0 else 0.0
figures = (f"{s['uid']}: {s['frames']} frames stored in {elapsed:.0f} s ({stored_fps:.1f} fps), "
           f"{s.get('dropped_frames') or 0} dropped, model {s.get('model')}")
if delivered < 0.97 * fps * duration:
    sys.exit(f"{figures}: {delivered} frames delivered, under 97 % of {fps:g} fps x {duration:g} s")
if stored_fps < min_fps:
    sys.exit(f"{figures}: under AGMA_BOX_MIN_FPS={min_fps:g}")
print(figures)
PY
}
step "$session_label" session_step || true

# -- 4. its dump ----------------------------------------------------------------------------------------
dump_step() {
  local uid i
  uid=$(cat "$scratch/session.uid" 2>/dev/null) || { echo "no session recorded in the step before" >&2; return 1; }
  [ "$dump_dir" != "off (no dumps written)" ] || { echo "store.dump_dir is off: no dumps are written" >&2; return 1; }
  for ((i = 0; i < 240; i++)); do [ -f "$dump_dir/$uid.sqlite.sha256" ] && break; pause 0.5; done
  [ -f "$dump_dir/$uid.sqlite.sha256" ] || { echo "no $dump_dir/$uid.sqlite.sha256 120 s after the stop" >&2; return 1; }
  (cd "$dump_dir" && sha256sum -c --quiet "$uid.sqlite.sha256") >&2 || { echo "$dump_dir/$uid.sqlite does not match its .sha256" >&2; return 1; }
  py - "$dump_dir/$uid.sqlite" "$uid" "$scratch/session.json" <<'PY'
import json, os, sqlite3, sys
path, uid, s = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
if ok != "ok":
    sys.exit(f"{path}: integrity_check: {ok}")
row = conn.execute("SELECT id FROM sessions WHERE uid = ?", (uid,)).fetchone()
if row is None:
    sys.exit(f"{path} holds no session {uid}")
frames = conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (row[0],)).fetchone()[0]
if frames != s["stored"]:
    sys.exit(f"{path} holds {frames} frames, the box's database {s['stored']}")
sha = open(path + ".sha256", encoding="utf-8").read().split()[0]
print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB, {frames} frames, sha256 {sha[:16]}… matches, integrity ok")
PY
}
step "dump" dump_step || true

# -- 5. unplug and replug the ZED under the running service ----------------------------------------------
ask() { local _; read -r -p "$1 " _ </dev/tty; }
replug_step() {
  local uid frames_before t0
  service_up || return 1
  uid=$(start_session) || return 1
  wait_for 30 'd["frames"] > 0' True || { echo "no frames stored after the start" >&2; return 1; }
  ask "Recording. UNPLUG the ZED's USB cable now, then press Enter."
  wait_for 30 'd["camera"] != "ok"' True || { echo "the camera still reads ok 30 s after the unplug" >&2; return 1; }
  echo "$me: camera: $(status 'd["camera"]') while unplugged" >&3
  ask "PLUG the ZED back in, then press Enter."
  t0=$(date +%s)
  frames_before=$(status 'd["frames"]')
  wait_for 60 'd["camera"]' ok || { echo "the camera is not ok 60 s after the replug" >&2; return 1; }
  wait_for 30 "d['frames'] > ${frames_before:-0}" True || { echo "no new frame after the replug" >&2; return 1; }
  local back=$(($(date +%s) - t0))
  stop_session || return 1
  session "$uid" >"$scratch/replug.json" || return 1
  py - "$scratch/replug.json" "$back" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
camera = [k for k in s["events"] if k.startswith("camera_")]
if "camera_lost" not in camera or "camera_restored" not in camera[camera.index("camera_lost"):]:
    sys.exit(f"camera events {camera}: no camera_lost followed by camera_restored")
if s["largest_hole"] < 1:
    sys.exit("no frame_index hole in the session")
print(f"{s['uid']}: {' > '.join(camera)}; largest frame_index hole {s['largest_hole']} frames; "
      f"recording again {sys.argv[2]} s after Enter")
PY
}
if [ "${AGMA_BOX_SKIP_REPLUG:-}" = 1 ] || ! { : </dev/tty; } 2>/dev/null; then
  result "unplug / replug" SKIP "needs a terminal (or AGMA_BOX_SKIP_REPLUG=1 was set)"
else
  step "unplug / replug" replug_step || true
fi

# -- 6. SIGKILL of the daemon, 7. systemd restarts it and it resumes the recording -------------------------
restarts_before="" killed_uid="" killed_at=""
kill_step() {
  local pid i
  service_up || return 1
  killed_uid=$(start_session) || return 1
  wait_for 60 'd["frames"] >= 30' True || { echo "fewer than 30 frames stored 60 s after the start" >&2; return 1; }
  restarts_before=$(systemctl show -p NRestarts --value "$unit")
  pid=$(systemctl show -p MainPID --value "$unit")
  [ -n "$pid" ] && [ "$pid" != 0 ] || { echo "$unit has no main process" >&2; return 1; }
  kill -KILL "$pid"
  killed_at=$(date +%s)
  for ((i = 0; i < 40; i++)); do pid_ended "$pid" && break; pause 0.25; done
  pid_ended "$pid" || { echo "pid $pid still there 10 s after SIGKILL" >&2; return 1; }
  echo "main pid $pid of $unit killed while recording $killed_uid"
}
step "SIGKILL" kill_step || true

resume_step() {
  local i now="" restarts
  [ -n "$killed_uid" ] && [ -n "$killed_at" ] || { echo "no daemon was killed in the step before" >&2; return 1; }
  for ((i = 0; i < 120; i++)); do
    restarts=$(systemctl show -p NRestarts --value "$unit")
    [ "$restarts" -gt "$restarts_before" ] && break
    pause 0.5
  done
  [ "$restarts" -gt "$restarts_before" ] || { echo "systemd did not restart $unit within 60 s (NRestarts $restarts)" >&2; return 1; }
  for ((i = 0; i < 360; i++)); do
    now=$(status 'd["session_id"] if d["state"] == "recording" else ""')
    [ -n "$now" ] && [ "$now" != "$killed_uid" ] && break
    pause 0.5
  done
  [ -n "$now" ] && [ "$now" != "$killed_uid" ] || { echo "the restarted daemon is not recording a continued session 180 s after the kill" >&2; return 1; }
  local back=$(($(date +%s) - killed_at))
  stop_session || return 1
  session "$killed_uid" >"$scratch/old.json" || return 1
  session "$now" >"$scratch/new.json" || return 1
  py - "$scratch/old.json" "$scratch/new.json" "$back" "$restarts_before" "$restarts" <<'PY'
import json, sys
old, new = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
if old["end_reason"] != "interrupted":
    sys.exit(f"the killed session ended {old['end_reason']}, not interrupted")
if new["continues_session"] != old["id"]:
    sys.exit(f"session {new['uid']} continues {new['continues_session']}, not {old['uid']} (id {old['id']})")
if "session_continues" not in new["events"]:
    sys.exit(f"no session_continues event in {new['uid']}: {new['events']}")
print(f"restarted by systemd (NRestarts {sys.argv[4]} -> {sys.argv[5]}); {new['uid']} continues {old['uid']} "
      f"({old['stored']} frames kept, interrupted), recording again {sys.argv[3]} s after the kill; "
      f"{new['stored']} frames in the continuation")
PY
}
step "restart and resume" resume_step || true

for r in "${RESULTS[@]}"; do [ "$r" = PASS ] || exit 1; done
echo "box acceptance: ok" >&2
