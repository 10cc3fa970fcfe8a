SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

# samconfig.toml environment for build/deploy: default (stack whatspe) or prod (whatspe-prod).
ENV ?= default
# Extra `sam deploy` arguments, e.g. DEPLOY_ARGS='--parameter-overrides TablePrefix=whatspe_prod_'
DEPLOY_ARGS ?=
MOTO_PORT ?= 5000

SAM := .venv-tools/bin/sam
export SAM_CLI_TELEMETRY := 0

.PHONY: test api-check web-test fuzz run moto lint-template build deploy venv clean-venv

## test: fmt, clippy, cargo tests against a throwaway moto server, template lint (what CI runs)
test:
	scripts/test.sh

## api-check: docs/openapi.json validated, schemathesis and a generated client against the local gateway
api-check:
	scripts/api-check.sh

## web-test: the web client in headless Chromium (two and three sessions) against a local gateway
web-test:
	scripts/web-test.sh

## fuzz: the property tests of the input decoders, each for FUZZ_SECONDS (default 60) of fresh inputs
FUZZ_SECONDS ?= 60
fuzz:
	WHATSPE_FUZZ_SECONDS=$(FUZZ_SECONDS) cargo test -p whatspe --test properties -- --test-threads=2 --nocapture

## run: the local gateway with in-memory stores (no setup); the web client at http://127.0.0.1:3000/
run:
	cargo run --release -p whatspe-local

## moto: a moto server in the foreground, for running the local gateway on the AWS adapters
moto:
	scripts/venv.sh moto
	@echo "moto on http://127.0.0.1:$(MOTO_PORT); in another shell:"
	@echo "  AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 cargo run --release -p whatspe-local"
	.venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p $(MOTO_PORT)

## lint-template: cfn-lint + sam validate --lint (offline)
lint-template:
	scripts/lint-template.sh

## build: sam build (cargo-lambda, arm64) into .aws-sam/: one bootstrap per function
build:
	scripts/venv.sh tools
	scripts/venv.sh lambda
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/.venv-lambda/bin:$$PATH" AWS_LC_SYS_NO_JITTER_ENTROPY=1 $(SAM) build --config-env $(ENV)

## deploy: sam build, then sam deploy (ENV=prod for the prod stack)
deploy: build
	$(SAM) deploy --config-env $(ENV) $(DEPLOY_ARGS)

## venv: create the Python tool venvs (moto; cfn-lint + sam; the API contract tools)
venv:
	scripts/venv.sh all

clean-venv:
	rm -rf .venv .venv-tools .venv-api .venv-web
