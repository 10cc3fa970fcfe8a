#!/usr/bin/env bash
# The API contract against a running local gateway (make test runs it after cargo test):
#   1. docs/openapi.json is a valid OpenAPI 3.1 document (openapi-spec-validator);
#   2. schemathesis calls every operation as a signed-in user: no 5xx, answers match their
#      documented schemas and content types;
#   3. a client generated from docs/openapi.json (openapi-python-client) signs two users up,
#      makes them contacts and sends a message.
# (docs/openapi.json equals the code's document: local/tests/api_docs.rs, in cargo test.)
#
# SCHEMATHESIS_MAX_EXAMPLES (default 25) bounds the examples per operation.
set -euo pipefail

# shellcheck source=scripts/venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$WHATSPE_ROOT"
ensure_api_venv
PY="$API_VENV/bin/python"
WORK="$WHATSPE_ROOT/target/api-check"
rm -rf "$WORK"
mkdir -p "$WORK"

echo "==> openapi-spec-validator docs/openapi.json"
"$API_VENV/bin/openapi-spec-validator" docs/openapi.json

cargo build --quiet -p whatspe-local
GATEWAY_PID=""
stop_gateway() {
    [[ -n "$GATEWAY_PID" ]] || return 0
    kill -TERM "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
    GATEWAY_PID=""
}
trap stop_gateway EXIT
# In-memory stores; schemathesis sends thousands of requests, so no log line per request.
# Every request comes from 127.0.0.1: the per-IP sign-in and per-user look-up limits are
# raised out of the fuzzer's way (their own tests are in local/tests/abuse_e2e.rs).
WHATSPE_OTP_IP_SENDS_PER_HOUR=1000000 WHATSPE_OTP_IP_VERIFIES_PER_HOUR=1000000 \
    WHATSPE_LOOKUPS_PER_MINUTE=1000000 WHATSPE_LOOKUPS_PER_DAY=1000000 \
    RUST_LOG=warn target/debug/whatspe-local --store memory --port 0 >"$WORK/gateway.out" 2>"$WORK/gateway.log" &
GATEWAY_PID=$!
BASE=""
for _ in $(seq 100); do
    BASE="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/gateway.out")"
    [[ -n "$BASE" ]] && break
    kill -0 "$GATEWAY_PID" 2>/dev/null || { cat "$WORK/gateway.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$BASE" ]] || { echo "error: the gateway did not start" >&2; exit 1; }
echo "==> local gateway at $BASE"
cmp -s <("$PY" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$BASE/api/openapi.json") docs/openapi.json ||
    { echo "error: GET /api/openapi.json differs from docs/openapi.json" >&2; exit 1; }

# A user with a contact, a message and a pending request; their ids go into the schemathesis
# configuration, so half the generated ids and names are ones that exist.
TOKEN="$("$PY" scripts/api/gateway.py "$BASE" "$WORK/schemathesis.toml")"
# One worker: with several, hypothesis's concurrent ast.parse hits a CPython 3.11 bug
# ("AST constructor recursion depth mismatch") and schemathesis reports a runtime error.
echo "==> schemathesis (signed in; every operation)"
start=$SECONDS
# From $WORK, so that hypothesis's and schemathesis's caches land there, not in the tree.
(cd "$WORK" && "$API_VENV/bin/schemathesis" --config-file schemathesis.toml run "$WHATSPE_ROOT/docs/openapi.json" \
    --url "$BASE" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
    --seed "${SCHEMATHESIS_SEED:-42}" \
    --workers 1 \
    --no-color \
    --generation-database none \
    --report junit --report-dir schemathesis)
echo "==> schemathesis done in $((SECONDS - start)) s"

echo "==> generated client (openapi-python-client)"
"$API_VENV/bin/openapi-python-client" generate --path docs/openapi.json \
    --config scripts/api/client-config.yaml --output-path "$WORK/client/whatspe_client" --overwrite \
    --meta none >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log" >&2; exit 1; }
PYTHONPATH="$WORK/client:scripts/api" "$PY" scripts/api/client_test.py "$BASE"

stop_gateway
if grep -q "panicked" "$WORK/gateway.log"; then
    echo "error: the gateway panicked:" >&2
    grep -A5 "panicked" "$WORK/gateway.log" >&2
    exit 1
fi
echo "==> API contract checks passed"
