# Sourced by scripts/demo.sh and scripts/test.sh: a virtual environment with this project installed.
#   AGMA_PYTHON  the interpreter to build it from. Unset: python3, into .venv (the one the README
#                names). Set (CI's second run: AGMA_PYTHON=python3.10): into .venv-<X.Y>, so the
#                default environment is never replaced by another version's.
#   agma_env [EXTRA]  creates/updates the environment and puts it first on PATH. The package is
#                installed once (editable: code changes need no reinstall) and again only when
#                pyproject.toml changes; an extra (test) adds its packages without reinstalling
#                the package, so alternating demo.sh and test.sh installs nothing. pip's output
#                goes to <venv>/.agma-install.log and is shown only when an install fails.
set -euo pipefail
AGMA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${AGMA_PYTHON:-}" ]; then AGMA_VENV_NAMED=1; else AGMA_VENV_NAMED=""; fi
AGMA_PYTHON=${AGMA_PYTHON:-python3}

as_root() { [ "$(id -u)" = 0 ]; }

# apt_install PKG...: install missing Debian packages when root, else print the command and fail.
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if as_root && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
}

# _pip VENV WHAT ARGS...: pip install, quiet; its log is printed only when it fails.
_pip() {
  local venv=$1 what=$2; shift 2
  echo "installing $what into $venv (once; a few minutes the first time) ..." >&2
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input "$@" >"$venv/.agma-install.log" 2>&1; then
    tail -n 40 "$venv/.agma-install.log" >&2
    echo "pip failed installing $what; full log: $venv/.agma-install.log" >&2
    return 1
  fi
}

# agma_venv_dir VERSION: the environment folder: .venv, or .venv-<X.Y> when AGMA_PYTHON was given.
agma_venv_dir() { echo "$AGMA_ROOT/.venv${AGMA_VENV_NAMED:+-$1}"; }

agma_env() {
  local extra=${1:-}
  command -v "$AGMA_PYTHON" >/dev/null || { echo "no $AGMA_PYTHON on PATH" >&2; return 1; }
  local ver
  ver=$("$AGMA_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  "$AGMA_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "agma needs Python >= 3.10, $AGMA_PYTHON is $ver" >&2; return 1; }
  if ! "$AGMA_PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install "python${ver}-venv"
  fi
  VENV=$(agma_venv_dir "$ver")
  # A venv made by another Python version (python3 upgraded) is made again.
  if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$ver" ]; then
    echo "$VENV was made with another Python; making it again with $AGMA_PYTHON ($ver)" >&2
    rm -rf "$VENV"
  fi
  [ -x "$VENV/bin/python" ] || "$AGMA_PYTHON" -m venv "$VENV" >&2
  local want
  want="$(sha256sum < "$AGMA_ROOT/pyproject.toml" | cut -c1-16)"
  if [ "$(cat "$VENV/.agma-installed" 2>/dev/null)" != "$want" ]; then
    _pip "$VENV" "a current pip" -q --upgrade pip
    _pip "$VENV" agma -q -e "$AGMA_ROOT"
    echo "$want" > "$VENV/.agma-installed"
  fi
  if [ -n "$extra" ] && [ "$(cat "$VENV/.agma-extra-$extra" 2>/dev/null)" != "$want" ]; then
    # the extra's own requirements, read from pyproject.toml: the package itself stays as installed
    "$VENV/bin/python" - "$AGMA_ROOT/pyproject.toml" "$extra" > "$VENV/.agma-extra-$extra.txt" <<'EOF'
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is one of agma's dependencies
    import tomli as tomllib
with open(sys.argv[1], "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"]["optional-dependencies"][sys.argv[2]]))
EOF
    _pip "$VENV" "the $extra packages" -q -r "$VENV/.agma-extra-$extra.txt"
    echo "$want" > "$VENV/.agma-extra-$extra"
  fi
  export PATH="$VENV/bin:$PATH"
}
