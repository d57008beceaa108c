# pmtape — `make demo` runs the pipeline on the built-in venues; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup build demo test check lint types layers pytest bench slow chaos live clean lock config-doc

setup: $(STAMP)

# Recompile the Cython modules (setup.py) whose .py or .pxd changed since the last build.
build: setup
	$(BIN)/python setup.py -q build_ext --inplace

# Installs come from the lock only: every dependency (and pip, setuptools, Cython) at the
# version in requirements.lock, then pmtape itself, built with those same tools.
$(STAMP): pyproject.toml setup.py requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

# Re-resolve pyproject.toml's ranges to the newest releases and write them to requirements.lock.
# Run it when you add or bump a dependency; then `make test` and commit the lock with the change.
lock:
	bash scripts/lock.sh $(PYTHON)

# Regenerate config/pmtape.toml (every key, default and description) from the config models.
config-doc: setup
	$(BIN)/python -m pmtape.config.document --write config/pmtape.toml

demo: build
	$(BIN)/pmtape demo

test: setup lint types layers pytest

check: lint types layers

lint: build
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: build
	$(BIN)/mypy

# DESIGN.md's layer rules (pyproject.toml [tool.importlinter]): fails when one is broken.
layers: build
	$(BIN)/lint-imports --no-cache

pytest: build
	$(BIN)/pytest -q

slow: build
	$(BIN)/pytest -q -m slow

chaos: build
	PMTAPE_CHAOS_SECS=600 $(BIN)/pytest -q -m slow tests/venues/polymarket/test_pm_chaos.py

# Contract drift: the real venues' responses and frames against the fakes' (needs the internet;
# skipped, not failed, without it).
live: build
	$(BIN)/pytest -q -m live tests/venues

bench: build
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data build .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find src -name '*.so' -delete -o -name '*.c' -path 'src/pmtape/*' -delete
