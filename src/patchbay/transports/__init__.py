"""A server config becomes an SDK transport.

Every transport here is an async context manager yielding the SDK's ``(read, write)`` streams,
so ``mcp.Client`` drives the protocol on top of it, plus the little a supervisor needs: an
``ended`` event that fires when the connection is dead, why, and the pid for stdio servers
(``ManagedTransport`` declares all of it). The SDK is imported lazily: building a config or
importing patchbay must stay cheap.

* ``_base``: ``ManagedTransport``, the contract with the connection;
* ``_stdio``: a server process, its pipes and its closing;
* ``_groups``: its process group, environment and clean-up when the host exits;
* ``_reaper``: the watchdog process that ends the groups of a host that was killed;
* ``_http``: Streamable HTTP and SSE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._base import ManagedTransport
from ._groups import SAFE_ENV_NAMES, install_sigterm_cleanup, kill_all_groups, minimal_environment
from ._http import PostRecord, _HttpTransport, track_posts
from ._stdio import StdioTransport

if TYPE_CHECKING:
    from ..config import ServerConfig

__all__ = [
    "SAFE_ENV_NAMES",
    "ManagedTransport",
    "PostRecord",
    "StdioTransport",
    "build_transport",
    "install_sigterm_cleanup",
    "kill_all_groups",
    "minimal_environment",
    "track_posts",
]


def build_transport(
    server: ServerConfig,
    *,
    connect_timeout: float,
    shutdown_grace: float,
    stall_timeout: float = 30.0,
    auth: Any = None,
    redact: Callable[[str], str] | None = None,
    max_response_bytes: int | None = None,
) -> ManagedTransport:
    """One fresh transport for one connection attempt; ``auth`` (an ``httpx2.Auth``) for HTTP/SSE.

    ``redact`` masks secrets in server text the transport keeps (a stdio server's stderr lines);
    ``max_response_bytes`` caps an HTTP response body read whole (0 or None: no cap).
    """
    if server.transport == "stdio":
        assert server.command is not None
        env = minimal_environment(server.env, server.env_passthrough, server.inherit_env)
        return StdioTransport(
            server.command,
            server.args,
            env=env,
            cwd=server.cwd,
            shutdown_grace=shutdown_grace,
            stall_timeout=stall_timeout,
            log_name=server.name,
            redact=redact,
        )
    return _HttpTransport(server, connect_timeout, auth, max_response_bytes or None)
