# Sourced by scripts/demo.sh and scripts/test.sh: a virtual environment with this project installed.
#   AGMA_PYTHON  the interpreter to build it from (default python3); one venv per Python version.
#   agma_env [EXTRAS]  creates/updates .venv-<version> and puts it first on PATH.
set -euo pipefail
AGMA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

agma_env() {
  local extras=${1:-}
  command -v "$AGMA_PYTHON" >/dev/null || { echo "no $AGMA_PYTHON on PATH" >&2; return 1; }
  local ver
  ver=$("$AGMA_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  "$AGMA_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "agma needs Python >= 3.10, $AGMA_PYTHON is $ver" >&2; return 1; }
  if ! "$AGMA_PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install "python${ver}-venv"
  fi
  VENV="$AGMA_ROOT/.venv-$ver"
  [ -x "$VENV/bin/python" ] || "$AGMA_PYTHON" -m venv "$VENV" >&2
  local stamp="$VENV/.agma-installed" want
  want="$(cat "$AGMA_ROOT/pyproject.toml" | sha256sum | cut -c1-16)-${extras}"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing agma into $VENV ..." >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$AGMA_ROOT${extras:+[$extras]}" >&2
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}
