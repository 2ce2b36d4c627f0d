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
from patchbay.events import CatalogueChanged

from ..conftest import FASTMCP_APP, PY, SERVERS, BackgroundServer, free_port, new_tag
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
        await self.revive()

    async def revive(self) -> None:
        """Start it again on the same port (after ``kill()``), off the event loop."""
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


def fastmcp_server() -> list[str]:
    """tests/servers/fastmcp_app.py (fastmcp 4.x) over Streamable HTTP: it speaks 2026-07-28."""
    return [PY, str(FASTMCP_APP), "--transport", "http"]


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


# A 2026-07-28 Streamable HTTP session is stateless: no session id, and nothing stays open between
# requests (no event stream; fastmcp's server offers no `subscriptions/listen` either).


async def test_a_stopped_2026_http_server_is_noticed_without_a_call(
    start_http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expected: with no `health_interval` set, a stateless HTTP session is still probed
    (`server/discover`, every few seconds; shortened here): a fastmcp server that stopped is
    `reconnecting` within one probe, not `ready`, and is `ready` again once it is back."""
    monkeypatch.setattr("patchbay.connection._health.STATELESS_HEALTH_INTERVAL", 0.2)
    server = start_http(fastmcp_server())
    tag = new_tag()
    async with contained(tag, web={"url": server.url(), "reconnect": FAST_RETRY}) as manager:
        assert manager.status()["web"]["protocol_version"] == "2026-07-28"
        async with manager.events() as events:
            killed_at = time.perf_counter()
            server.kill()
            lost = await expect_states(events, "web", "reconnecting")
            assert time.perf_counter() - killed_at < 0.2 + 1
            assert "cannot be reached" in (lost.error or "")
            await server.revive()
            await expect_states(events, "web", "ready")
        assert (await manager.call_tool("mcp__web__add", {"a": 2, "b": 3})).text == "5"


async def test_a_2026_listen_stream_that_breaks_is_checked_at_once(start_http: Any) -> None:
    """Expected: an SDK server on 2026-07-28 that offers list_changed has a `subscriptions/listen`
    stream open; when that stream breaks because the server was killed, a health check runs at
    once and finds it gone: `reconnecting` well before any periodic probe would have run."""
    server = start_http([PY, str(SERVERS / "notify.py"), "--transport", "http"])
    tag = new_tag()
    async with contained(tag, web={"url": server.url(), "reconnect": FAST_RETRY}) as manager:
        assert manager.status()["web"]["protocol_version"] == "2026-07-28"
        async with manager.events() as events:
            # A change announced on the listen stream reaches the catalogue: the stream is open.
            await manager.call_tool("mcp__web__add_tool", {"name": "fresh"})
            with anyio.fail_after(10):
                while not isinstance(event := await events.get(), CatalogueChanged) or event.server != "web":
                    pass
            assert manager.get_tool("mcp__web__fresh").server == "web"
            killed_at = time.perf_counter()
            server.kill()
            lost = await expect_states(events, "web", "reconnecting")
            assert time.perf_counter() - killed_at < 1.5
            assert "cannot be reached" in (lost.error or "")


async def test_a_call_to_a_stopped_2026_http_server_waits_for_it_to_come_back(start_http: Any) -> None:
    """Expected: a call whose connection is refused never reached the server, so it is not
    ConnectionLost: the server is marked `reconnecting` and the call waits within its deadline,
    then runs on the server started again on the same port."""
    server = start_http(fastmcp_server())
    tag = new_tag()
    async with contained(tag, web={"url": server.url(), "reconnect": FAST_RETRY}) as manager:
        results: list[str] = []

        async def call() -> None:
            results.append((await manager.call_tool("mcp__web__add", {"a": 2, "b": 3}, timeout=20)).text)

        async with manager.events() as events:
            server.kill()
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                lost = await expect_states(events, "web", "reconnecting")  # the call's refused POST
                assert "cannot be reached" in (lost.error or "")
                assert results == []
                await server.revive()
        assert results == ["5"]
        assert manager.status()["web"]["state"] == "ready"


@pytest.mark.parametrize(
    ("reconnect", "timeout", "match"),
    [
        ({"attempts": 2, "base_delay": 0.05}, 10.0, "server is failed"),
        ({"attempts": 100, "base_delay": 0.2, "max_delay": 0.5}, 1.0, "not ready within 1s"),
    ],
    ids=["retries-run-out", "deadline-passes"],
)
async def test_a_call_to_a_2026_http_server_that_never_comes_back_fails_typed(
    start_http: Any, reconnect: dict[str, Any], timeout: float, match: str
) -> None:
    """Expected: the refused call waits for the reconnect, and when the server stays away it gets
    ServerUnavailable (the retries ran out, or its own deadline passed first): never a hang,
    never ConnectionLost."""
    server = start_http(fastmcp_server())
    tag = new_tag()
    async with contained(tag, web={"url": server.url(), "reconnect": reconnect}) as manager:
        server.kill()
        with within(timeout + 1), pytest.raises(ServerUnavailable, match=match) as caught:
            await manager.call_tool("mcp__web__add", {"a": 2, "b": 3}, timeout=timeout)
        assert caught.value.server == "web"
