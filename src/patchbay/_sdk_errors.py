"""The one boundary where errors from the SDK, anyio, httpx2 and the OS are read.

In the spirit of httpx's ``map_httpcore_exceptions``: what a failure *means* (the request timed
out, the session is over, the server refused) is decided here, once, by tables; the connection
then applies the verdict (ends the session, raises the patchbay error). Nothing here has side
effects, so the rules can be read, and tested, without a live session.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import anyio

__all__ = [
    "CONNECTION_CLOSED",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "REQUEST_TIMEOUT",
    "RESOURCE_NOT_FOUND",
    "TRANSPORT_ERRORS",
    "Verdict",
    "classify_exception",
    "classify_mcp_error",
    "describe_exception",
    "http_status",
    "leaf_exceptions",
    "rejected_unsent",
]

# JSON-RPC and SDK error codes patchbay reacts to.
CONNECTION_CLOSED = -32000
"""The SDK's "Connection closed"; also the start of the range servers use for their own errors."""
REQUEST_TIMEOUT = -32001
"""The SDK's own per-request clock ran out."""
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
"""What a server answers for an unknown resource or a prompt's bad arguments."""
RESOURCE_NOT_FOUND = -32002
"""The 2025 revisions' own code for "resource not found"."""

TRANSPORT_ERRORS = (RuntimeError, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError)
"""What a request can raise besides ``MCPError`` (see ``classify_exception``)."""


class Verdict(enum.Enum):
    """What a failed request means for the request and for its session."""

    TIMED_OUT = "timed out"
    """The SDK's own clock ran out: a timeout, even if the transport ends at the same time."""
    SESSION_OVER = "session over"
    """The connection is gone: end the session (the supervisor reconnects)."""
    ENDED_BY_SERVER = "ended by server"
    """The HTTP server terminated the session."""
    STREAM_BROKEN = "stream broken"
    """This request's answer stream broke; the session may be fine: check its health now."""
    SDK_REFUSED = "sdk refused"
    """The SDK refused the request locally (a ``RuntimeError``); the session is untouched."""
    ANSWERED = "answered"
    """The server answered with an error: a ``ProtocolError`` carrying its code and data."""


_MCP_ERROR_RULES: tuple[tuple[Callable[[int, str, bool], bool], Verdict], ...] = (
    (lambda code, _message, _over: code == REQUEST_TIMEOUT, Verdict.TIMED_OUT),
    (lambda _code, _message, over: over, Verdict.SESSION_OVER),
    (
        lambda code, message, _over: code == CONNECTION_CLOSED and message == "Connection closed",
        Verdict.SESSION_OVER,
    ),
    (
        lambda code, message, _over: code == INVALID_REQUEST and message == "Session terminated",
        Verdict.ENDED_BY_SERVER,
    ),
    (
        lambda code, message, _over: code == CONNECTION_CLOSED and message.startswith("SSE stream"),
        Verdict.STREAM_BROKEN,
    ),
)
"""First match wins. -32000 is also where servers' own error codes start, so only the SDK's own
"Connection closed" message (or a transport known to be over) means a lost connection."""


def classify_mcp_error(code: int, message: str, *, transport_over: bool) -> Verdict:
    """The verdict on an ``MCPError``; ``transport_over`` is whether its transport has ended or
    its HTTP session was rejected."""
    for matches, verdict in _MCP_ERROR_RULES:
        if matches(code, message, transport_over):
            return verdict
    return Verdict.ANSWERED


def classify_exception(exc: BaseException) -> Verdict:
    """The verdict on one of ``TRANSPORT_ERRORS``: the SDK refusing, or the connection breaking."""
    return Verdict.SDK_REFUSED if isinstance(exc, RuntimeError) else Verdict.SESSION_OVER


def rejected_unsent(message: str, *, session_rejected: bool) -> bool:
    """Whether an error is an HTTP server refusing a stale session, i.e. the request never ran.

    Only then may a request be sent again: an answer lost in flight ("Connection closed", a
    broken response stream) may belong to a tool call that did run, and tools are not idempotent.
    The rejection's own answer is the SDK's stand-in for a bare 404/400, or the server's body
    ("Session not found", "No valid session ID"); a real error answer that merely raced the
    rejection (the request ran) says something else.
    """
    if not session_rejected:
        return False
    return "session" in message.lower() or message == "Server returned an error response"


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, in order; ``[exc]`` for a plain one."""
    if isinstance(exc, BaseExceptionGroup):
        leaves: list[BaseException] = []
        for inner in exc.exceptions:
            leaves.extend(leaf_exceptions(inner))
        return leaves
    return [exc]


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of an httpx2 error that carries a response, else ``None``."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def describe_exception(exc: BaseException) -> str:
    """A one-line, human description of what went wrong underneath (SDK, httpx2, OS)."""
    leaves = [e for e in leaf_exceptions(exc) if not isinstance(e, anyio.get_cancelled_exc_class())]
    if not leaves:
        return "cancelled"
    leaf = leaves[0]
    if isinstance(leaf, FileNotFoundError):
        name = leaf.filename or "command"
        return f"command not found: {name}"
    if isinstance(leaf, PermissionError):
        return f"permission denied: {leaf.filename or leaf}"
    response: Any = getattr(leaf, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return f"HTTP {status} from {getattr(getattr(response, 'request', None), 'url', 'server')}"
    text = str(leaf) or type(leaf).__name__
    if type(leaf).__module__.startswith(("httpx", "httpcore")):
        return f"{type(leaf).__name__}: {text}"
    return text
