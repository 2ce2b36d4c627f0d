"""MCPManager against real servers over stdio: catalogue, calls, lifecycle, failures, reload."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import anyio
import psutil
import pytest

from patchbay import (
    ConnectError,
    MCPManager,
    PromptNotFound,
    ResourceNotFound,
    ServerNotFound,
    ServerUnavailable,
    ToolNotFound,
    ToolTimeout,
    get_manager,
)

from .conftest import EXAMPLES, NPM, PY, SERVERS, fleet, new_tag, processes_with, stdio

pytestmark = pytest.mark.anyio

VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


async def test_tools_are_namespaced_and_callable() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        names = {t.name for t in manager.tools()}
        assert {"mcp__echo__echo", "mcp__echo__add", "mcp__echo__fail"} <= names
        tool = manager.get_tool("mcp__echo__echo")
        assert tool.server == "echo"
        assert tool.original_name == "echo"
        assert tool.input_schema["properties"]["text"]["type"] == "string"
        assert tool.output_schema is not None

        result = await manager.call_tool("mcp__echo__echo", {"text": "hello"})
        assert not result.is_error
        assert result.text == "hello"
        assert result.structured == {"result": "hello"}

        added = await manager.call_tool("mcp__echo__add", {"a": 2, "b": 40})
        assert added.structured == {"result": 42}


async def test_tool_error_is_a_result_not_an_exception() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        result = await manager.call_tool("mcp__echo__fail", {"message": "nope"})
        assert result.is_error
        assert "nope" in result.text


async def test_non_text_content_gets_placeholders() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        result = await manager.call_tool("mcp__echo__mixed")
        kinds = [block.type for block in result.content]
        assert "image" in kinds
        assert "[image: image/png" in result.text
        assert "[resource link:" in result.text


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_both_protocol_eras(mode: str, version: str) -> None:
    async with MCPManager(fleet(echo=stdio("echo.py", protocol=mode))) as manager:
        status = manager.status()["echo"]
        assert status["state"] == "ready"
        assert status["protocol_version"] == version
        result = await manager.call_tool("mcp__echo__echo", {"text": mode})
        assert result.text == mode


async def test_pagination_reads_every_page() -> None:
    async with MCPManager(fleet(paged=stdio("paged.py"))) as manager:
        assert sorted(t.original_name for t in manager.tools()) == ["t1", "t2", "t3", "t4", "t5"]
        assert len(manager.resources()) == 5
        assert len(manager.resource_templates()) == 3
        assert len(manager.prompts()) == 5
        status = manager.status()["paged"]
        assert (status["tools"], status["resources"], status["prompts"]) == (5, 5, 5)
        result = await manager.call_tool("mcp__paged__t5", {"x": 1})
        assert not result.is_error


async def test_awkward_names_are_valid_unique_and_routed_to_the_original() -> None:
    async with MCPManager(fleet(**{"my.awkward server": stdio("awkward.py")})) as manager:
        tools = manager.tools()
        names = [t.name for t in tools]
        assert len(names) == len(set(names))
        assert all(VALID_NAME.match(n) for n in names), names
        originals = {t.original_name for t in tools}
        assert {"get.current.time", "a.b", "a_b", "get_current_time"} <= originals
        # The tool that needed no sanitising keeps the plain name; the one that collides gets a hash.
        assert manager.get_tool("mcp__my_awkward_server__a_b").original_name == "a_b"
        for tool in tools:
            result = await manager.call_tool(tool.name)
            assert result.text == tool.original_name, tool


async def test_same_tool_on_two_servers_does_not_collide() -> None:
    async with MCPManager(fleet(one=stdio("echo.py"), two=stdio("echo.py"))) as manager:
        one = await manager.call_tool("mcp__one__pid")
        two = await manager.call_tool("mcp__two__pid")
        assert one.text != two.text
        with pytest.raises(ToolNotFound):
            await manager.call_tool("echo")  # ambiguous original name: refused, not guessed


async def test_include_and_exclude_filters() -> None:
    config = fleet(
        a=stdio("echo.py", include_tools=["echo*", "add"]),
        b=stdio("echo.py", exclude_tools=["echo*", "hang"]),
    )
    async with MCPManager(config) as manager:
        assert sorted(t.original_name for t in manager.tools("a")) == ["add", "echo", "echo_plain"]
        b_tools = {t.original_name for t in manager.tools("b")}
        assert "echo" not in b_tools
        assert "hang" not in b_tools
        assert "add" in b_tools


async def test_resources_templates_and_prompts() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        assert [r.uri for r in manager.resources()] == ["echo://static"]
        assert manager.resource_templates()[0].uri_template == "echo://upper/{text}"
        static = await manager.read_resource("echo://static")
        assert static.server == "echo"
        assert static.text
        upper = await manager.read_resource("echo://upper/shout")
        assert upper.text == "SHOUT"
        with pytest.raises(ResourceNotFound):
            await manager.read_resource("nothing://here")

        prompt = manager.prompts()[0]
        assert prompt.name == "mcp__echo__greet"
        assert [a.name for a in prompt.arguments] == ["name"]
        rendered = await manager.get_prompt("mcp__echo__greet", {"name": "Ada"})
        assert "Ada" in rendered.text
        with pytest.raises(PromptNotFound):
            await manager.get_prompt("mcp__echo__nope")


async def test_ambiguous_resource_needs_a_server() -> None:
    async with MCPManager(fleet(one=stdio("echo.py"), two=stdio("echo.py"))) as manager:
        with pytest.raises(ResourceNotFound, match="several servers"):
            await manager.read_resource("echo://static")
        result = await manager.read_resource("echo://static", server="two")
        assert result.server == "two"


async def test_connects_concurrently() -> None:
    """Ten servers that each take 1 s to start are ready in well under 10 x 1 s."""
    servers = {f"s{i}": stdio("raw_echo.py", "--startup-delay", "1.0") for i in range(10)}
    started = time.perf_counter()
    async with MCPManager(fleet(**servers)) as manager:
        elapsed = time.perf_counter() - started
        assert all(s["state"] == "ready" for s in manager.status().values())
        assert len(manager.tools()) == 20
    assert elapsed < 5, f"10 servers took {elapsed:.2f}s; sequential would be >= 10s"


async def test_failing_server_does_not_affect_the_others() -> None:
    config = fleet(
        good=stdio("echo.py"),
        crash=stdio("crash.py"),
        missing={"command": "/nonexistent/patchbay-test-server"},
    )
    async with MCPManager(config) as manager:
        status = manager.status()
        assert status["good"]["state"] == "ready"
        assert status["crash"]["state"] == "failed"
        assert "boom: missing API key" in status["crash"]["error"]
        assert status["missing"]["state"] == "failed"
        assert "command not found" in status["missing"]["error"]
        assert (await manager.call_tool("mcp__good__echo", {"text": "ok"})).text == "ok"
        with pytest.raises(ConnectError, match="boom"):
            await manager.connect("crash")
        with pytest.raises(ServerNotFound):
            await manager.connect("nope")


async def test_connect_timeout_fails_only_that_server() -> None:
    config = fleet(
        slow=stdio("raw_echo.py", "--startup-delay", "30", connect_timeout=0.5),
        fast=stdio("raw_echo.py"),
    )
    started = time.perf_counter()
    async with MCPManager(config) as manager:
        assert time.perf_counter() - started < 5
        status = manager.status()
        assert status["slow"]["state"] == "failed"
        assert "timed out after 0.5s" in status["slow"]["error"]
        assert status["fast"]["state"] == "ready"


async def test_unset_variable_fails_that_server_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATCHBAY_TEST_UNSET", raising=False)
    config = fleet(
        needs=stdio("echo.py", env={"TOKEN": "${PATCHBAY_TEST_UNSET}"}),
        fine=stdio("echo.py"),
    )
    async with MCPManager(config) as manager:
        status = manager.status()
        assert status["needs"]["state"] == "failed"
        assert "PATCHBAY_TEST_UNSET" in status["needs"]["error"]
        assert status["fine"]["state"] == "ready"


async def test_env_values_reach_the_server_but_never_the_status() -> None:
    secret = "s3cret-value-that-must-not-leak"
    async with MCPManager(fleet(echo=stdio("echo.py", env={"API_KEY": secret}))) as manager:
        result = await manager.call_tool("mcp__echo__env", {"name": "API_KEY"})
        assert result.text == secret
        dumped = json.dumps(manager.status())
        assert secret not in dumped


async def test_tool_timeout_cancels_and_the_session_survives() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        started = time.perf_counter()
        with pytest.raises(ToolTimeout) as caught:
            await manager.call_tool("mcp__echo__hang", timeout=0.5)
        assert time.perf_counter() - started < 1.5
        assert caught.value.server == "echo"
        assert (await manager.call_tool("mcp__echo__echo", {"text": "still here"})).text == "still here"


async def test_progress_is_forwarded() -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        result = await manager.call_tool("mcp__echo__slow", {"seconds": 0.5}, progress=on_progress)
        assert not result.is_error
    assert len(seen) >= 3
    assert seen[-1][0] >= seen[0][0]


async def test_disconnect_kills_the_whole_process_group() -> None:
    tag = new_tag()
    async with MCPManager(fleet(sp=stdio("spawner.py", "--tag", tag), other=stdio("raw_echo.py"))) as manager:
        assert manager.status()["sp"]["state"] == "ready"
        assert len(processes_with(tag)) >= 2  # the server and its helper grandchild
        await manager.disconnect("sp")
        assert processes_with(tag) == []
        assert manager.status()["sp"]["state"] == "closed"
        assert manager.tools("sp") == []
        with pytest.raises(ServerUnavailable, match="closed"):
            await manager.call_tool("mcp__sp__echo", {"text": "x"})
        assert (await manager.call_tool("mcp__other__echo", {"text": "x"})).text == "x"
        await manager.connect("sp")
        assert manager.status()["sp"]["state"] == "ready"
    assert processes_with(tag) == []


async def test_aclose_is_parallel_and_leaves_nothing() -> None:
    """Five servers that ignore stdin EOF and SIGTERM close in about one grace period."""
    tag = new_tag()
    servers = {
        f"stubborn{i}": stdio(
            "spawner.py", "--tag", tag, "--ignore-eof", "--ignore-sigterm", shutdown_grace=1.0
        )
        for i in range(5)
    }
    manager = MCPManager(fleet(**servers))
    await manager.start()
    assert len(processes_with(tag)) >= 10
    started = time.perf_counter()
    await manager.aclose()
    elapsed = time.perf_counter() - started
    assert processes_with(tag) == []
    assert elapsed < 3.5, f"closing took {elapsed:.2f}s: not parallel (sequential would be >= 5s)"


async def test_wait_false_connects_in_the_background() -> None:
    manager = MCPManager(fleet(echo=stdio("echo.py")), wait=False)
    async with manager:
        assert manager.status()["echo"]["state"] in ("connecting", "ready")
        # A call waits for the connecting server within its own deadline.
        result = await manager.call_tool("echo", {"text": "later"}, server="echo", timeout=30)
        assert result.text == "later"


async def test_disabled_and_manual_servers() -> None:
    config = fleet(off=stdio("echo.py", enabled=False), manual=stdio("raw_echo.py", auto_connect=False))
    async with MCPManager(config) as manager:
        status = manager.status()
        assert status["off"]["state"] == "disabled"
        assert status["manual"]["state"] == "closed"
        await manager.connect("manual")
        assert manager.status()["manual"]["state"] == "ready"
        with pytest.raises(ServerUnavailable):
            await manager.connect("off")


async def test_reload_applies_only_the_difference() -> None:
    before = fleet(keep=stdio("raw_echo.py"), change=stdio("raw_echo.py"), drop=stdio("raw_echo.py"))
    after = fleet(
        keep=stdio("raw_echo.py"), change=stdio("raw_echo.py", "--tag", "changed"), new=stdio("raw_echo.py")
    )
    async with MCPManager(before) as manager:
        pids = {name: s["pid"] for name, s in manager.status().items()}
        summary = await manager.reload(after)
        assert summary == {
            "added": ["new"],
            "removed": ["drop"],
            "changed": ["change"],
            "unchanged": ["keep"],
        }
        status = manager.status()
        assert set(status) == {"keep", "change", "new"}
        assert status["keep"]["pid"] == pids["keep"]
        assert status["change"]["pid"] != pids["change"]
        assert all(s["state"] == "ready" for s in status.values())
        assert not any(t.server == "drop" for t in manager.tools())


async def test_status_is_a_json_snapshot() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        status = json.loads(json.dumps(manager.status()))["echo"]
        assert status["transport"] == "stdio"
        assert status["server_name"] == "echo"
        assert isinstance(status["pid"], int)
        assert status["tools"] > 5
        assert status["capabilities"]["tools"] is not None
        assert status["connected_at"] <= time.time()


async def test_calls_from_many_tasks_share_one_session() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        results: list[str] = []

        async def call(i: int) -> None:
            results.append((await manager.call_tool("mcp__echo__echo", {"text": str(i)})).text)

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(call, i)
        assert sorted(results, key=int) == [str(i) for i in range(50)]
        assert manager.status()["echo"]["pid"] is not None


async def test_from_config_files_and_the_default_manager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "fleet.yaml"
    config_file.write_text(
        "# a comment\n"
        "servers:\n"
        f"  echo:\n    command: {PY}\n    args: [{SERVERS / 'raw_echo.py'}]\n"
        "settings:\n  timeout: 5\n"
    )
    async with MCPManager.from_config(config_file) as manager:
        assert [t.name for t in manager.tools()] == ["mcp__echo__echo", "mcp__echo__pid"]
        assert manager.config.settings.timeout == 5

    monkeypatch.setenv("PATCHBAY_CONFIG", str(config_file))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))
    monkeypatch.chdir(tmp_path)
    shared = get_manager()
    assert get_manager() is shared
    async with shared:
        assert (await shared.call_tool("mcp__echo__echo", {"text": "shared"})).text == "shared"
    assert get_manager() is not shared  # a closed default manager is replaced


def test_the_demo_runs_end_to_end() -> None:
    """`make run`'s main job: connect the demo fleet, list, call, read, prompt."""
    done = subprocess.run(
        [PY, str(EXAMPLES / "demo.py")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "mcp__calculator__evaluate" in done.stdout
    assert "-> 35.0" in done.stdout
    assert "welcome" in done.stdout


def _group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return members


async def test_disconnect_through_a_shell_wrapper_leaves_nothing() -> None:
    tag = new_tag()
    script = f"{PY} {SERVERS / 'spawner.py'} --tag {tag}; true"
    async with MCPManager(fleet(wrapped={"command": "sh", "args": ["-c", script]})) as manager:
        pgid = manager.status()["wrapped"]["pid"]
        assert len(_group_members(pgid)) >= 3  # sh, the server, its helper
        await manager.disconnect("wrapped")
        assert _group_members(pgid) == []
        assert processes_with(tag) == []


async def test_disconnect_through_npx_leaves_nothing() -> None:
    """npx -> sh -> node: killing only npx would orphan the real server."""
    config = fleet(
        everything={
            "command": "npx",
            "args": ["--prefer-offline", "-y", "@modelcontextprotocol/server-everything"],
            "cwd": str(NPM),
            "connect_timeout": 60,
        }
    )
    async with MCPManager(config) as manager:
        status = manager.status()["everything"]
        assert status["state"] == "ready", status
        pgid = status["pid"]
        assert len(_group_members(pgid)) >= 2
        await manager.disconnect("everything")
        assert _group_members(pgid) == []
