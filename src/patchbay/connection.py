"""One server: the task that owns its session, its state, its listing, and the requests sent to it.

The SDK's transports and sessions are anyio context managers that must be entered and exited by
the same task. So each server gets one long-lived supervisor task that opens the transport and
the ``mcp.Client`` session, lists everything, serves until the connection dies or is stopped,
and then backs off and reconnects. Other tasks never touch the contexts: they wait until the
connection is ready and send requests through the live session, each under its own deadline.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import os
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.abc

from . import errors
from ._redaction import (
    argument_secrets,
    guard_loggers,
    normalise_secrets,
    redact,
    register_secrets,
    url_secrets,
)
from .catalogue import ServerListing, filter_tools
from .config import ServerConfig, Settings
from .events import CatalogueChanged, Event, LogMessage, ResourceUpdated, ServerStateChanged
from .transports import ManagedTransport, build_transport, track_posts

if TYPE_CHECKING:
    from mcp import Client, MCPError
    from mcp.shared.dispatcher import ProgressFnT
    from mcp.types import CallToolResult

__all__ = ["Connection", "State"]

logger = logging.getLogger("patchbay")

T = TypeVar("T")

_MAX_PAGES = 1000
_ALL_KINDS = frozenset({"tools", "prompts", "resources"})
# JSON-RPC / SDK error codes this module reacts to.
_TRANSPORT_ERRORS = (RuntimeError, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError)
"""What a request can raise besides ``MCPError``: see ``Connection._broken``."""
_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001
_INVALID_REQUEST = -32600
_METHOD_NOT_FOUND = -32601
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}


class State(enum.StrEnum):
    """Where a connection is in its life; ``status()`` reports the value."""

    DISABLED = "disabled"
    CONNECTING = "connecting"
    READY = "ready"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    CLOSED = "closed"
    UNTRUSTED = "untrusted"
    """From a project file the user has not approved: never started (see ``patchbay.trust``)."""
    NEEDS_AUTH = "needs_auth"
    """The server answered 401 and no usable OAuth tokens are stored: run ``patchbay login NAME``."""


class _ConnectFailed(Exception):
    """A connection attempt failed before the session was ready; the message is user-facing."""


class _NeedsAuth(_ConnectFailed):
    """The connection attempt failed because the server requires authorisation we do not hold."""


def _is_auth_failure(exc: BaseException) -> bool:
    """A 401 from the server, or our OAuth provider refusing to start an interactive login."""
    from .auth import LoginRequired

    for leaf in _leaf_exceptions(exc):
        chain: BaseException | None = leaf
        while chain is not None:
            if isinstance(chain, LoginRequired):
                return True
            if getattr(getattr(chain, "response", None), "status_code", None) == 401:
                return True
            chain = chain.__cause__ or chain.__context__
    return False


def _redact(text: str, secrets: Sequence[str]) -> str:
    """Mask secret values: ``secrets`` and every registered one (the OAuth tokens patchbay holds)."""
    return redact(text, secrets)


def _leaf_exceptions(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        leaves: list[BaseException] = []
        for inner in exc.exceptions:
            leaves.extend(_leaf_exceptions(inner))
        return leaves
    return [exc]


_STATELESS_HEALTH_INTERVAL = 5.0
"""Seconds between health checks on a stateless (2026-07-28) HTTP session with no ``health_interval``
set: one small ``server/discover`` POST, the only sign of life such a session has between requests."""

_STDERR_LINES = 20
"""How many of a failed server's last stderr lines its error message carries."""
_CARETS = re.compile(r"[\s^~]*")
_TRACEBACK_HEAD = "Traceback (most recent call last):"
_STACK_NOISE = re.compile(r"\s+at \S|Node\.js v\d")
"""A JavaScript stack frame below its error line, or the Node.js version it prints last."""


def stderr_reason(tail: str) -> str:
    """The line of a server's stderr that says what happened.

    For a Python traceback that is its exception line (``AttributeError: ...``), the first
    unindented line after the last traceback's frames; otherwise the last line that is neither
    blank, only carets (``^^^^``, ``~~~``), nor a JavaScript stack frame. Lines are split on
    ``\n`` only: a ``\r`` or ``\u2028`` inside a line (a terminal trick) must not choose the reason.
    """
    lines = [line.rstrip() for line in tail.split("\n")]
    heads = [i for i, line in enumerate(lines) if line.strip().endswith(_TRACEBACK_HEAD)]
    if heads:
        # An ExceptionGroup's inner tracebacks are drawn behind a margin ("    | "): the same margin
        # as their "Traceback" line.
        margin = lines[heads[-1]].split(_TRACEBACK_HEAD)[0]
        for line in lines[heads[-1] + 1 :]:
            text = line.removeprefix(margin)
            if text and not text[:1].isspace() and not _CARETS.fullmatch(text):
                return text.strip()
    for line in reversed(lines):
        if not _CARETS.fullmatch(line) and not _STACK_NOISE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def describe_exception(exc: BaseException) -> str:
    """A one-line, human description of what went wrong underneath (SDK, httpx2, OS)."""
    leaves = [e for e in _leaf_exceptions(exc) if not isinstance(e, anyio.get_cancelled_exc_class())]
    if not leaves:
        return "cancelled"
    leaf = leaves[0]
    if isinstance(leaf, FileNotFoundError):
        name = leaf.filename or "command"
        return f"command not found: {name}"
    if isinstance(leaf, PermissionError):
        return f"permission denied: {leaf.filename or leaf}"
    response = getattr(leaf, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return f"HTTP {status} from {getattr(getattr(response, 'request', None), 'url', 'server')}"
    text = str(leaf) or type(leaf).__name__
    if type(leaf).__module__.startswith(("httpx", "httpcore")):
        return f"{type(leaf).__name__}: {text}"
    return text


def _rejected_unsent(exc: Any, transport: ManagedTransport | None) -> bool:
    """Whether this error is an HTTP server refusing a stale session, i.e. the request never ran.

    Only then may a request be sent again: an answer lost in flight ("Connection closed", a
    broken response stream) may belong to a tool call that did run, and tools are not idempotent.
    """
    if transport is None or not transport.session_rejected:
        return False
    # The rejection's own answer: the SDK's stand-ins for a bare 404/400, or the server's body
    # ("Session not found", "No valid session ID"). A real error answer that merely raced the
    # rejection (the request ran) says something else and is not sent again.
    message = str(exc.message)
    return "session" in message.lower() or message == "Server returned an error response"


_SDK_LOGGERS = ("mcp.client", "mcp.shared", "mcp.os")
"""The SDK's client-side loggers (``logging.getLogger(__name__)``); ``mcp.server`` is not ours."""
_SDK_SESSION_LOGGER = "client"
"""``mcp.client.session`` logs under this bare name; records from elsewhere in it are left alone."""
_sdk_log = logging.getLogger("patchbay.sdk")


def _from_sdk(record: logging.LogRecord) -> bool:
    sdk = sys.modules.get("mcp")
    where = getattr(sdk, "__file__", None)
    return where is not None and record.pathname.startswith(os.path.dirname(where) + os.sep)


class _SdkToDebug(logging.Handler):
    """Re-logs an SDK record on ``patchbay.sdk`` at debug level, traceback and all.

    Without a handler of its own, a warning or ``logger.exception`` the SDK logs when an HTTP or
    SSE server goes away ("Error in sse_reader", "Session termination failed") reaches Python's
    last-resort handler, which prints it to the host program's stderr. What it says is already in
    the connection's state and in the errors raised: a library does not print.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if _sdk_log.isEnabledFor(logging.DEBUG):
            _sdk_log.debug("%s: %s", record.name, record.getMessage(), exc_info=record.exc_info)


def _take_sdk_records(record: logging.LogRecord) -> bool:
    """The bare ``client`` logger's filter: the SDK's records go to debug, the rest pass on."""
    if not _from_sdk(record):
        return True
    _SDK_ROUTE.emit(record)
    return False


_SDK_ROUTE = _SdkToDebug()


def _route_sdk_logs() -> None:
    """Send the SDK client's log records to ``patchbay.sdk`` (debug) instead of stderr (idempotent).

    Only the SDK's own client-side loggers change (a handler, ``propagate = False``); the bare
    ``client`` logger gets a filter that takes only records logged from inside the SDK.
    """
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if _SDK_ROUTE not in logger.handlers:
            logger.addHandler(_SDK_ROUTE)
            logger.propagate = False
    session_logger = logging.getLogger(_SDK_SESSION_LOGGER)
    if _take_sdk_records not in session_logger.filters:
        session_logger.addFilter(_take_sdk_records)
    guard_loggers(_sdk_log.name)


class _Opened:
    """An already-open transport handed to the SDK: it gets the streams, the owner task closes it."""

    def __init__(self, streams: Any, on_open: Callable[[], None]) -> None:
        self._streams = streams
        self._on_open = on_open

    async def __aenter__(self) -> Any:
        self._on_open()
        return self._streams

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


_host_blocked = [0.0]
"""Seconds this process has spent importing the SDK (the event loop stands still meanwhile): no
server's phase includes them (``Connection.phases``)."""


def _sdk_client() -> type[Client]:
    started = time.perf_counter()
    from mcp import Client

    _host_blocked[0] += time.perf_counter() - started
    return Client


def _mcp_error() -> type[MCPError]:
    from mcp import MCPError

    return MCPError


class Connection:
    """The live state of one configured server and the task that supervises it."""

    def __init__(
        self,
        config: ServerConfig,
        settings: Settings,
        *,
        on_listing_changed: Callable[[Connection], None],
        client_options: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self._on_listing_changed = on_listing_changed
        self._on_event = on_event
        self.log_level: str | None = None
        """Set by ``set_log_level``; re-applied after every reconnect."""
        self.subscriptions: set[str] = set()
        """Resource URIs subscribed to; re-subscribed after every reconnect."""
        self._subscriptions_changed = anyio.Event()
        self._subscriptions_acked: anyio.Event | None = None
        self._subscription_error: str | None = None
        self.auth_factory: Callable[[ServerConfig], Any] | None = None
        """Set by the manager: the ``httpx2.Auth`` for an HTTP/SSE server's next attempt (or ``None``)."""
        # A factory is called at each attempt, after the transport is open: building SDK objects
        # imports the SDK, and a server should already be starting while that happens.
        self._client_options = client_options if callable(client_options) else dict(client_options or {})
        self.state: State = State.DISABLED if not config.enabled else State.CLOSED
        self.error: str | None = config.error
        self.listing = ServerListing()
        self._tool_names: set[str] = set()
        self._tool_names_of: ServerListing | None = None
        self.protocol_version: str | None = None
        self.server_name: str | None = None
        self.server_version: str | None = None
        self.instructions: str | None = None
        self.capabilities: dict[str, Any] | None = None
        self.pid: int | None = None
        self.connected_at: float | None = None
        self.last_activity: float | None = None
        self.connect_seconds: float | None = None
        self.phases: dict[str, float] = {}
        """Milliseconds of the last attempt's phases reached so far: ``spawn_ms`` (process started,
        or HTTP transport opened), ``handshake_ms``, ``listing_ms``; for ``patchbay doctor``. Each
        is this server's own: the host importing the SDK meanwhile is left out."""
        self._phase_mark = 0.0
        self._blocked_mark = 0.0
        self.attempt = 0
        self.next_retry_at: float | None = None
        self.last_health_check: float | None = None
        self._suspect = anyio.Event()
        self.log = logging.getLogger(f"patchbay.server.{config.name}")
        self._client: Client | None = None
        self._modern = False
        """Whether the live session speaks 2026-07-28 (set with ``_client``)."""
        self._transport: ManagedTransport | None = None
        self._changed = anyio.Event()
        self._stop = anyio.Event()
        self._wake = anyio.Event()
        self._refresh = anyio.Event()
        self._refresh_kinds: set[str] = set()
        self._done = anyio.Event()
        self._attempt_scope: anyio.CancelScope | None = None
        self._running = False
        self._lost_reason: str | None = None
        self.truncated: dict[str, str] = {}
        """Lists cut short by the page or item cap: list name -> why (``status()["truncated"]``)."""
        written_args = config.raw.get("args")
        command_line = [config.raw.get("command"), *(written_args if isinstance(written_args, list) else ())]
        secrets = (
            *config.env.values(),
            *config.headers.values(),
            *url_secrets(config.url),
            *argument_secrets(command_line),
        )
        self._secrets = normalise_secrets(secrets)
        register_secrets(self, self._secrets)  # server stderr and HTTP request logs print them otherwise
        guard_loggers(self.log.name)
        _route_sdk_logs()

    # ----------------------------------------------------------------- configuration shortcuts

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def timeout(self) -> float:
        return self.config.resolved_timeout(self.settings)

    @property
    def connect_timeout(self) -> float:
        return self.config.resolved_connect_timeout(self.settings)

    @property
    def running(self) -> bool:
        return self._running

    # ----------------------------------------------------------------------------- lifecycle

    def _set_state(self, state: State, error: str | None = None) -> None:
        previous = self.state
        self.state = state
        if error is not None or state in (State.READY, State.CONNECTING):
            self.error = error
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        if state != previous or state == State.RECONNECTING:
            self._emit(
                ServerStateChanged(
                    self.name,
                    state=state.value,
                    previous=previous.value,
                    error=self.error,
                    attempt=self.attempt,
                )
            )

    def _emit(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def set_trusted(self, trusted: bool, message: str | None = None) -> None:
        """Hold an unapproved project server back (``start()`` refuses it) or release it.

        A running connection is left alone: it was approved when it started, and a revoked
        approval takes effect at its next ``connect``, ``reconnect`` or ``reload``.
        """
        if self._running or not self.config.enabled:
            return
        if not trusted:
            self._set_state(State.UNTRUSTED, message or "not started: the project server is not trusted")
        elif self.state == State.UNTRUSTED:
            self.error = self.config.error
            self._set_state(State.CLOSED)

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the supervisor task in the manager's task group (no-op if it is running or untrusted)."""
        if self._running or not self.config.enabled or self.state == State.UNTRUSTED:
            return
        if self.config.error is not None:
            self._set_state(State.FAILED, self.config.error)
            return
        self._running = True
        self._stop = anyio.Event()
        self._done = anyio.Event()
        self.attempt = 0
        self.next_retry_at = None
        self._set_state(State.CONNECTING)
        task_group.start_soon(self._supervise, name=f"patchbay:{self.name}")

    async def stop(self) -> None:
        """Ask the supervisor to close the session and wait until its process is gone."""
        if not self._running:
            if self.state not in (State.DISABLED, State.FAILED, State.UNTRUSTED):
                self._set_state(State.CLOSED)
            return
        self._stop.set()
        if self._attempt_scope is not None:
            # Cancels a connect in progress or the serving wait; the owner task still does the exit.
            self._attempt_scope.cancel()
        await self._done.wait()

    async def wait_settled(self) -> None:
        """Wait until the first attempt is over: ready, failed, closed or disabled."""
        while self.state == State.CONNECTING:
            await self._changed.wait()

    async def _supervise(self) -> None:
        ever_ready = False
        try:
            while not self._stop.is_set():
                failure: str | None = None
                with anyio.CancelScope() as self._attempt_scope:
                    try:
                        ever_ready = await self._session(ever_ready) or ever_ready
                    except _NeedsAuth as exc:
                        self.log.warning("needs authorisation: %s", exc)
                        self._set_state(State.NEEDS_AUTH, _redact(str(exc), self._secrets))
                        return
                    except _ConnectFailed as exc:
                        failure = _redact(str(exc), self._secrets)
                self._attempt_scope = None
                if self._stop.is_set():
                    break
                if failure is not None:
                    if not ever_ready:
                        self.log.warning("failed to connect: %s", failure)
                        self._set_state(State.FAILED, failure)
                        return
                    self.error = failure
                else:
                    # The listing stays while reconnecting: calls wait for the server instead of
                    # failing with "tool not found", and it is re-read once the server is back.
                    self.attempt = 0
                    self.error = _redact(self._lost_reason or "connection lost", self._secrets)
                    self.log.warning("connection lost: %s", self.error)
                reconnect = self.config.resolved_reconnect(self.settings)
                if self.attempt >= reconnect.attempts:
                    self._forget_listing()
                    self._set_state(State.FAILED, self.error)
                    return
                self.attempt += 1
                delay = random.uniform(
                    0, min(reconnect.max_delay, reconnect.base_delay * 2 ** (self.attempt - 1))
                )
                self.next_retry_at = time.time() + delay
                self._set_state(State.RECONNECTING, self.error)
                with anyio.move_on_after(delay):
                    await self._stop.wait()
                self.next_retry_at = None
        finally:
            self._attempt_scope = None
            self._client = None
            self.pid = None
            self._running = False
            self._forget_listing()
            if self._stop.is_set() or self.state not in (State.FAILED, State.NEEDS_AUTH):
                self._set_state(State.CLOSED)
            self._done.set()

    def _forget_listing(self) -> None:
        if self.listing.tools or self.listing.prompts or self.listing.resources or self.listing.templates:
            self.listing = ServerListing()
            self._on_listing_changed(self)
            self._emit(CatalogueChanged(self.name, kinds=_ALL_KINDS))

    async def _session(self, reconnecting: bool) -> bool:
        """One connection attempt and, if it succeeds, its whole life. Returns whether it was ready."""
        if not reconnecting:
            self._set_state(State.CONNECTING)
        self._wake = anyio.Event()
        self._lost_reason = None
        transport = build_transport(
            self.config,
            connect_timeout=self.connect_timeout,
            shutdown_grace=self.config.resolved_shutdown_grace(self.settings),
            stall_timeout=2 * self.timeout,
            auth=self._auth(),
            redact=functools.partial(_redact, secrets=self._secrets),
            max_response_bytes=self.settings.max_response_bytes,
        )
        self._transport = transport
        ready = False
        if self.config.transport != "stdio":
            _sdk_client()  # the HTTP transport imports the SDK when opened; nothing is spawned meanwhile
        started = self._phase_mark = time.perf_counter()
        self._blocked_mark = _host_blocked[0]
        self.phases = {}
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout) as connect_scope:
                # The transport is opened before the SDK is imported: the first connect of a
                # process pays ~0.5 s for that import, and the servers now start meanwhile.
                async with (
                    transport as streams,
                    _sdk_client()(
                        _Opened(streams, lambda: self._phase_done("spawn")),
                        mode=self.config.protocol,
                        message_handler=self._on_message,
                        logging_callback=self._on_log,
                        cache=None,
                        **(
                            self._client_options() if callable(self._client_options) else self._client_options
                        ),
                    ) as client,
                ):
                    self._phase_done("handshake")
                    self.pid = transport.pid
                    self.listing = await self._list_all(client)
                    self._phase_done("listing")
                    await self._restore_session_state(client)
                    connect_scope.deadline = math.inf
                    self._publish(client, time.perf_counter() - started)
                    ready = True
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._watch_transport, transport)
                        tg.start_soon(self._refresher, client)
                        self._suspect = anyio.Event()
                        tg.start_soon(self._health_checks, client, transport, self._health_interval(client))
                        if self._is_modern(client):
                            tg.start_soon(self._listener, client)
                            tg.start_soon(self._resource_listener, client)
                        await self._wake.wait()
                        tg.cancel_scope.cancel()
                    self._client = None
            if connect_scope.cancelled_caught and not ready:
                raise _ConnectFailed(
                    self._with_stderr(f"timed out after {self.connect_timeout:g}s connecting", transport)
                )
        except _ConnectFailed:
            raise
        except Exception as exc:
            if not ready and _is_auth_failure(exc):
                raise _NeedsAuth(describe_exception(exc)) from exc
            if not ready and transport.unauthorized:
                raise _NeedsAuth(
                    "the server requires authorisation (HTTP 401): add `auth: oauth` to its entry,"
                    " or a token in `headers`"
                ) from exc
            if not ready:
                raise _ConnectFailed(self._with_stderr(describe_exception(exc), transport)) from exc
            self._lost_reason = self._lost_reason or describe_exception(exc)
        finally:
            self._client = None
            self._transport = None
        if ready and self._lost_reason is None and not self._stop.is_set():
            self._lost_reason = transport.end_reason or "connection closed"
        return ready

    def _phase_done(self, phase: str) -> None:
        now, blocked = time.perf_counter(), _host_blocked[0]
        own = (now - self._phase_mark) - (blocked - self._blocked_mark)
        self.phases[f"{phase}_ms"] = round(max(own, 0.0) * 1000, 1)
        self._phase_mark, self._blocked_mark = now, blocked

    def _auth(self) -> Any:
        if self.auth_factory is None or self.config.transport == "stdio":
            return None
        return self.auth_factory(self.config)

    def _with_stderr(self, message: str, transport: ManagedTransport) -> str:
        reason = transport.end_reason
        if reason and reason not in message and "exited" in reason:
            message = f"{message} (server {reason})"
        http_error = transport.http_error
        if http_error and http_error not in message:
            message = f"{message} ({http_error})"
        tail = transport.stderr_tail(_STDERR_LINES).strip("\n")
        if not tail:
            return message
        # The first line says what happened (the tail's first line is "Traceback ..." or carets);
        # the whole tail follows it for `get` and `doctor`.
        reason = stderr_reason(tail)
        return f"{message}; stderr: {reason}" + (f"\n{tail}" if tail != reason else "")

    def _publish(self, client: Client, connect_seconds: float) -> None:
        session = client.session
        info = session.server_info
        caps = session.server_capabilities
        self.protocol_version = session.protocol_version
        self.server_name = info.name if info else None
        self.server_version = info.version if info else None
        self.instructions = session.instructions
        self.capabilities = caps.model_dump(mode="json", by_alias=True, exclude_none=True) if caps else None
        self.connected_at = time.time()
        self.last_activity = self.connected_at
        self.connect_seconds = connect_seconds
        self.attempt = 0
        self._modern = self._is_modern(client)
        self._client = client
        self._set_state(State.READY)
        self._on_listing_changed(self)
        self._emit(CatalogueChanged(self.name, kinds=_ALL_KINDS))
        self.log.info("ready (%s, %.0f ms)", self.protocol_version, connect_seconds * 1000)

    def _modern_session(self) -> bool:
        return self._client is not None and self._modern

    @staticmethod
    def _is_modern(client: Client) -> bool:
        return (client.session.protocol_version or "") >= "2026-07-28"

    async def _watch_transport(self, transport: ManagedTransport) -> None:
        await transport.ended.wait()
        self._mark_lost(transport.end_reason or "server closed the connection")

    def _mark_lost(self, reason: str, transport: ManagedTransport | None = None) -> None:
        """End the live session so the supervisor reconnects.

        ``transport`` is the one the evidence came from: a late error from a session that has
        already been replaced must not end its healthy successor.
        """
        if transport is not None and transport is not self._transport:
            return
        if self._lost_reason is None:
            self._lost_reason = reason
        self._wake.set()

    def _health_interval(self, client: Client) -> float | None:
        """Seconds between this session's health checks, or ``None`` for none.

        ``health_interval`` as configured, except that a stateless (2026-07-28) Streamable HTTP
        session gets ``_STATELESS_HEALTH_INTERVAL`` when none is set anywhere (0 still means off):
        nothing stays open between its requests (no event stream, no process), so without a probe
        a server that went away would look ready until the next call.
        """
        unset = self.config.health_interval is None and self.settings.health_interval is None
        if unset and self.config.transport == "http" and self._is_modern(client):
            return _STATELESS_HEALTH_INTERVAL
        return self.config.resolved_health_interval(self.settings)

    async def _health_checks(
        self, client: Client, transport: ManagedTransport, interval: float | None
    ) -> None:
        """Every ``interval`` s (if set), and at once when a request's answer stream broke, a cheap
        request; a server that does not answer within ``timeout`` is dead.

        A broken answer stream is often the only sign of death a stateless (2026-07-28) HTTP
        session gives: nothing else is open between requests.

        2025-era sessions are pinged. The 2026-07-28 revision removed ``ping``; there the probe
        is ``server/discover``: every 2026 server must answer it, it has no side effects, and its
        answer is small and needs no paging (``tools/list`` may be long, paged or cached).
        Any answer, even a JSON-RPC error, shows the server is alive.
        """
        from mcp import MCPError

        modern = self._is_modern(client)
        while True:
            with anyio.move_on_after(interval or math.inf):
                await self._suspect.wait()
            self._suspect = anyio.Event()
            reason: str | None = None
            with anyio.move_on_after(self.timeout) as scope:
                try:
                    if modern:
                        await client.session.send_discover(client.session.protocol_version or "")
                    else:
                        await client.session.send_ping()
                except MCPError as exc:
                    over = transport.ended.is_set() or transport.session_rejected
                    if over or exc.code in (_CONNECTION_CLOSED, _REQUEST_TIMEOUT):
                        detail = transport.end_reason or exc.message
                        reason = f"health check failed: {detail}"
                except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError) as exc:
                    reason = f"health check failed: {describe_exception(exc)}"
            if scope.cancelled_caught:
                reason = f"no answer to a health check within {self.timeout:g}s"
            if reason is not None:
                self.log.warning("%s", reason)
                self._mark_lost(reason, transport)
                return
            self.last_health_check = time.time()

    # ------------------------------------------------------------------------------ listing

    async def _list_all(self, client: Client, kinds: set[str] | None = None) -> ServerListing:
        caps = client.session.server_capabilities
        old = self.listing
        listing = ServerListing(
            tools=list(old.tools),
            prompts=list(old.prompts),
            resources=list(old.resources),
            templates=list(old.templates),
        )
        wanted = kinds or _ALL_KINDS

        async def tools() -> None:
            items = await self._pages(lambda c: client.list_tools(cursor=c), "tools")
            listing.tools = filter_tools(items, self.config.include_tools, self.config.exclude_tools)

        async def prompts() -> None:
            listing.prompts = await self._pages(lambda c: client.list_prompts(cursor=c), "prompts")

        async def resources() -> None:
            listing.resources = await self._pages(lambda c: client.list_resources(cursor=c), "resources")

        async def templates() -> None:
            listing.templates = await self._pages(
                lambda c: client.list_resource_templates(cursor=c), "resource_templates"
            )

        async with anyio.create_task_group() as tg:
            if caps is None or caps.tools is not None:
                if "tools" in wanted:
                    tg.start_soon(tools)
            else:
                listing.tools = []
            if caps is None or caps.prompts is not None:
                if "prompts" in wanted:
                    tg.start_soon(prompts)
            else:
                listing.prompts = []
            if caps is None or caps.resources is not None:
                if "resources" in wanted:
                    tg.start_soon(resources)
                    tg.start_soon(templates)
            else:
                listing.resources, listing.templates = [], []
        return listing

    async def _pages(self, fetch: Callable[[str | None], Awaitable[Any]], field: str) -> list[Any]:
        """Every item of a paginated list, following ``nextCursor`` to the end.

        Bounded by pages and by items (``settings.max_list_items``): a server that hands out
        endless distinct cursors would otherwise fill the host's memory and the catalogue. A list
        cut short is logged and shown in ``status()["truncated"]``.
        """
        from mcp import MCPError

        limit = self.settings.max_list_items or math.inf
        self.truncated.pop(field, None)
        items: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            try:
                page = await fetch(cursor)
            except MCPError as exc:
                if exc.code == _CONNECTION_CLOSED:
                    raise
                self.log.warning("listing %s failed: %s (code %s)", field, exc.message, exc.code)
                return items
            items.extend(getattr(page, field))
            cursor = page.next_cursor
            if len(items) > limit or (len(items) == limit and cursor):
                del items[int(limit) :]
                return self._cut(field, items, f"stopped at {len(items)} items (settings.max_list_items)")
            if not cursor:
                return items
            if cursor in seen:
                self.log.warning("server repeated a %s cursor; stopping at %d items", field, len(items))
                return items
            seen.add(cursor)
        return self._cut(field, items, f"stopped after {_MAX_PAGES} pages ({len(items)} items)")

    def _cut(self, field: str, items: list[Any], reason: str) -> list[Any]:
        self.truncated[field] = reason
        self.log.warning("listing %s %s; the server offers more", field, reason)
        return items

    async def _refresher(self, client: Client) -> None:
        """Re-read what a ``list_changed`` notification said changed (all pages), one batch at a time."""
        while True:
            await self._refresh.wait()
            self._refresh = anyio.Event()
            kinds, self._refresh_kinds = self._refresh_kinds, set()
            try:
                with anyio.fail_after(self.timeout):
                    self.listing = await self._list_all(client, kinds)
            except Exception as exc:
                self.log.warning(
                    "refreshing %s failed: %s", ", ".join(sorted(kinds)), describe_exception(exc)
                )
                continue
            self._on_listing_changed(self)
            self._emit(CatalogueChanged(self.name, kinds=frozenset(kinds)))

    def request_refresh(self, *kinds: str) -> None:
        self._refresh_kinds.update(kinds or _ALL_KINDS)
        self._refresh.set()

    async def _listener(self, client: Client) -> None:
        """On 2026-07-28 sessions change notifications come through ``subscriptions/listen``."""
        from mcp.client.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

        caps = client.session.server_capabilities
        want_tools = bool(caps and caps.tools and caps.tools.list_changed)
        want_prompts = bool(caps and caps.prompts and caps.prompts.list_changed)
        want_resources = bool(caps and caps.resources and caps.resources.list_changed)
        if not (want_tools or want_prompts or want_resources):
            return
        try:
            async with client.listen(
                tools_list_changed=want_tools,
                prompts_list_changed=want_prompts,
                resources_list_changed=want_resources,
            ) as subscription:
                async for event in subscription:
                    if isinstance(event, ToolsListChanged):
                        self.request_refresh("tools")
                    elif isinstance(event, PromptsListChanged):
                        self.request_refresh("prompts")
                    elif isinstance(event, ResourcesListChanged):
                        self.request_refresh("resources")
        except Exception as exc:
            self.log.debug("change subscription ended: %s", describe_exception(exc))
        # The one stream a 2026-07-28 session keeps open ended: often because the server went
        # away. A health check right away tells (it ends the session if the server is gone).
        self._suspect.set()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.log.debug("transport reported: %s", describe_exception(message))
            return
        method = getattr(message, "method", "")
        if method == "notifications/tools/list_changed":
            self.request_refresh("tools")
        elif method == "notifications/prompts/list_changed":
            self.request_refresh("prompts")
        elif method == "notifications/resources/list_changed":
            self.request_refresh("resources")
        elif method == "notifications/resources/updated" and not self._modern_session():
            # 2026-07-28 updates come through the listen stream (``_resource_listener``) and are
            # teed here too; count them once.
            self._emit(ResourceUpdated(self.name, uri=str(message.params.uri)))

    async def _on_log(self, params: Any) -> None:
        level = _LOG_LEVELS.get(str(params.level), logging.INFO)
        origin = f"[{params.logger}] " if params.logger else ""
        self.log.log(level, "%s%s", origin, params.data)
        self._emit(LogMessage(self.name, level=str(params.level), data=params.data, logger=params.logger))

    # ------------------------------------------------ session state: log level, resource subscriptions

    async def _restore_session_state(self, client: Client) -> None:
        """Re-apply what the host asked of the previous session (2025 era; 2026 carries it per request)."""
        if self._is_modern(client):
            return
        if self.log_level is not None:
            await self._legacy_set_level(client, self.log_level)
        for uri in sorted(self.subscriptions):
            try:
                await self._legacy_subscribe(client, uri, subscribe=True)
            except Exception as exc:
                self.log.warning("re-subscribing to %s failed: %s", uri, describe_exception(exc))

    @staticmethod
    async def _legacy_set_level(client: Client, level: str) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated as of 2026-07-28, still the 2025 way
            await client.session.set_logging_level(level)  # type: ignore[arg-type]

    @staticmethod
    async def _legacy_subscribe(client: Client, uri: str, *, subscribe: bool) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated as of 2026-07-28, still the 2025 way
            if subscribe:
                await client.session.subscribe_resource(uri)
            else:
                await client.session.unsubscribe_resource(uri)

    def request_meta(self) -> dict[str, Any] | None:
        """Per-request ``_meta`` for 2026-07-28 sessions: the log-level opt-in, if one was set."""
        if self.log_level is None or self._client is None or not self._is_modern(self._client):
            return None
        from mcp_types import LOG_LEVEL_META_KEY

        return {LOG_LEVEL_META_KEY: self.log_level}

    async def set_log_level(self, level: str) -> None:
        """2025 era: ``logging/setLevel`` now; 2026-07-28: stamped on every later request."""
        self.log_level = level

        async def operation(client: Client, _scope: anyio.CancelScope) -> None:
            if not self._is_modern(client):
                await self._legacy_set_level(client, level)

        await self.request("logging/setLevel", operation)

    async def send_roots_changed(self) -> None:
        """Tell a 2025-era server its roots changed (2026-07-28 has no such notification)."""
        import warnings

        client = self._client
        if client is None or self._is_modern(client):
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated as of 2026-07-28, still the 2025 way
                await client.session.send_roots_list_changed()
        except Exception as exc:
            self.log.debug("roots/list_changed not sent: %s", describe_exception(exc))

    async def set_subscribed(self, uri: str, subscribe: bool) -> None:
        """Subscribe to (or drop) ``resources/updated`` for ``uri``; returns once the server agreed."""

        async def operation(client: Client, _scope: anyio.CancelScope) -> None:
            caps = client.session.server_capabilities
            if not (caps is not None and caps.resources is not None and caps.resources.subscribe):
                self.subscriptions.discard(uri)
                if not subscribe:
                    return  # nothing can have been subscribed: nothing to send
                offer = "the server does not offer resource subscriptions"
                raise errors.NotSupported(self.name, f"cannot subscribe to {uri!r}: {offer}")
            if not self._is_modern(client):
                await self._legacy_subscribe(client, uri, subscribe=subscribe)
                self._change_subscriptions(uri, subscribe)
                return
            acked = self._change_subscriptions(uri, subscribe)
            await acked.wait()
            if subscribe and self._subscription_error is not None:
                self.subscriptions.discard(uri)
                message = f"subscribe {uri!r}: {self._subscription_error}"
                raise errors.ProtocolError(self.name, message, code=-32603)

        await self.request(f"{'subscribe' if subscribe else 'unsubscribe'} {uri!r}", operation)

    def _change_subscriptions(self, uri: str, subscribe: bool) -> anyio.Event:
        if subscribe:
            self.subscriptions.add(uri)
        else:
            self.subscriptions.discard(uri)
        acked = self._subscriptions_acked = anyio.Event()
        changed, self._subscriptions_changed = self._subscriptions_changed, anyio.Event()
        changed.set()
        return acked

    async def _resource_listener(self, client: Client) -> None:
        """2026-07-28: one ``subscriptions/listen`` for the subscribed URIs, reopened when they change."""
        from mcp.client.subscriptions import ResourceUpdated as SdkResourceUpdated

        while True:
            changed = self._subscriptions_changed
            uris = sorted(self.subscriptions)
            acked = self._subscriptions_acked
            self._subscription_error = None
            try:
                if not uris:
                    if acked is not None:
                        acked.set()
                    await changed.wait()
                    continue
                async with anyio.create_task_group() as tg, client.listen(resource_subscriptions=uris) as sub:
                    if not sub.honored.resource_subscriptions:
                        raise RuntimeError("the server does not offer resource subscriptions")
                    if acked is not None:
                        acked.set()

                    async def restart(
                        scope: anyio.CancelScope = tg.cancel_scope, changed: anyio.Event = changed
                    ) -> None:
                        await changed.wait()
                        scope.cancel()

                    tg.start_soon(restart)
                    async for event in sub:
                        if isinstance(event, SdkResourceUpdated):
                            self._emit(ResourceUpdated(self.name, uri=event.uri))
                    tg.cancel_scope.cancel()
            except Exception as exc:
                self._subscription_error = describe_exception(exc)
                self.log.debug("resource subscription ended: %s", self._subscription_error)
                if acked is not None:
                    acked.set()
                await changed.wait()

    # ----------------------------------------------------------------------------- requests

    def offers_tool(self, name: str) -> bool:
        """Whether the current listing has this tool (a set lookup, rebuilt when the listing changes)."""
        listing = self.listing
        if listing is not self._tool_names_of:
            self._tool_names = {tool.name for tool in listing.tools}
            self._tool_names_of = listing
        return name in self._tool_names

    async def _wait_ready(self) -> Client:
        while True:
            # A session whose death was noticed but not yet handled is not ready: wait for the next.
            if self.state == State.READY and self._client is not None and not self._wake.is_set():
                return self._client
            if self.state in (State.FAILED, State.CLOSED, State.DISABLED, State.UNTRUSTED, State.NEEDS_AUTH):
                raise errors.ServerUnavailable(
                    self.name, self.state.value, self.unavailable_message(), next_retry_at=self.next_retry_at
                )
            await self._changed.wait()

    def unavailable_message(self) -> str:
        message = f"server is {self.state.value}"
        if self.state == State.RECONNECTING and self.next_retry_at is not None:
            at = time.strftime("%H:%M:%S", time.localtime(self.next_retry_at))
            message += f" (attempt {self.attempt}, next try at {at})"
        if self.error:
            message += f": {self.error}"
        return message

    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, Any],
        timeout: float,
        *,
        progress: Callable[[anyio.CancelScope], ProgressFnT] | None = None,
    ) -> CallToolResult:
        """Call a tool: the common case of ``MCPManager.call_tool``.

        On a ready 2025-era stdio session whose writer is not backed up, the deadline is the SDK's
        own per-request clock (it runs anyway) instead of a second cancel scope per call. That
        clock starts once the request is written, so everything else takes ``request()``, whose
        one deadline covers it all: waiting for a server, 2026-07-28 sessions (input-required
        rounds and re-listing run between requests), HTTP (a write can queue behind a slow POST),
        ``progress`` (given the deadline's scope, it returns the SDK's progress callback, which may
        move that deadline), and a stdio writer that is waiting for the server to read (a request
        that slips in behind one that is not yet waiting is bounded by the transport, which drops a
        server that leaves its stdin unread for twice ``timeout``). The errors are the same either
        way.
        """
        client = self._client
        transport = self._transport
        if (
            client is None
            or self._modern
            or self.state is not State.READY
            or self._wake.is_set()
            or timeout <= 0
            or progress is not None
            or transport is None
            or not transport.writer_idle
        ):
            return await self.request(
                f"tool {tool!r}",
                functools.partial(self._call_offered, tool, arguments, progress),
                timeout=timeout,
                timeout_error=errors.ToolTimeout,
            )
        if not self.offers_tool(tool):
            raise errors.ToolNotFound(f"{self.name} no longer offers the tool {tool!r}")
        meta: Any = self.request_meta()
        try:
            result = await client.session.call_tool(tool, arguments, read_timeout_seconds=timeout, meta=meta)
        except _mcp_error() as exc:
            raise self._translate(exc, f"tool {tool!r}", timeout, transport, errors.ToolTimeout) from None
        except _TRANSPORT_ERRORS as exc:
            raise self._broken(exc, f"tool {tool!r}", transport) from None
        self.last_activity = time.time()
        return result

    async def _call_offered(
        self,
        tool: str,
        arguments: dict[str, Any],
        progress: Callable[[anyio.CancelScope], ProgressFnT] | None,
        client: Client,
        scope: anyio.CancelScope,
    ) -> CallToolResult:
        """The call on whichever session is live once ready (it may be a new one)."""
        if not self.offers_tool(tool):
            raise errors.ToolNotFound(f"{self.name} no longer offers the tool {tool!r}")
        meta: Any = self.request_meta()
        callback = progress(scope) if progress is not None else None
        if self._is_modern(client):
            return await client.call_tool(tool, arguments, progress_callback=callback, meta=meta)
        return await client.session.call_tool(tool, arguments, progress_callback=callback, meta=meta)

    async def request(
        self,
        what: str,
        operation: Callable[[Client, anyio.CancelScope], Awaitable[T]],
        *,
        timeout: float | None = None,
        timeout_error: type[errors.RequestTimeout] = errors.RequestTimeout,
    ) -> T:
        """Run one request on the live session under a deadline, translating every failure.

        The deadline covers waiting for a (re)connecting server too; when it passes while the
        request is on the wire, cancelling it makes the SDK send ``notifications/cancelled``.
        A request is sent again only when it provably never ran: the server refused its stale
        session, or every HTTP POST it made was refused at connect (nothing reached the server),
        in which case it waits for the reconnect like any call made during one.
        """
        from mcp import MCPError

        limit = self.timeout if timeout is None else timeout
        waiting = True
        resent = False
        with anyio.CancelScope(deadline=anyio.current_time() + limit) as scope:
            while True:
                waiting = True
                client = self._client
                if client is None or self.state != State.READY or self._wake.is_set():
                    client = await self._wait_ready()
                waiting = False
                transport = self._transport
                try:
                    with track_posts() as posts:
                        result = await operation(client, scope)
                except MCPError as exc:
                    if not resent and _rejected_unsent(exc, transport):
                        # The server refused the stale session before running anything (it
                        # restarted): safe to send once more, on the fresh session, same deadline.
                        resent = True
                        reason = (transport.end_reason if transport else None) or "session rejected"
                        self._mark_lost(reason, transport)
                        continue
                    if posts.never_sent:
                        self._refused(transport)
                        continue
                    raise self._translate(exc, what, limit, transport, timeout_error) from None
                except _TRANSPORT_ERRORS as exc:
                    if posts.never_sent:
                        self._refused(transport)
                        continue
                    raise self._broken(exc, what, transport) from None
                self.last_activity = time.time()
                return result
        if waiting:
            raise errors.ServerUnavailable(
                self.name,
                self.state.value,
                f"not ready within {limit:g}s; {self.unavailable_message()}",
                next_retry_at=self.next_retry_at,
            )
        raise timeout_error(self.name, f"{what} timed out after {limit:g}s", timeout=limit)

    def _refused(self, transport: ManagedTransport | None) -> None:
        """The request's every POST was refused at connect: it never reached the server, which is
        down or restarting. End the session (the SDK's HTTP transport does not survive a connect
        failure anyway); the request waits for the reconnect within its own deadline, as during
        any reconnect, and is sent on the fresh session."""
        reason = (transport.end_reason if transport else None) or "the server cannot be reached"
        self._mark_lost(reason, transport)

    def _broken(self, exc: Exception, what: str, transport: ManagedTransport | None) -> errors.PatchbayError:
        """An error from below the SDK: a ``RuntimeError`` is the SDK refusing; the rest end the session."""
        if isinstance(exc, RuntimeError):
            return errors.ProtocolError(self.name, f"{what}: {exc}", code=-32603)
        self._mark_lost(describe_exception(exc), transport)
        return errors.ConnectionLost(self.name, f"connection lost during {what}")

    def _translate(
        self,
        exc: Any,
        what: str,
        limit: float,
        transport: ManagedTransport | None = None,
        timeout_error: type[errors.RequestTimeout] = errors.RequestTimeout,
    ) -> errors.PatchbayError:
        """An SDK error as a patchbay error; one that means the session is over also ends it.

        -32000 is also the start of the range servers use for their own errors, so only the SDK's
        own "Connection closed" (or a transport that has ended) counts as a lost connection.
        """
        code, message = exc.code, exc.message
        if code == _REQUEST_TIMEOUT:  # the SDK's own clock: a timeout even if the transport ends too
            return timeout_error(self.name, f"{what} timed out after {limit:g}s", timeout=limit)
        ended = transport is not None and (transport.ended.is_set() or transport.session_rejected)
        if ended or (code == _CONNECTION_CLOSED and message == "Connection closed"):
            reason = (transport.end_reason if transport else None) or self._lost_reason or "connection closed"
            self._mark_lost(reason, transport)
            return errors.ConnectionLost(self.name, f"connection lost during {what}: {reason}")
        if code == _INVALID_REQUEST and message == "Session terminated":
            self._mark_lost("the server ended the HTTP session", transport)
            return errors.ConnectionLost(self.name, f"{what}: the server ended the session")
        if code == _CONNECTION_CLOSED and message.startswith("SSE stream"):
            # This request's answer stream broke. The session may be fine (a proxy dropped one
            # stream) or the server may be dead: a health check right away tells which.
            self._suspect.set()
            return errors.ConnectionLost(self.name, f"{what}: {message}")
        return errors.ProtocolError(
            self.name,
            _redact(f"{what}: {message}", self._secrets),
            code=code,
            data=getattr(exc.error, "data", None),
        )

    # ------------------------------------------------------------------------------- status

    def status(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot; never contains env or header values."""
        config = self.config
        return {
            "name": self.name,
            "state": self.state.value,
            "error": self.error,
            "transport": config.transport,
            "enabled": config.enabled,
            "protocol_version": self.protocol_version,
            "server_name": self.server_name,
            "server_version": self.server_version,
            "capabilities": self.capabilities,
            "tools": len(self.listing.tools),
            "resources": len(self.listing.resources),
            "resource_templates": len(self.listing.templates),
            "prompts": len(self.listing.prompts),
            "pid": self.pid,
            "connected_at": self.connected_at,
            "last_activity": self.last_activity,
            "connect_ms": round(self.connect_seconds * 1000, 1) if self.connect_seconds is not None else None,
            "phases": dict(self.phases) or None,
            "truncated": dict(self.truncated) or None,
            "last_health_check": self.last_health_check,
            "reconnect": {
                "attempt": self.attempt,
                "max_attempts": config.resolved_reconnect(self.settings).attempts,
                "next_retry_at": self.next_retry_at,
            }
            if self.state == State.RECONNECTING
            else None,
        }
