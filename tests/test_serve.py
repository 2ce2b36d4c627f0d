"""`patchbay serve`, run as a real subprocess and driven by the SDK's own `Client`, both eras.

Upstreams are the real test servers (tests/servers/echo.py, probe.py, notify.py); downstream is
`mcp.Client` over stdio (`StdioServerParameters` launching the `patchbay` executable) and over
Streamable HTTP. HOME points into tmp_path and `--config` names the fleet, so no user file is read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PromptReference, ResourceTemplateReference, ToolListChangedNotification

from .conftest import BIN, EVERYTHING, PY, SERVERS, BackgroundServer, free_port, new_tag, processes_with

pytestmark = pytest.mark.anyio

PATCHBAY = BIN / "patchbay"
MODES = ["legacy", "auto"]  # the 2025 handshake, and 2026-07-28 (what `auto` negotiates with the SDK server)


class Fleet:
    """A config file of real upstreams and an isolated environment for `patchbay serve`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tag = new_tag()
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.markers = root / "markers"
        self.markers.mkdir(exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "LANG": "C.UTF-8",
        }
        self.servers: dict[str, Any] = {}

    def echo(self, name: str, **extra: Any) -> Fleet:
        self.servers[name] = {"command": PY, "args": [str(SERVERS / "echo.py"), "--name", self.tag], **extra}
        return self

    def probe(self, name: str, label: str) -> Fleet:
        args = [
            str(SERVERS / "probe.py"),
            "--label",
            label,
            "--marker-dir",
            str(self.markers),
            "--tag",
            self.tag,
        ]
        self.servers[name] = {"command": PY, "args": args}
        return self

    def notify(self, name: str) -> Fleet:
        self.servers[name] = {"command": PY, "args": [str(SERVERS / "notify.py"), "--transport", "stdio"]}
        return self

    def write(self) -> str:
        path = self.root / "fleet.json"
        path.write_text(json.dumps({"servers": self.servers}))
        return str(path)

    def argv(self, *extra: str) -> list[str]:
        return [str(PATCHBAY), "--config", self.write(), "serve", *extra]

    def stdio(self, *extra: str) -> StdioServerParameters:
        argv = self.argv(*extra)
        return StdioServerParameters(command=argv[0], args=argv[1:], env=self.env)

    def upstreams(self) -> list[Any]:
        return processes_with(self.tag)


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return Fleet(tmp_path)


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class ToolChanges:
    """``tools/list_changed`` notifications a client received, and a wait for a tool to be listed.

    A notification may be one announced just before (the fleet settling as the client connected):
    the protocol allows extra ones, so each is followed by a fresh listing, never trusted alone.
    """

    def __init__(self) -> None:
        self.event = anyio.Event()

    async def on_message(self, message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            self.event.set()

    async def until_listed(self, client: Client, name: str) -> set[str]:
        with anyio.fail_after(20):
            while True:
                await self.event.wait()
                self.event = anyio.Event()  # before listing: a notification during it is kept
                names = {t.name for t in (await client.list_tools()).tools}
                if name in names:
                    return names


def _text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


# ------------------------------------------------------------------------------------- stdio


@pytest.mark.parametrize("mode", MODES)
async def test_stdio_serves_the_fleet_with_its_metadata(fleet: Fleet, mode: str) -> None:
    fleet.echo("echo").probe("p1", "one").probe("p2", "two")
    async with Client(fleet.stdio(), mode=mode) as client:  # type: ignore[arg-type]
        assert client.session.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"mcp__echo__echo", "mcp__echo__slow", "mcp__p1__widget", "mcp__p2__widget"} <= set(tools)
        # Metadata survives: output schema, annotations, icons, _meta (vendor keys included).
        assert tools["mcp__echo__echo"].output_schema is not None
        widget = tools["mcp__p1__widget"]
        assert widget.annotations is not None
        assert widget.annotations.read_only_hint is True
        assert widget.icons
        assert widget.icons[0].mime_type == "image/png"
        assert widget.meta == {"ui": {"resourceUri": "ui://probe/widget"}, "example.com/flag": "one"}
        # p2's widget points at p2's own ui:// resource, which p1 shadows under the bare URI.
        p2_meta = tools["mcp__p2__widget"].meta
        assert p2_meta is not None
        assert p2_meta["ui"]["resourceUri"] == "patchbay://p2/ui://probe/widget"

        result = await client.call_tool("mcp__echo__echo", {"text": "hi"})
        assert _text(result) == "hi"
        assert result.structured_content == {"result": "hi"}
        assert _text(await client.call_tool("mcp__p2__widget", {"text": "x"})) == "two: x"
        failed = await client.call_tool("mcp__echo__fail", {"message": "nope"})
        assert failed.is_error
        assert "nope" in _text(failed)

        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        slow = await client.call_tool("mcp__echo__slow", {"seconds": 0.3}, progress_callback=on_progress)
        assert _text(slow) == "slept 0.3"
        assert len(seen) >= 2
        assert seen == sorted(seen)

        # Resources: the first server keeps a shared URI, the other is listed under its alias.
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        assert {"echo://static", "probe://doc", "patchbay://p2/probe://doc", "ui://probe/widget"} <= set(uris)
        assert "patchbay://p2/ui://probe/widget" in uris
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert {"echo://upper/{text}", "probe://item/{id}", "patchbay://p2/probe://item/{id}"} <= set(
            templates
        )

        async def read(uri: str) -> tuple[str, str]:
            contents = (await client.read_resource(uri)).contents
            return str(contents[0].uri), getattr(contents[0], "text", "")

        assert await read("probe://doc") == ("probe://doc", "doc of one")
        assert await read("patchbay://p2/probe://doc") == ("patchbay://p2/probe://doc", "doc of two")
        assert await read("echo://upper/abc") == ("echo://upper/abc", "ABC")  # templated
        assert (await read("patchbay://p2/probe://item/7"))[1] == "item 7 of two"
        assert (await read("ui://probe/widget"))[1] == "<p>widget of one</p>"
        assert (await read("patchbay://p2/ui://probe/widget"))[1] == "<p>widget of two</p>"
        assert (await read("patchbay://p1/probe://doc"))[1] == "doc of one"  # the alias of a bare URI too

        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"mcp__echo__greet", "mcp__p1__brief", "mcp__p2__brief"} <= prompts
        rendered = await client.get_prompt("mcp__p2__brief", {"topic": "x"})
        assert rendered.messages[0].content.text == "Brief on x from two"  # type: ignore[union-attr]
        done = await client.complete(
            PromptReference(type="ref/prompt", name="mcp__p1__brief"), {"name": "topic", "value": "b"}
        )
        assert done.completion.values == ["beta"]
        done = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="patchbay://p2/probe://item/{id}"),
            {"name": "id", "value": "g"},
        )
        assert done.completion.values == ["gamma"]
        assert len(fleet.upstreams()) == 3
    # The client closed the gateway's stdin: the gateway exits and takes every upstream with it.
    wait_until(lambda: fleet.upstreams() == [], what="the upstreams to exit")


@pytest.mark.parametrize("mode", MODES)
async def test_errors_are_results_and_sessions_survive(fleet: Fleet, mode: str) -> None:
    fleet.echo("echo").echo("victim", reconnect={"attempts": 0})
    async with Client(fleet.stdio(), mode=mode) as client:  # type: ignore[arg-type]
        unknown = await client.call_tool("mcp__nope__x", {})
        assert unknown.is_error
        assert "no tool named 'mcp__nope__x'" in _text(unknown)
        with pytest.raises(Exception, match="Resource not found"):
            await client.read_resource("nothing://here")
        # An upstream dies in the middle of a call: that call is a tool error, not a dropped session.
        crashed = await client.call_tool("mcp__victim__crash", {})
        assert crashed.is_error
        assert "victim" in _text(crashed)
        assert _text(await client.call_tool("mcp__echo__echo", {"text": "still here"})) == "still here"
        # With no reconnect attempts it fails: its tools leave the listing, later calls say why.
        for _ in range(400):  # a bounded wait for the supervisor to give up (no event reaches a 2026 client)
            if not any(t.name.startswith("mcp__victim__") for t in (await client.list_tools()).tools):
                break
            await anyio.sleep(0.05)
        else:
            raise AssertionError("the failed server's tools are still listed")
        gone = await client.call_tool("mcp__victim__echo", {"text": "x"})
        assert gone.is_error
        assert "victim" in _text(gone)
        assert _text(await client.call_tool("mcp__echo__add", {"a": 2, "b": 3})) == "5"


@pytest.mark.parametrize("mode", MODES)
async def test_cancellation_reaches_the_upstream(fleet: Fleet, mode: str) -> None:
    fleet.probe("p", "one")
    async with Client(fleet.stdio(), mode=mode) as client:  # type: ignore[arg-type]
        started = anyio.Event()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            started.set()

        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("mcp__p__wait_cancel", {"key": "k1"}, progress_callback=on_progress)

            tg.start_soon(call)
            with anyio.fail_after(20):
                await started.wait()  # the call is running on the upstream
            tg.cancel_scope.cancel()  # the SDK client sends notifications/cancelled
        marker = fleet.markers / "k1.cancelled"
        wait_until(marker.exists, what="the upstream to see the cancellation")
        # The session is fine afterwards.
        assert _text(await client.call_tool("mcp__p__widget", {"text": "after"})) == "one: after"


async def test_list_changed_reaches_a_2025_downstream(fleet: Fleet) -> None:
    fleet.notify("notify")
    changes = ToolChanges()
    async with Client(fleet.stdio(), mode="legacy", message_handler=changes.on_message) as client:
        caps = client.session.initialize_result.capabilities  # type: ignore[union-attr]
        assert caps.tools is not None
        assert caps.tools.list_changed is True
        await client.list_tools()
        await client.call_tool("mcp__notify__add_tool", {"name": "fresh"})
        await changes.until_listed(client, "mcp__notify__fresh")
        assert _text(await client.call_tool("mcp__notify__fresh", {"text": "t"})) == "fresh: t"


async def test_list_changed_reaches_a_2026_listener(fleet: Fleet) -> None:
    fleet.notify("notify")
    async with Client(fleet.stdio(), mode="auto") as client:
        assert client.session.protocol_version == "2026-07-28"
        await client.list_tools()
        async with client.listen(tools_list_changed=True) as events:
            await client.call_tool("mcp__notify__add_tool", {"name": "fresh"})
            with anyio.fail_after(20):
                async for event in events:  # an earlier announcement may come first: list after each
                    assert type(event).__name__ == "ToolsListChanged"
                    names = {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
                    if "mcp__notify__fresh" in names:
                        break


@pytest.mark.parametrize("mode", MODES)
async def test_search_mode_shows_two_tools_and_reaches_every_one(fleet: Fleet, mode: str) -> None:
    fleet.echo("echo").probe("p", "one")
    async with Client(fleet.stdio("--mode", "search"), mode=mode) as client:
        tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == ["patchbay_search_tools", "patchbay_call_tool"]
        assert sum(len(json.dumps(t.model_dump(by_alias=True, exclude_none=True))) for t in tools) < 2000
        found = json.loads(
            _text(await client.call_tool("patchbay_search_tools", {"query": "add two numbers"}))
        )
        assert found["tools"][0]["name"] == "mcp__echo__add"
        assert found["tools"][0]["input_schema"]["required"] == ["a", "b"]
        added = await client.call_tool(
            "patchbay_call_tool", {"name": "mcp__echo__add", "arguments": {"a": 2, "b": 3}}
        )
        assert (added.is_error, _text(added)) == (False, "5")
        widget = await client.call_tool(
            "patchbay_call_tool", {"name": "mcp__p__widget", "arguments": {"text": "x"}}
        )
        assert _text(widget) == "one: x"
        # Mistakes come back as tool errors a model can read; the session stays up.
        bad = await client.call_tool("patchbay_call_tool", {"arguments": {}})
        assert bad.is_error
        assert "'name' is a required property" in _text(bad)
        typo = await client.call_tool("patchbay_call_tool", {"name": "mcp__echo__ad", "arguments": {}})
        assert typo.is_error
        assert "did you mean mcp__echo__add" in _text(typo)
        assert "patchbay_search_tools" in _text(typo)
        none = json.loads(_text(await client.call_tool("patchbay_search_tools", {"query": "zzzqqq"})))
        assert none == {"tools": [], "hint": "No tool matched; search again with other words."}


async def test_search_mode_with_prefix_none_answers_with_the_shown_names(fleet: Fleet) -> None:
    fleet.echo("echo")
    async with Client(fleet.stdio("--mode", "search", "--prefix", "none"), mode="legacy") as client:
        found = json.loads(_text(await client.call_tool("patchbay_search_tools", {"query": "echo text"})))
        assert "echo" in [t["name"] for t in found["tools"]]
        echoed = await client.call_tool("patchbay_call_tool", {"name": "echo", "arguments": {"text": "hi"}})
        assert _text(echoed) == "hi"


async def test_prefix_none_passes_names_and_refuses_collisions(fleet: Fleet) -> None:
    fleet.probe("p", "one")
    async with Client(fleet.stdio("--prefix", "none"), mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"widget", "wait_cancel"}
        assert _text(await client.call_tool("widget", {"text": "plain"})) == "one: plain"
        assert {p.name for p in (await client.list_prompts()).prompts} == {"brief"}
    fleet.probe("q", "two")
    with anyio.fail_after(60):
        run = await anyio.run_process(fleet.argv("--prefix", "none"), env=fleet.env, check=False)
    stderr = run.stderr.decode()
    assert run.returncode != 0
    assert "tool 'widget' is offered by both 'p' and 'q'" in stderr
    assert "Traceback" not in stderr
    wait_until(lambda: fleet.upstreams() == [], what="the upstreams to exit")


# -------------------------------------------------------------------------------------- HTTP


@asynccontextmanager
async def http_client(url: str, mode: str, token: str | None = None, **options: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, **options) as client:  # type: ignore[arg-type]
            yield client


@pytest.mark.parametrize("mode", MODES)
async def test_http_serves_many_clients(fleet: Fleet, mode: str) -> None:
    fleet.echo("echo").notify("notify")
    port = free_port()
    server = BackgroundServer(fleet.argv("--http", f"127.0.0.1:{port}"), port, fleet.env)
    try:
        url = server.url()
        async with http_client(url, mode) as first, http_client(url, mode) as second:
            names = {t.name for t in (await first.list_tools()).tools}
            assert {"mcp__echo__echo", "mcp__notify__add_tool"} <= names
            seen: list[float] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(progress)

            async with anyio.create_task_group() as tg:

                async def slow() -> None:
                    result = await first.call_tool(
                        "mcp__echo__slow", {"seconds": 0.3}, progress_callback=on_progress
                    )
                    assert _text(result) == "slept 0.3"

                tg.start_soon(slow)
                assert _text(await second.call_tool("mcp__echo__echo", {"text": "b"})) == "b"
            assert len(seen) >= 2
            assert (await second.read_resource("echo://static")).contents[0].text == "static echo resource"  # type: ignore[union-attr]
        assert server.proc.poll() is None
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)
    wait_until(lambda: fleet.upstreams() == [], what="the upstreams to exit")


async def test_http_list_changed_reaches_a_2025_session(fleet: Fleet) -> None:
    fleet.notify("notify")
    port = free_port()
    server = BackgroundServer(fleet.argv("--http", f"127.0.0.1:{port}"), port, fleet.env)
    changes = ToolChanges()
    try:
        async with http_client(server.url(), "legacy", message_handler=changes.on_message) as client:
            await client.list_tools()
            await client.call_tool("mcp__notify__add_tool", {"name": "fresh"})
            await changes.until_listed(client, "mcp__notify__fresh")
    finally:
        server.kill()


async def test_http_tokens(fleet: Fleet) -> None:
    fleet.echo("echo")
    port = free_port()
    secret = "s3cret-" + new_tag()
    server = BackgroundServer(
        fleet.argv("--http", f"127.0.0.1:{port}"), port, {**fleet.env, "PATCHBAY_SERVE_TOKEN": secret}
    )
    try:
        url = server.url()
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        async with httpx2.AsyncClient(timeout=10) as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": secret}):
                refused = await http.post(url, json=body, headers=headers)
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert "echo" not in refused.text
                assert secret not in refused.text
            assert (await http.get(server.url("/healthz"))).status_code == 200
            assert (await http.get(server.url("/readyz"))).status_code == 401  # names the fleet: token
            ready = await http.get(server.url("/readyz"), headers={"Authorization": f"Bearer {secret}"})
            assert set(ready.json()["servers"]) == {"echo"}
        async with http_client(url, "auto", token=secret) as client:
            assert _text(await client.call_tool("mcp__echo__echo", {"text": "ok"})) == "ok"
    finally:
        server.kill()


async def test_readyz_says_starting_until_every_server_has_settled(fleet: Fleet) -> None:
    fleet.echo("echo")
    fleet.servers["slow"] = {
        "command": PY,
        "args": [str(SERVERS / "raw_echo.py"), "--startup-delay", "60"],
        "connect_timeout": 4,
        "env": {"SECRET_TOKEN": "do-not-show-" + fleet.tag},
    }
    port = free_port()
    server = BackgroundServer(fleet.argv("--http", f"127.0.0.1:{port}"), port, fleet.env)
    try:
        async with httpx2.AsyncClient(timeout=10) as http:
            first = await http.get(server.url("/readyz"))
            assert first.status_code == 503
            assert first.json()["status"] == "starting"
            assert first.json()["servers"]["slow"] == "connecting"
            for _attempt in range(150):  # polling the endpoint under test, at most 30 s
                answer = await http.get(server.url("/readyz"))
                if answer.status_code != 503:
                    break
                await anyio.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json() == {
            "status": "ready",
            "states": {"ready": 1, "failed": 1},
            "servers": {"echo": "ready", "slow": "failed"},
        }
        assert "do-not-show" not in answer.text
    finally:
        server.kill()


def test_check_reports_what_would_be_served_and_exits_4_when_a_server_is_down(fleet: Fleet) -> None:
    fleet.echo("echo")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        argv = fleet.argv("--check", *extra)
        return subprocess.run(argv, env=fleet.env, capture_output=True, text=True, timeout=120, check=False)

    good = run()
    assert good.returncode == 0, good.stderr
    assert re.fullmatch(r"1 of 1 servers ready; serving \d+ tools, 1 prompt, 1 resource\n", good.stdout)
    fleet.servers["crash"] = {"command": PY, "args": [str(SERVERS / "crash.py")]}
    bad = run()
    assert bad.returncode == 4
    assert bad.stdout.startswith("1 of 2 servers ready")
    assert "warning: crash is failed: Connection closed; stderr: boom: missing API key" in bad.stderr
    assert "Traceback" not in bad.stderr
    report = json.loads(
        subprocess.run(
            [*fleet.argv()[:-1], "--json", "serve", "--check", "--mode", "search"],
            env=fleet.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout
    )
    assert report["ok"] is False
    assert report["tools"] == 2
    assert report["servers"] == {"echo": "ready", "crash": "failed"}
    assert fleet.upstreams() == []


def test_http_beyond_loopback_needs_a_token(fleet: Fleet) -> None:
    fleet.echo("echo")
    run = subprocess.run(
        fleet.argv("--http", f"0.0.0.0:{free_port()}"),
        env=fleet.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "beyond loopback a bearer token is required" in run.stderr
    assert "PATCHBAY_SERVE_TOKEN" in run.stderr
    assert "Traceback" not in run.stderr
    assert fleet.upstreams() == []  # refused before any upstream was started


async def test_server_everything_through_the_gateway(fleet: Fleet) -> None:
    """The npm reference server (TypeScript SDK) as an upstream: tools, a static and a templated resource."""
    assert EVERYTHING.exists(), "run `make setup` (npm ci) to install server-everything"
    fleet.servers["everything"] = {"command": "node", "args": [str(EVERYTHING), "stdio"]}
    async with Client(fleet.stdio(), mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"mcp__everything__echo", "mcp__everything__get-sum"} <= names
        echoed = await client.call_tool("mcp__everything__echo", {"message": "via gateway"})
        assert "via gateway" in _text(echoed)
        summed = await client.call_tool("mcp__everything__get-sum", {"a": 2, "b": 5})
        assert "7" in _text(summed)
        uri = "demo://resource/static/document/architecture.md"
        assert uri in {str(r.uri) for r in (await client.list_resources()).resources}
        assert (await client.read_resource(uri)).contents
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert templates
        dynamic = await client.read_resource("demo://resource/dynamic/text/1")
        assert str(dynamic.contents[0].uri) == "demo://resource/dynamic/text/1"


async def test_legacy_sse_downstream(fleet: Fleet) -> None:
    from mcp.client.sse import sse_client

    fleet.echo("echo").notify("notify")
    port = free_port()
    server = BackgroundServer(fleet.argv("--sse", f"127.0.0.1:{port}"), port, fleet.env)
    changes = ToolChanges()
    try:
        async with Client(
            sse_client(server.url("/sse")), mode="legacy", message_handler=changes.on_message
        ) as client:  # type: ignore[arg-type]
            assert _text(await client.call_tool("mcp__echo__echo", {"text": "old"})) == "old"
            await client.call_tool("mcp__notify__add_tool", {"name": "fresh"})
            await changes.until_listed(client, "mcp__notify__fresh")
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)
    wait_until(lambda: fleet.upstreams() == [], what="the upstreams to exit")


async def test_resource_updates_reach_a_2025_subscriber(fleet: Fleet) -> None:
    from mcp.types import ResourceUpdatedNotification

    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")]}
    updated: list[str] = []
    got = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            got.set()

    async with Client(fleet.stdio(), mode="legacy", message_handler=on_message) as client:
        caps = client.session.initialize_result.capabilities  # type: ignore[union-attr]
        assert caps.resources is not None
        assert caps.resources.subscribe is True
        with pytest.warns(Warning, match="resources/subscribe"):  # deprecated in the SDK
            await client.session.subscribe_resource("host://a")
        await client.call_tool("mcp__host__touch", {"uri": "host://a"})
        with anyio.fail_after(20):
            await got.wait()
    assert updated == ["host://a"]


async def test_resource_updates_reach_a_2026_listener(fleet: Fleet) -> None:
    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")]}
    async with Client(fleet.stdio(), mode="auto") as client:
        assert client.session.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=["host://a"]) as events:
            await client.call_tool("mcp__host__touch", {"uri": "host://a"})
            with anyio.fail_after(20):
                event = await events.__anext__()
    assert type(event).__name__ == "ResourceUpdated"
    assert event.uri == "host://a"  # type: ignore[attr-defined]


# ------------------------------------------------------------- an upstream's questions, forwarded


class Downstream:
    """What a downstream host answers when patchbay serve forwards an upstream's question."""

    def __init__(self) -> None:
        self.sampled: list[Any] = []
        self.asked: list[Any] = []
        self.roots = [{"uri": "file:///work/downstream-project", "name": "project"}]

    async def sampling(self, _context: Any, params: Any) -> Any:
        from mcp.types import CreateMessageResult, TextContent

        self.sampled.append(params)
        text = getattr(params.messages[0].content, "text", "?")
        return CreateMessageResult(
            role="assistant",
            content=TextContent(type="text", text=f"downstream model saw: {text}"),
            model="dm",
        )

    async def elicitation(self, _context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        self.asked.append(params)
        return ElicitResult(action="accept", content={"name": "Grace"})

    async def list_roots(self, _context: Any) -> Any:
        from mcp.types import ListRootsResult

        return ListRootsResult.model_validate({"roots": self.roots})

    def client(self, params: StdioServerParameters, mode: str = "legacy", **without: bool) -> Client:
        callbacks = {
            "sampling_callback": self.sampling,
            "elicitation_callback": self.elicitation,
            "list_roots_callback": self.list_roots,
        }
        for name in without:
            callbacks.pop(f"{name}_callback")
        return Client(params, mode=mode, **callbacks)  # type: ignore[arg-type]


@pytest.mark.parametrize("downstream", MODES)
@pytest.mark.parametrize("upstream", ["legacy", "auto"])
async def test_an_upstreams_questions_reach_the_downstream_client_and_back(
    fleet: Fleet, upstream: str, downstream: str
) -> None:
    """Sampling, form elicitation and roots, in the four era combinations (a 2026-07-28 host is
    asked through input_required rounds, a 2025 one by server-to-client requests)."""
    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")], "protocol": upstream}
    host = Downstream()
    async with host.client(fleet.stdio(), downstream) as client:
        sampled = await client.call_tool("mcp__host__sample", {"prompt": "hello"})
        assert (sampled.is_error, _text(sampled)) == (False, "downstream model saw: hello")
        assert host.sampled[0].max_tokens == 64
        elicited = await client.call_tool("mcp__host__elicit", {"question": "who?"})
        assert json.loads(_text(elicited)) == {
            "action": "accept",
            "content": {"name": "Grace", "age": 36, "subscribe": True},  # defaults filled in upstream
        }
        assert host.asked[0].requested_schema["properties"]["name"]["default"] == "Ada"
        roots = json.loads(_text(await client.call_tool("mcp__host__roots", {})))
        assert roots == host.roots
        with_tools = await client.call_tool("mcp__host__sample_with_tools", {"prompt": "weather?"})
        assert with_tools.is_error  # this host's model answers no tool_use: the upstream's tool fails
        if downstream == "legacy":
            assert len(host.sampled) == 1  # a 2025 host without sampling.tools is not even asked


async def test_a_host_without_the_capability_is_not_asked(fleet: Fleet) -> None:
    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")], "protocol": "legacy"}
    host = Downstream()
    async with host.client(fleet.stdio(), sampling=False) as client:
        with anyio.fail_after(30):
            refused = await client.call_tool("mcp__host__sample", {"prompt": "hello"})
        assert refused.is_error
        assert host.sampled == []
        elicited = await client.call_tool("mcp__host__elicit", {"question": "who?"})  # the rest still works
        assert json.loads(_text(elicited))["action"] == "accept"


async def test_downstream_roots_changes_reach_the_upstream(fleet: Fleet) -> None:
    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")], "protocol": "legacy"}
    host = Downstream()
    async with host.client(fleet.stdio()) as client:
        assert json.loads(_text(await client.call_tool("mcp__host__roots", {}))) == host.roots
        host.roots = [{"uri": "file:///work/other", "name": "other"}]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated as of 2026-07-28, still the 2025 way
            await client.session.send_roots_list_changed()
        with anyio.fail_after(20):
            while (
                json.loads(_text(await client.call_tool("mcp__host__client_info", {})))["roots_changes"] < 1
            ):
                await anyio.lowlevel.checkpoint()
        assert json.loads(_text(await client.call_tool("mcp__host__roots", {}))) == host.roots


@pytest.mark.parametrize("upstream", ["legacy", "auto"])
async def test_over_http_each_question_goes_to_the_session_that_caused_it(
    fleet: Fleet, upstream: str
) -> None:
    """Two HTTP hosts call the same upstream at once: no host ever sees the other's question.

    A 2026-07-28 upstream's questions are known exactly (they are resolved in the caller's task);
    a 2025 upstream does not say which request it asks for, so while both hosts have calls in
    flight its questions are refused rather than guessed.
    """
    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")], "protocol": upstream}
    port = free_port()
    server = BackgroundServer(fleet.argv("--http", f"127.0.0.1:{port}"), port, fleet.env)
    one, two = Downstream(), Downstream()
    try:
        async with (
            http_client(server.url(), "legacy", sampling_callback=one.sampling) as first,
            http_client(server.url(), "legacy", sampling_callback=two.sampling) as second,
        ):
            answers: dict[str, Any] = {}

            async def ask(client: Client, prompt: str) -> None:
                answers[prompt] = await client.call_tool("mcp__host__sample", {"prompt": prompt})

            async with anyio.create_task_group() as tg:
                for index in range(4):
                    tg.start_soon(ask, first, f"one-{index}")
                    tg.start_soon(ask, second, f"two-{index}")
            alone = await first.call_tool("mcp__host__sample", {"prompt": "one-alone"})
        asked = {"one": [m.messages[0].content.text for m in one.sampled]}
        asked["two"] = [m.messages[0].content.text for m in two.sampled]
        assert all(text.startswith("one-") for text in asked["one"])  # never the other host's prompt
        assert all(text.startswith("two-") for text in asked["two"])
        answered = {p for p, r in answers.items() if not r.is_error}
        assert answered == {*asked["one"], *asked["two"]} - {"one-alone"}
        for prompt in answered:
            assert _text(answers[prompt]) == f"downstream model saw: {prompt}"
        if upstream == "auto":
            assert len(answered) == 8
        assert _text(alone) == "downstream model saw: one-alone"  # one host in flight: it is asked
    finally:
        server.kill()


async def test_an_upstreams_log_messages_reach_the_host_at_its_level(fleet: Fleet) -> None:
    from mcp.types import LoggingMessageNotificationParams

    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")], "protocol": "legacy"}
    got: list[LoggingMessageNotificationParams] = []
    arrived = anyio.Event()

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        got.append(params)
        if params.data == "second":
            arrived.set()

    async with Client(fleet.stdio(), mode="legacy", logging_callback=on_log) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # logging/setLevel is deprecated as of 2026-07-28
            await client.session.set_logging_level("warning")
        await client.call_tool("mcp__host__log", {"level": "info", "text": "first"})  # below: dropped
        await client.call_tool("mcp__host__log", {"level": "error", "text": "second"})
        with anyio.fail_after(20):
            await arrived.wait()
    assert [(p.level, p.data, p.logger) for p in got] == [("error", "second", "host/host")]


async def test_one_host_with_several_calls_in_flight_is_still_asked(fleet: Fleet) -> None:
    """Concurrent calls of one host to a 2025 upstream: one connection, so no ambiguity."""
    fleet.servers["host"] = {"command": PY, "args": [str(SERVERS / "host.py")], "protocol": "legacy"}
    host = Downstream()
    results: dict[int, Any] = {}
    async with host.client(fleet.stdio()) as client:

        async def ask(index: int) -> None:
            results[index] = await client.call_tool("mcp__host__sample", {"prompt": f"p{index}"})

        async with anyio.create_task_group() as tg:
            for index in range(4):
                tg.start_soon(ask, index)
    assert {i: _text(r) for i, r in results.items()} == {i: f"downstream model saw: p{i}" for i in range(4)}
