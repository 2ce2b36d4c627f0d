"""Fleet events: state changes, catalogue refresh on list_changed, logs, resource updates (both eras)."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from patchbay import ConnectionLost, MCPManager
from patchbay.events import (
    CatalogueChanged,
    Event,
    EventHub,
    EventStream,
    LogMessage,
    ResourceUpdated,
    ServerStateChanged,
)

from .conftest import fleet, stdio

pytestmark = pytest.mark.anyio

ERAS = pytest.mark.parametrize("mode", ["legacy", "auto"])


async def next_event(events: EventStream, kind: type[Event], timeout: float = 15, **match: Any) -> Any:
    """The next event of ``kind`` whose fields equal ``match`` (others are skipped)."""
    with anyio.fail_after(timeout):
        async for event in events:
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event
    raise AssertionError(f"the stream ended before a {kind.__name__} {match}")


async def test_state_changes_are_events() -> None:
    manager = MCPManager(fleet(echo=stdio("echo.py"), broken=stdio("crash.py")), wait=False)
    async with manager.events() as events, manager:
        states: dict[str, list[ServerStateChanged]] = {"echo": [], "broken": []}
        with anyio.fail_after(15):
            async for event in events:
                if isinstance(event, ServerStateChanged):
                    states[event.server].append(event)
                if {"ready", "failed"} <= {s[-1].state for s in states.values() if s}:
                    break
        assert [e.state for e in states["echo"]] == ["connecting", "ready"]
        assert [e.state for e in states["broken"]] == ["connecting", "failed"]
        assert "missing API key" in (states["broken"][-1].error or "")
        await manager.disconnect("echo")
        closed = await next_event(events, ServerStateChanged, server="echo")
        assert (closed.previous, closed.state) == ("ready", "closed")


@ERAS
async def test_list_changed_refreshes_every_page_and_tells_subscribers(mode: str) -> None:
    """host.py pages tools/list by two; a tool added at runtime must appear after the last page."""
    async with MCPManager(fleet(host=stdio("host.py", protocol=mode))) as manager, manager.events() as events:
        before = {t.original_name for t in manager.tools()}
        assert len(before) > 2  # more than one page
        await manager.call_tool("mcp__host__add_tool", {"name": "zz_late"})
        changed = await next_event(events, CatalogueChanged, server="host")
        assert "tools" in changed.kinds
        after = {t.original_name for t in manager.tools()}
        assert after == before | {"zz_late"}
        assert (await manager.call_tool("mcp__host__zz_late", {"text": "hi"})).text == "zz_late: hi"


@ERAS
async def test_notify_server_changes_reach_the_catalogue(mode: str) -> None:
    async with (
        MCPManager(fleet(notify=stdio("notify.py", protocol=mode))) as manager,
        manager.events() as events,
    ):
        await manager.call_tool("mcp__notify__add_tool", {"name": "fresh"})
        await next_event(events, CatalogueChanged, server="notify", kinds=frozenset({"tools"}))
        assert manager.get_tool("mcp__notify__fresh").server == "notify"

        await manager.call_tool("mcp__notify__add_resource", {"uri": "note://x", "text": "x"})
        await next_event(events, CatalogueChanged, server="notify", kinds=frozenset({"resources"}))
        assert "note://x" in {r.uri for r in manager.resources()}

        await manager.call_tool("mcp__notify__add_prompt", {"name": "hello"})
        await next_event(events, CatalogueChanged, server="notify", kinds=frozenset({"prompts"}))
        assert "hello" in {p.original_name for p in manager.prompts()}

        await manager.call_tool("mcp__notify__remove_tool", {"name": "fresh"})
        await next_event(events, CatalogueChanged, server="notify", kinds=frozenset({"tools"}))
        assert "fresh" not in {t.original_name for t in manager.tools()}


@ERAS
async def test_log_level_filters_and_messages_become_events_and_records(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="patchbay.server.host")
    async with MCPManager(fleet(host=stdio("host.py", protocol=mode))) as manager, manager.events() as events:
        await manager.set_log_level("host", "warning")
        await manager.call_tool("mcp__host__log", {"level": "info", "text": "too quiet"})
        await manager.call_tool("mcp__host__log", {"level": "error", "text": "loud"})
        message = await next_event(events, LogMessage, server="host")
        assert (message.level, message.data, message.logger) == ("error", "loud", "host")
        records = [r for r in caplog.records if r.name == "patchbay.server.host" and "loud" in r.getMessage()]
        assert records
        assert records[0].levelno == logging.ERROR
        assert not any("too quiet" in r.getMessage() for r in caplog.records)
        with pytest.raises(ValueError, match="unknown log level"):
            await manager.set_log_level("host", "loud")


@ERAS
async def test_resource_subscriptions(mode: str) -> None:
    async with MCPManager(fleet(host=stdio("host.py", protocol=mode))) as manager, manager.events() as events:
        await manager.subscribe_resource("host://a")
        await manager.call_tool("mcp__host__touch", {"uri": "host://a"})
        assert (await next_event(events, ResourceUpdated)).uri == "host://a"

        await manager.subscribe_resource("host://b")
        await manager.unsubscribe_resource("host://a")
        await manager.call_tool("mcp__host__touch", {"uri": "host://a"})
        await manager.call_tool("mcp__host__touch", {"uri": "host://b"})
        # Only b is subscribed now: the next update is b's, a's never arrives.
        assert (await next_event(events, ResourceUpdated)).uri == "host://b"


async def test_subscriptions_and_log_level_survive_a_reconnect() -> None:
    entry = stdio(
        "host.py", protocol="legacy", reconnect={"attempts": 3, "base_delay": 0.05, "max_delay": 0.1}
    )
    async with MCPManager(fleet(host=entry)) as manager, manager.events() as events:
        await manager.subscribe_resource("host://a")
        await manager.set_log_level("host", "error")
        with pytest.raises(ConnectionLost):
            await manager.call_tool("mcp__host__exit")
        await next_event(events, ServerStateChanged, server="host", state="reconnecting")
        await next_event(events, ServerStateChanged, server="host", state="ready")
        await manager.call_tool("mcp__host__log", {"level": "warning", "text": "filtered"})
        await manager.call_tool("mcp__host__touch", {"uri": "host://a"})
        await manager.call_tool("mcp__host__log", {"level": "critical", "text": "kept"})
        seen = []
        while len(seen) < 2:
            event = await next_event(events, Event)
            if isinstance(event, (ResourceUpdated, LogMessage)):
                seen.append(event)
        assert isinstance(seen[0], ResourceUpdated)
        assert seen[0].uri == "host://a"
        assert isinstance(seen[1], LogMessage)
        assert seen[1].data == "kept"


async def test_completions_for_prompt_arguments() -> None:
    async with MCPManager(fleet(host=stdio("host.py"))) as manager:
        done = await manager.complete("mcp__host__greet", ("name", "Al"))
        assert done.values == ["Alan", "Alonzo"]
        assert done.total == 2
        prompt = manager.prompts()[0]
        assert (await manager.complete(prompt, {"name": "name", "value": "g"})).values == ["Grace"]


# ----------------------------------------------------------------------- delivery, without servers


async def test_slow_subscriber_loses_oldest_events_only() -> None:
    hub = EventHub()
    slow = hub.stream(maxsize=3)
    fast = hub.stream(maxsize=100)
    for i in range(5):
        hub.publish(ResourceUpdated("s", uri=f"u{i}"))
    assert slow.dropped == 2
    assert fast.dropped == 0
    assert [(await slow.get()).uri for _ in range(3)] == ["u2", "u3", "u4"]  # type: ignore[attr-defined]
    assert fast.pending() == 5
    slow.close()
    hub.publish(ResourceUpdated("s", uri="after"))
    assert slow.pending() == 0
    with pytest.raises(StopAsyncIteration):
        await slow.get()


async def test_callback_subscribers_run_outside_the_publisher() -> None:
    async with MCPManager(fleet()) as manager:
        got: list[Event] = []
        done = anyio.Event()

        async def slow_callback(event: Event) -> None:
            await anyio.lowlevel.checkpoint()  # yields: an async callback runs in its own task
            got.append(event)
            if len(got) == 3:
                done.set()

        def failing_callback(event: Event) -> None:
            raise RuntimeError("subscriber bug")

        unsubscribe = manager.subscribe(slow_callback)
        manager.subscribe(failing_callback)
        for i in range(3):
            manager._events.publish(ResourceUpdated("s", uri=f"u{i}"))  # what a connection does
        with anyio.fail_after(5):
            await done.wait()
        assert [e.uri for e in got] == ["u0", "u1", "u2"]  # type: ignore[attr-defined]
        unsubscribe()


async def test_streams_end_when_the_manager_closes() -> None:
    manager = MCPManager(fleet())
    async with manager, manager.events() as during:
        pass
    with anyio.fail_after(1):
        assert [event async for event in during] == []
        assert [event async for event in manager.events()] == []  # opened after close: already over
