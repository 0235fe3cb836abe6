FROM python:3.11-slim-bookworm
# stress-ng and iproute2 are for the in-pod agent of later fault kinds; the operator itself needs neither.
RUN useradd --uid 10001 --create-home chaos
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chaos_operator ./chaos_operator
COPY crds ./crds
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER 10001
ENTRYPOINT ["chaos-operator"]
CMD ["run"]
