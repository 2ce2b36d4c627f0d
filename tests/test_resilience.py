"""Reconnect with backoff, calls during a reconnect, health checks and deadlines, against real servers.

(The misbehaving-server suite is tests/faults/; this file covers the supervisor's own behaviour.)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from patchbay import ConnectError, MCPManager, ServerUnavailable, ToolNotFound, ToolTimeout

from .conftest import PY, SERVERS, BackgroundServer, fleet, free_port, new_tag, processes_with, stdio
from .faults.helpers import alive, expect_states, fault_script, faulty, within

pytestmark = pytest.mark.anyio

FAST_RETRY = {"attempts": 5, "base_delay": 0.05, "max_delay": 0.2}


def longest_backoff(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Make full jitter pick the top of its range (deterministic delays); returns the ranges drawn."""
    ranges: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        ranges.append((low, high))
        return high

    monkeypatch.setattr("patchbay.connection._supervisor.random.uniform", top)
    return ranges


async def test_status_during_backoff_and_disconnect_stops_the_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead server shows `reconnecting` with attempt and next try; a call waits within its own
    deadline and then gets ServerUnavailable naming the state and next retry; disconnect during
    the backoff stops it at once and starts no new process."""
    longest_backoff(monkeypatch)
    tag = new_tag()
    config = fleet(victim=faulty(tag, reconnect={"attempts": 3, "base_delay": 30, "max_delay": 60}))
    async with MCPManager(config) as manager:
        pid = manager.status()["victim"]["pid"]
        async with manager.events() as events:
            os.kill(pid, signal.SIGKILL)
            await expect_states(events, "victim", "reconnecting")
        assert manager.is_reconnecting("victim")
        status = manager.status()["victim"]
        assert status["reconnect"]["attempt"] == 1
        assert status["reconnect"]["max_attempts"] == 3
        assert 25 < status["reconnect"]["next_retry_at"] - time.time() <= 30
        assert "victim" in [t.server for t in manager.tools()]  # the listing is kept meanwhile

        with within(0.3 + 1), pytest.raises(ServerUnavailable, match="reconnecting") as caught:
            await manager.call_tool("mcp__victim__echo", {"text": "x"}, timeout=0.3)
        assert caught.value.server == "victim"
        assert caught.value.state == "reconnecting"
        assert caught.value.next_retry_at == status["reconnect"]["next_retry_at"]

        with within(1.0):
            await manager.disconnect("victim")
        assert manager.status()["victim"]["state"] == "closed"
        assert not manager.is_reconnecting("victim")
        assert processes_with(tag) == []


async def test_backoff_doubles_up_to_the_cap_then_fails_and_reconnect_starts_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Retries draw from [0, base * 2**k] capped at max_delay (full jitter); after the last attempt
    the server is `failed` and its tools are gone; `reconnect()` starts over."""
    ranges = longest_backoff(monkeypatch)
    broken = tmp_path / "broken"
    tag = new_tag()
    entry = faulty(
        tag,
        "--crash-if-exists",
        str(broken),
        reconnect={"attempts": 4, "base_delay": 0.05, "max_delay": 0.15},
    )
    async with MCPManager(fleet(flaky=entry)) as manager:
        broken.touch()  # from now on every restart fails
        async with manager.events() as events:
            os.kill(manager.status()["flaky"]["pid"], signal.SIGKILL)
            await expect_states(events, "flaky", "reconnecting", "failed")
        assert ranges == [(0, 0.05), (0, 0.1), (0, 0.15), (0, 0.15)]
        status = manager.status()["flaky"]
        assert "cannot open the database" in status["error"]
        assert manager.tools("flaky") == []
        with pytest.raises(ConnectError):
            await manager.reconnect("flaky")
        broken.unlink()
        await manager.reconnect("flaky")
        assert manager.status()["flaky"]["state"] == "ready"
        assert (await manager.call_tool("mcp__flaky__echo", {"text": "back"})).text == "back"


async def test_the_listing_is_read_again_after_a_reconnect(tmp_path: Path) -> None:
    """After a reconnect the catalogue is the new process's: a tool that disappeared raises
    ToolNotFound, a new one is callable."""
    tag = new_tag()
    generations = tmp_path / "generation"
    entry = faulty(tag, "--generation-file", str(generations), reconnect=FAST_RETRY)
    async with MCPManager(fleet(gen=entry)) as manager:
        assert (await manager.call_tool("mcp__gen__only_in_generation_1")).text == "generation 1"
        async with manager.events() as events:
            os.kill(manager.status()["gen"]["pid"], signal.SIGKILL)
            await expect_states(events, "gen", "reconnecting", "ready")
        names = {t.name for t in manager.tools("gen")}
        assert "mcp__gen__only_in_generation_2" in names
        assert "mcp__gen__only_in_generation_1" not in names
        with pytest.raises(ToolNotFound):
            await manager.call_tool("mcp__gen__only_in_generation_1")
        assert (await manager.call_tool("mcp__gen__only_in_generation_2")).text == "generation 2"


async def test_a_call_made_during_a_reconnect_checks_the_new_listing(tmp_path: Path) -> None:
    """A call that waited for the reconnect is checked against the new process's tools: one that
    is gone raises ToolNotFound and is never sent."""
    tag = new_tag()
    generations = tmp_path / "generation"
    entry = faulty(tag, "--generation-file", str(generations), reconnect=FAST_RETRY)
    async with MCPManager(fleet(gen=entry)) as manager:
        async with manager.events() as events:
            os.kill(manager.status()["gen"]["pid"], signal.SIGKILL)
            await expect_states(events, "gen", "reconnecting")
        with pytest.raises(ToolNotFound, match="no longer offers"):
            await manager.call_tool("mcp__gen__only_in_generation_1", timeout=10)
        assert manager.status()["gen"]["state"] == "ready"


async def test_a_call_during_a_reconnect_waits_for_the_server() -> None:
    """A call made while the server is reconnecting is not failed: it waits (within its deadline)
    and runs on the new process."""
    tag = new_tag()
    entry = faulty(
        tag, "--startup-delay", "0.3", reconnect={"attempts": 5, "base_delay": 0.2, "max_delay": 0.2}
    )
    async with MCPManager(fleet(victim=entry)) as manager:
        pid = manager.status()["victim"]["pid"]
        async with manager.events() as events:
            os.kill(pid, signal.SIGKILL)
            await expect_states(events, "victim", "reconnecting")
        result = await manager.call_tool("mcp__victim__pid", timeout=10)
        assert int(result.text) != pid


@pytest.mark.parametrize(
    ("script", "era"),
    [("faulty.py", "2025-11-25"), ("cancel_probe.py", "2026-07-28")],
    ids=["ping", "discover"],
)
async def test_health_check_finds_a_frozen_server_and_replaces_it(script: str, era: str) -> None:
    """Health checks leave a healthy session alone (2025 era: ping; 2026-07-28: server/discover).
    A server that stops answering (SIGSTOP) fails its check within interval + timeout, is killed
    (a stopped process ignores SIGTERM: its group gets SIGKILL) and replaced."""
    tag = new_tag()
    entry = fault_script(
        script,
        tag,
        health_interval=0.2,
        timeout=0.5,
        shutdown_grace=0.5,
        reconnect=FAST_RETRY,
        protocol="auto",
    )
    async with MCPManager(fleet(frozen=entry)) as manager:
        status = manager.status()["frozen"]
        assert status["protocol_version"] == era
        with anyio.fail_after(10):  # until a health check has passed; it must change nothing
            while manager.status()["frozen"]["last_health_check"] is None:  # noqa: ASYNC110 (no event per check)
                await anyio.sleep(0.05)
        assert manager.status()["frozen"]["pid"] == status["pid"]

        async with manager.events() as events:
            frozen_at = time.perf_counter()
            os.kill(status["pid"], signal.SIGSTOP)
            lost = await expect_states(events, "frozen", "reconnecting")
            # interval + timeout, then closing the frozen process (one shutdown grace), + 1 s
            assert time.perf_counter() - frozen_at < 0.2 + 0.5 + 0.5 + 2
            assert "health check" in (lost.error or "")
            await expect_states(events, "frozen", "ready")
        assert manager.status()["frozen"]["pid"] != status["pid"]
        assert not alive(status["pid"])


async def test_reset_timeout_on_progress_per_server_and_per_call() -> None:
    """With the server option on, progress keeps a 1.2 s call alive past its 0.4 s timeout; a call
    can switch it off; max_total_timeout still bounds it."""
    config = fleet(
        resets=stdio("echo.py", reset_timeout_on_progress=True),
        plain=stdio("echo.py"),
    )
    async with MCPManager(config) as manager:
        result = await manager.call_tool("mcp__resets__slow", {"seconds": 1.2}, timeout=0.4)
        assert result.text == "slept 1.2"
        with within(0.4 + 1), pytest.raises(ToolTimeout):
            await manager.call_tool("mcp__plain__slow", {"seconds": 1.2}, timeout=0.4)
        with within(0.4 + 1), pytest.raises(ToolTimeout):
            await manager.call_tool(
                "mcp__resets__slow", {"seconds": 1.2}, timeout=0.4, reset_timeout_on_progress=False
            )
        result = await manager.call_tool(
            "mcp__plain__slow", {"seconds": 1.2}, timeout=0.4, reset_timeout_on_progress=True
        )
        assert result.text == "slept 1.2"
        with within(0.8 + 1), pytest.raises(ToolTimeout):
            await manager.call_tool("mcp__resets__slow", {"seconds": 5}, timeout=0.4, max_total_timeout=0.8)
        assert (await manager.call_tool("mcp__resets__echo", {"text": "usable"})).text == "usable"


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_a_timed_out_call_is_cancelled_on_the_server(protocol: str, transport: str) -> None:
    """ToolTimeout at the deadline, and the server-side handler itself was cancelled (it recorded the
    cancellation), in both protocol eras, over stdio and streamable HTTP."""
    tag = new_tag()
    server: BackgroundServer | None = None
    entry = fault_script("cancel_probe.py", tag, protocol=protocol)
    if transport == "http":
        port = free_port()
        argv = [PY, *entry["args"], "--transport", "http", "--port", str(port)]
        server = await anyio.to_thread.run_sync(BackgroundServer, argv, port)
        entry = {"url": server.url(), "protocol": protocol}
    try:
        await _cancelled_on_the_server(entry)
    finally:
        if server is not None:
            server.kill()


async def _cancelled_on_the_server(entry: dict[str, Any]) -> None:
    async with MCPManager(fleet(probe=entry)) as manager:
        with within(0.5 + 1), pytest.raises(ToolTimeout):
            await manager.call_tool("mcp__probe__block", {"key": "k"}, timeout=0.5)
        assert (await manager.call_tool("mcp__probe__outcome", {"key": "k"})).text == "cancelled"


_HOST = '''
"""A host program with no logging set-up: two HTTP servers; it reports what it saw on stdout."""
import logging, sys
import anyio
from patchbay import MCPManager
from patchbay.events import ServerStateChanged

routed = []
class Keep(logging.Handler):
    def emit(self, record):
        routed.append(record.getMessage())
if sys.argv[3] == "debug":
    sdk = logging.getLogger("patchbay.sdk")
    sdk.setLevel(logging.DEBUG)
    sdk.addHandler(Keep())

async def main():
    servers = {"http": {"url": sys.argv[1]}, "sse": {"url": sys.argv[2], "transport": "sse"}}
    settings = {"reconnect": {"attempts": 1, "base_delay": 0.05, "max_delay": 0.1}}
    async with MCPManager({"servers": servers, "settings": settings}) as manager:
        assert all(s["state"] == "ready" for s in manager.status().values()), manager.status()
        async with manager.events() as events:
            print("ready", flush=True)
            sys.stdin.readline()  # the servers are gone now
            for name in servers:
                try:
                    await manager.call_tool("echo", {"text": "x"}, server=name, timeout=10)
                except Exception as exc:
                    print(type(exc).__name__, flush=True)
            failed = set()
            async for event in events:
                if isinstance(event, ServerStateChanged) and event.state == "failed":
                    failed.add(event.server)
                if failed == set(servers):
                    break
    print("routed:", " | ".join(routed), flush=True)

anyio.run(main)
'''


@pytest.mark.parametrize("logging_set_up", ["none", "debug"])
def test_sdk_tracebacks_never_reach_the_hosts_stderr_when_http_servers_stop(
    tmp_path: Path, logging_set_up: str
) -> None:
    """The SDK logs "Error in sse_reader" / "Error in post_writer" with tracebacks (and "Session
    termination failed") when an HTTP or SSE server dies; with no handler of the host's own, Python
    printed them on the host's stderr. They go to patchbay's logger at debug level instead."""
    import subprocess

    script = tmp_path / "host.py"
    script.write_text(_HOST)
    servers = []
    for transport in ("http", "sse"):
        port = free_port()
        argv = [PY, str(SERVERS / "echo.py"), "--transport", transport, "--port", str(port)]
        servers.append(BackgroundServer(argv, port))
    http, sse = servers
    host = subprocess.Popen(
        [PY, str(script), http.url(), sse.url("/sse"), logging_set_up],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        assert host.stdout.readline().strip() == "ready"
        for server in servers:
            server.kill()
        out, err = host.communicate("\n", timeout=60)
    finally:
        for server in servers:
            server.kill()
        if host.poll() is None:
            host.kill()
    assert host.returncode == 0, err
    assert err == "", err
    assert "ConnectionLost" in out or "ServerUnavailable" in out
    if logging_set_up == "debug":
        assert "mcp.client.sse: Error in" in out
