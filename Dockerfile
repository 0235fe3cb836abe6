# The operator's image; helper and stress pods run the agent from the same image (OPERATOR_IMAGE).
# BASE: any Debian bookworm with Python 3.11 and pip on PATH. `make image` builds from a local debootstrap
# base (packaging/image-base.sh) where no registry is reachable.
ARG BASE=python:3.11-slim-bookworm
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
# Only the operator package and its CRD: the sandbox (and kmock) are test devices, never in the image.
COPY pyproject.toml README.md ./
COPY chaos_operator ./chaos_operator
COPY crds ./crds
RUN pip install --no-cache-dir . \
    && rm -rf /app/build /root/.cache

USER 10001:10001
ENTRYPOINT ["chaos-operator"]
CMD ["run"]
