FROM python:3.11-slim-bookworm
# The same image runs the operator and the in-pod agent; the agent needs tc/ip, nsenter and stress-ng.
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 util-linux stress-ng \
    && rm -rf /var/lib/apt/lists/* && useradd --uid 10001 --create-home chaos
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chaos_operator ./chaos_operator
COPY crds ./crds
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER 10001
ENTRYPOINT ["chaos-operator"]
CMD ["run"]
