"""One server's connection as callers see it: requests on the live session, under one deadline.

``Supervisor`` (``_supervisor``) owns the session; this class adds the request path on top of it:
waiting for a ready session, sending, translating every failure once (``.._sdk_errors``), and
sending again only what provably never ran. Every SDK request patchbay makes goes through here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .. import errors
from .._sdk_errors import (
    TRANSPORT_ERRORS,
    Verdict,
    classify_exception,
    classify_mcp_error,
    describe_exception,
    rejected_unsent,
)
from ..results import Completion, PromptResult, ResourceResult, ToolResult
from ..transports import ManagedTransport, track_posts
from . import _verbs
from ._attempt import mcp_error
from ._session_state import SessionState, speaks_2026
from ._supervisor import State, Supervisor
from ._verbs import ProgressCallback, ProgressWatch

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult

__all__ = ["Connection"]

T = TypeVar("T")

_OVER = (State.FAILED, State.CLOSED, State.DISABLED, State.UNTRUSTED, State.NEEDS_AUTH)
"""States a request cannot wait out."""


class Connection(Supervisor):
    """One configured server: its supervisor (the base class) and the requests sent to it."""

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
            # A session whose end was noticed but not yet handled is not ready: wait for the next.
            if self.state == State.READY and self._client is not None and not self._session_over.is_set():
                return self._client
            if self.state in _OVER:
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

    def request_meta(self) -> dict[str, Any] | None:
        """Per-request ``_meta`` for 2026-07-28 sessions: the log-level opt-in, if one was set."""
        return self._session_state.request_meta(self._client)

    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
        reset_timeout_on_progress: bool | None = None,
        max_total_timeout: float | None = None,
    ) -> ToolResult:
        """Call a tool by its server-side name: the whole of ``MCPManager.call_tool`` but the lookup.

        With ``reset_timeout_on_progress`` (default: the server's config option) each progress
        notification restarts the deadline, but never beyond ``max_total_timeout`` from the start.
        """
        limit = self.timeout if timeout is None else timeout
        if reset_timeout_on_progress is None:
            reset_timeout_on_progress = self.config.reset_timeout_on_progress
        watch = _verbs.progress_watch(limit, progress, reset_timeout_on_progress, max_total_timeout)
        result = await self._call(tool, arguments, limit, watch)
        return _verbs.tool_result(self.name, tool, result)

    async def _call(
        self, tool: str, arguments: dict[str, Any], timeout: float, watch: ProgressWatch | None
    ) -> CallToolResult:
        """The fast path where it is safe, else ``request()``.

        On a ready 2025-era stdio session whose writer is not backed up, the deadline is the SDK's
        own per-request clock (it runs anyway) instead of a second cancel scope per call. That
        clock starts once the request is written, so everything else takes ``request()``, whose
        one deadline covers it all: waiting for a server, 2026-07-28 sessions (input-required
        rounds and re-listing run between requests), HTTP (a write can queue behind a slow POST),
        a progress watch (given the deadline's scope, it returns the SDK's progress callback, which
        may move that deadline), and a stdio writer that is waiting for the server to read (a
        request that slips in behind one that is not yet waiting is bounded by the transport, which
        drops a server that leaves its stdin unread for twice ``timeout``). The errors are the same
        either way.
        """
        client = self._client
        transport = self._transport
        if (
            client is None
            or self._stateless
            or self.state is not State.READY
            or self._session_over.is_set()
            or timeout <= 0
            or watch is not None
            or transport is None
            or not transport.writer_idle
        ):
            return await self.request(
                f"tool {tool!r}",
                functools.partial(self._call_offered, tool, arguments, watch),
                timeout=timeout,
                timeout_error=errors.ToolTimeout,
            )
        if not self.offers_tool(tool):
            raise errors.ToolNotFound(f"{self.name} no longer offers the tool {tool!r}")
        meta: Any = self.request_meta()
        try:
            result = await client.session.call_tool(tool, arguments, read_timeout_seconds=timeout, meta=meta)
        except mcp_error() as exc:
            raise self._translate(exc, f"tool {tool!r}", timeout, transport, errors.ToolTimeout) from None
        except TRANSPORT_ERRORS as exc:
            raise self._broken(exc, f"tool {tool!r}", transport) from None
        self.last_activity = time.time()
        return result

    async def _call_offered(
        self,
        tool: str,
        arguments: dict[str, Any],
        watch: ProgressWatch | None,
        client: Client,
        scope: anyio.CancelScope,
    ) -> CallToolResult:
        """The call on whichever session is live once ready (it may be a new one)."""
        if not self.offers_tool(tool):
            raise errors.ToolNotFound(f"{self.name} no longer offers the tool {tool!r}")
        meta: Any = self.request_meta()
        callback = watch(scope) if watch is not None else None
        if speaks_2026(client):
            return await client.call_tool(tool, arguments, progress_callback=callback, meta=meta)
        return await client.session.call_tool(tool, arguments, progress_callback=callback, meta=meta)

    async def get_prompt(
        self, exposed: str, original: str, arguments: Mapping[str, str], *, timeout: float | None = None
    ) -> PromptResult:
        """Render a prompt by its server-side name; ``exposed`` is the name the result carries."""

        async def operation(client: Client, _scope: anyio.CancelScope) -> PromptResult:
            meta = self.request_meta()
            return await _verbs.get_prompt(
                client, server=self.name, exposed=exposed, original=original, args=arguments, meta=meta
            )

        try:
            return await self.request(f"prompt {original!r}", operation, timeout=timeout)
        except errors.ProtocolError as exc:
            refused = _verbs.prompt_refused(exc, self.name)
            if refused is exc:
                raise
            raise refused from None

    async def read_resource(self, uri: str, *, timeout: float | None = None) -> ResourceResult:
        async def operation(client: Client, _scope: anyio.CancelScope) -> ResourceResult:
            return await _verbs.read_resource(client, self.name, uri, self.request_meta())

        try:
            return await self.request(f"resource {uri!r}", operation, timeout=timeout)
        except errors.ProtocolError as exc:
            refused = _verbs.resource_refused(exc, self.name)
            if refused is exc:
                raise
            raise refused from None

    async def complete(
        self,
        ref: Any,
        argument: tuple[str, str],
        context: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> Completion:
        """``completion/complete`` for one argument; ``ref`` is the SDK's prompt or template reference."""
        name, value = argument

        async def operation(client: Client, _scope: anyio.CancelScope) -> Completion:
            return await _verbs.complete(client, ref, name, value, context)

        return await self.request(f"completion of {name!r}", operation, timeout=timeout)

    async def set_log_level(self, level: str) -> None:
        """2025 era: ``logging/setLevel`` now; 2026-07-28: stamped on every later request."""
        self._session_state.log_level = level

        async def operation(client: Client, _scope: anyio.CancelScope) -> None:
            await self._session_state.send_log_level(client, level)

        await self.request("logging/setLevel", operation)

    async def set_subscribed(self, uri: str, subscribe: bool) -> None:
        """Subscribe to (or drop) ``resources/updated`` for ``uri``; returns once the server agreed."""

        async def operation(client: Client, _scope: anyio.CancelScope) -> None:
            await self._session_state.set_subscribed(client, uri, subscribe)

        await self.request(f"{'subscribe' if subscribe else 'unsubscribe'} {uri!r}", operation)

    async def send_roots_changed(self) -> None:
        """Tell a 2025-era server its roots changed (2026-07-28 has no such notification)."""
        if self._client is not None:
            await SessionState.send_roots_changed(self._client, self.log)

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
                if client is None or self.state != State.READY or self._session_over.is_set():
                    client = await self._wait_ready()
                waiting = False
                transport = self._transport
                try:
                    with track_posts() as posts:
                        result = await operation(client, scope)
                except MCPError as exc:
                    rejected = transport is not None and transport.session_rejected
                    if not resent and rejected_unsent(str(exc.message), session_rejected=rejected):
                        # The server refused the stale session before running anything (it
                        # restarted): safe to send once more, on the fresh session, same deadline.
                        resent = True
                        self._mark_lost(
                            (transport.end_reason if transport else None) or "session rejected", transport
                        )
                        continue
                    if posts.never_sent:
                        self._refused(transport)
                        continue
                    raise self._translate(exc, what, limit, transport, timeout_error) from None
                except TRANSPORT_ERRORS as exc:
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
        """An error from below the SDK (see ``classify_exception``)."""
        if classify_exception(exc) is Verdict.SDK_REFUSED:
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
        """An SDK error as a patchbay error (see ``classify_mcp_error``); one that means the
        session is over also ends it."""
        code, message = exc.code, exc.message
        over = transport is not None and (transport.ended.is_set() or transport.session_rejected)
        verdict = classify_mcp_error(code, message, transport_over=over)
        if verdict is Verdict.TIMED_OUT:
            return timeout_error(self.name, f"{what} timed out after {limit:g}s", timeout=limit)
        if verdict is Verdict.SESSION_OVER:
            reason = (
                self._stop_reason
                if self._stop.is_set()
                else (transport.end_reason if transport else None) or self._lost_reason or "connection closed"
            )
            self._mark_lost(reason, transport)
            return errors.ConnectionLost(self.name, f"connection lost during {what}: {reason}")
        if verdict is Verdict.ENDED_BY_SERVER:
            self._mark_lost("the server ended the HTTP session", transport)
            return errors.ConnectionLost(self.name, f"{what}: the server ended the session")
        if verdict is Verdict.STREAM_BROKEN:
            # The session may be fine (a proxy dropped one stream) or the server may be dead.
            self._check_now.set()
            return errors.ConnectionLost(self.name, f"{what}: {message}")
        return errors.ProtocolError(
            self.name, self._redact(f"{what}: {message}"), code=code, data=getattr(exc.error, "data", None)
        )
