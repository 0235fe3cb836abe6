# `make test` is the one test command (README, .ci/run). It installs what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# command:Debian package the tests use — kubectl (CLI tests), prometheus (the real server for SLI
# tests), stress-ng/ip/tc/nsenter (the in-pod agent's kernel tests).
APT_TOOLS := kubectl:kubectl prometheus:prometheus stress-ng:stress-ng ip:iproute2 tc:iproute2 nsenter:util-linux

.PHONY: test deps lint unit kernel-test bench demo clean

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

# The host suite, then the kernel VM tier; both always run, and either failing fails `make test`.
test: deps lint
	@status=0; $(PY) -m pytest -q -ra tests || status=$$?; \
	$(MAKE) --no-print-directory kernel-test || status=$$?; exit $$status

# Tests marked kernel_vm (netem) in a QEMU guest running Debian's kernel (docs/testing.md). Installs
# qemu-system-x86, linux-image-amd64 and busybox-static with apt-get when missing; exits 3 if it cannot.
kernel-test: deps
	$(PY) tests/vm/run.py

unit: deps
	$(PY) -m pytest -q tests/unit tests/contract

demo: deps
	$(VENV)/bin/chaos-operator demo

bench: deps
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) benchmarks/loadgen.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
