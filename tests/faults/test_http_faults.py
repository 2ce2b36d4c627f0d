"""Misbehaving HTTP servers: 500s, restarts on the same port, rejected sessions, an SSE stream that
ends. Same containment checks as the stdio faults (``contained()``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest

from patchbay import ConnectionLost, ProtocolError, ServerUnavailable

from ..conftest import PY, SERVERS, BackgroundServer, free_port, new_tag
from .helpers import FAULTS, contained, expect_states, within

pytestmark = pytest.mark.anyio

FAST_RETRY = {"attempts": 20, "base_delay": 0.1, "max_delay": 0.5}


class Restartable:
    """An HTTP server process that can be killed and started again on the same port."""

    def __init__(self, argv: list[str]) -> None:
        self.port = free_port()
        self.argv = [*argv, "--port", str(self.port)]
        self.server = BackgroundServer(self.argv, self.port)

    def url(self, path: str = "/mcp") -> str:
        return self.server.url(path)

    async def restart(self) -> None:
        """Kill it (SIGKILL, no goodbye) and start it again on the same port, off the event loop."""
        self.server.kill()
        self.server = await anyio.to_thread.run_sync(BackgroundServer, self.argv, self.port)

    async def control(self, path: str) -> None:
        async with httpx2.AsyncClient() as client:
            response = await client.post(self.url(path))
            response.raise_for_status()

    def kill(self) -> None:
        self.server.kill()


@pytest.fixture
def start_http() -> Iterator[Any]:
    started: list[Restartable] = []

    def start(argv: list[str]) -> Restartable:
        server = Restartable(argv)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def faults_server(*flags: str) -> list[str]:
    return [PY, str(FAULTS / "http_faults.py"), *flags]


async def test_http_500_at_connect_fails_that_server(start_http: Any) -> None:
    """Expected: `failed` within connect_timeout, the error names the HTTP failure."""
    server = start_http(faults_server("--fail-status", "500"))
    tag = new_tag()
    started = time.perf_counter()
    async with contained(tag, broken={"url": server.url(), "connect_timeout": 5}) as manager:
        assert time.perf_counter() - started < 5 + 1
        status = manager.status()["broken"]
        assert status["state"] == "failed"
        assert "HTTP 500" in status["error"]


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_http_500_during_a_session_is_a_protocol_error(start_http: Any, protocol: str) -> None:
    """Expected: while the server answers 500, calls raise ProtocolError (not a hang, not a
    reconnect); once it serves again, the same session works."""
    server = start_http(faults_server())
    tag = new_tag()
    async with contained(tag, web={"url": server.url(), "protocol": protocol}) as manager:
        connected_at = manager.status()["web"]["connected_at"]
        await server.control("/fault/status/500")
        with within(5 + 1), pytest.raises(ProtocolError):
            await manager.call_tool("mcp__web__echo", {"text": "x"}, timeout=5)
        await server.control("/fault/status/0")
        assert (await manager.call_tool("mcp__web__echo", {"text": "back"})).text == "back"
        assert manager.status()["web"]["connected_at"] == connected_at


async def test_restart_on_the_same_port_reconnects_with_a_fresh_session(start_http: Any) -> None:
    """Expected: the manager notices the restart by itself (no call needed), reconnects with a new
    session, and calls succeed on the new process."""
    server = start_http(faults_server())
    tag = new_tag()
    entry = {"url": server.url(), "protocol": "legacy", "reconnect": FAST_RETRY}
    async with contained(tag, web=entry) as manager:
        old_pid = (await manager.call_tool("mcp__web__pid")).text
        async with manager.events() as events:
            await server.restart()
            await expect_states(events, "web", "reconnecting", "ready")
        assert (await manager.call_tool("mcp__web__pid")).text != old_pid


@pytest.mark.parametrize("status", [400, 404])
async def test_a_rejected_session_is_replaced_and_the_call_goes_through(start_http: Any, status: int) -> None:
    """Expected: the server rejects the old session (404, or the 400 older servers send); the
    request it refused never ran, so it is sent again on a fresh session and succeeds."""
    server = start_http(faults_server("--unknown-session-status", str(status)))
    tag = new_tag()
    entry = {"url": server.url(), "protocol": "legacy", "reconnect": FAST_RETRY}
    async with contained(tag, web=entry) as manager:
        connected_at = manager.status()["web"]["connected_at"]
        await server.control("/fault/forget-sessions")
        with within(5 + 1):
            result = await manager.call_tool("mcp__web__echo", {"text": "through"}, timeout=5)
        assert result.text == "through"
        assert manager.status()["web"]["connected_at"] != connected_at


async def test_an_sse_stream_that_ends_is_noticed_and_reconnected(start_http: Any) -> None:
    """Expected: when the SSE event stream ends (server restarted), the server goes to
    `reconnecting` without waiting for a call, comes back, and calls succeed."""
    server = start_http([PY, str(SERVERS / "echo.py"), "--transport", "sse"])
    tag = new_tag()
    entry = {"url": server.url("/sse"), "transport": "sse", "reconnect": FAST_RETRY}
    async with contained(tag, legacy=entry) as manager:
        old_pid = (await manager.call_tool("mcp__legacy__pid")).text
        async with manager.events() as events:
            await server.restart()
            await expect_states(events, "legacy", "reconnecting", "ready")
        assert (await manager.call_tool("mcp__legacy__pid")).text != old_pid


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_http_server_killed_during_a_call(start_http: Any, protocol: str) -> None:
    """Expected: the call in flight fails at once with ConnectionLost; the unreachable server is
    retried with backoff and ends `failed` (it never comes back); the bystander is untouched."""
    server = start_http([PY, str(SERVERS / "echo.py"), "--transport", "http"])
    tag = new_tag()
    entry = {"url": server.url(), "protocol": protocol, "reconnect": {"attempts": 2, "base_delay": 0.05}}
    async with contained(tag, web=entry) as manager:
        on_the_wire = anyio.Event()
        killed_at = 0.0

        async def kill_when_running() -> None:
            nonlocal killed_at
            await on_the_wire.wait()
            killed_at = time.perf_counter()
            server.kill()

        async with manager.events() as events, anyio.create_task_group() as tg:
            tg.start_soon(kill_when_running)
            with pytest.raises(ConnectionLost):
                await manager.call_tool(
                    "mcp__web__slow", {"seconds": 30}, timeout=20, progress=lambda *_: on_the_wire.set()
                )
            assert time.perf_counter() - killed_at < 2.0
            await expect_states(events, "web", "failed")
        with pytest.raises(ServerUnavailable, match="failed"):
            await manager.call_tool("mcp__web__echo", {"text": "x"}, server="web")
