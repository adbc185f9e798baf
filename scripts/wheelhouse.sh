#!/usr/bin/env bash
# The offline wheelhouse that scripts/install.sh installs the box from, made on a connected machine.
#   scripts/wheelhouse.sh [-o DIR] [--here] [-c CONSTRAINTS]
# DIR (default: wheelhouse/ in this checkout) gets agma's own wheel (built from this checkout) and
# every package agma-appliance[box] needs, as wheels for the box: Linux aarch64, CPython 3.10
# (JetPack 6: Ubuntu 22.04, glibc 2.35). --here: for this machine's own platform and Python
# instead (a development machine, the tests). Then wheelhouse.json says what it was made for;
# install.sh refuses a wheelhouse made for another machine.
# pycuda (the TensorRT engine's buffers) has no wheel on PyPI: it is compiled against the box's
# CUDA, so it is added only when this script runs on a Jetson (aarch64, CUDA in /usr/local/cuda,
# the same Python): there it is built and added. Made elsewhere, the wheelhouse says it lacks
# pycuda; run this once on a connected Jetson of the same JetPack to add it (docs/install.md).
# -c CONSTRAINTS: a pip constraints file for what the box's own libraries need, e.g. `numpy<2` where
# JetPack's TensorRT Python module was built before NumPy 2 (TensorRT 8.6, JetPack 6.0).
# DIR is made again from nothing each time (a folder that is not a wheelhouse is refused).
# Runs pip from this checkout's environment (scripts/env.sh), which needs the network once.
set -euo pipefail
me=wheelhouse
die() { echo "$me: $1" >&2; exit "${2:-1}"; }
usage="usage: $0 [-o DIR] [--here] [-c CONSTRAINTS]"
out="" here="" constraints=()
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--output) [ $# -ge 2 ] || die "$usage" 2; out=$2; shift 2 ;;
    --here) here=1; shift ;;
    -c|--constraint)
      [ $# -ge 2 ] || die "$usage" 2
      [ -f "$2" ] || die "$2: no such constraints file"
      constraints=(-c "$(readlink -f "$2")"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "$usage" 2 ;;
  esac
done
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
out=${out:-$AGMA_ROOT/wheelhouse}
if [ -e "$out" ]; then
  [ -d "$out" ] || die "$out is not a folder"
  if [ -n "$(ls -A "$out")" ] && [ ! -f "$out/wheelhouse.json" ]; then
    die "$out is not empty and not a wheelhouse (no wheelhouse.json): name another folder with -o"
  fi
fi
# shellcheck disable=SC2119  # no extra: agma's own packages
agma_env
pip() { python -m pip --disable-pip-version-check --no-input "$@"; }

if [ -n "$here" ]; then
  machine=$(uname -m)
  pyver=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  target=()
else
  machine=aarch64 pyver=3.10
  target=(--python-version "$pyver" --implementation cp --abi cp310 --platform manylinux2014_aarch64)
  for minor in $(seq 17 35); do target+=(--platform "manylinux_2_${minor}_aarch64"); done
fi
# pycuda only where this machine is the box's kind: it is compiled here, against this CUDA
on_jetson=""
if [ "$(uname -m)" = aarch64 ] && [ -x /usr/local/cuda/bin/nvcc ] \
    && [ "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$pyver" ]; then
  on_jetson=1
fi

rm -rf "$out"
mkdir -p "$out"
log="$out/.pip.log"
step() {  # step WHAT PIP-ARGS...: pip, its log shown only when it fails
  echo "$me: $1 ..." >&2
  shift
  if ! pip "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "pip failed (above; the whole log: $log)"
  fi
}
# agma's wheel from a copy of the sources: setuptools builds in the source tree, and a build/ left
# there would put modules deleted since into the wheel
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cp -a "$AGMA_ROOT/pyproject.toml" "$AGMA_ROOT/README.md" "$AGMA_ROOT/appliance" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
step "agma's wheel, from $AGMA_ROOT" wheel --no-deps -w "$out" "$src"
wheel=$(ls "$out"/agma_appliance-*.whl)
step "agma-appliance[box]'s packages for $machine Python $pyver" download -d "$out" --only-binary=:all: \
  "${target[@]}" "${constraints[@]}" "${wheel}[box]"
pycuda=false
if [ -n "$on_jetson" ]; then
  step "pycuda, compiled against $(/usr/local/cuda/bin/nvcc --version | sed -n 's/.*release \([0-9.]*\).*/CUDA \1/p')" \
    wheel -w "$out" "${constraints[@]}" pycuda
  pycuda=true
fi
rm -f "$log"
python - "$out/wheelhouse.json" "$machine" "$pyver" "$wheel" "$pycuda" <<'PY'
import datetime, json, os, sys
path, machine, pyver, wheel, pycuda = sys.argv[1:]
version = os.path.basename(wheel).split("-")[1]
doc = {"machine": machine, "python": pyver, "agma_version": version, "pycuda": pycuda == "true",
       "made_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "files": sorted(f for f in os.listdir(os.path.dirname(path)) if f != "wheelhouse.json")}
with open(path, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
PY
count=$(find "$out" -maxdepth 1 -type f ! -name wheelhouse.json | wc -l)
echo "$me: $out: $count files, $(du -sh "$out" | cut -f1), for $machine Python $pyver" >&2
if [ "$pycuda" = false ]; then
  echo "$me: without pycuda (no wheel exists for it: run this on a connected Jetson of the box's JetPack to add it)" >&2
fi
echo "$out"
