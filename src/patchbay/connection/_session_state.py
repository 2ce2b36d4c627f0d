"""What the host asked of a server's session, kept across reconnects: log level, subscriptions.

A 2025-era session holds this state on the server (``logging/setLevel``, ``resources/subscribe``),
so it is re-applied after every reconnect. A 2026-07-28 session holds none: the log level rides
on every request's ``_meta`` and resource updates come through one ``subscriptions/listen``
stream, reopened whenever the set of subscribed URIs changes.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import anyio

from .. import errors
from .._sdk_errors import describe_exception
from ..events import Event, ResourceUpdated

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["SessionState", "speaks_2026"]

_STATELESS_REVISION = "2026-07-28"


def speaks_2026(client: Client) -> bool:
    """Whether a session negotiated the 2026-07-28 revision (stateless, no handshake state)."""
    return (client.session.protocol_version or "") >= _STATELESS_REVISION


@contextlib.contextmanager
def _the_2025_way() -> Iterator[None]:
    """The SDK marks the 2025 revisions' stateful requests deprecated; a 2025 session needs them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class SessionState:
    """A server's log level and resource subscriptions, and how each era applies them."""

    def __init__(self, server: str, log: logging.Logger, emit: Callable[[Event], None]) -> None:
        self._server = server
        self._log = log
        self._emit = emit
        self.log_level: str | None = None
        """Set by ``set_log_level``; re-applied after every reconnect."""
        self.subscriptions: set[str] = set()
        """Resource URIs subscribed to; re-subscribed after every reconnect."""
        self._changed = anyio.Event()
        self._acked: anyio.Event | None = None
        self._error: str | None = None

    async def restore(self, client: Client) -> None:
        """Re-apply what the host asked of the previous session (2025 era; 2026 carries it per request)."""
        if speaks_2026(client):
            return
        if self.log_level is not None:
            await self._legacy_set_level(client, self.log_level)
        for uri in sorted(self.subscriptions):
            try:
                await self._legacy_subscribe(client, uri, subscribe=True)
            except Exception as exc:
                self._log.warning("re-subscribing to %s failed: %s", uri, describe_exception(exc))

    def request_meta(self, client: Client | None) -> dict[str, Any] | None:
        """Per-request ``_meta`` for 2026-07-28 sessions: the log-level opt-in, if one was set."""
        if self.log_level is None or client is None or not speaks_2026(client):
            return None
        from mcp_types import LOG_LEVEL_META_KEY

        return {LOG_LEVEL_META_KEY: self.log_level}

    async def send_log_level(self, client: Client, level: str) -> None:
        """Tell a 2025 session ``level`` now (``logging/setLevel``); a 2026 one reads ``_meta``."""
        if not speaks_2026(client):
            await self._legacy_set_level(client, level)

    async def set_subscribed(self, client: Client, uri: str, subscribe: bool) -> None:
        """Subscribe to (or drop) ``resources/updated`` for ``uri``; returns once the server agreed."""
        caps = client.session.server_capabilities
        if not (caps is not None and caps.resources is not None and caps.resources.subscribe):
            self.subscriptions.discard(uri)
            if not subscribe:
                return  # nothing can have been subscribed: nothing to send
            offer = "the server does not offer resource subscriptions"
            raise errors.NotSupported(self._server, f"cannot subscribe to {uri!r}: {offer}")
        if not speaks_2026(client):
            await self._legacy_subscribe(client, uri, subscribe=subscribe)
            self._change(uri, subscribe)
            return
        acked = self._change(uri, subscribe)
        await acked.wait()
        if subscribe and self._error is not None:
            self.subscriptions.discard(uri)
            raise errors.ProtocolError(self._server, f"subscribe {uri!r}: {self._error}", code=-32603)

    @staticmethod
    async def send_roots_changed(client: Client, log: logging.Logger) -> None:
        """Tell a 2025-era server its roots changed (2026-07-28 has no such notification)."""
        if speaks_2026(client):
            return
        try:
            with _the_2025_way():
                await client.session.send_roots_list_changed()
        except Exception as exc:
            log.debug("roots/list_changed not sent: %s", describe_exception(exc))

    def _change(self, uri: str, subscribe: bool) -> anyio.Event:
        if subscribe:
            self.subscriptions.add(uri)
        else:
            self.subscriptions.discard(uri)
        acked = self._acked = anyio.Event()
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        return acked

    async def listen_for_updates(self, client: Client) -> None:
        """2026-07-28: one ``subscriptions/listen`` for the subscribed URIs, reopened when they change."""
        while True:
            changed = self._changed
            uris = sorted(self.subscriptions)
            acked = self._acked
            self._error = None
            try:
                if not uris:
                    if acked is not None:
                        acked.set()
                    await changed.wait()
                    continue
                await self._listen(client, uris, acked, changed)
            except Exception as exc:
                self._error = describe_exception(exc)
                self._log.debug("resource subscription ended: %s", self._error)
                if acked is not None:
                    acked.set()
                await changed.wait()

    async def _listen(
        self, client: Client, uris: list[str], acked: anyio.Event | None, changed: anyio.Event
    ) -> None:
        """One listen stream for ``uris``, until the stream ends or the subscriptions change."""
        from mcp.client.subscriptions import ResourceUpdated as SdkResourceUpdated

        async with anyio.create_task_group() as tg, client.listen(resource_subscriptions=uris) as sub:
            if not sub.honored.resource_subscriptions:
                raise RuntimeError("the server does not offer resource subscriptions")
            if acked is not None:
                acked.set()

            async def restart() -> None:
                await changed.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(restart)
            async for event in sub:
                if isinstance(event, SdkResourceUpdated):
                    self._emit(ResourceUpdated(self._server, uri=event.uri))
            tg.cancel_scope.cancel()

    @staticmethod
    async def _legacy_set_level(client: Client, level: str) -> None:
        with _the_2025_way():
            await client.session.set_logging_level(level)  # type: ignore[arg-type]

    @staticmethod
    async def _legacy_subscribe(client: Client, uri: str, *, subscribe: bool) -> None:
        with _the_2025_way():
            if subscribe:
                await client.session.subscribe_resource(uri)
            else:
                await client.session.unsubscribe_resource(uri)
