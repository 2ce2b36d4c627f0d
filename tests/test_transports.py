"""The same manager over every transport, and the reference servers from PyPI and npm."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from patchbay import MCPManager, ServerUnavailable

from .conftest import BIN, EVERYTHING, fleet, free_port, stdio

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("transport", "path", "extra"),
    [
        ("http", "/mcp", ()),
        ("http", "/mcp", ("--json-response",)),
        ("http", "/mcp", ("--stateless",)),
        ("sse", "/sse", ()),
    ],
    ids=["http", "http-json", "http-stateless", "sse"],
)
async def test_remote_echo(http_server: Any, transport: str, path: str, extra: tuple[str, ...]) -> None:
    server = http_server("echo.py", transport, *extra)
    config = fleet(remote={"url": server.url(path), "transport": transport, "headers": {"X-Test": "1"}})
    async with MCPManager(config) as manager:
        status = manager.status()["remote"]
        assert status["state"] == "ready", status
        assert status["pid"] is None
        result = await manager.call_tool("mcp__remote__echo", {"text": f"over {transport}"})
        assert result.text == f"over {transport}"
        assert (await manager.read_resource("echo://upper/abc")).text == "ABC"
        assert "Ada" in (await manager.get_prompt("mcp__remote__greet", {"name": "Ada"})).text


async def test_remote_pagination_over_http(http_server: Any) -> None:
    server = http_server("paged.py", "http")
    async with MCPManager(fleet(paged={"url": server.url()})) as manager:
        assert len(manager.tools()) == 5
        assert len(manager.resources()) == 5
        assert len(manager.prompts()) == 5


async def test_unreachable_url_fails_that_server_only() -> None:
    port = free_port()  # nothing listens there
    config = fleet(
        gone={"url": f"http://127.0.0.1:{port}/mcp", "connect_timeout": 5}, local=stdio("raw_echo.py")
    )
    async with MCPManager(config) as manager:
        status = manager.status()
        assert status["gone"]["state"] == "failed"
        assert status["gone"]["error"]
        assert status["local"]["state"] == "ready"
        with pytest.raises(ServerUnavailable):
            await manager.call_tool("mcp__gone__echo", {"text": "x"})


async def test_header_values_never_appear_in_status_or_errors(http_server: Any) -> None:
    secret = "Bearer sk-very-secret-token-123"
    port = free_port()
    config = fleet(api={"url": f"http://127.0.0.1:{port}/mcp", "headers": {"Authorization": secret}})
    async with MCPManager(config) as manager:
        status = manager.status()["api"]
        assert status["state"] == "failed"
        assert "sk-very-secret" not in repr(status)


async def test_mcp_server_time() -> None:
    config = fleet(time={"command": str(BIN / "mcp-server-time"), "args": ["--local-timezone", "UTC"]})
    async with MCPManager(config) as manager:
        names = sorted(t.name for t in manager.tools())
        assert names == ["mcp__time__convert_time", "mcp__time__get_current_time"]
        result = await manager.call_tool("mcp__time__get_current_time", {"timezone": "Europe/Paris"})
        assert not result.is_error
        assert result.structured is not None
        assert result.structured["timezone"] == "Europe/Paris"
        bad = await manager.call_tool("mcp__time__get_current_time", {"timezone": "Mars/Olympus"})
        assert bad.is_error


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "hello.txt").write_text("hi\n")
    return repo


async def test_mcp_server_git(tmp_path: Path, git_repo: Path) -> None:
    repo = git_repo
    config = fleet(git={"command": str(BIN / "mcp-server-git"), "args": ["--repository", str(repo)]})
    async with MCPManager(config) as manager:
        tools = {t.original_name for t in manager.tools()}
        assert {"git_status", "git_log", "git_diff", "git_add", "git_commit"} <= tools
        status = await manager.call_tool("mcp__git__git_status", {"repo_path": str(repo)})
        assert not status.is_error
        assert "hello.txt" in status.text
        outside = await manager.call_tool("mcp__git__git_status", {"repo_path": str(tmp_path)})
        assert outside.is_error


def _everything_stdio() -> dict[str, Any]:
    assert EVERYTHING.exists(), "run `make test` (npm ci) to install server-everything"
    return {"command": "node", "args": [str(EVERYTHING), "stdio"]}


async def _exercise_everything(manager: MCPManager, server: str) -> None:
    status = manager.status()[server]
    assert status["state"] == "ready", status
    assert status["server_name"] == "mcp-servers/everything"
    tools = {t.original_name for t in manager.tools(server)}
    assert {"echo", "get-sum", "get-tiny-image", "get-structured-content"} <= tools
    echoed = await manager.call_tool(f"mcp__{server}__echo", {"message": "hi"})
    assert "hi" in echoed.text
    total = await manager.call_tool(f"mcp__{server}__get-sum", {"a": 2, "b": 3})
    assert "5" in total.text
    image = await manager.call_tool(f"mcp__{server}__get-tiny-image")
    assert any(block.type == "image" for block in image.content)
    assert len(manager.resources(server)) >= 1
    first = manager.resources(server)[0]
    assert (await manager.read_resource(first.uri, server=server)).contents
    assert len(manager.resource_templates(server)) == 2
    prompt = await manager.get_prompt(f"mcp__{server}__args-prompt", {"city": "Paris", "state": "TX"})
    assert "Paris" in prompt.text


async def test_everything_over_stdio() -> None:
    async with MCPManager(fleet(everything=_everything_stdio())) as manager:
        await _exercise_everything(manager, "everything")


@pytest.mark.parametrize(
    ("mode", "transport", "path"), [("streamableHttp", "http", "/mcp"), ("sse", "sse", "/sse")]
)
async def test_everything_over_http_and_sse(
    everything_http: Any, mode: str, transport: str, path: str
) -> None:
    server = everything_http(mode)
    async with MCPManager(fleet(everything={"url": server.url(path), "transport": transport})) as manager:
        await _exercise_everything(manager, "everything")


async def test_fleet_of_every_kind(http_server: Any) -> None:
    """Python and Node servers, stdio and HTTP, in one catalogue."""
    remote = http_server("echo.py", "http")
    config = fleet(
        time={"command": str(BIN / "mcp-server-time")},
        everything=_everything_stdio(),
        remote={"url": remote.url()},
        local=stdio("echo.py"),
    )
    async with MCPManager(config) as manager:
        assert {s["state"] for s in manager.status().values()} == {"ready"}
        servers = {t.server for t in manager.tools()}
        assert servers == {"time", "everything", "remote", "local"}
        names = [t.name for t in manager.tools()]
        assert len(names) == len(set(names))
