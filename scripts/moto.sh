#!/usr/bin/env bash
# Start and stop a throwaway moto server (AWS emulator) on a free loopback port.
# Library: source it, then
#   start_moto          # starts moto, exports WHATSPE_TEST_ENDPOINT and test credentials
#   trap stop_moto EXIT
# scripts/with-moto.sh wraps a single command in exactly that.

WHATSPE_ROOT="${WHATSPE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=scripts/venv.sh
source "$WHATSPE_ROOT/scripts/venv.sh"

MOTO_LOG="$WHATSPE_ROOT/target/moto.log"
MOTO_START_TIMEOUT="${MOTO_START_TIMEOUT:-30}"
MOTO_PID=""

_free_port() {
    "$MOTO_VENV/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Exit 0 once moto answers HTTP on the port.
_moto_answers() {
    "$MOTO_VENV/bin/python" -c 'import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/moto-api/" % sys.argv[1], timeout=1).read()' "$1" \
        >/dev/null 2>&1
}

# The environment the tests (and anything run under with-moto.sh) see: moto's endpoint and
# fixed fake credentials, and nothing of the caller's AWS setup.
_export_moto_env() {
    local port="$1" var
    for var in $(compgen -e); do
        case "$var" in
            AWS_ENDPOINT_URL | AWS_ENDPOINT_URL_*) unset "$var" ;;
        esac
    done
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ROLE_ARN \
        AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
        AWS_CONTAINER_CREDENTIALS_FULL_URI
    # A profile in ~/.aws could still set endpoint_url, region or credentials.
    export AWS_CONFIG_FILE=/dev/null
    export AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_EC2_METADATA_DISABLED=true
    export AWS_ACCESS_KEY_ID=testing
    export AWS_SECRET_ACCESS_KEY=testing
    export AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1
    export WHATSPE_TEST_ENDPOINT="http://127.0.0.1:$port"
}

start_moto() {
    ensure_moto_venv || return 1
    mkdir -p "$(dirname "$MOTO_LOG")"
    : >"$MOTO_LOG"
    local attempt port deadline
    # A port picked here could be taken before moto binds it: retry with a new one.
    for attempt in 1 2 3; do
        port="$(_free_port)" || return 1
        echo "==> starting moto on 127.0.0.1:$port (log: ${MOTO_LOG#"$WHATSPE_ROOT"/})" >&2
        "$MOTO_VENV/bin/python" "$WHATSPE_ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >>"$MOTO_LOG" 2>&1 </dev/null &
        MOTO_PID=$!
        deadline=$((SECONDS + MOTO_START_TIMEOUT))
        while ((SECONDS < deadline)); do
            if _moto_answers "$port"; then
                _export_moto_env "$port"
                return 0
            fi
            if ! kill -0 "$MOTO_PID" 2>/dev/null; then
                break
            fi
            sleep 0.2
        done
        if kill -0 "$MOTO_PID" 2>/dev/null; then
            # Alive but silent for the whole timeout: give up.
            stop_moto
            echo "error: moto did not answer on 127.0.0.1:$port within ${MOTO_START_TIMEOUT} s; log tail:" >&2
            tail -n 30 "$MOTO_LOG" >&2
            return 1
        fi
        wait "$MOTO_PID" 2>/dev/null || true
        MOTO_PID=""
        if ! grep -qi "address already in use" "$MOTO_LOG"; then
            break
        fi
        echo "==> port $port was taken, retrying (attempt $attempt)" >&2
    done
    echo "error: moto exited before it answered; log tail:" >&2
    tail -n 30 "$MOTO_LOG" >&2
    return 1
}

stop_moto() {
    [[ -n "$MOTO_PID" ]] || return 0
    local pid="$MOTO_PID" _
    MOTO_PID=""
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
