# Set-up is part of every target: a fresh machine needs only python3, node and npm on PATH.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
NPM_DIR := tests/npm

.PHONY: run test lint typecheck pytest setup clean

run: $(STAMPS)/venv
	$(BIN)/python examples/demo.py

test: $(STAMPS)/venv $(STAMPS)/npm lint typecheck pytest

lint: $(STAMPS)/venv
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMPS)/venv
	$(BIN)/mypy

pytest: $(STAMPS)/venv $(STAMPS)/npm
	$(BIN)/pytest -q

setup: $(STAMPS)/venv $(STAMPS)/npm

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

$(STAMPS)/npm: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@mkdir -p $(STAMPS)
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS) $(NPM_DIR)/node_modules
