# The two commands: `make up` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
SITE = $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CLIENT := client/pyproject.toml
# A change to any of these files reinstalls: the stamp's name is their checksum.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml $(CLIENT) | cksum | cut -d' ' -f1)
PROTOS := $(shell find protos/backtest -name '*.proto')
GEN := gen/python/backtest/v1/catalog_pb2.py
DESCRIPTOR := gen/descriptor.binpb
# The REST contract described (OpenAPI 3.1) and the docs page, from the descriptor set.
OPENAPI := gen/openapi.json
OPENAPI_GEN := $(wildcard gateway/openapi/*.py gateway/docs/*)
PYTEST_ARGS ?=
# Workers of `make test`: much of the suite waits on servers, so two keep both cores busy.
TEST_WORKERS ?= 2

export PATH := $(BIN):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

.PHONY: venv proto lint up test unit integration e2e chaos bench clean conformance chromium

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml $(CLIENT)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The local package mirror prints a warning per missing index page: noise.
	$(PY) -m pip install --quiet -r requirements.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	# The platform itself, editable: registers its entry points (the engines).
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	# The client package and its `backtest` command; editable, so its code is always the tree's.
	$(PY) -m pip install --quiet -e ./client 2>&1 | { grep -v '^WARNING: Location' || true; }
	# The repository root and the generated code are importable from the venv.
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen/python" > "$(SITE)/backtest_platform.pth"
	rm -f $(VENV)/.installed-*
	touch $@

proto: $(GEN) $(DESCRIPTOR) $(OPENAPI)

$(GEN) $(DESCRIPTOR) $(OPENAPI): $(STAMP) $(PROTOS) buf.yaml buf.gen.yaml protos/plugin/protoc_gen_grpc_python.py $(OPENAPI_GEN)
	rm -rf gen
	mkdir -p gen/third_party/google gen/python
	# google/api and google/rpc protos ship inside the googleapis-common-protos wheel.
	cp -r "$(SITE)/google/api" "$(SITE)/google/rpc" gen/third_party/google/
	find gen/third_party -type f ! -name '*.proto' -delete
	$(BIN)/buf generate --path protos/backtest
	$(BIN)/buf build -o $(DESCRIPTOR)
	$(PY) -m gateway.openapi $(DESCRIPTOR) --out $(OPENAPI) --docs gen/docs

# Protos by buf; Python by ruff (rules, docstrings and formatting: ruff.toml); the import layers
# (domain imports nothing of ours, services never each other, the gateway only the kit) by import-linter.
lint: proto
	$(BIN)/buf lint --path protos/backtest
	$(BIN)/buf format --diff --exit-code --path protos/backtest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --config pyproject.toml

up: proto
	$(PY) -m deploy.embedded up

test: lint chromium
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS) tests

# Headless Chromium from Debian's packages for the report pages' browser tests
# (tests/e2e/browser); installed when missing (needs root, as CI runs).
chromium:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

unit: proto
	$(PY) -m pytest $(PYTEST_ARGS) tests/unit

integration: proto
	$(PY) -m pytest $(PYTEST_ARGS) tests/integration

e2e: proto chromium
	$(PY) -m pytest $(PYTEST_ARGS) tests/e2e

# Every fault scenario against a stack of its own; `make test` runs the quick ones.
# The table goes to the terminal and var/chaos/report.md.
chaos: proto
	$(PY) -m pytest $(PYTEST_ARGS) -m chaos tests/chaos

bench: proto chromium
	$(PY) -m bench $(BENCH_ARGS)

# The REST contract against any gateway: `make conformance GATEWAY_URL=http://host:8080`
# (GATEWAY_API_KEY if it needs one); without GATEWAY_URL, against the embedded stack.
conformance: proto
	GATEWAY_URL="$(GATEWAY_URL)" $(PY) -m pytest $(PYTEST_ARGS) tests/e2e/conformance

clean:
	rm -rf gen .pytest_cache
