#!/usr/bin/env bash
# The whole check, as CI runs it (make test / .ci/run): formatting, clippy, every cargo
# test with a moto server up for the AWS adapter tests, the web client in headless Chromium
# (scripts/web-test.sh), the API contract checks against the local gateway
# (scripts/api-check.sh), then the SAM template lint.
# Needs only cargo, Python 3.11+ with venv and pip, a package index, and apt (for Debian's
# chromium, installed when missing).
set -euo pipefail

# shellcheck source=scripts/moto.sh
source "$(dirname "${BASH_SOURCE[0]}")/moto.sh"
cd "$WHATSPE_ROOT"
start_time=$SECONDS

step() {
    echo "==> $*"
    "$@"
}

# The Python venvs (moto, cfn-lint + sam, the API tools, Playwright) are created in the
# background while cargo checks and builds: on a fresh clone both take minutes, and pip waits
# on the network while rustc keeps the cores busy. Their output lands in target/venvs.log and
# is shown once they are ready; the tests that need them start only then.
mkdir -p target
venvs_log=target/venvs.log
(ensure_moto_venv && ensure_tools_venv && ensure_api_venv && ensure_web_venv) >"$venvs_log" 2>&1 &
venvs_pid=$!
wait_for_venvs() {
    local status=0
    wait "$venvs_pid" || status=$?
    venvs_pid=""
    cat "$venvs_log"
    if ((status != 0)); then
        echo "error: creating the Python venvs failed (exit $status)" >&2
        return "$status"
    fi
}

# rustup installs that lack the components (a minimal profile) get them here.
if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi

on_exit() {
    local status=$?
    if [[ -n "${venvs_pid:-}" ]]; then
        pkill -P "$venvs_pid" 2>/dev/null || true
        kill "$venvs_pid" 2>/dev/null || true
    fi
    stop_moto
    if ((status == 0)); then
        echo "==> all checks passed in $((SECONDS - start_time)) s"
    else
        echo "==> FAILED (exit $status) after $((SECONDS - start_time)) s" >&2
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
step cargo test --workspace --no-run --quiet
step wait_for_venvs
start_moto
echo "==> moto ready at $WHATSPE_TEST_ENDPOINT"
step cargo test --workspace

stop_moto

step scripts/web-test.sh

step scripts/api-check.sh
scripts/lint-template.sh
