# `make test` is the one test command (README, .ci/run). It installs what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages the tests use: kubectl (CLI tests), prometheus (the real server for SLI tests).
APT_TOOLS := kubectl prometheus

.PHONY: test deps lint unit bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

deps: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@missing=""; for t in $(APT_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

lint: deps
	$(VENV)/bin/ruff check chaos_operator tests benchmarks
	$(VENV)/bin/mypy

test: deps lint
	$(PY) -m pytest -q -ra tests

unit: deps
	$(PY) -m pytest -q tests/unit tests/contract

bench: deps
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) benchmarks/loadgen.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
