"""Every exception patchbay raises, in one tree.

Errors from the MCP SDK, anyio and httpx2 are translated into these at the boundary where they
occur, so callers catch patchbay's types and never need to import a transport library::

    PatchbayError
    ├── ConfigError             a config file or entry is wrong (names the file and the key path)
    ├── ServerNotFound          no server of that name is configured
    ├── TrustStoreError         the file of approved project servers cannot be read or written
    ├── ServerError             something happened on one server (``.server`` names it)
    │   ├── ConnectError        the server could not be started, reached or initialised
    │   │   └── AuthRequired    the server needs authorisation that is not there yet
    │   ├── ServerUnavailable   the server is not ready (disabled, untrusted, failed, reconnecting, closed)
    │   ├── ConnectionLost      the connection died while a request was in flight
    │   ├── RequestTimeout      a request passed its deadline (it was cancelled on the server)
    │   │   └── ToolTimeout     ... and that request was a tool call
    │   ├── InvalidArguments    a prompt's arguments do not match its listing, or the server said so
    │   ├── NotSupported        the server does not offer this (e.g. no ``resources.subscribe``)
    │   └── ProtocolError       the server answered a request with a JSON-RPC error
    ├── NotFoundError           a catalogue lookup found nothing (also a ``LookupError``)
    │   ├── ToolNotFound
    │   ├── PromptNotFound
    │   └── ResourceNotFound    (also: a URI matching several servers, or one the server says it lacks)
    └── InvalidToolCall         ``execute`` got no provider's tool-call shape (also a ``ValueError``)

A tool that *runs* and reports failure is not an exception: ``call_tool`` returns a
``ToolResult`` with ``is_error=True``, because the model that called it should read the message.
Fleet-level failures are values too: ``connect_all`` records them in ``status()`` and never raises.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthRequired",
    "ConfigError",
    "ConnectError",
    "ConnectionLost",
    "InvalidArguments",
    "InvalidToolCall",
    "NotFoundError",
    "NotSupported",
    "PatchbayError",
    "PromptNotFound",
    "ProtocolError",
    "RequestTimeout",
    "ResourceNotFound",
    "ServerError",
    "ServerNotFound",
    "ServerUnavailable",
    "ToolNotFound",
    "ToolTimeout",
    "TrustStoreError",
]


class PatchbayError(Exception):
    """The root of every error patchbay raises."""


class ConfigError(PatchbayError):
    """A configuration file or entry is invalid.

    ``file`` is the file the problem is in (``None`` for a config built in code) and ``path`` the
    dotted key path inside it (``servers.git.args``), so the message can point at the exact spot.
    """

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.file = file
        self.path = path
        self.reason = message
        where = ": ".join(part for part in (file, path) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ServerNotFound(PatchbayError, LookupError):
    """No server of this name is configured."""

    def __init__(self, server: str, known: list[str] | None = None) -> None:
        self.server = server
        hint = f" (configured: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"no server named {server!r} is configured{hint}")


class TrustStoreError(PatchbayError):
    """The approvals file (``trust.json`` in the user data directory) is unreadable or unwritable.

    It is never overwritten when it cannot be parsed: approvals are not silently lost. ``file``
    is its path.
    """

    def __init__(self, message: str, *, file: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


class ServerError(PatchbayError):
    """An error that belongs to one server; ``server`` is its configured name."""

    def __init__(self, server: str, message: str) -> None:
        self.server = server
        super().__init__(f"{server}: {message}")


class ConnectError(ServerError):
    """The server could not be started, reached or initialised.

    The message says which phase failed (spawn, handshake, HTTP) and, for stdio servers, ends with
    the last lines the server wrote to stderr, which is usually where the real reason is.
    """


class AuthRequired(ConnectError):
    """The server requires authorisation (HTTP 401) and no usable credentials are stored."""


class ServerUnavailable(ServerError):
    """The server is not ready to take requests.

    ``state`` is its connection state; ``next_retry_at`` is the wall-clock time (epoch seconds)
    of the next reconnect attempt when it is reconnecting.
    """

    def __init__(
        self, server: str, state: str, message: str | None = None, *, next_retry_at: float | None = None
    ) -> None:
        self.state = state
        self.next_retry_at = next_retry_at
        super().__init__(server, message or f"server is {state}")


class ConnectionLost(ServerError):
    """The connection died while this request was in flight.

    The request is never retried automatically, since a tool call may not be idempotent.
    """


class RequestTimeout(ServerError, TimeoutError):
    """A request passed its deadline; it was cancelled on the server and the session stays usable."""

    def __init__(self, server: str, message: str, *, timeout: float | None = None) -> None:
        self.timeout = timeout
        super().__init__(server, message)


class ToolTimeout(RequestTimeout):
    """A tool call passed its deadline."""


class InvalidArguments(ServerError, ValueError):
    """The arguments do not fit: a prompt's required argument is missing or an unknown one was
    passed (checked against its listing before sending), or the server refused them (``-32602``)."""


class NotSupported(ServerError):
    """The server does not advertise the capability this needs, so the request is not sent."""


class ProtocolError(ServerError):
    """The server answered with a JSON-RPC error; ``code`` and ``data`` are the server's own."""

    def __init__(self, server: str, message: str, *, code: int, data: Any = None) -> None:
        self.code = code
        self.data = data
        super().__init__(server, f"{message} (code {code})")


class NotFoundError(PatchbayError, LookupError):
    """A catalogue lookup found nothing under that name.

    ``server`` is set when one server said so. ``candidates`` lists the servers that offer the name
    when it is ambiguous (a bare name or a URI offered by several); then the message ends with how
    to choose one, which a front end can phrase in its own terms with ``advice``.
    """

    def __init__(
        self,
        message: str,
        *,
        server: str | None = None,
        candidates: tuple[str, ...] = (),
        choose: str = "",
    ) -> None:
        self.server = server
        self.candidates = candidates
        self.detail = message
        self._choose = choose
        super().__init__(self.advice("server="))

    def advice(self, server_option: str) -> str:
        """The message, with ``server_option`` (``server=``, ``--server`` ...) in its advice."""
        return self.detail + self._choose.replace("{option}", server_option)


class ToolNotFound(NotFoundError):
    """No ready server offers a tool under this name."""


class PromptNotFound(NotFoundError):
    """No ready server offers a prompt under this name."""


class ResourceNotFound(NotFoundError):
    """No ready server offers this resource URI, or more than one does and none was named."""


class InvalidToolCall(PatchbayError, ValueError):
    """``execute`` was given something that is not a tool call in any shape a provider returns.

    A well-formed call with bad *arguments* is not this error: that comes back as an error result
    for the model to read. This one means the calling code passed the wrong object.
    """


def _unwrap_group(exc: BaseException) -> BaseException:
    """The one error a task group's ``ExceptionGroup`` stands for: no group ever reaches a user.

    Cancellations are ignored; among several errors a patchbay one wins, then the first.
    """
    import anyio

    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending[:0] = list(current.exceptions)
        elif not isinstance(current, anyio.get_cancelled_exc_class()):
            leaves.append(current)
    if not leaves:
        return exc
    return next((leaf for leaf in leaves if isinstance(leaf, PatchbayError)), leaves[0])
