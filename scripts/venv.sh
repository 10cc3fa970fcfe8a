#!/usr/bin/env bash
# Python tool environments for the WhatsPe workspace (nothing here is needed by the Rust build).
#
#   .venv/        moto server (the AWS emulator the DynamoDB/SNS adapter tests run against)
#   .venv-tools/  cfn-lint + aws-sam-cli. Kept apart from .venv because aws-sam-cli pins
#                 its own boto3/botocore range, which would fight moto's.
#   .venv-lambda/ cargo-lambda (with zig), for `make build` only.
#   .venv-api/    the API contract tools: openapi-spec-validator, schemathesis and
#                 openapi-python-client (scripts/api-check.sh, run by `make test`).
#   .venv-web/    Playwright and pytest, for the web client's browser tests
#                 (scripts/web-test.sh, run by `make test`). Playwright drives Debian's
#                 chromium; its own browser downloads are never used.
#
# Each venv carries a stamp file holding the exact pinned requirements; it is (re)built
# only when the stamp differs or the tool binary is missing, so repeated runs cost nothing
# and bumping a pin below rebuilds the venv from scratch.
#
# Source it (functions ensure_moto_venv / ensure_tools_venv) or run it:
#   scripts/venv.sh [moto|tools|api|web|all]     (default: all)

MOTO_REQUIREMENTS=("moto[server]==5.2.5")
TOOLS_REQUIREMENTS=("cfn-lint==1.58.0" "aws-sam-cli==1.170.0")
LAMBDA_REQUIREMENTS=("cargo-lambda==1.9.2")
API_REQUIREMENTS=("openapi-spec-validator==0.9.0" "schemathesis==4.32.5" "openapi-python-client==0.29.1")
WEB_REQUIREMENTS=("playwright==1.65.2" "pytest==9.2.0")

WHATSPE_ROOT="${WHATSPE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
MOTO_VENV="$WHATSPE_ROOT/.venv"
TOOLS_VENV="$WHATSPE_ROOT/.venv-tools"
LAMBDA_VENV="$WHATSPE_ROOT/.venv-lambda"
API_VENV="$WHATSPE_ROOT/.venv-api"
WEB_VENV="$WHATSPE_ROOT/.venv-web"

# _ensure_venv DIR CHECK_BIN REQUIREMENT...
_ensure_venv() {
    local dir="$1" check_bin="$2"
    shift 2
    local stamp="$dir/.whatspe-requirements"
    local want="$*"
    if [[ -x "$dir/bin/$check_bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "error: $python not found; Python 3.11+ with the venv module is required" >&2
        return 1
    fi
    echo "==> creating ${dir#"$WHATSPE_ROOT"/}/ with: $want" >&2
    local start=$SECONDS
    # --clear: a version bump or a half-finished earlier install starts from an empty venv.
    "$python" -m venv --clear "$dir"
    # The caller's pip configuration (e.g. PIP_USER, PIP_TARGET) must not redirect the install.
    env -u PIP_USER -u PIP_TARGET -u PIP_PREFIX -u PYTHONPATH \
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    if [[ ! -x "$dir/bin/$check_bin" ]]; then
        echo "error: $dir/bin/$check_bin missing after installing $want" >&2
        return 1
    fi
    printf '%s' "$want" >"$stamp"
    echo "==> ${dir#"$WHATSPE_ROOT"/}/ ready in $((SECONDS - start)) s" >&2
}

ensure_moto_venv() {
    _ensure_venv "$MOTO_VENV" moto_server "${MOTO_REQUIREMENTS[@]}"
}

ensure_tools_venv() {
    _ensure_venv "$TOOLS_VENV" sam "${TOOLS_REQUIREMENTS[@]}" &&
        [[ -x "$TOOLS_VENV/bin/cfn-lint" ]]
}

ensure_api_venv() {
    _ensure_venv "$API_VENV" schemathesis "${API_REQUIREMENTS[@]}" &&
        [[ -x "$API_VENV/bin/openapi-spec-validator" && -x "$API_VENV/bin/openapi-python-client" ]]
}

ensure_web_venv() {
    _ensure_venv "$WEB_VENV" pytest "${WEB_REQUIREMENTS[@]}" &&
        [[ -x "$WEB_VENV/bin/playwright" ]]
}

ensure_lambda_venv() {
    _ensure_venv "$LAMBDA_VENV" cargo-lambda "${LAMBDA_REQUIREMENTS[@]}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    case "${1:-all}" in
        moto) ensure_moto_venv ;;
        tools) ensure_tools_venv ;;
        lambda) ensure_lambda_venv ;;
        api) ensure_api_venv ;;
        web) ensure_web_venv ;;
        all) ensure_moto_venv && ensure_tools_venv && ensure_api_venv && ensure_web_venv ;;
        *)
            echo "usage: $0 [moto|tools|lambda|api|web|all]" >&2
            exit 2
            ;;
    esac
fi
