# The two commands: `make up` runs the whole mesh, `make test` runs every check CI runs.
# The lock (requirements/dev.txt) is resolved for Python 3.11: prefer python3.11 when it is on PATH.
PYTHON ?= $(shell command -v python3.11 || echo python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/dev.txt
COMPAT_PATH := $(subst $(eval) ,,$(addsuffix :,$(wildcard $(HOME)/.pyenv/versions/3.1[23].*/bin)))
export PATH := $(CURDIR)/$(BIN):$(PATH)
export BUF_CACHE_DIR := $(CURDIR)/.cache/buf

.PHONY: up test install lock compat lint typecheck buf-lint buf-breaking gen check-gen pytest bench clean

up: install
	$(BIN)/teei up

test: install promtool lint typecheck buf-lint buf-breaking check-gen pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "$(LOCK) is locked for Python 3.11: make PYTHON=python3.11")' \
	  || (rm -rf $(VENV) && exit 1)

# The locked set, wheels only (no compiler needed) and every file checked against its hash, then the
# project itself (no deps: the lock has them; no build isolation: the build backend is locked too).
# Re-runs only when the lock or pyproject.toml change.
$(STAMP): $(BIN)/python $(LOCK) pyproject.toml
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	@# xds-protos (the rate-limit API) ships an older copy of opentelemetry/proto over opentelemetry-proto's
	@# own, which the OTLP exporter needs: whichever installs last wins, so opentelemetry-proto goes last.
	awk '/^opentelemetry-proto==/{p=1} p{print} p&&!/\\$$/{exit}' $(LOCK) > $(VENV)/opentelemetry-proto.txt
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: --no-deps --force-reinstall \
	  -r $(VENV)/opentelemetry-proto.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# `promtool test rules` (tests/contract/test_prometheus_rules.py) needs Debian's prometheus package: installed
# here when missing (as root, the way CI runs), never skipped.
.PHONY: promtool
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v promtool >/dev/null || (echo "promtool is missing: apt-get install prometheus" && exit 1)

# Re-resolves the lock from pyproject.toml (options in [tool.pip-tools]), keeping current pins where
# they still fit; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest allowed versions.
lock: install
	env -u PIP_FIND_LINKS $(BIN)/pip-compile --quiet $(LOCK_FLAGS) pyproject.toml

# Installs the package with the `mesh` extra on Python 3.12 and 3.13 and imports every module (noxfile.py);
# needs python3.12 and python3.13 on PATH (pyenv's are found). Not part of `make test`: it is slow.
compat: install
	PATH="$(COMPAT_PATH)$$PATH" $(BIN)/nox --error-on-missing-interpreters

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
	$(BIN)/python -m services.cli.erd
	$(BIN)/python -m services.cli.dashboards

check-gen: gen
	@git add --intent-to-add gen envoy/descriptors.binpb docs/data/er observability/grafana >/dev/null 2>&1 || true
	@git diff --exit-code --stat -- gen envoy/descriptors.binpb docs/data/er observability/grafana || \
	  (echo "generated code is stale: run 'make gen' and commit the result" && exit 1)

pytest: install
	$(BIN)/pytest

bench: install
	$(BIN)/python -m tests.load.run_bench

clean:
	rm -rf var .cache .nox .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*

.PHONY: chaos soak rolling

# The rolling restart of the live mesh under traffic through the edge (`teei roll`; one run is part of
# `make test`), five runs in a row: any failed request in any run fails it.
rolling: install
	for run in 1 2 3 4 5; do $(BIN)/pytest tests/e2e/test_rolling.py --no-cov -p no:cacheprovider || exit 1; done

# The chaos suite's full round: SIGKILL of every service in turn, then NATS and Envoy, and a SIGSTOPped
# service that liveness must recover, under writes and imports (`make test` runs a short round).
chaos: install
	TEEI_CHAOS=full $(BIN)/pytest tests/e2e/test_chaos.py --no-cov -s

# A bounded soak (10 minutes; SOAK_ARGS="--minutes 3" to shorten) at half the measured peak with periodic
# kills; writes reports/soak.md. Not part of `make test`.
soak: install
	$(BIN)/python -m tests.load.soak $(SOAK_ARGS)
