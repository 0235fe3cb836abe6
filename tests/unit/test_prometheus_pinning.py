"""sli/prometheus.py queries the very address it vetted (no second name resolution: no DNS-rebinding window).

A stub Prometheus HTTP API on loopback; the host name `prom.invalid` never resolves in real DNS (RFC 6761), so a
query that reaches the stub went to the address the policy checked, with the name kept in the Host header."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from chaos_operator.sli.prometheus import PrometheusSource
from chaos_operator.sli.source import MetricsRefused

AT = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class Stub(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self) -> None:
        Stub.hosts.append(self.headers.get("Host", ""))
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1767225600, "0.25"]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[int]:
    Stub.hosts = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def test_the_query_goes_to_the_vetted_address_with_the_name_as_host(stub: int) -> None:
    url = f"http://prom.invalid:{stub}"
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    source = PrometheusSource(url, allowed=[url], resolver=resolver)
    assert await source.instant("up", AT) == [0.25]
    assert asked == ["prom.invalid"]  # resolved once, by the check; the client did not resolve it again
    assert Stub.hosts == [f"prom.invalid:{stub}"]


async def test_a_name_that_now_resolves_to_a_metadata_address_is_refused(stub: int) -> None:
    url = f"http://prom.invalid:{stub}"
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])  # rebinding: allowed first, the metadata service next
    source = PrometheusSource(url, allowed=[url], resolver=lambda host: next(answers))
    assert await source.instant("up", AT) == [0.25]
    with pytest.raises(MetricsRefused, match="169.254.169.254"):
        await source.instant("up", AT)
    assert len(Stub.hosts) == 1  # the second query never left
