# pmtape — `make demo` runs the pipeline on the built-in venues; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test check lint types pytest bench slow chaos clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/pmtape demo

test: setup lint types pytest

check: lint types

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

slow: setup
	$(BIN)/pytest -q -m slow

chaos: setup
	PMTAPE_CHAOS_SECS=600 $(BIN)/pytest -q -m slow tests/venues/polymarket/test_pm_chaos.py

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache .hypothesis
