"""HTTP and SSE: the SDK's clients on an httpx2 client of ours, watched for what the SDK leaves unsaid.

The SDK opens a session over Streamable HTTP (or legacy SSE) but does not say when the event
stream ended, when the server stopped accepting the session, or when the server cannot be
reached at all; the supervisor needs all three to reconnect. This module adds them at the three
seams the SDK offers (the read stream, an httpx2 response hook, the httpx2 transport), and caps
the response bodies the SDK reads whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio

from ._base import ManagedTransport

if TYPE_CHECKING:
    from ..config import ServerConfig

__all__ = ["PostRecord", "track_posts"]

# How long an HTTP response stream may stay silent before the SDK gives up on it.
_SSE_READ_TIMEOUT = 300.0


class _EndWatchingStream:
    """The SDK's read stream, reporting when it ends: for SSE that is the server hanging up.

    The dispatcher only iterates and closes it (and reads ``last_context``), so this is all it needs.
    """

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _EndWatchingStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _EndWatchingStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _capped(inner: Any, limit: int) -> Any:
    """A response body that fails once more than ``limit`` bytes have arrived.

    The SDK reads a JSON answer (and OAuth metadata and token responses) whole with ``aread()``;
    a server streaming a body that never ends would grow the host until the request's deadline.
    The error is an ``httpx2.StreamError``, which the SDK turns into that one request's failure.
    """
    import httpx2

    class CappedStream(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            seen = 0
            async for chunk in inner:
                seen += len(chunk)
                if seen > limit:
                    raise httpx2.StreamError(
                        f"the server's response is larger than {limit} bytes (settings.max_response_bytes)"
                    )
                yield chunk

        async def aclose(self) -> None:
            await inner.aclose()

    return CappedStream()


class PostRecord:
    """What became of the HTTP POSTs one request made (``track_posts``).

    ``refused`` counts POSTs whose connection was never established (refused, unreachable, or
    timed out connecting: not a byte of them reached the server); ``reached`` counts the rest.
    """

    __slots__ = ("reached", "refused")

    def __init__(self) -> None:
        self.refused = 0
        self.reached = 0

    @property
    def never_sent(self) -> bool:
        """Provably never reached the server: POSTs were tried and every one was refused."""
        return self.refused > 0 and self.reached == 0


_posts: ContextVar[PostRecord | None] = ContextVar("patchbay_posts", default=None)


@contextmanager
def track_posts() -> Iterator[PostRecord]:
    """Record the HTTP POSTs the SDK makes on behalf of the code in this block.

    The SDK posts from its own tasks, but in a copy of the sending task's context (for tracing),
    so the record set here is the one ``_ReachabilityTransport`` sees for this caller's messages.
    """
    record = PostRecord()
    token = _posts.set(record)
    try:
        yield record
    finally:
        _posts.reset(token)


class _ReachabilityTransport:
    """An httpx2 transport that reports when the server cannot be reached at all.

    The SDK retries its event stream a couple of times and then gives up in silence; a refused
    connection is what a dead or restarting server looks like between requests. It also caps
    every response body but an event stream (whose events the SDK caps) at ``max_body`` bytes.
    """

    def __init__(
        self, inner: Any, on_unreachable: Callable[[str], None], max_body: int | None = None
    ) -> None:
        self._inner = inner
        self._on_unreachable = on_unreachable
        self._max_body = max_body

    async def handle_async_request(self, request: Any) -> Any:
        import httpx2

        record = _posts.get() if request.method == "POST" else None
        try:
            response = await self._inner.handle_async_request(request)
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            if record is not None:
                record.refused += 1
            if request.method != "DELETE":
                self._on_unreachable(f"the server cannot be reached ({type(exc).__name__}: {exc})")
            raise
        except BaseException:
            if record is not None:
                record.reached += 1  # a write or read failed: part of it may have arrived
            raise
        if record is not None:
            record.reached += 1
        content_type = response.headers.get("content-type", "").lower()
        if self._max_body and not content_type.startswith("text/event-stream"):
            response.stream = _capped(response.stream, self._max_body)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _ReachabilityTransport:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)


class _HttpTransport(ManagedTransport):
    """Streamable HTTP or legacy SSE through the SDK, with headers and timeouts on our own client.

    It also notices what the SDK leaves to the caller: an event stream that ended, and a session
    the server no longer accepts (HTTP 404, or the 400 "no valid session" some servers send
    after a restart), which only a fresh session can fix. Either sets ``ended`` and
    ``end_reason``, so the supervisor reconnects.
    """

    def __init__(
        self, server: ServerConfig, connect_timeout: float, auth: Any = None, max_body: int | None = None
    ) -> None:
        super().__init__()
        self.server = server
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        """Bytes of one response body read whole (``settings.max_response_bytes``); None = no cap."""
        self.auth = auth  # an httpx2.Auth from patchbay.auth, or None

    def _lost(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self.ended.set()

    async def _on_response(self, response: Any) -> None:
        """An httpx2 response hook: spot the answers that mean this session is over."""
        request = response.request
        status = response.status_code
        if status == 401:
            self.unauthorized = True  # the supervisor reports needs_auth rather than failed
        if request.method == "DELETE" or status < 400:
            return
        # For error messages; the URL stays out of it (hosted servers often put a key in it).
        self.http_error = f"HTTP {status} {response.reason_phrase}".strip()
        if self.server.transport == "sse":
            # The SDK's SSE writer stops for good after a failed POST: nothing more can be sent.
            if request.method == "POST":
                self._lost(f"the server answered a message with HTTP {status}")
            return
        if "mcp-session-id" not in request.headers:
            return
        if status == 404:
            reason = "the server no longer knows this session (HTTP 404: restarted or expired)"
        elif status == 400 and b"session" in (await response.aread()).lower():
            reason = "the server rejected this session (HTTP 400: restarted or expired)"
        else:
            return
        self.session_rejected = True
        if request.method == "POST":
            # A caller waits for this answer: it ends the session itself once it has read it (and
            # decided whether to send again). Ending it here would race that answer against the
            # teardown's "Connection closed".
            self.end_reason = self.end_reason or reason
        else:
            self._lost(reason)  # the event stream: nobody waits on it

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[Any]:
        import httpx2

        url = self.server.url
        assert url is not None
        headers = dict(self.server.headers)
        timeout = httpx2.Timeout(self.connect_timeout, read=_SSE_READ_TIMEOUT)
        hooks = {"response": [self._on_response]}

        def reachability() -> Any:
            return _ReachabilityTransport(httpx2.AsyncHTTPTransport(), self._lost, self.max_body)

        if self.server.transport == "sse":
            from mcp.client.sse import sse_client

            def sse_http_client(
                headers: dict[str, str] | None = None,
                timeout: httpx2.Timeout | None = None,
                auth: httpx2.Auth | None = None,
            ) -> httpx2.AsyncClient:
                return httpx2.AsyncClient(
                    headers=headers, timeout=timeout, auth=auth, event_hooks=hooks, transport=reachability()
                )

            async with sse_client(
                url,
                headers=headers,
                timeout=self.connect_timeout,
                sse_read_timeout=_SSE_READ_TIMEOUT,
                httpx_client_factory=sse_http_client,
                auth=self.auth,
            ) as (read, write):
                hung_up = "the server closed the event stream"
                yield _EndWatchingStream(read, lambda: self._lost(hung_up)), write
            return

        from mcp.client.streamable_http import streamable_http_client

        async with (
            httpx2.AsyncClient(
                headers=headers, timeout=timeout, event_hooks=hooks, auth=self.auth, transport=reachability()
            ) as client,
            streamable_http_client(url, http_client=client) as (read, write),
        ):
            yield _EndWatchingStream(read, lambda: self._lost("the HTTP transport stopped")), write
