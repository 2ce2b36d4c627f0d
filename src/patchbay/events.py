"""What happens in the fleet, as typed events: ``manager.subscribe(callback)`` or ``manager.events()``.

Events are published from inside each connection's receive path (a notification handler, a state
change), so publishing must never wait for a subscriber. Each subscriber therefore has its own
bounded buffer: when it is full the **oldest** event is dropped and the subscriber's ``dropped``
counter goes up. A slow subscriber loses old news, never blocks a server, and never makes another
subscriber miss anything. The newest event is the one worth keeping: a ``CatalogueChanged`` that
arrives after a dropped one still says "look again", and ``status()`` is always current.

Two ways to listen::

    async with manager.events() as events:      # an async iterator; closing it unsubscribes
        async for event in events:
            ...

    unsubscribe = manager.subscribe(callback)  # sync or async callback, run in the manager's task group,
    ...                                        # one event at a time, in order; exceptions are logged
    unsubscribe()
"""

from __future__ import annotations

import collections
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio

__all__ = [
    "LOG_LEVELS",
    "CatalogueChanged",
    "Event",
    "EventCallback",
    "EventHub",
    "EventStream",
    "LogMessage",
    "ResourceUpdated",
    "ServerStateChanged",
]

logger = logging.getLogger("patchbay")

DEFAULT_BUFFER = 256

LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}
"""MCP's log levels (RFC 5424's, ``LogMessage.level``) and the Python level each is logged at."""


@dataclass(frozen=True)
class Event:
    """The base of every event: which server it is about and when it happened (epoch seconds)."""

    server: str
    time: float = field(default_factory=time.time, compare=False, kw_only=True)


@dataclass(frozen=True)
class ServerStateChanged(Event):
    """A server's connection state changed: ``connecting``, ``ready``, ``reconnecting`` (``attempt``),
    ``failed``, ``needs_auth``, ``closed`` or ``disabled``; ``error`` says why when it is not ready."""

    state: str
    previous: str | None = None
    error: str | None = None
    attempt: int = 0


@dataclass(frozen=True)
class CatalogueChanged(Event):
    """A server's listing was (re)read; ``kinds`` are among ``tools``, ``prompts``, ``resources``."""

    kinds: frozenset[str]


@dataclass(frozen=True)
class ResourceUpdated(Event):
    """A subscribed resource changed on the server (``notifications/resources/updated``)."""

    uri: str


@dataclass(frozen=True)
class LogMessage(Event):
    """A ``notifications/message`` from a server (also logged under ``patchbay.server.<name>``)."""

    level: str
    data: Any
    logger: str | None = None


EventCallback = Callable[[Event], Awaitable[None] | None]


class _Buffer:
    """One subscriber's bounded queue: drop-oldest, never blocks the publisher."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.items: collections.deque[Event] = collections.deque()
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._wake = anyio.Event()

    def put(self, event: Event) -> None:
        if self.closed:
            return
        if len(self.items) >= self.maxsize:
            self.items.popleft()
            self.dropped += 1
        self.items.append(event)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def get(self) -> Event | None:
        """The next event, or ``None`` once closed and drained."""
        while True:
            if self.items:
                return self.items.popleft()
            if self.closed:
                return None
            wake = self._wake
            await wake.wait()
            if wake is self._wake:
                self._wake = anyio.Event()


class EventStream:
    """An async iterator of events for one subscriber; ``dropped`` counts events lost to overflow."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self._buffer = _Buffer(maxsize)
        if hub.closed:
            self._buffer.close()  # the manager is closed: nothing more will happen
        else:
            hub._buffers.add(self._buffer)

    @property
    def dropped(self) -> int:
        return self._buffer.dropped

    def pending(self) -> int:
        return len(self._buffer.items)

    def close(self) -> None:
        """Unsubscribe; iteration ends after the events already buffered."""
        self._hub._buffers.discard(self._buffer)
        self._buffer.close()

    async def get(self) -> Event:
        event = await self._buffer.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventHub:
    """Fans events out to every subscriber's buffer."""

    def __init__(self) -> None:
        self._buffers: set[_Buffer] = set()
        self.closed = False

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber; never blocks, never raises."""
        for buffer in list(self._buffers):
            buffer.put(event)

    def stream(self, maxsize: int = DEFAULT_BUFFER) -> EventStream:
        return EventStream(self, maxsize)

    def close(self) -> None:
        self.closed = True
        for buffer in list(self._buffers):
            buffer.close()
        self._buffers.clear()

    async def run_callback(self, stream: EventStream, callback: EventCallback) -> None:
        """Deliver a stream to a callback, one event at a time (the task lives in the manager's group)."""
        async for event in stream:
            try:
                outcome = callback(event)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception("event subscriber %r failed on %r", callback, event)
