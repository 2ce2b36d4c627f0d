"""A server config becomes an SDK transport.

Every transport here is an async context manager yielding the SDK's ``(read, write)`` streams,
so ``mcp.Client`` drives the protocol on top of it, plus the little a supervisor needs: an
``ended`` event that fires when the connection is dead, and the pid for stdio servers.
The SDK is imported lazily: building a config or importing patchbay must stay cheap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Protocol

import anyio

from ._stdio import StdioTransport, minimal_environment
from .config import ServerConfig

__all__ = ["ManagedTransport", "build_transport"]

# How long an HTTP response stream may stay silent before the SDK gives up on it.
_SSE_READ_TIMEOUT = 300.0


class ManagedTransport(Protocol):
    """What the connection supervisor relies on, whatever the wire."""

    ended: anyio.Event
    pid: int | None

    def stderr_tail(self, lines: int = 10) -> str: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


class _HttpTransport:
    """Streamable HTTP or legacy SSE through the SDK, with headers and timeouts on our own client."""

    pid: int | None = None

    def __init__(self, server: ServerConfig, connect_timeout: float) -> None:
        self.server = server
        self.connect_timeout = connect_timeout
        self.ended = anyio.Event()
        self._cm: Any = None

    def stderr_tail(self, lines: int = 10) -> str:
        return ""

    async def __aenter__(self) -> Any:
        self._cm = self._run()
        return await self._cm.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        cm, self._cm = self._cm, None
        try:
            result: bool | None = await cm.__aexit__(exc_type, exc, tb)
        finally:
            self.ended.set()
        return result

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[Any]:
        import httpx2

        url = self.server.url
        assert url is not None
        headers = dict(self.server.headers)
        timeout = httpx2.Timeout(self.connect_timeout, read=_SSE_READ_TIMEOUT)
        if self.server.transport == "sse":
            from mcp.client.sse import sse_client

            async with sse_client(
                url, headers=headers, timeout=self.connect_timeout, sse_read_timeout=_SSE_READ_TIMEOUT
            ) as streams:
                yield streams
            return

        from mcp.client.streamable_http import streamable_http_client

        async with (
            httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
            streamable_http_client(url, http_client=client) as streams,
        ):
            yield streams


def build_transport(
    server: ServerConfig,
    *,
    connect_timeout: float,
    shutdown_grace: float,
    on_stderr: Callable[[str], None] | None = None,
) -> ManagedTransport:
    """One fresh transport for one connection attempt."""
    if server.transport == "stdio":
        assert server.command is not None
        env = minimal_environment(server.env, server.env_passthrough, server.inherit_env)
        return StdioTransport(
            server.command,
            server.args,
            env=env,
            cwd=server.cwd,
            shutdown_grace=shutdown_grace,
            log_name=server.name,
            on_stderr=on_stderr,
        )
    return _HttpTransport(server, connect_timeout)
