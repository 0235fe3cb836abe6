# `make test` is the one test command (README, .ci/run). It installs what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# command:Debian package the tests use — kubectl (CLI tests), prometheus (the real server for SLI
# tests), stress-ng/ip/tc/nsenter (the in-pod agent's kernel tests).
APT_TOOLS := kubectl:kubectl prometheus:prometheus stress-ng:stress-ng ip:iproute2 tc:iproute2 nsenter:util-linux

.PHONY: test deps lint unit bench demo clean

$(PY):
	$(PYTHON) -m venv $(VENV)

deps: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' -e ./sandbox
	@missing=""; for pair in $(APT_TOOLS); do command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

lint: deps
	$(VENV)/bin/ruff check chaos_operator sandbox/chaos_sandbox tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: deps lint
	$(PY) -m pytest -q -ra tests

unit: deps
	$(PY) -m pytest -q tests/unit tests/contract

demo: deps
	$(VENV)/bin/chaos-operator demo

bench: deps
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) benchmarks/loadgen.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
