# Sourced by the acceptance scripts: what a script starts, it stops, on every way out.
#
#   start_bg CMD...     runs CMD in the background and remembers it; its pid is left in STARTED_PID.
#                       Redirections on the call apply to CMD.
#   wait_bg PID         waits for PID to end (interruptibly: a signal to the script still acts at
#                       once) and forgets it; returns PID's exit status.
#   run_fg CMD...       start_bg CMD, then wait_bg it: CMD in the foreground, but stopped with the
#                       script (a foreground command holds off the script's traps until it ends).
#   pause SECONDS       sleeps SECONDS, interruptibly.
#   pid_ended PID       true when PID is gone or a zombie (ended, only waiting to be reaped).
#   stop_started        SIGTERM to every remembered process still running and to its descendants,
#                       up to AGMA_STOP_GRACE_S (default 10) seconds for it to end, then SIGKILL to
#                       what is left of them; reaps them.
#   at_exit COMMAND     runs COMMAND (a string, eval'd) when the script exits, after stop_started.
#
# Sourcing this file sets the EXIT trap (stop_started, then the at_exit commands) and turns
# SIGINT, SIGTERM and SIGHUP into an exit (130, 143, 129), so the EXIT trap runs then too. The
# children stay in the script's process group on purpose: SIGKILL of the script itself runs no trap, so a caller that may SIGKILL it
# kills its process group instead (tests/helpers.py does), which takes the children along.

STARTED_PIDS=()
AT_EXIT=()

start_bg() {
  "$@" &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

_forget_pid() {
  local keep=() p
  for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  STARTED_PIDS=("${keep[@]}")
}

wait_bg() {
  local rc=0
  wait "$1" || rc=$?  # a trapped signal cuts this short: its trap exits, and the EXIT trap stops PID
  _forget_pid "$1"
  return "$rc"
}

run_fg() {
  start_bg "$@"
  wait_bg "$STARTED_PID"
}

pause() {
  start_bg sleep "$1"
  wait_bg "$STARTED_PID" || true
}

pid_ended() {
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 0
  [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# _tree PID: PID and all its descendants, from one `ps` snapshot
_tree() {
  ps -e -o pid= -o ppid= 2>/dev/null | awk -v root="$1" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q != "" && q != root && q in parent && q != parent[q]) q = parent[q];
                              if (q == root) print p }
          if (!(root in parent)) print root }'
}

stop_started() {
  local p i all=()
  [ "${#STARTED_PIDS[@]}" -gt 0 ] || return 0
  for p in "${STARTED_PIDS[@]}"; do
    # shellcheck disable=SC2207
    all+=($(_tree "$p"))
  done
  [ "${#all[@]}" -eq 0 ] || kill -TERM "${all[@]}" 2>/dev/null || true
  for p in "${STARTED_PIDS[@]}"; do
    for ((i = 0; i < ${AGMA_STOP_GRACE_S:-10} * 10; i++)); do
      pid_ended "$p" && break
      sleep 0.1
    done
  done
  [ "${#all[@]}" -eq 0 ] || kill -KILL "${all[@]}" 2>/dev/null || true
  for p in "${STARTED_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  STARTED_PIDS=()
  return 0
}

at_exit() { AT_EXIT+=("$1"); }

_exit_trap() {
  local c
  stop_started
  for c in "${AT_EXIT[@]}"; do eval "$c" || true; done
}

trap _exit_trap EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
