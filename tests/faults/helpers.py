"""Helpers for the fault-injection suite: fault servers, state waits, and the containment check.

Every fault test runs its misbehaving server next to a healthy *bystander* inside ``contained()``,
which checks on the way out what the issue promises for every fault: the bystander was untouched
(same process, still answering), the manager is still usable, and nothing leaked: no server process
(by tag, in the process table), no asyncio task, no file descriptor.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp.types  # noqa: F401  (imported up front so no timing below includes the SDK's import)
import psutil

from patchbay import MCPManager
from patchbay.events import EventStream, ServerStateChanged
from patchbay.transports import _reaper

from ..conftest import PY, SERVERS, processes_with

FAULTS = Path(__file__).resolve().parent / "servers"


def faulty(tag: str, *args: str, **extra: Any) -> dict[str, Any]:
    """A server entry for tests/faults/servers/faulty.py with these flags."""
    return {"command": PY, "args": [str(FAULTS / "faulty.py"), "--tag", tag, *args], **extra}


def fault_script(script: str, tag: str, *args: str, **extra: Any) -> dict[str, Any]:
    return {"command": PY, "args": [str(FAULTS / script), "--tag", tag, *args], **extra}


def bystander(tag: str) -> dict[str, Any]:
    return {"command": PY, "args": [str(SERVERS / "raw_echo.py"), "--tag", tag]}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not count)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def open_fds() -> int:
    """Open file descriptors, not counting the pipe to the process reaper, which a host opens with
    its first stdio server and keeps for its whole life (one, ever: not a leak)."""
    count = len(os.listdir("/proc/self/fd"))
    return count - 1 if _reaper._pipe is not None else count


async def wait_state(manager: MCPManager, name: str, *states: str, timeout: float = 10.0) -> dict[str, Any]:
    """Wait (on the manager's events, no polling) until server ``name`` is in one of ``states``."""
    with anyio.fail_after(timeout):
        async with manager.events() as events:
            while True:
                status = manager.status().get(name)
                if status is not None and status["state"] in states:
                    return status
                await events.get()


async def expect_states(
    events: EventStream, name: str, *states: str, timeout: float = 15.0
) -> ServerStateChanged:
    """Read ``events`` (opened *before* the fault) until server ``name`` went through ``states`` in
    order; returns the last of those state changes."""
    with anyio.fail_after(timeout):
        for state in states:
            while True:
                event = await events.get()
                if isinstance(event, ServerStateChanged) and event.server == name and event.state == state:
                    break
    return event


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """The block (typically a ``pytest.raises``) must finish within ``seconds``."""
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s, more than {seconds:g}s"


@asynccontextmanager
async def contained(tag: str, **servers: dict[str, Any]) -> AsyncIterator[MCPManager]:
    """A manager with ``servers`` plus a healthy bystander; checks containment and leaks on exit."""
    tags = {tag} | {
        entry["args"][i + 1]
        for entry in servers.values()
        for i, arg in enumerate(entry.get("args", [])[:-1])
        if arg == "--tag"
    }
    fds = open_fds()
    tasks = set(asyncio.all_tasks())
    manager = MCPManager({"servers": {"bystander": bystander(tag), **servers}})
    await manager.start()
    try:
        before = manager.status()["bystander"]
        assert before["state"] == "ready"
        yield manager
        after = manager.status()["bystander"]
        assert after["state"] == "ready", after
        assert after["pid"] == before["pid"], "the bystander was restarted"
        assert (await manager.call_tool("mcp__bystander__echo", {"text": "fine"})).text == "fine"
    finally:
        await manager.aclose()
    for each in tags:
        assert processes_with(each) == [], "a server process outlived the manager"
    leaked = {t for t in asyncio.all_tasks() if t not in tasks and not t.done()}
    assert not leaked, f"tasks leaked: {leaked}"
    assert open_fds() <= fds, f"file descriptors leaked: {fds} before, {open_fds()} after"
