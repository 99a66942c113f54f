# Invested: `make run` starts everything locally, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: $(STAMP) ## Start broker, Redis, ingest, classifier and API locally (Ctrl-C stops all)
	$(PY) -m invested.devrun

DEMO_ARGS ?=
tail: $(STAMP) ## Print every transition on member.transitions (replayed each run), then follow
	$(PY) -m services.classifier.tail --from-beginning

demo: $(STAMP) ## Post the simulated brand acme (members, staff, bots; signed webhooks) to the running ingest (make run first)
	$(PY) -m tools.simulator $(DEMO_ARGS)

BACKFILL_ARGS ?=
backfill: $(STAMP) ## Import history from a platform export (BACKFILL_ARGS="--platform slack --community T0ACME --out events.jsonl ./export.zip")
	$(PY) -m services.backfill $(BACKFILL_ARGS)

test: $(STAMP) tools ## Run the whole test suite (real broker and Redis, embedded)
	$(PY) -m pytest -q $(PYTEST_ARGS)

tools: $(STAMP) ## Install Prometheus + promtool and the Compose CLI for the deploy tests when missing
	@PY=$(PY) bash deploy/tools/install-tools.sh

dashboards: $(STAMP) ## Regenerate the Grafana dashboards in deploy/grafana/dashboards
	$(PY) deploy/grafana/generate.py

lint: $(STAMP) ## ruff check + format check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy invested services tools

format: $(STAMP) ## Apply ruff formatting and fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: $(STAMP) ## Regenerate the committed JSON Schemas from the models
	$(PY) -m invested.schemas

QUICK ?=
BENCH_ARGS ?=
bench: $(STAMP) ## Benchmarks on the embedded stack (QUICK=1: under 2 min); writes bench/results/latest.json
	$(PY) -m bench $(if $(QUICK),--quick,) $(BENCH_ARGS)

clean: ## Remove the venv and local state
	rm -rf $(VENV) .invested .pytest_cache .hypothesis

.PHONY: help install run tail demo backfill test tools dashboards lint format schemas bench clean
