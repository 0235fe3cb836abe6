"""A watch request of the API emulator, served as a stream of JSON events (one Table row each when asked)."""

from __future__ import annotations

import asyncio
import json

import aiohttp.web

from chaos_sandbox.emulator.http import JSON, Target, int_param
from chaos_sandbox.emulator.resources import ApiError, ResourceInfo, ResourceType
from chaos_sandbox.emulator.selectors import Selector
from chaos_sandbox.emulator.store import Store
from chaos_sandbox.emulator.tables import table, wants_table


async def serve_watch(store: Store, info: ResourceInfo, max_seconds: float, request: aiohttp.web.BaseRequest,
                      rtype: ResourceType, target: Target, selector: Selector) -> aiohttp.web.StreamResponse:
    """Stream events until the timeout, the client leaves or the emulator shuts down."""
    params = request.query
    since = int_param(params, "resourceVersion") or None  # "0" and "" mean "from the current state"
    timeout = int_param(params, "timeoutSeconds")
    seconds = min(float(timeout), max_seconds) if timeout and timeout > 0 else max_seconds
    bookmark = params.get("sendInitialEvents") == "true" and since is None
    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": JSON})
    try:  # register before the headers go out, so a client that saw them misses no event
        watcher = store.watch(rtype, target.namespace, target.name, selector, since, bookmark)
    except ApiError as exc:  # 410 Expired goes in-stream, as a real server sends it
        await response.prepare(request)
        await response.write(json.dumps({"type": "ERROR", "object": exc.body()}).encode() + b"\n")
        await response.write_eof()
        return response
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    as_table, first = wants_table(request.headers.get("Accept", "")), True
    try:
        await response.prepare(request)  # clients wait for the headers before any event arrives
        while (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(remaining):
                    event = await watcher.queue.get()
            except TimeoutError:
                break
            if event is None:  # the emulator is shutting down
                break
            translated = watcher.translate(event)
            if translated is not None and as_table and translated["type"] != "BOOKMARK":
                # Like a real server, one Table row per event; only the first carries the column headers.
                rows = table(info, [translated["object"]], translated["object"]["metadata"]["resourceVersion"])
                if not first:
                    rows["columnDefinitions"] = []
                translated, first = {**translated, "object": rows}, False
            if translated is not None:
                await response.write(json.dumps(translated).encode() + b"\n")
        await response.write_eof()
    finally:  # also on client disconnect: aiohttp cancels the handler
        store.unwatch(watcher)
    return response
