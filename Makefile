# cowork-analytics: every task runs through uv, which `make` bootstraps on a fresh machine
# from the machine's own python3 (3.11). Nothing is installed outside this folder.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# uv may not download interpreters here: use the machine's python3.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
# Write every installed package's bytecode at install: on a machine that sets
# PYTHONDONTWRITEBYTECODE, nothing is cached otherwise, and every process (each dbt run, the
# CLI, a Dagster code location) compiles dagster, dbt and their dependencies from source
# again (a code location load took 9.0 s instead of 5.3 s). uv skips files already compiled.
export UV_COMPILE_BYTECODE := 1
RUN := $(UV) run --frozen --no-sync

.PHONY: install demo test test-fast lint fix format-check sqlfluff chromium unit spark e2e fuzz check manifest ui clean collector

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The OpenTelemetry Collector the end-to-end tests run (deploy/otel-collector): built with
# the machine's Go from the module proxy, its module and build caches outside the repository
# (GO_CACHE=... to move them), rebuilt only when the Go sources change.
GO ?= go
GO_CACHE ?= $(HOME)/.cache/cowork-analytics/go
COLLECTOR := $(TOOLS)/bin/cowork-otelcol
COLLECTOR_SOURCES := $(wildcard deploy/otel-collector/*.go) deploy/otel-collector/go.mod \
	deploy/otel-collector/go.sum

collector: $(COLLECTOR)  ## Build the OpenTelemetry Collector into .tools/bin (needs Go)

$(COLLECTOR): $(COLLECTOR_SOURCES)
	@command -v $(GO) >/dev/null || { echo "make collector: '$(GO)' is not on PATH; install Go 1.26 or newer to build the collector" >&2; exit 1; }
	@mkdir -p $(@D)
	cd deploy/otel-collector && GOMODCACHE="$(GO_CACHE)/mod" GOCACHE="$(GO_CACHE)/build" \
		GOFLAGS=-mod=readonly $(GO) build -trimpath -buildvcs=false -o "$(abspath $@)" .

# The Dagster definitions load target/manifest.json and never parse on import: install
# prepares it (dagster-dbt's "prepare" step), and `make manifest` again after dbt edits.
install: $(UV)  ## Create .venv from uv.lock (exact versions) and the dbt manifest
	$(UV) sync --frozen
	$(RUN) dbt parse --quiet

demo: install  ## Generate an organisation and run the whole pipeline on it
	$(RUN) cowork-analytics demo

test: install lint chromium unit spark  ## Lint, then run the whole test suite

lint: install  ## ruff (lint + format check), sqlfluff and the portable-SQL check
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) sqlfluff lint dbt_project
	$(RUN) python tools/check_portable_sql.py

fix: install  ## Apply ruff and sqlfluff fixes
	$(RUN) ruff check --fix .
	$(RUN) ruff format .
	$(RUN) sqlfluff fix dbt_project

chromium:  ## Headless Chromium (Debian's package) for the report rendering test
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y --no-install-recommends chromium; \
		else \
			echo "Chromium is missing: sudo apt-get install --no-install-recommends chromium"; \
			echo "(the report rendering test is skipped without it)"; \
		fi; \
	}

# The fast tier: pure and small tests (tests/conftest.py lists their modules), about a
# minute on two cores, for the edit-test loop.
test-fast: install  ## Only the fast tier of the tests
	$(RUN) pytest -n 2 -q -m "fast and not spark"

# Two workers, one test file each (module fixtures stay in one process): most tests wait
# on dbt or a pipeline run in a child process. The slowest files go first (tests/conftest.py
# SLOWEST_FIRST), so neither worker finishes alone on one. The built warehouses that files
# share are built once per run: the first worker to need one builds it, the other waits
# for it (tests/support/shared.py). The dbt manifest is parsed first (install), so workers
# never parse it at the same time.
unit: install manifest
	$(RUN) pytest -n 2 --dist loadfile

# The Spark comparison (tests/spark): the project built on Spark and on DuckDB, marts
# compared. Alone and serial: a data directory's Spark catalog takes one session at a time,
# and Spark wants both cores.
spark: install manifest  ## Build on Spark and compare every mart with DuckDB
	$(RUN) pytest -m spark -p no:xdist tests/spark

# The fuzz harnesses (hostile OTel lines, hostile API pages) with thousands of examples
# instead of the suite's few dozen.
fuzz: install  ## Long run of the property tests of hostile input
	COWORK_FUZZ_EXAMPLES=3000 $(RUN) pytest -p no:xdist -q tests/ingestion -k fuzz

e2e: install  ## Only the end-to-end tests
	$(RUN) pytest -m e2e

manifest: install  ## dbt parse: the manifest the Dagster definitions load (install runs it)

check: install  ## Validate the Dagster definitions
	$(RUN) dagster definitions validate

clean:
	rm -rf .venv $(TOOLS) target logs .pytest_cache .ruff_cache
