"""The operator's HTTP client to its load workers (aiohttp): `POST /start` once, `GET /state` per phase, each
bounded, with the experiment's bearer token. Read-only but for the write-once start."""

from __future__ import annotations

import aiohttp

from chaos_operator.loadworker.record import WorkerState

REQUEST_TIMEOUT_S = 5.0  # one call to one worker
MAX_STATE_BYTES = 64 * 1024 * 1024  # a 3 h run of one worker at full rate is a few MB


class WorkerUnavailable(Exception):
    """No usable answer: unreachable, timed out, or not what was asked (401, 409, a malformed state)."""


class WorkerClient:
    def __init__(self, token: str) -> None:
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S), trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": "chaos-operator"})

    async def start(self, base: str, start_at: float) -> None:
        try:
            await self._start(base, start_at)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise WorkerUnavailable(f"POST {base}/start: {exc!r}") from exc

    async def state(self, base: str, since: int) -> WorkerState:
        try:
            return await self._state(base, since)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise WorkerUnavailable(f"GET {base}/state: {exc!r}") from exc

    async def _start(self, base: str, start_at: float) -> None:
        async with self._session.post(f"{base}/start", json={"startAt": start_at}, headers=self._headers) as resp:
            if resp.status != 200:
                raise WorkerUnavailable(f"POST {base}/start: {resp.status} {(await resp.text())[:200].strip()}")

    async def _state(self, base: str, since: int) -> WorkerState:
        async with self._session.get(f"{base}/state", params={"since": str(since)}, headers=self._headers) as resp:
            if resp.status != 200:
                raise WorkerUnavailable(f"GET {base}/state: {resp.status}")
            body = await resp.content.read(MAX_STATE_BYTES + 1)
        if len(body) > MAX_STATE_BYTES:
            raise WorkerUnavailable(f"GET {base}/state: larger than {MAX_STATE_BYTES} bytes")
        try:
            return WorkerState.model_validate_json(body)
        except ValueError as exc:
            raise WorkerUnavailable(f"GET {base}/state: {exc}") from exc

    async def close(self) -> None:
        await self._session.close()
