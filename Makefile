# The two commands: `make up` runs the whole mesh, `make test` runs every check CI runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export BUF_CACHE_DIR := $(CURDIR)/.cache/buf

.PHONY: up test install lint typecheck buf-lint buf-breaking gen check-gen pytest bench clean

up: install
	$(BIN)/teei up

test: install lint typecheck buf-lint buf-breaking check-gen pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

buf-lint: install
	$(BIN)/buf lint

buf-breaking: install
	tools/buf-breaking.sh

gen: install
	$(BIN)/buf generate
	$(BIN)/buf build --as-file-descriptor-set -o envoy/descriptors.binpb
	$(BIN)/python -m services.cli.openapi

check-gen: gen
	@git add --intent-to-add gen envoy/descriptors.binpb >/dev/null 2>&1 || true
	@git diff --exit-code --stat -- gen envoy/descriptors.binpb || \
	  (echo "generated code is stale: run 'make gen' and commit the result" && exit 1)

pytest: install
	$(BIN)/pytest

bench: install
	$(BIN)/python -m tests.load.run_bench

clean:
	rm -rf var .cache .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
