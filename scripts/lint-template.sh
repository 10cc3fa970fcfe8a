#!/usr/bin/env bash
# Lint the SAM template offline: cfn-lint, then sam validate --lint.
set -euo pipefail

# shellcheck source=scripts/venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$WHATSPE_ROOT"
ensure_tools_venv

# Both tools only need a region name; nothing here talks to AWS.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

echo "==> cfn-lint template.yaml"
"$TOOLS_VENV/bin/cfn-lint" template.yaml

echo "==> sam validate --lint --template template.yaml"
"$TOOLS_VENV/bin/sam" validate --lint --template template.yaml
