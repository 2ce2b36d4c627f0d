"""One server's supervisor: the task that owns its session, and the state it keeps.

The SDK's transports and sessions are anyio context managers that must be entered and exited by
the same task. So each server gets one long-lived supervisor task that opens the transport and
the ``mcp.Client`` session, lists everything, serves until the connection dies or is stopped,
and then backs off and reconnects. Other tasks never touch the contexts: they wait until the
connection is ready and send requests through the live session, each under its own deadline.

Beside it: ``_attempt`` (opening one session), ``_listing`` (pages and refreshes),
``_session_state`` (log level and subscriptions across reconnects), ``_health`` (probes) and
``_stderr`` (what a failed server said). ``Connection`` (``_connection``) adds the request path.
"""

from __future__ import annotations

import enum
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.abc

from .._redaction import guard_loggers, redact, register_secrets, server_secrets
from .._sdk_errors import (
    describe_exception,
)
from .._sdk_logs import route_sdk_logs
from ..catalogue import ServerListing
from ..config import ServerConfig, Settings
from ..events import LOG_LEVELS, CatalogueChanged, Event, LogMessage, ResourceUpdated, ServerStateChanged
from ..transports import ManagedTransport, build_transport
from . import _health
from ._attempt import ConnectFailed, NeedsAuth, Opened, PhaseClock, connect_failure, sdk_client
from ._listing import ALL_KINDS, Lister
from ._session_state import SessionState, speaks_2026
from ._stderr import with_stderr

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["State", "Supervisor"]

T = TypeVar("T")


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


class Supervisor:
    """The live state of one configured server and the task that supervises it.

    The supervisor task alone opens, serves and closes sessions. What it shares with the request
    path (``Connection``) is narrow: the live ``_client`` and its ``_transport`` (set together
    while a session is ready), the ``_session_over`` event and ``_mark_lost`` to end a session,
    ``_check_now`` to ask for a health check, and the state with its ``_changed`` event.
    """

    def __init__(
        self,
        config: ServerConfig,
        settings: Settings,
        *,
        on_listing_changed: Callable[[Supervisor], None],
        client_options: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        on_event: Callable[[Event], None] | None = None,
        auth_factory: Callable[[ServerConfig], Any] | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self._on_listing_changed = on_listing_changed
        self._on_event = on_event
        self._auth_factory = auth_factory
        """The ``httpx2.Auth`` for an HTTP/SSE server's next attempt (or ``None``)."""
        # A factory is called at each attempt, after the transport is open: building SDK objects
        # imports the SDK, and a server should already be starting while that happens.
        self._client_options = client_options if callable(client_options) else dict(client_options or {})
        self.state: State = State.DISABLED if not config.enabled else State.CLOSED
        self.error: str | None = config.error
        self.log = logging.getLogger(f"patchbay.server.{config.name}")
        self.listing = ServerListing()
        self._lister = Lister(config, settings, self.log)
        self._session_state = SessionState(config.name, self.log, self._emit)
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
        self._clock = PhaseClock()
        self.attempt = 0
        self.next_retry_at: float | None = None
        self.last_health_check: float | None = None
        self._client: Client | None = None
        self._stateless = False
        """Whether the live session speaks 2026-07-28 (set with ``_client``)."""
        self._transport: ManagedTransport | None = None
        self._changed = anyio.Event()
        """Set (and replaced) at every state change: what waiters for a state wait on."""
        self._stop = anyio.Event()
        self._stop_reason = "connection closed"
        """Why the session was stopped, for the calls it cuts short (``stop(reason)``)."""
        self._session_over = anyio.Event()
        """Set when the live session must end (lost, dead, stopped): the supervisor then reconnects."""
        self._check_now = anyio.Event()
        """Set when there is reason to doubt the session: its health check runs at once."""
        self._done = anyio.Event()
        self._attempt_scope: anyio.CancelScope | None = None
        self._running = False
        self._lost_reason: str | None = None
        self._secrets = server_secrets(config)
        register_secrets(self, self._secrets)  # server stderr and HTTP request logs print them otherwise
        guard_loggers(self.log.name)
        route_sdk_logs()

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

    @property
    def phases(self) -> dict[str, float]:
        """Milliseconds of the last attempt's phases reached so far: ``spawn_ms`` (process started,
        or HTTP transport opened), ``handshake_ms``, ``listing_ms``; for ``patchbay doctor``. Each
        is this server's own: the host importing the SDK meanwhile is left out."""
        return self._clock.phases

    @property
    def truncated(self) -> dict[str, str]:
        """Lists cut short by the page or item cap: list name -> why (``status()["truncated"]``)."""
        return self._lister.truncated

    @property
    def log_level(self) -> str | None:
        """Set by ``set_log_level``; re-applied after every reconnect."""
        return self._session_state.log_level

    @property
    def subscriptions(self) -> set[str]:
        """Resource URIs subscribed to; re-subscribed after every reconnect."""
        return self._session_state.subscriptions

    def reconfigure(self, config: ServerConfig, settings: Settings) -> None:
        """Take a reloaded entry that ``diff_servers`` found unchanged, and the new settings.

        The live session stays; timeouts, limits and reconnect rules apply from the next use.
        """
        self.config = self._lister.config = config
        self.settings = self._lister.settings = settings

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

    def _redact(self, text: str) -> str:
        """Mask this server's secrets and every registered one (the OAuth tokens patchbay holds)."""
        return redact(text, self._secrets)

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

    async def stop(self, reason: str = "connection closed") -> None:
        """Ask the supervisor to close the session and wait until its process is gone.

        ``reason`` is what a call still running on the session is told (``ConnectionLost``).
        """
        self._stop_reason = reason
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
                        ever_ready = await self._run_session(ever_ready) or ever_ready
                    except NeedsAuth as exc:
                        self.log.warning("needs authorisation: %s", exc)
                        self._set_state(State.NEEDS_AUTH, self._redact(str(exc)))
                        return
                    except ConnectFailed as exc:
                        failure = self._redact(str(exc))
                self._attempt_scope = None
                if self._stop.is_set() or not await self._back_off(failure, ever_ready):
                    break
        finally:
            self._attempt_scope = None
            self._client = None
            self.pid = None
            self._running = False
            self._forget_listing()
            if self._stop.is_set() or self.state not in (State.FAILED, State.NEEDS_AUTH):
                self._set_state(State.CLOSED)
            self._done.set()

    async def _back_off(self, failure: str | None, ever_ready: bool) -> bool:
        """After an attempt ended: wait out the backoff and return ``True`` to try again, or fail."""
        if failure is not None:
            if not ever_ready:
                self.log.warning("failed to connect: %s", failure)
                self._set_state(State.FAILED, failure)
                return False
            self.error = failure
        else:
            # The listing stays while reconnecting: calls wait for the server instead of
            # failing with "tool not found", and it is re-read once the server is back.
            self.attempt = 0
            self.error = self._redact(self._lost_reason or "connection lost")
            self.log.warning("connection lost: %s", self.error)
        reconnect = self.config.resolved_reconnect(self.settings)
        if self.attempt >= reconnect.attempts:
            self._forget_listing()
            self._set_state(State.FAILED, self.error)
            return False
        self.attempt += 1
        delay = random.uniform(0, min(reconnect.max_delay, reconnect.base_delay * 2 ** (self.attempt - 1)))
        self.next_retry_at = time.time() + delay
        self._set_state(State.RECONNECTING, self.error)
        with anyio.move_on_after(delay):
            await self._stop.wait()
        self.next_retry_at = None
        return True

    def _forget_listing(self) -> None:
        if self.listing.tools or self.listing.prompts or self.listing.resources or self.listing.templates:
            self._set_listing(ServerListing(), ALL_KINDS)

    def _set_listing(self, listing: ServerListing, kinds: frozenset[str]) -> None:
        self.listing = listing
        self._on_listing_changed(self)
        self._emit(CatalogueChanged(self.name, kinds=kinds))

    async def _run_session(self, reconnecting: bool) -> bool:
        """One connection attempt and, if it succeeds, its whole life. Returns whether it was ready."""
        if not reconnecting:
            self._set_state(State.CONNECTING)
        self._session_over = anyio.Event()
        self._lost_reason = None
        transport = build_transport(
            self.config,
            connect_timeout=self.connect_timeout,
            shutdown_grace=self.config.resolved_shutdown_grace(self.settings),
            stall_timeout=2 * self.timeout,
            auth=self._auth(),
            redact=self._redact,
            max_response_bytes=self.settings.max_response_bytes,
        )
        self._transport = transport
        ready = False
        if self.config.transport != "stdio":
            sdk_client()  # the HTTP transport imports the SDK when opened; nothing is spawned meanwhile
        self._clock.restart()
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout) as connect_scope:
                # The transport is opened before the SDK is imported: the first connect of a
                # process pays ~0.5 s for that import, and the servers now start meanwhile.
                async with transport as streams, self._open_client(streams) as client:
                    self._clock.done("handshake")
                    self.pid = transport.pid
                    self.listing = await self._lister.list_all(client, self.listing)
                    self._clock.done("listing")
                    await self._session_state.restore(client)
                    connect_scope.deadline = math.inf
                    self._publish(client, self._clock.elapsed())
                    ready = True
                    await self._serve(client, transport)
            if connect_scope.cancelled_caught and not ready:
                message = f"timed out after {self.connect_timeout:g}s connecting"
                raise ConnectFailed(with_stderr(message, transport))
        except ConnectFailed:
            raise
        except Exception as exc:
            if not ready:
                raise connect_failure(exc, transport) from exc
            self._lost_reason = self._lost_reason or describe_exception(exc)
        finally:
            self._client = None
            self._transport = None
        if ready and self._lost_reason is None and not self._stop.is_set():
            self._lost_reason = transport.end_reason or "connection closed"
        return ready

    def _open_client(self, streams: Any) -> Client:
        options = self._client_options() if callable(self._client_options) else self._client_options
        return sdk_client()(
            Opened(streams, lambda: self._clock.done("spawn")),
            mode=self.config.protocol,
            message_handler=self._on_message,
            logging_callback=self._on_log,
            cache=None,
            **options,
        )

    async def _serve(self, client: Client, transport: ManagedTransport) -> None:
        """The ready session's own tasks, until the session is over."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_transport, transport)
            tg.start_soon(
                self._lister.refresh_loop,
                client,
                lambda: self.listing,
                lambda: self.timeout,
                self._set_listing,
            )
            self._check_now = anyio.Event()
            tg.start_soon(
                self._health_checks,
                client,
                transport,
                _health.health_interval(self.config, self.settings, client),
            )
            if speaks_2026(client):
                tg.start_soon(self._listen_for_changes, client)
                tg.start_soon(self._session_state.listen_for_updates, client)
            await self._session_over.wait()
            tg.cancel_scope.cancel()
        self._client = None

    def _auth(self) -> Any:
        if self._auth_factory is None or self.config.transport == "stdio":
            return None
        return self._auth_factory(self.config)

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
        self._stateless = speaks_2026(client)
        self._client = client
        self._set_state(State.READY)
        self._on_listing_changed(self)
        self._emit(CatalogueChanged(self.name, kinds=ALL_KINDS))
        self.log.info("ready (%s, %.0f ms)", self.protocol_version, connect_seconds * 1000)

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
        self._session_over.set()

    async def _listen_for_changes(self, client: Client) -> None:
        if await self._lister.listen_for_changes(client):
            # The one stream a 2026-07-28 session keeps open ended: often because the server
            # went away. A health check right away tells (it ends the session if it is gone).
            self._check_now.set()

    # ------------------------------------------------------------------------------ health

    async def _health_checks(
        self, client: Client, transport: ManagedTransport, interval: float | None
    ) -> None:
        """Every ``interval`` s (if set), and at once when there is reason to doubt the session, a
        cheap request; a server that does not answer within ``timeout`` is dead.

        A broken answer stream is often the only sign of death a stateless (2026-07-28) HTTP
        session gives: nothing else is open between requests.
        """
        while True:
            with anyio.move_on_after(interval or math.inf):
                await self._check_now.wait()
            self._check_now = anyio.Event()
            reason = await _health.probe(client, transport, self.timeout)
            if reason is not None:
                self.log.warning("%s", reason)
                self._mark_lost(reason, transport)
                return
            self.last_health_check = time.time()

    # ------------------------------------------------------------- what the server sends unasked

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
        elif method == "notifications/resources/updated" and not (
            self._client is not None and self._stateless
        ):
            # 2026-07-28 updates come through the listen stream (``SessionState``) and are teed
            # here too; count them once.
            self._emit(ResourceUpdated(self.name, uri=str(message.params.uri)))

    async def _on_log(self, params: Any) -> None:
        level = LOG_LEVELS.get(str(params.level), logging.INFO)
        origin = f"[{params.logger}] " if params.logger else ""
        self.log.log(level, "%s%s", origin, params.data)
        self._emit(LogMessage(self.name, level=str(params.level), data=params.data, logger=params.logger))

    def request_refresh(self, *kinds: str) -> None:
        self._lister.request_refresh(*kinds)

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
