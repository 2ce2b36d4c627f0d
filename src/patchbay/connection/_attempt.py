"""What one connection attempt needs besides the supervisor: the SDK import clock, the phase
timer, the already-open transport handed to the SDK, and why an attempt failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._import_clock import blocked_seconds, importing
from .._sdk_errors import describe_exception, http_status, leaf_exceptions
from ..transports import ManagedTransport
from ._stderr import with_stderr

if TYPE_CHECKING:
    from mcp import Client, MCPError

__all__ = ["ConnectFailed", "NeedsAuth", "Opened", "PhaseClock", "connect_failure", "mcp_error", "sdk_client"]


class ConnectFailed(Exception):
    """A connection attempt failed before the session was ready; the message is user-facing."""


class NeedsAuth(ConnectFailed):
    """The connection attempt failed because the server requires authorisation we do not hold."""


def _is_auth_failure(exc: BaseException) -> bool:
    """A 401 from the server, or our OAuth provider refusing to start an interactive login."""
    from ..auth import LoginRequired

    for leaf in leaf_exceptions(exc):
        chain: BaseException | None = leaf
        while chain is not None:
            if isinstance(chain, LoginRequired) or http_status(chain) == 401:
                return True
            chain = chain.__cause__ or chain.__context__
    return False


def connect_failure(exc: Exception, transport: ManagedTransport) -> ConnectFailed:
    """Why an attempt that raised ``exc`` failed: authorisation, or what the server said."""
    if _is_auth_failure(exc):
        return NeedsAuth(describe_exception(exc))
    if transport.unauthorized:
        return NeedsAuth(
            "the server requires authorisation (HTTP 401): add `auth: oauth` to its entry,"
            " or a token in `headers`"
        )
    return ConnectFailed(with_stderr(describe_exception(exc), transport))


class Opened:
    """An already-open transport handed to the SDK: it gets the streams, the owner task closes it."""

    def __init__(self, streams: Any, on_open: Callable[[], None]) -> None:
        self._streams = streams
        self._on_open = on_open

    async def __aenter__(self) -> Any:
        self._on_open()
        return self._streams

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


def sdk_client() -> type[Client]:
    """The SDK's ``Client`` class; the first call imports the SDK, and its time is kept apart."""
    with importing():
        from mcp import Client
    return Client


def mcp_error() -> type[MCPError]:
    from mcp import MCPError

    return MCPError


class PhaseClock:
    """Milliseconds of an attempt's phases, each this server's own: the SDK import is left out."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._mark = self._blocked = self._start = self._start_blocked = 0.0

    def restart(self) -> None:
        """Start a new attempt's clock."""
        self.phases = {}
        self._mark, self._blocked = time.perf_counter(), blocked_seconds()
        self._start, self._start_blocked = self._mark, self._blocked

    def elapsed(self) -> float:
        """Seconds of this server's own since :meth:`restart` (the host's imports left out)."""
        own = (time.perf_counter() - self._start) - (blocked_seconds() - self._start_blocked)
        return max(own, 0.0)

    def done(self, phase: str) -> None:
        now, blocked = time.perf_counter(), blocked_seconds()
        own = (now - self._mark) - (blocked - self._blocked)
        self.phases[f"{phase}_ms"] = round(max(own, 0.0) * 1000, 1)
        self._mark, self._blocked = now, blocked
