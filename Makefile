# Set-up is part of every target: a fresh machine needs only python3, node and npm on PATH.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
NPM_DIR := tests/npm

.PHONY: run test lint typecheck pytest conformance dist-check bench setup clean

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

# The official MCP conformance suite's 26 client scenarios, one at a time (tests/conformance/run.py).
conformance: $(STAMPS)/venv $(STAMPS)/npm
	$(BIN)/python tests/conformance/run.py

# What a user installs: build the sdist and wheel, check their metadata renders on PyPI and what
# they ship (LICENSE, py.typed, no test files in the wheel), then install the wheel into a fresh
# venv and run the command, a user's `mypy --strict` and the demo fleet from it (no
# PATCHBAY_PYTHON, no activated venv). .ci/run calls it after `make test`.
DIST := dist
DIST_VENV := .venv-dist
dist-check: $(STAMPS)/venv
	rm -rf $(DIST) $(DIST_VENV)
	$(BIN)/python -m build --outdir $(DIST) .
	$(BIN)/twine check --strict $(DIST)/*
	$(BIN)/python tests/check_dist.py $(DIST)
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install -q $(DIST)/*.whl
	$(DIST_VENV)/bin/patchbay --version
	cd $(DIST_VENV) && printf 'from patchbay import MCPManager\n\nm: MCPManager = MCPManager({})\n' > typed.py \
		&& $(CURDIR)/$(BIN)/mypy --strict --no-incremental --python-executable bin/python typed.py
	cd / && env -u PATCHBAY_PYTHON -u VIRTUAL_ENV $(CURDIR)/$(DIST_VENV)/bin/python $(CURDIR)/examples/demo.py
	cd / && env -u PATCHBAY_PYTHON -u VIRTUAL_ENV $(CURDIR)/$(DIST_VENV)/bin/patchbay -c $(CURDIR)/examples/fleet.yaml list

# Side-by-side benchmarks against the SDK and the other Python MCP clients (< 20 min on 2 cores):
# regenerates benchmarks/RESULTS.md and benchmarks/benchmarks.png. Peers live only in the two
# bench venvs (.venv: SDK 2.x + patchbay + fastmcp; .venv-mcp1: langchain-mcp-adapters, mcp-use).
bench: $(STAMPS)/venv $(STAMPS)/bench
	benchmarks/.venv/bin/python benchmarks/run.py
	benchmarks/.venv/bin/python benchmarks/report.py

$(STAMPS)/bench: pyproject.toml benchmarks/requirements-sdk2.txt benchmarks/requirements-sdk1.txt
	@mkdir -p $(STAMPS)
	test -x benchmarks/.venv/bin/python || $(PYTHON) -m venv benchmarks/.venv
	test -x benchmarks/.venv-mcp1/bin/python || $(PYTHON) -m venv benchmarks/.venv-mcp1
	benchmarks/.venv/bin/python -m pip install -q -r benchmarks/requirements-sdk2.txt -e .
	benchmarks/.venv-mcp1/bin/python -m pip install -q -r benchmarks/requirements-sdk1.txt
	@touch $@

setup: $(STAMPS)/venv $(STAMPS)/npm

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# The distribution was called `patchbay` before 0.1 was published: drop that name from old venvs.
	$(BIN)/python -m pip uninstall -q -y patchbay 2>/dev/null || true
	@# The dev dependency group (PEP 735) needs pip >= 25.1, hence the upgrade above.
	$(BIN)/python -m pip install -q -e . --group dev
	@touch $@

$(STAMPS)/npm: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@mkdir -p $(STAMPS)
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS) $(NPM_DIR)/node_modules benchmarks/.venv benchmarks/.venv-mcp1 $(DIST) $(DIST_VENV)
