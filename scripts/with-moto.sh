#!/usr/bin/env bash
# Run one command against a fresh moto server, then stop it:
#   scripts/with-moto.sh cargo test -p whatspe
#   scripts/with-moto.sh sh -c 'curl -s "$WHATSPE_TEST_ENDPOINT/moto-api/data.json"'
# The command sees WHATSPE_TEST_ENDPOINT=http://127.0.0.1:<port>, AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY=testing, AWS_REGION / AWS_DEFAULT_REGION=us-east-1, and none of
# the caller's AWS_ENDPOINT_URL*, AWS_PROFILE or ~/.aws files. Exits with its status.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

# shellcheck source=scripts/moto.sh
source "$(dirname "${BASH_SOURCE[0]}")/moto.sh"

trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_moto

status=0
"$@" || status=$?
exit "$status"
