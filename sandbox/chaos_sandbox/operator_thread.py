"""The real operator (kopf, our handlers) on its own thread and event loop, pointed at an API server: the
sandbox's, or the test emulator's. The one way the demo, the sandbox and the tests run it in-process.

Its helper and stress pods name the sandbox's operator image, which the sandbox's node runs for real."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from chaos_operator.load.resolver import ServiceResolver
from chaos_operator.runtime.operator import OperatorConfig, run_operator
from chaos_sandbox.node.agentpods import OPERATOR_IMAGE


class OperatorThread:
    def __init__(self, server: str, resolver: ServiceResolver, *, operator_namespace: str = "chaos-system",
                 allowed: frozenset[str] | None = None, protected: frozenset[str] = frozenset(), poll_s: float = 0.2,
                 ready_timeout: float = 30.0, image: str = OPERATOR_IMAGE, token: str | None = None,
                 load_runner: str = "workers", load_token_key: bytes | None = None) -> None:
        self.config = OperatorConfig(server=server, resolver=resolver, operator_namespace=operator_namespace,
                                     allowed_namespaces=allowed, protected_namespaces=protected, poll_s=poll_s,
                                     image=image, token=token, load_runner=load_runner,
                                     load_token_key=load_token_key)
        self.ready_timeout = ready_timeout
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="chaos-operator", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(run_operator(self.config, stop_flag=self._stop, ready_flag=self._ready))
        except BaseException as exc:  # reported by start()/stop(), not lost with the thread
            self.error = exc

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(self.ready_timeout):
            self.stop()
            raise RuntimeError(f"the operator did not become ready: {self.error!r}")

    def stop(self, timeout: float = 60.0) -> None:
        """Ask kopf to stop (it ends its daemons, which recover live faults) and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the operator thread did not stop in time")

    @property
    def crashed(self) -> bool:
        return self.error is not None and not isinstance(self.error, asyncio.CancelledError)

    def __enter__(self) -> OperatorThread:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stops it; a crash of the operator fails the `with` block (a test) unless that failed already."""
        self.stop()
        if exc is None and self.crashed:
            raise RuntimeError(f"the operator crashed: {self.error!r}") from self.error
