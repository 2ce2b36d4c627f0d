"""What every transport tells its connection's supervisor, with the defaults a wire without it has.

The supervisor reads these attributes to decide what a failure means (lost, refused, needs
authorisation) and what to put in its message; declaring them here, rather than probing with
``getattr``, lets the type checker hold every transport to the same contract.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import anyio

__all__ = ["ManagedTransport"]


class ManagedTransport:
    """An async context manager yielding the SDK's ``(read, write)`` streams, plus its state.

    A subclass implements ``_open`` (the context manager the streams come from) and sets the
    attributes below that its wire can know; the rest keep their defaults. One instance serves one
    connection attempt; a reconnect builds a new one. Entered and exited by the owner task only.
    """

    def __init__(self) -> None:
        self.ended = anyio.Event()
        """Set when the connection is dead (the process exited, the stream ended, the session was refused)."""
        self.end_reason: str | None = None
        """Why it ended, for messages and the ``lost`` status; None while nobody knows."""
        self.pid: int | None = None
        """The server process (stdio), for status; None for a remote server."""
        self.session_rejected = False
        """The server refused this session (HTTP 404/400): requests it answered that way never ran."""
        self.unauthorized = False
        """The server answered HTTP 401: the supervisor reports needs_auth rather than failed."""
        self.http_error: str | None = None
        """The last HTTP error status, for messages (never the URL: it may hold a key)."""
        self.writer_idle = False
        """Whether a message handed over now goes to the wire at once (no backlog to wait behind)."""
        self._cm: AbstractAsyncContextManager[Any] | None = None

    def stderr_tail(self, lines: int = 10) -> str:
        """The last lines the server wrote to stderr, for error messages ("" where there is none)."""
        return ""

    def _open(self) -> AbstractAsyncContextManager[Any]:
        """The streams' context manager: opening the wire on enter, closing it on exit."""
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        self._cm = self._open()
        return await self._cm.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        cm, self._cm = self._cm, None
        assert cm is not None
        try:
            return await cm.__aexit__(exc_type, exc, tb)
        finally:
            self.ended.set()
