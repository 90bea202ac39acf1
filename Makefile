# policywatch: every command a user or CI needs. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: help venv test test-fast check lint typecheck demo run serve bench clean

help:
	@echo "make demo      offline demo: loopback site + SMTP sink, two runs, a new issue"
	@echo "make test      install .[test] into $(VENV) and run the whole test suite"
	@echo "make check     ruff + mypy + tests"
	@echo "make run       run check-updates once (ephemeral Prefect API)"
	@echo "make serve     start a local Prefect server if none is configured and serve the deployments"
	@echo "make bench     print the benchmarks' figures"

$(BIN)/python:
	@echo "== creating the virtualenv $(VENV) (first time only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The first install downloads and installs about 120 packages (Prefect is most of them): pip
# lists each one as it goes, then says "Installing collected packages", the longest quiet step.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing policywatch and its dependencies into $(VENV): first time only, about"
	@echo "   2-3 minutes on a 2-core machine (the step after 'Installing collected packages' is"
	@echo "   the longest and prints nothing until it is done)"
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	@touch $(STAMP)
	@echo "== installed; next time this step is skipped"

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(DEVSTAMP) $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var/*.db* var/demo

# Every benchmark runs, then every missed goal is listed; non-zero only after all of them ran.
bench: $(STAMP)
	@misses=$$(mktemp); failed=0; \
	for f in benchmarks/[a-z]*.py; do \
		case $$f in benchmarks/goals.py) continue;; esac; \
		echo "== $$f"; POLICYWATCH_BENCH_MISSES=$$misses $(BIN)/python $$f || failed=1; \
	done; \
	echo; if [ -s $$misses ]; then echo "missed goals:"; sed 's/^/  - /' $$misses; \
	elif [ $$failed = 1 ]; then echo "a benchmark failed (see above)"; else echo "every goal met"; fi; \
	rm -f $$misses; exit $$failed

# -- Prefect: the offline demo, one run, and the deployments for the UI ----------------------------
PREFECT_PORT ?= 4200

demo: $(STAMP)
	$(BIN)/policywatch demo

run: $(STAMP)
	$(BIN)/policywatch run

# Serves the deployments against the configured Prefect API (PREFECT_API_URL or the Prefect
# profile); without one, starts a local Prefect server (SQLite, 127.0.0.1 only: the API has no
# auth) on PREFECT_PORT for as long as `make serve` runs.
serve: $(STAMP)
	$(BIN)/policywatch serve --local-server $(PREFECT_PORT)
