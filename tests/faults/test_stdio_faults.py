"""Misbehaving stdio servers. Each test states the expected outcome; ``contained()`` adds the common
ones: the bystander untouched, the manager usable, no process, task or file descriptor leaked."""

from __future__ import annotations

import json
import os
import signal
import time

import anyio
import pytest

from patchbay import ConnectError, ConnectionLost, ProtocolError, ServerUnavailable, ToolTimeout

from ..conftest import new_tag, processes_with
from .helpers import alive, contained, faulty, within

pytestmark = pytest.mark.anyio

FAST_RETRY = {"attempts": 5, "base_delay": 0.05, "max_delay": 0.2}


async def test_crash_at_start_fails_that_server_with_its_stderr() -> None:
    """Expected: `failed` at once with the server's own stderr line; connect() raises ConnectError."""
    tag = new_tag()
    async with contained(tag, bad=faulty(tag, "--crash-at-start")) as manager:
        status = manager.status()["bad"]
        assert status["state"] == "failed"
        assert "fatal: cannot open the database" in status["error"]
        with within(2.0), pytest.raises(ConnectError, match="cannot open the database"):
            await manager.connect("bad")
        with pytest.raises(ServerUnavailable, match="failed"):
            await manager.call_tool("mcp__bad__echo", {"text": "x"}, server="bad")


async def test_kill_9_in_the_middle_of_a_call() -> None:
    """Expected: the call in flight fails at once with ConnectionLost and is not retried; the server
    is restarted with backoff and the next call succeeds on a new process."""
    tag = new_tag()
    async with contained(tag, victim=faulty(tag, reconnect=FAST_RETRY)) as manager:
        pid = manager.status()["victim"]["pid"]
        on_the_wire = anyio.Event()
        killed_at = 0.0

        async def kill_when_running() -> None:
            nonlocal killed_at
            await on_the_wire.wait()
            killed_at = time.perf_counter()
            os.kill(pid, signal.SIGKILL)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_running)
            with pytest.raises(ConnectionLost, match="victim"):
                await manager.call_tool(
                    "mcp__victim__sleep", {"seconds": 30}, timeout=20, progress=lambda *_: on_the_wire.set()
                )
        assert time.perf_counter() - killed_at < 1.0, "ConnectionLost was not prompt"
        result = await manager.call_tool("mcp__victim__pid", timeout=10)
        recovered = time.perf_counter() - killed_at
        assert int(result.text) != pid
        assert recovered < 6.0, f"kill -9 -> next successful call took {recovered:.2f}s"


async def test_a_call_that_hangs_forever_times_out_and_is_cancelled_on_the_server() -> None:
    """Expected: ToolTimeout at the deadline; the server received notifications/cancelled for it;
    the same session (same process) keeps serving."""
    tag = new_tag()
    async with contained(tag, stuck=faulty(tag)) as manager:
        pid = manager.status()["stuck"]["pid"]
        with within(0.5 + 1), pytest.raises(ToolTimeout, match=r"timed out after 0\.5s"):
            await manager.call_tool("mcp__stuck__hang", timeout=0.5)
        cancelled = json.loads((await manager.call_tool("mcp__stuck__cancelled")).text)
        assert len(cancelled) == 1
        assert manager.status()["stuck"]["pid"] == pid
        assert (await manager.call_tool("mcp__stuck__echo", {"text": "alive"})).text == "alive"


async def test_a_server_that_stops_reading_stdin_cannot_park_calls_behind_it() -> None:
    """Expected: calls whose bytes the server never reads end within their own deadline
    (ToolTimeout, or ConnectionLost once the writer has waited ``timeout`` for the pipe), and the
    server is then restarted: a request is only on the clock once written, so an unbounded write
    would be a hang."""
    tag = new_tag()
    async with contained(tag, deaf=faulty(tag, timeout=1.0, reconnect=FAST_RETRY)) as manager:
        pid = manager.status()["deaf"]["pid"]
        with within(1 + 1), pytest.raises(ToolTimeout):
            await manager.call_tool("mcp__deaf__deaf")
        outcomes: list[BaseException] = []

        async def big_call() -> None:
            try:
                await manager.call_tool("mcp__deaf__echo", {"text": "x" * 400_000}, timeout=1.5)
            except (ToolTimeout, ConnectionLost) as exc:
                outcomes.append(exc)

        with within(1 + 1.5 + 1.5):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(big_call)
        assert len(outcomes) == 3, outcomes
        assert any(isinstance(exc, ConnectionLost) for exc in outcomes), outcomes
        result = await manager.call_tool("mcp__deaf__pid", timeout=10)
        assert int(result.text) != pid


async def test_a_server_that_ignores_sigterm_is_killed_within_the_grace() -> None:
    """Expected: disconnect of a server ignoring stdin EOF and SIGTERM returns within the grace
    period (plus a little), and the process is gone: SIGKILL to its group."""
    tag = new_tag()
    stubborn = faulty(tag, "--ignore-sigterm", "--ignore-eof", shutdown_grace=0.5)
    async with contained(tag, stubborn=stubborn) as manager:
        pid = manager.status()["stubborn"]["pid"]
        with within(0.5 + 1):
            await manager.disconnect("stubborn")
        assert not alive(pid)
        assert manager.status()["stubborn"]["state"] == "closed"


async def test_non_json_lines_on_stdout_are_ignored() -> None:
    """Expected: stray text, binary junk and half a JSON object are skipped; the call succeeds."""
    tag = new_tag()
    async with contained(tag, noisy=faulty(tag)) as manager:
        pid = manager.status()["noisy"]["pid"]
        assert (await manager.call_tool("mcp__noisy__noise", timeout=5)).text == "noisy"
        assert (await manager.call_tool("mcp__noisy__echo", {"text": "ok"})).text == "ok"
        assert manager.status()["noisy"]["pid"] == pid


async def test_one_50_mb_line_is_skipped_without_stalling() -> None:
    """Expected: a 50 MB junk line is read and dropped in well under the deadline; the answer that
    follows it arrives; the session stays up."""
    tag = new_tag()
    async with contained(tag, flood=faulty(tag)) as manager:
        pid = manager.status()["flood"]["pid"]
        with within(10.0):
            result = await manager.call_tool("mcp__flood__flood", {"mb": 50}, timeout=10)
        assert result.text == "flooded"
        assert manager.status()["flood"]["pid"] == pid


async def test_a_line_over_the_limit_drops_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Expected: a line longer than the limit (here lowered to 10 MB) ends the connection: the call
    fails with ConnectionLost within its deadline, and the server comes back on a new process."""
    monkeypatch.setattr("patchbay.transports._stdio.MAX_LINE_BYTES", 10 * 1024 * 1024)
    tag = new_tag()
    async with contained(tag, flood=faulty(tag, reconnect=FAST_RETRY)) as manager:
        pid = manager.status()["flood"]["pid"]
        with within(10 + 1), pytest.raises(ConnectionLost, match="longer than"):
            await manager.call_tool("mcp__flood__flood", {"mb": 50}, timeout=10)
        assert int((await manager.call_tool("mcp__flood__pid", timeout=10)).text) != pid


async def test_invalid_json_rpc_and_unknown_ids_are_ignored() -> None:
    """Expected: malformed JSON-RPC and responses for ids nobody sent are dropped; the real answer
    still reaches its caller."""
    tag = new_tag()
    async with contained(tag, bad=faulty(tag)) as manager:
        assert (await manager.call_tool("mcp__bad__bad_jsonrpc", timeout=5)).text == "survived"
        assert (await manager.call_tool("mcp__bad__echo", {"text": "ok"})).text == "ok"


async def test_an_answer_under_the_wrong_id_is_a_timeout() -> None:
    """Expected: the caller's request never gets its answer, so ToolTimeout at the deadline; the
    session keeps serving."""
    tag = new_tag()
    async with contained(tag, liar=faulty(tag)) as manager:
        with within(0.5 + 1), pytest.raises(ToolTimeout):
            await manager.call_tool("mcp__liar__wrong_id", timeout=0.5)
        assert (await manager.call_tool("mcp__liar__echo", {"text": "ok"})).text == "ok"


async def test_slow_start_beyond_connect_timeout_fails_in_time() -> None:
    """Expected: a server that needs 5 s to start, with connect_timeout 2 s, is `failed` after about
    2 s ("timed out"), its process is gone at once, and the bystander is unaffected."""
    tag, slow_tag = new_tag(), new_tag()
    started = time.perf_counter()
    async with contained(tag, slow=faulty(slow_tag, "--startup-delay", "5", connect_timeout=2)) as manager:
        assert time.perf_counter() - started < 2 + 1
        status = manager.status()["slow"]
        assert status["state"] == "failed"
        assert "timed out after 2s" in status["error"]
        assert processes_with(slow_tag) == []


async def test_slow_start_within_connect_timeout_connects() -> None:
    """Expected: the same 5 s start with connect_timeout 8 s is simply ready, after about 5 s."""
    tag = new_tag()
    started = time.perf_counter()
    async with contained(tag, slow=faulty(tag, "--startup-delay", "5", connect_timeout=8)) as manager:
        assert 5 <= time.perf_counter() - started < 8
        assert manager.status()["slow"]["state"] == "ready"
        assert (await manager.call_tool("mcp__slow__echo", {"text": "late"})).text == "late"


async def test_a_server_that_exits_after_n_calls_is_restarted() -> None:
    """Expected: calls 1-2 succeed; call 3 (on which the server exits) fails with ConnectionLost;
    the server is restarted and the next call succeeds on a new process."""
    tag = new_tag()
    async with contained(tag, brittle=faulty(tag, "--exit-after", "2", reconnect=FAST_RETRY)) as manager:
        pid = manager.status()["brittle"]["pid"]
        for text in ("one", "two"):
            assert (await manager.call_tool("mcp__brittle__echo", {"text": text})).text == text
        with within(5 + 1), pytest.raises(ConnectionLost):
            await manager.call_tool("mcp__brittle__echo", {"text": "three"}, timeout=5)
        assert int((await manager.call_tool("mcp__brittle__pid", timeout=10)).text) != pid


async def test_a_server_error_with_code_32000_is_not_a_lost_connection() -> None:
    """Expected: -32000 is where servers' own errors start (and the SDK's "Connection closed" code):
    the server's answer is a ProtocolError with its message, and the session is left alone."""
    tag = new_tag()
    async with contained(tag, locked=faulty(tag)) as manager:
        status = manager.status()["locked"]
        with pytest.raises(ProtocolError, match="database is locked") as caught:
            await manager.call_tool("mcp__locked__server_error")
        assert caught.value.code == -32000
        assert manager.status()["locked"]["pid"] == status["pid"]
        assert manager.status()["locked"]["connected_at"] == status["connected_at"]
        assert (await manager.call_tool("mcp__locked__echo", {"text": "ok"})).text == "ok"
