# The operator's image; helper and stress pods run the agent from the same image (OPERATOR_IMAGE).
# BASE: any Debian bookworm with Python 3.11 and pip on PATH, pinned by digest so a rebuild gets the same bytes
# (refresh it deliberately: `docker buildx imagetools inspect python:3.11-slim-bookworm`). `make image` passes
# --build-arg BASE=localhost/bookworm-python:3.11, a local debootstrap base (packaging/image-base.sh), where no
# registry is reachable.
ARG BASE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b
FROM ${BASE}

# The agent's tools: tc and ip (iproute2), nsenter (util-linux), stress-ng.
# DL3008 (pin apt versions) is ignored: bookworm point releases replace package versions, so a pinned
# version disappears from the archive and the build breaks; the release is fixed by the base (bookworm).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 util-linux stress-ng \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 chaos \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin chaos

WORKDIR /app
# Every Python dependency and the build backend, pinned with their hashes (`make image-lock` regenerates the
# lock from PyPI); pip refuses anything unpinned or whose hash differs.
COPY packaging/image-requirements.txt ./packaging/
RUN pip install --no-cache-dir --require-hashes -r packaging/image-requirements.txt
# Only the operator package and its CRD: the sandbox (and kmock) are test devices, never in the image. It is
# built with the pinned backend and brings nothing more (--no-deps, no build isolation).
COPY pyproject.toml README.md ./
COPY chaos_operator ./chaos_operator
COPY crds ./crds
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && rm -rf /app/build /root/.cache

USER 10001:10001
ENTRYPOINT ["chaos-operator"]
CMD ["run"]
