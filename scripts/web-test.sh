#!/usr/bin/env bash
# The web client in real browsers (make test runs it after cargo test): web/tests/ drives two
# and three headless Chromium sessions (Playwright) against a local gateway of its own on a
# free port — sign-up, contacts, chat with typing and ticks, a photo, offline and catch-up,
# history scroll-back, a group of three.
#
# Uses Debian's chromium (installed with apt-get when missing; Playwright's own browser
# downloads are never used) and .venv-web/ (Playwright, pytest). Extra arguments go to pytest,
# e.g. `scripts/web-test.sh -k offline`. WHATSPE_UPDATE_SCREENSHOT=1 rewrites the README's
# screenshot (docs/web-conversation.png). Artifacts (gateway log, consoles, screenshots,
# JUnit report) land in target/web-test/.
set -euo pipefail

# shellcheck source=scripts/venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$WHATSPE_ROOT"

CHROMIUM="${WHATSPE_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
    echo "==> installing Debian's chromium (apt-get)" >&2
    sudo=""
    if ((EUID != 0)); then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
[[ -x "$CHROMIUM" ]] || { echo "error: $CHROMIUM missing after apt-get install chromium" >&2; exit 1; }
echo "==> $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
ensure_web_venv

cargo build --quiet -p whatspe-local
mkdir -p target/web-test
start=$SECONDS
WHATSPE_LOCAL_BIN="$WHATSPE_ROOT/target/debug/whatspe-local" WHATSPE_CHROMIUM="$CHROMIUM" \
    PYTHONDONTWRITEBYTECODE=1 \
    "$WEB_VENV/bin/python" -m pytest web/tests -p no:cacheprovider -q \
    --junitxml=target/web-test/junit.xml "$@"
echo "==> browser tests done in $((SECONDS - start)) s"
