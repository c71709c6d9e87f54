# The project's two commands (see README):
#   make up     setup, then `pulumi up` of the example stack against the local emulator
#   make test   setup, then the whole test suite (unit, emulator, end-to-end with the real CLI)
# Setup is shared: a .venv with pinned deps (pip), and a Pulumi CLI (scripts/ensure-pulumi.sh).
# Offline, non-interactive Pulumi defaults live in scripts/env.sh.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup pulumi up test test-lower-bound lint bench preview refresh destroy clean

setup: $(STAMP) pulumi

# __init__.py holds the version, which pip records at install: reinstall when it changes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml providers/restart_trigger/__init__.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

pulumi:
	scripts/ensure-pulumi.sh

up: setup
	scripts/stack.sh up

preview: setup
	scripts/stack.sh preview

refresh: setup
	scripts/stack.sh refresh

destroy: setup
	scripts/stack.sh destroy

test: setup
	source scripts/env.sh && $(VENV)/bin/python -m pytest $(PYTEST_ARGS)
	scripts/test-lower-bound.sh

# The unit and emulator suites with the oldest pulumi pyproject.toml declares (part of test).
test-lower-bound:
	scripts/test-lower-bound.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	source scripts/env.sh && $(VENV)/bin/python -m bench

clean:
	rm -rf .state .tools .pytest_cache .ruff_cache .venv-lower-bound
