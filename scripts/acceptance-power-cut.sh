#!/usr/bin/env bash
# Acceptance on the box: a real power cut in the middle of a session, then the loss bound checked.
#
# What it proves (docs/durability.md): with WAL and synchronous=FULL, a power cut loses no frame
# that was reported stored, and at most the last commit interval of frames (store.commit_interval_s,
# plus the frames in flight); the file passes PRAGMA integrity_check; the next recorder closes the
# cut session as interrupted at its last committed frame.
#
# Two phases, as root, on the box, with the agma service stopped (the camera is needed here):
#
#   scripts/acceptance-power-cut.sh cut --yes-cut-power [SECONDS]   # waits for the recorder's first
#       stored frames (up to AGMA_ACCEPT_START_S), records SECONDS more (default 20), writes down
#       (fsynced) how many frames were reported stored and the time, then hard-resets the machine
#       at once with `echo b > /proc/sysrq-trigger`: no sync, no unmount, like a cut.
#   (the box reboots)
#   scripts/acceptance-power-cut.sh check                           # checks, prints PASS or FAIL
#
# For a real power cut instead of the sysrq reset, run the cut phase with AGMA_ACCEPT_CUT="sleep 600",
# pull the plug right after the line "cutting power now", and run the check phase after power-up
# (the loss-bound line then counts the seconds until the plug was pulled as loss too).
#
# Environment:
#   AGMA                the command that runs agma (default: agma)
#   AGMA_ACCEPT_DIR     where the database and the notes go (default /var/lib/agma/acceptance);
#                       put it on the disk the box records to
#   AGMA_ACCEPT_ARGS    extra `agma record` arguments (e.g. "--source synthetic" without a camera)
#   AGMA_ACCEPT_CUT     the command that cuts (default: echo b > /proc/sysrq-trigger); the tests
#                       use "kill -9 \$RECORD_PID" to run both phases without a reboot
#   AGMA_ACCEPT_SLACK_S latency allowed on top of the commit interval (default 0.5 s)
#   AGMA_ACCEPT_START_S how long to wait for the recorder's first stored frames (default 120 s)
#
# Whatever way this script ends (an error, Ctrl-C, SIGTERM), it stops the recorders it started
# (scripts/procs.sh): a recorder left behind would record on for up to store.max_session_s.
#
# Caveat: the note of the reported count is fsynced just before the cut; on ext4 that journal
# commit may also flush other files' pending data, so more may survive than the bound promises
# (never less: the check can only be made easier, not wrong).
set -euo pipefail

AGMA=${AGMA:-agma}
DIR=${AGMA_ACCEPT_DIR:-/var/lib/agma/acceptance}
NOTE="$DIR/power-cut.pending"
PY=${AGMA_ACCEPT_PYTHON:-python3}
# shellcheck source=scripts/procs.sh
source "$(dirname "$0")/procs.sh"

die() { echo "acceptance-power-cut: $*" >&2; exit 1; }

# reported_in LOG: the last "recording: N frames stored" count in LOG (empty when there is none)
reported_in() { grep -ao 'recording: [0-9]\+' "$1" 2>/dev/null | tail -n 1 | grep -o '[0-9]\+' || true; }

cut_phase() {
  local yes="" seconds=20
  for a in "$@"; do
    case "$a" in
      --yes-cut-power) yes=1 ;;
      [0-9]*) seconds=$a ;;
      *) die "unknown argument $a" ;;
    esac
  done
  [ -n "$yes" ] || die "this resets the machine without syncing: add --yes-cut-power to mean it"
  if [ -z "${AGMA_ACCEPT_CUT:-}" ]; then
    [ "$(id -u)" = 0 ] || die "needs root (writes /proc/sysrq-trigger)"
    [ -w /proc/sysrq-trigger ] || die "/proc/sysrq-trigger is not writable"
  fi
  [ ! -e "$NOTE" ] || die "$NOTE exists: run the check phase first"
  mkdir -p "$DIR"
  local stamp db log interval
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  db="$DIR/power-cut-$stamp.sqlite"
  log="$DIR/power-cut-$stamp.log"
  # shellcheck disable=SC2086
  interval=$($AGMA config show --json 2>/dev/null | "$PY" -c \
    'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["values"]["store"]["commit_interval_s"])' \
    2>/dev/null || echo "${AGMA_STORE__COMMIT_INTERVAL_S:-0.5}")
  echo "recording into $db; $seconds s after its first stored frames (commit interval $interval s), cutting power"
  # shellcheck disable=SC2086
  start_bg $AGMA record --db "$db" ${AGMA_ACCEPT_ARGS:-} 2>"$log" >/dev/null
  RECORD_PID=$STARTED_PID
  export RECORD_PID
  # the state the cut needs: frames reported stored (a busy machine may take a while to start)
  local start_s=${AGMA_ACCEPT_START_S:-120} waited=0 reported
  until reported=$(reported_in "$log") && [ "${reported:-0}" -gt 0 ]; do
    pid_ended "$RECORD_PID" && die "the recorder ended before storing a frame; see $log"
    [ "$waited" -lt "$((start_s * 5))" ] || die "no frame reported stored within $start_s s; see $log"
    sleep 0.2
    waited=$((waited + 1))
  done
  pause "$seconds"
  pid_ended "$RECORD_PID" && die "the recorder ended before the cut; see $log"
  local cut_ns
  reported=$(reported_in "$log")
  cut_ns=$(date +%s%N)
  printf 'db=%s\nreported=%s\ncut_ns=%s\ncommit_interval_s=%s\nlog=%s\n' "$db" "$reported" "$cut_ns" "$interval" "$log" >"$NOTE.tmp"
  sync "$NOTE.tmp"
  mv "$NOTE.tmp" "$NOTE"
  sync "$DIR"
  echo "cutting power now: $reported frames reported stored"
  if [ -n "${AGMA_ACCEPT_CUT:-}" ]; then
    eval "$AGMA_ACCEPT_CUT"
    wait_bg "$RECORD_PID" 2>/dev/null || true
  else
    echo b >/proc/sysrq-trigger
    sleep 60  # not reached on a real reset
  fi
}

check_phase() {
  [ -e "$NOTE" ] || die "no $NOTE: run the cut phase first"
  local db reported cut_ns interval
  db=$(sed -n 's/^db=//p' "$NOTE")
  reported=$(sed -n 's/^reported=//p' "$NOTE")
  cut_ns=$(sed -n 's/^cut_ns=//p' "$NOTE")
  interval=$(sed -n 's/^commit_interval_s=//p' "$NOTE")
  [ -e "$db" ] || die "the database $db is gone"
  # 1. before any recorder touches it: integrity, the reported frames, the loss bound
  "$PY" - "$db" "$reported" "$cut_ns" "$interval" "${AGMA_ACCEPT_SLACK_S:-0.5}" <<'EOF' || exit 1
import sqlite3, sys
db, reported, cut_ns, interval, slack = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
ok = True
def check(cond, what):
    global ok
    print(("PASS " if cond else "FAIL ") + what)
    ok = ok and cond
check(c.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "PRAGMA integrity_check is ok")
sid, end_reason, frames_col = c.execute("SELECT id, end_reason, frames FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
n, last_t = c.execute("SELECT COUNT(*), MAX(t_ns) FROM frames WHERE session_id = ?", (sid,)).fetchone()
check(end_reason is None, "the cut session is still open (nobody closed it)")
check(n >= reported, f"every reported frame is stored: {n} stored >= {reported} reported")
check(frames_col == n, f"sessions.frames ({frames_col}) equals the stored rows ({n})")
loss_s = (cut_ns - last_t) / 1e9 if last_t else float("inf")
bound = interval + slack
check(loss_s <= bound, f"loss bound: the last stored frame is {loss_s:.3f} s before the cut "
      f"(bound {bound:.3f} s = commit interval {interval} s + {slack} s)")
print(f"session {sid}: {n} frames stored, last one {loss_s:.3f} s before the cut")
sys.exit(0 if ok else 1)
EOF
  # 2. the next recorder closes it as interrupted at its last committed frame
  start_bg $AGMA record --db "$db" --source synthetic --model simulated --duration 0.5 --as-fast-as-possible \
    >/dev/null 2>&1
  wait_bg "$STARTED_PID" || die "FAIL the next recorder did not run on $db"
  "$PY" - "$db" <<'EOF' || exit 1
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
sid, end_reason, ended = c.execute("SELECT id, end_reason, ended_at_ns FROM sessions ORDER BY id DESC LIMIT 2").fetchall()[1]
last = c.execute("SELECT MAX(t_ns) FROM frames WHERE session_id = ?", (sid,)).fetchone()[0]
good = end_reason == "interrupted" and ended == last
print(("PASS " if good else "FAIL ") + f"the next recorder closed it: end_reason {end_reason}, ended_at_ns = last frame: {ended == last}")
sys.exit(0 if good else 1)
EOF
  mv "$NOTE" "$NOTE.done-$(date -u +%Y%m%dT%H%M%SZ)"
  echo "PASS power cut: nothing reported was lost, the loss stayed within the bound"
}

case "${1:-}" in
  cut) shift; cut_phase "$@" ;;
  check) check_phase ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
