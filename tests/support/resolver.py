"""`StaticResolver`: a `ServiceResolver` with fixed answers, pointing the operator's load at a test's own service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chaos_operator.load.resolver import ServiceNotFound, check_service_ref


class StaticResolver:
    """Fixed answers, for tests and the local sandbox."""

    def __init__(self, mapping: Mapping[tuple[str, str, int], Sequence[str]]) -> None:
        self._mapping = {key: list(urls) for key, urls in mapping.items()}

    async def resolve(self, namespace: str, name: str, port: int) -> list[str]:
        check_service_ref(namespace, name, port)
        urls = self._mapping.get((namespace, name, port))
        if not urls:
            raise ServiceNotFound(f"service {namespace}/{name}:{port} is not known")
        return list(urls)
