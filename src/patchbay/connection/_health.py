"""Is the session alive? The interval of a session's health checks, and one probe."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from .._sdk_errors import CONNECTION_CLOSED, REQUEST_TIMEOUT, describe_exception
from ..config import ServerConfig, Settings
from ..transports import ManagedTransport
from ._session_state import speaks_2026

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["STATELESS_HEALTH_INTERVAL", "health_interval", "probe"]

STATELESS_HEALTH_INTERVAL = 5.0
"""Seconds between health checks on a stateless (2026-07-28) HTTP session with no ``health_interval``
set: one small ``server/discover`` POST, the only sign of life such a session has between requests."""


def health_interval(config: ServerConfig, settings: Settings, client: Client) -> float | None:
    """Seconds between a session's health checks, or ``None`` for none.

    ``health_interval`` as configured, except that a stateless (2026-07-28) Streamable HTTP
    session gets ``STATELESS_HEALTH_INTERVAL`` when none is set anywhere (0 still means off):
    nothing stays open between its requests (no event stream, no process), so without a probe
    a server that went away would look ready until the next call.
    """
    unset = config.health_interval is None and settings.health_interval is None
    if unset and config.transport == "http" and speaks_2026(client):
        return STATELESS_HEALTH_INTERVAL
    return config.resolved_health_interval(settings)


async def probe(client: Client, transport: ManagedTransport, timeout: float) -> str | None:
    """One health check; why the session is dead, or ``None`` when the server answered.

    2025-era sessions are pinged. The 2026-07-28 revision removed ``ping``; there the probe
    is ``server/discover``: every 2026 server must answer it, it has no side effects, and its
    answer is small and needs no paging (``tools/list`` may be long, paged or cached).
    Any answer, even a JSON-RPC error, shows the server is alive.
    """
    from mcp import MCPError

    reason: str | None = None
    with anyio.move_on_after(timeout) as scope:
        try:
            if speaks_2026(client):
                await client.session.send_discover(client.session.protocol_version or "")
            else:
                await client.session.send_ping()
        except MCPError as exc:
            over = transport.ended.is_set() or transport.session_rejected
            if over or exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT):
                detail = transport.end_reason or exc.message
                reason = f"health check failed: {detail}"
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError) as exc:
            reason = f"health check failed: {describe_exception(exc)}"
    if scope.cancelled_caught:
        reason = f"no answer to a health check within {timeout:g}s"
    return reason
