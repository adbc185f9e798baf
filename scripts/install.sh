#!/usr/bin/env bash
# Installs agma on the box from an offline wheelhouse (docs/install.md). Run as root, from a checkout
# of this repository copied to the box together with the wheelhouse:
#   sudo scripts/install.sh [WHEELHOUSE]      (default: wheelhouse/ in the checkout)
# WHEELHOUSE is made on a connected machine by scripts/wheelhouse.sh. Idempotent: each step
# compares what is there with what it would write, says `unchanged` or what it did, and a second
# run changes nothing. The steps:
#  1. the user: systemd/agma.sysusers -> /etc/sysusers.d/agma.conf, applied by systemd-sysusers
#     (user and group agma, no login shell, in groups video and gpio); systemd/60-agma.rules ->
#     /etc/udev/rules.d/ (the GPIO chips to group gpio, the ZED's USB nodes to video);
#  2. the virtual environment /opt/agma/venv, made by /usr/bin/python3 with --system-site-packages
#     (TensorRT's Python module comes from JetPack's python3-libnvinfer, pyzed from the ZED SDK's
#     installer), made again when python3's version changed;
#  3. the packages: agma-appliance[box] (+ pycuda when the wheelhouse has it) from WHEELHOUSE only
#     (pip --no-index), skipped while the wheelhouse is the one installed last;
#  4. the unit: systemd/agma.service -> /etc/systemd/system/, enabled (started at boot); never
#     (re)started here: a running daemon is told to restart by you, when no session records;
#  5. the example config: systemd/agma.toml.example -> /etc/agma/agma.toml (box.id = the host name)
#     and agma.env.example -> /etc/agma/agma.env, only where absent; then `agma config check`;
#     the state directory /var/lib/agma (models/ for the engine) and the cache /var/cache/agma;
#  6. the CUDA kernels: `agma engine kernels` for this box's GPU, as the agma user, into
#     /var/cache/agma (cached: a second run compiles nothing);
#  7. `agma doctor`, as the agma user with the service's environment: its exit status is this
#     script's (0: every check passed).
# Exit 0 when every step succeeded and doctor passed; 1 otherwise (2: usage), each refusal one line.
# Environment:
#   AGMA_INSTALL_PYTHON  the interpreter of the venv (default /usr/bin/python3, JetPack's 3.10)
#   AGMA_INSTALL_SM      compute capability for the kernels (e.g. 87) instead of asking the GPU
#   AGMA_INSTALL_ROOT    a staging root (tests, image builds): every file goes under it; users are
#                        written to its /etc/passwd (systemd-sysusers --root), the unit is enabled
#                        there (systemctl --root); nothing outside it is touched, root is not needed,
#                        and `agma doctor` (this machine's devices and service) is not run.
set -euo pipefail
me=install
die() { echo "$me: $1" >&2; exit "${2:-1}"; }
say() { echo "$me: $1"; }
umask 022
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -le 1 ] || die "usage: $0 [WHEELHOUSE]" 2
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; -*) die "usage: $0 [WHEELHOUSE]" 2 ;; esac

R=${AGMA_INSTALL_ROOT:-}
R=${R%/}
[ -n "$R" ] || [ "$(id -u)" = 0 ] || die "run it as root: sudo $0${1:+ $1}"
wheelhouse=${1:-$src/wheelhouse}
[ -d "$wheelhouse" ] || die "no wheelhouse at $wheelhouse: build one on a connected machine with scripts/wheelhouse.sh and copy it here (see docs/install.md)"
wheelhouse=$(cd "$wheelhouse" && pwd)
shopt -s nullglob
agma_wheels=("$wheelhouse"/agma_appliance-*.whl)
shopt -u nullglob
[ ${#agma_wheels[@]} -gt 0 ] || die "$wheelhouse holds no agma_appliance wheel: it is not a wheelhouse from scripts/wheelhouse.sh"
[ ${#agma_wheels[@]} -eq 1 ] || die "$wheelhouse holds ${#agma_wheels[@]} agma_appliance wheels: make it again with scripts/wheelhouse.sh"
python=${AGMA_INSTALL_PYTHON:-/usr/bin/python3}
command -v "$python" >/dev/null || die "no $python: install Python 3.10 (JetPack 6 has it) or set AGMA_INSTALL_PYTHON"
python=$(command -v "$python")
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "agma needs Python >= 3.10, $python is $pyver"
"$python" -c 'import venv, ensurepip' 2>/dev/null || die "$python cannot make a virtual environment: apt-get install python$pyver-venv"
# the wheelhouse's own record (scripts/wheelhouse.sh): made for this machine and this Python?
if [ -f "$wheelhouse/wheelhouse.json" ]; then
  mismatch=$("$python" - "$wheelhouse/wheelhouse.json" "$(uname -m)" "$pyver" <<'PY'
import json, sys
w = json.load(open(sys.argv[1], encoding="utf-8"))
if w.get("machine") != sys.argv[2] or w.get("python") != sys.argv[3]:
    print(f"it was built for {w.get('machine')} Python {w.get('python')}, this is {sys.argv[2]} Python {sys.argv[3]}")
PY
)
  [ -z "$mismatch" ] || die "$wheelhouse does not fit this machine: $mismatch (scripts/wheelhouse.sh, docs/install.md)"
fi
if [ -n "$R" ]; then
  mkdir -p "$R" || die "$R: cannot make the staging root"
  R=$(cd "$R" && pwd)
fi

venv=/opt/agma/venv
etc=/etc/agma
state=/var/lib/agma
cache=/var/cache/agma
changed_unit="" changed_code=""

# same FILE_A FILE_B: equal contents
same() { [ -f "$2" ] && cmp -s "$1" "$2"; }
# put SRC DEST MODE: DEST (under R) made equal to SRC; says what it did
put() {
  local dest=$R$2
  if same "$1" "$dest" && [ "$(stat -c %a "$dest")" = "${3#0}" ]; then say "$2: unchanged"; return 1; fi
  mkdir -p "$(dirname "$dest")"
  install -m "$3" "$1" "$dest"
  say "$2: installed"
}
# ids NAME: "uid:gid" of user NAME in R's /etc/passwd, empty without it
ids() { awk -F: -v u="$1" '$1 == u { print $3 ":" $4 }' "$R/etc/passwd" 2>/dev/null || true; }
# folder PATH MODE: PATH (under R) a folder of the agma user with MODE, touched only when it differs
folder() {
  local dest=$R$1 owner=""
  [ "$(id -u)" = 0 ] && owner=$(ids agma)
  if [ -d "$dest" ] && [ "$(stat -c %a "$dest")" = "${2#0}" ] && { [ -z "$owner" ] || [ "$(stat -c %u:%g "$dest")" = "$owner" ]; }; then
    say "$1/: unchanged"; return 0
  fi
  mkdir -p "$dest"
  chmod "$2" "$dest"
  [ -z "$owner" ] || chown "$owner" "$dest"
  say "$1/: ready (mode $2${owner:+, owner agma})"
}
# as_agma CMD...: CMD as the agma user with the service's environment (runs as is in a staging root)
service_env=(AGMA_STATE_DIR="$R$state" AGMA_CACHE_DIR="$R$cache" CUDA_CACHE_PATH="$R$cache/nv")
as_agma() {
  local envfile=() line
  if [ -f "$R$etc/agma.env" ]; then  # systemd's EnvironmentFile syntax: VAR=value lines, # comments
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line#"${line%%[![:space:]]*}"}
      [[ -z $line || $line == \#* || $line == \;* || $line != *=* ]] && continue
      line=${line#export }
      local v=${line#*=}
      [[ $v == \"*\" || $v == \'*\' ]] && v=${v:1:${#v}-2}
      envfile+=("${line%%=*}=$v")
    done <"$R$etc/agma.env"
  fi
  if [ -n "$R" ]; then
    env "${envfile[@]}" "${service_env[@]}" AGMA_CONFIG="$R$etc/agma.toml" "$@"
  else  # from /: the checkout may be in a home the agma user cannot enter
    (cd / && runuser -u agma -- env "${envfile[@]}" "${service_env[@]}" "$@")
  fi
}

# -- 1. the user, its groups and the device permissions ----------------------------------------------
command -v systemd-sysusers >/dev/null || die "no systemd-sysusers here: this box has no systemd (JetPack 6 has it)"
put "$src/systemd/agma.sysusers" /etc/sysusers.d/agma.conf 0644 || true
# applied unless the user is there with every group the file gives it (a user made by hand before
# still gets its groups); systemd-sysusers itself would touch /etc even when it adds nothing
groups_of_agma() { awk -F: '$4 ~ /(^|,)agma(,|$)/ { printf "%s%s", s, $1; s = " " }' "$R/etc/group" 2>/dev/null || true; }
wanted=$(awk '$1 == "m" && $2 == "agma" { print $3 }' "$src/systemd/agma.sysusers")
missing=""
for g in $wanted; do [[ " $(groups_of_agma) " == *" $g "* ]] || missing+=" $g"; done
if [ -n "$(ids agma)" ] && [ -z "$missing" ]; then
  say "user agma: unchanged"
else
  sysusers=(systemd-sysusers)
  [ -z "$R" ] || sysusers+=(--root="$R")
  if ! made=$("${sysusers[@]}" "$R/etc/sysusers.d/agma.conf" 2>&1) || [ -z "$(ids agma)" ]; then
    echo "$made" >&2
    die "systemd-sysusers did not make the user agma (above)"
  fi
  say "user agma: $(ids agma), groups: $(groups_of_agma) (systemd-sysusers)"
fi
if put "$src/systemd/60-agma.rules" /etc/udev/rules.d/60-agma.rules 0644 && [ -z "$R" ] \
    && command -v udevadm >/dev/null && [ -d /run/udev ]; then
  udevadm control --reload-rules && udevadm trigger --subsystem-match=gpio --subsystem-match=usb --subsystem-match=hidraw || true
fi

# -- 2. the virtual environment --------------------------------------------------------------------
if [ -x "$R$venv/bin/python" ] && [ "$("$R$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$pyver" ]; then
  say "$venv was made by another Python: making it again with $python ($pyver)"
  rm -rf "${R}${venv:?}"
fi
if [ -x "$R$venv/bin/python" ]; then
  say "$venv: unchanged"
else
  mkdir -p "$(dirname "$R$venv")"
  "$python" -m venv --system-site-packages "$R$venv"
  say "$venv: made by $python ($pyver), with the system's site packages"
fi

# -- 3. the packages, from the wheelhouse only -------------------------------------------------------
stamp=$( (cd "$wheelhouse" && find . -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' \) -printf '%f %s\n' | sort \
  && sha256sum "${agma_wheels[0]##*/}") | sha256sum | cut -c1-32)
if [ "$(cat "$R$venv/.agma-wheelhouse" 2>/dev/null)" = "$stamp" ] && [ -x "$R$venv/bin/agma" ]; then
  say "packages: unchanged (this wheelhouse is installed)"
else
  reqs=("agma-appliance[box]")
  shopt -s nullglob
  pycuda=("$wheelhouse"/pycuda-*)
  shopt -u nullglob
  [ ${#pycuda[@]} -eq 0 ] || reqs+=(pycuda)
  log="$R$venv/.agma-install.log"
  say "packages: installing ${reqs[*]} from $wheelhouse (a few minutes) ..."
  # only the wheelhouse: no index, and no pip configuration of this machine's
  if ! { PIP_CONFIG_FILE=/dev/null "$R$venv/bin/python" -m pip install --disable-pip-version-check --no-input --no-index \
           --find-links "$wheelhouse" --upgrade "${reqs[@]}" \
         && PIP_CONFIG_FILE=/dev/null "$R$venv/bin/python" -m pip install --disable-pip-version-check --no-input --no-index \
           --no-deps --force-reinstall "${agma_wheels[0]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "pip could not install from $wheelhouse (above; the whole log: $venv/.agma-install.log): is it complete, and built for this machine?"
  fi
  echo "$stamp" >"$R$venv/.agma-wheelhouse"
  changed_code=1
  say "packages: $("$R$venv/bin/agma" --version) installed${pycuda:+ with pycuda}"
  [ ${#pycuda[@]} -gt 0 ] || say "packages: no pycuda in the wheelhouse: a TensorRT engine (trt:) needs it; scripts/wheelhouse.sh adds it when run on a Jetson"
fi
put "$src/docs/install.md" /opt/agma/docs/install.md 0644 || true

# -- 4. the unit -------------------------------------------------------------------------------------
if put "$src/systemd/agma.service" /etc/systemd/system/agma.service 0644; then changed_unit=1; fi
systemctl_root=()
[ -z "$R" ] || systemctl_root=(--root="$R")
if [ "$(systemctl "${systemctl_root[@]}" is-enabled agma.service 2>/dev/null || true)" = enabled ]; then
  say "agma.service: enabled (unchanged)"
else
  enabled=$(systemctl "${systemctl_root[@]}" enable agma.service 2>&1) || { echo "$enabled" >&2; die "systemctl enable agma.service failed (above)"; }
  say "agma.service: enabled (starts at boot)"
fi
running_systemd=""
[ -z "$R" ] && [ -d /run/systemd/system ] && running_systemd=1
[ -z "$changed_unit" ] || [ -z "$running_systemd" ] || systemctl daemon-reload

# -- 5. the configuration and the state folders --------------------------------------------------------
mkdir -p "$R$etc"
if [ -f "$R$etc/agma.toml" ]; then
  say "$etc/agma.toml: kept as it is"
else
  host=$(hostname -s 2>/dev/null || hostname)
  if [[ $host =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
    sed "s/^id = \"box-1\"/id = \"$host\"/" "$src/systemd/agma.toml.example" >"$R$etc/agma.toml"
  else
    cp "$src/systemd/agma.toml.example" "$R$etc/agma.toml"
  fi
  chmod 0644 "$R$etc/agma.toml"
  say "$etc/agma.toml: installed from systemd/agma.toml.example (box.id = $(sed -n 's/^id = "\(.*\)"/\1/p' "$R$etc/agma.toml")): edit it for this box"
fi
if [ -f "$R$etc/agma.env" ]; then
  say "$etc/agma.env: kept as it is"
else  # readable by root (systemd reads it) and group agma only: it may name the broker's account
  install -m 0640 "$src/systemd/agma.env.example" "$R$etc/agma.env"
  [ "$(id -u)" != 0 ] || chgrp "$(ids agma | cut -d: -f2)" "$R$etc/agma.env"
  say "$etc/agma.env: installed from systemd/agma.env.example"
fi
folder "$state" 0750
folder "$state/models" 0750
folder "$cache" 0750
if ! check=$(as_agma "$R$venv/bin/agma" --config "$R$etc/agma.toml" config check 2>&1); then
  echo "$check" >&2
  die "$etc/agma.toml or $etc/agma.env is not valid (above): fix it, then run this again"
fi
say "configuration: $check"

# -- 6. the CUDA kernels for this box's GPU ----------------------------------------------------------
sm=()
[ -z "${AGMA_INSTALL_SM:-}" ] || sm=(--sm "$AGMA_INSTALL_SM")
errors=$(mktemp)
if ! kernels=$(as_agma "$R$venv/bin/agma" engine kernels "${sm[@]}" --json 2>"$errors"); then
  cat "$errors" >&2
  rm -f "$errors"
  die "agma engine kernels failed (above): the CUDA decoder needs JetPack's CUDA (NVRTC) and the GPU, or AGMA_INSTALL_SM"
fi
rm -f "$errors"
say "CUDA kernels: $("$R$venv/bin/python" - "$kernels" <<'PY'
import json, sys
d = json.loads(sys.argv[1].strip().splitlines()[-1])
how = "unchanged" if d["cached"] else "compiled"
print(f"{how}: sm_{d['sm']}, CUDA {d['cuda_version']} ({d['toolchain']}), {d['cubin']}")
PY
)"

# -- 7. agma doctor -----------------------------------------------------------------------------------
if [ -n "$changed_unit$changed_code" ] && [ -n "$running_systemd" ] && systemctl is-active -q agma.service; then
  say "agma.service is running the previous version: sudo systemctl restart agma when no session is recording"
fi
if [ -n "$R" ]; then
  say "agma doctor: not run (a staging root: it checks this machine's devices and service)"
  say "done (staging root $R)"
  exit 0
fi
say "agma doctor ..."
rc=0
as_agma "$venv/bin/agma" doctor || rc=$?
if [ "$rc" = 0 ]; then say "done: every check passed"; else say "done, but agma doctor found problems (above)"; fi
exit "$rc"
