"""reload() re-reading the config files, and MCPManager(watch=True) reloading when they change."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from patchbay import ConfigError, MCPManager

from .conftest import fleet, stdio
from .faults.helpers import open_fds, wait_state

pytestmark = pytest.mark.anyio


def write_config(path: Path, servers: dict[str, Any]) -> None:
    """Write the way editors save: a temporary file renamed over the old one."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"servers": servers}))
    os.replace(temporary, path)


async def test_reload_without_argument_rereads_the_same_files(tmp_path: Path) -> None:
    path = tmp_path / "patchbay.json"
    write_config(
        path, {"keep": stdio("raw_echo.py"), "change": stdio("raw_echo.py"), "drop": stdio("raw_echo.py")}
    )
    async with MCPManager(path) as manager:
        pids = {name: s["pid"] for name, s in manager.status().items()}
        write_config(
            path,
            {
                "keep": stdio("raw_echo.py"),
                "change": stdio("raw_echo.py", "--tag", "changed"),
                "new": stdio("raw_echo.py"),
            },
        )
        summary = await manager.reload()
        assert summary == {
            "added": ["new"],
            "removed": ["drop"],
            "changed": ["change"],
            "unchanged": ["keep"],
        }
        status = manager.status()
        assert status["keep"]["pid"] == pids["keep"]
        assert status["change"]["pid"] != pids["change"]
        assert all(s["state"] == "ready" for s in status.values())
        assert (await manager.call_tool("mcp__new__echo", {"text": "hi"})).text == "hi"


async def test_an_invalid_file_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "patchbay.json"
    write_config(path, {"one": stdio("raw_echo.py")})
    async with MCPManager(path) as manager:
        pid = manager.status()["one"]["pid"]
        path.write_text('{"servers": {"one": {"command": 42}}}')
        with pytest.raises(ConfigError, match="command"):
            await manager.reload()
        assert manager.status()["one"]["pid"] == pid
        assert (await manager.call_tool("mcp__one__echo", {"text": "still"})).text == "still"


async def test_reload_of_a_config_built_in_code_needs_the_new_config() -> None:
    async with MCPManager(fleet(one=stdio("raw_echo.py"))) as manager:
        with pytest.raises(ConfigError, match="no files to re-read"):
            await manager.reload()
        assert manager.status()["one"]["state"] == "ready"
        summary = await manager.reload(fleet(two=stdio("raw_echo.py")))
        assert summary["added"] == ["two"]


async def test_watch_needs_files() -> None:
    with pytest.raises(ConfigError, match="watch=True"):
        MCPManager(fleet(one=stdio("raw_echo.py")), watch=True)


async def test_watch_reloads_on_change_survives_a_bad_edit_and_stops_cleanly(tmp_path: Path) -> None:
    """Saving the file applies it; a broken save is logged and changes nothing (the watcher lives on
    and applies the next good save); aclose ends the watcher at once and leaks nothing."""
    path = tmp_path / "patchbay.json"
    write_config(path, {"one": stdio("raw_echo.py")})
    fds, tasks = open_fds(), set(asyncio.all_tasks())
    manager = MCPManager(path, watch=True)
    await manager.start()
    try:
        pid = manager.status()["one"]["pid"]
        write_config(path, {"one": stdio("raw_echo.py"), "two": stdio("raw_echo.py")})
        await wait_state(manager, "two", "ready", timeout=10)
        assert manager.status()["one"]["pid"] == pid

        path.write_text("{ this is not json")
        write_config(path, {"one": stdio("raw_echo.py"), "three": stdio("raw_echo.py")})
        await wait_state(manager, "three", "ready", timeout=10)
        assert "two" not in manager.status()
        assert manager.status()["one"]["pid"] == pid
    finally:
        started = time.perf_counter()
        await manager.aclose()
    assert time.perf_counter() - started < 1.5
    assert {t for t in asyncio.all_tasks() if t not in tasks and not t.done()} == set()
    # watchfiles' native watcher frees its two descriptors (epoll, eventfd) when its object is
    # collected, and the object sits in a reference cycle: collect, then count.
    gc.collect()
    assert open_fds() <= fds


async def test_watch_ignores_other_files_in_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "patchbay.json"
    write_config(path, {"one": stdio("raw_echo.py")})
    async with MCPManager(path, watch=True) as manager:
        pid = manager.status()["one"]["pid"]
        (tmp_path / "notes.txt").write_text("unrelated")
        write_config(tmp_path / "other.json", {"x": stdio("raw_echo.py")})
        await anyio.sleep(1.0)  # a window in which nothing may happen
        assert list(manager.status()) == ["one"]
        assert manager.status()["one"]["pid"] == pid
        # Control: the watcher was running through that window (else the test above proves nothing).
        write_config(path, {"one": stdio("raw_echo.py"), "two": stdio("raw_echo.py")})
        await wait_state(manager, "two", "ready", timeout=10)
        assert manager.status()["one"]["pid"] == pid


async def test_watch_picks_up_default_layer_files_created_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default layers, a user or project file that did not exist at start (folders
    included) is a change too: creating it adds its servers."""
    home, project = tmp_path / "xdg", tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("PATCHBAY_CONFIG", raising=False)
    monkeypatch.chdir(project)
    async with MCPManager(None, watch=True, trust_project=True) as manager:
        assert manager.status() == {}
        (home / "patchbay").mkdir(parents=True)  # folders first, as an editor or `patchbay add` would
        write_config(home / "patchbay" / "mcp.yaml", {"mine": stdio("raw_echo.py")})
        await wait_state(manager, "mine", "ready", timeout=10)
        (project / ".patchbay").mkdir()
        write_config(project / ".patchbay" / "mcp.yaml", {"ours": stdio("raw_echo.py")})
        await wait_state(manager, "ours", "ready", timeout=10)
        assert (await manager.call_tool("mcp__ours__echo", {"text": "hi"})).text == "hi"
        assert manager.status()["mine"]["state"] == "ready"
