"""No orphaned processes: the process table after disconnect, aclose, and a host that is SIGTERMed
or SIGKILLed. Servers include grandchildren (`spawner.py`), `sh -c` wrappers (the `npx -> sh ->
node` shape) and servers that ignore stdin EOF and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from patchbay import MCPManager

from ..conftest import PY, new_tag, processes_with, stdio
from .helpers import FAULTS, faulty, within

pytestmark = pytest.mark.anyio

HOST = Path(__file__).resolve().parent / "host.py"


def wrapped(tag: str, *flags: str) -> dict[str, Any]:
    """A server with a grandchild, started through `sh -c` (`sh` stays as the parent), as `npx`
    starts `node`: three processes in the group."""
    command = f"{PY} {FAULTS / 'faulty.py'} --tag {tag} --grandchild {' '.join(flags)}; true"
    return {"command": "sh", "args": ["-c", command]}


def _poll_gone(tag: str, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while (left := processes_with(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


async def gone(tag: str, timeout: float = 5.0) -> list[Any]:
    """The tagged processes still alive after ``timeout`` (signals from another process take effect
    asynchronously and the process table offers nothing to wait on, so this polls, off the loop)."""
    return await anyio.to_thread.run_sync(_poll_gone, tag, timeout)


async def test_disconnect_leaves_no_process_behind() -> None:
    """Expected: after disconnect, nothing of that server remains: not the `sh` wrapper, not the
    server, not its grandchild, even when they ignore stdin EOF and SIGTERM."""
    polite, stubborn, other = new_tag(), new_tag(), new_tag()
    config = {
        "servers": {
            "polite": wrapped(polite),
            "stubborn": {**wrapped(stubborn, "--ignore-eof", "--ignore-sigterm"), "shutdown_grace": 0.5},
            "other": stdio("raw_echo.py", "--tag", other),
        }
    }
    async with MCPManager(config) as manager:
        assert len(processes_with(polite)) == 3
        assert len(processes_with(stubborn)) == 3
        await manager.disconnect("polite")
        assert processes_with(polite) == []
        with within(0.5 + 1):
            await manager.disconnect("stubborn")
        assert processes_with(stubborn) == []
        assert len(processes_with(other)) == 1
    assert processes_with(other) == []


async def test_aclose_closes_ten_stubborn_servers_in_one_grace_period() -> None:
    """Expected: ten servers that ignore stdin EOF and SIGTERM are all gone after aclose, which
    takes about one grace period (0.5 s here), not ten."""
    tag = new_tag()
    servers = {
        f"s{i}": faulty(tag, "--ignore-eof", "--ignore-sigterm", shutdown_grace=0.5) for i in range(10)
    }
    manager = MCPManager({"servers": servers})
    await manager.start()
    assert len(processes_with(tag)) == 10
    with within(0.5 + 2.5):  # sequential closing would take 10 x 0.5 s
        await manager.aclose()
    assert processes_with(tag) == []


def start_host(config: dict[str, Any]) -> subprocess.Popen[str]:
    host = subprocess.Popen(
        [PY, str(HOST), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert host.stdout is not None
    line = host.stdout.readline()
    assert line.startswith("READY "), f"host did not start: {line!r}"
    status = json.loads(line.removeprefix("READY "))
    assert all(s["state"] == "ready" for s in status.values()), status
    return host


def servers_of(host: subprocess.Popen[str], tag: str) -> list[Any]:
    """The tagged processes other than the host (whose argv carries the config, tags included)."""
    return [p for p in processes_with(tag) if p.pid != host.pid]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_host_sigterm_or_sigint_leaves_no_process_behind(signum: signal.Signals) -> None:
    """Expected: SIGTERM (or Ctrl-C) to the host closes every server group before the host exits:
    wrappers, servers, grandchildren, and servers that ignore stdin EOF and SIGTERM."""
    tag = new_tag()
    config = {
        "servers": {
            "sdk": stdio("spawner.py", "--tag", tag),
            "wrapped": wrapped(tag),
            "stubborn": faulty(tag, "--grandchild", "--ignore-eof", "--ignore-sigterm", shutdown_grace=0.5),
            "deaf": faulty(tag, "--ignore-eof"),
        }
    }
    host = await anyio.to_thread.run_sync(start_host, config)
    try:
        assert len(servers_of(host, tag)) == 2 + 3 + 2 + 1
        host.send_signal(signum)
        await anyio.to_thread.run_sync(host.wait, 10)
        assert host.returncode != 0
        assert await gone(tag) == []
    finally:
        if host.poll() is None:
            host.kill()


async def test_host_sigkill_leaves_no_process_behind() -> None:
    """Expected: when the host is SIGKILLed (it runs no cleanup at all), every server goes: those
    that exit on stdin EOF, one that ignores EOF (parent-death signal), and, through the reaper,
    grandchildren and a server that ignores EOF *and* SIGTERM; then the reaper itself exits."""
    tag = new_tag()
    config = {
        "servers": {
            "sdk": stdio("echo.py", "--name", tag),
            "eof": faulty(tag),
            "deaf": faulty(tag, "--ignore-eof"),
            "wrapped": wrapped(tag),
            "stubborn": faulty(tag, "--grandchild", "--ignore-eof", "--ignore-sigterm"),
        }
    }
    host = await anyio.to_thread.run_sync(start_host, config)
    try:
        assert len(servers_of(host, tag)) == 1 + 1 + 1 + 3 + 2
        reapers = [
            p for p in psutil.Process(host.pid).children() if "groups = set()" in " ".join(p.cmdline())
        ]
        assert len(reapers) == 1
        killed = time.perf_counter()
        os.kill(host.pid, signal.SIGKILL)
        await anyio.to_thread.run_sync(host.wait, 10)
        assert await gone(tag) == []
        assert time.perf_counter() - killed < 3
        await anyio.to_thread.run_sync(reapers[0].wait, 5)
    finally:
        if host.poll() is None:
            host.kill()


def escaped(tag: str) -> list[str]:
    """A spawner whose helper calls ``setsid()``: it leaves the server's process group."""
    return [str(Path(__file__).resolve().parent.parent / "servers" / "spawner.py"), "--tag", tag, "--setsid"]


async def test_a_setsid_grandchild_goes_on_close() -> None:
    """Expected: the helper that left the group (its own session) goes when its server is closed."""
    tag = new_tag()
    helper = f"patchbay-spawner-helper={tag}"
    try:
        async with MCPManager({"servers": {"daemon": {"command": PY, "args": escaped(tag)}}}) as manager:
            assert manager.status()["daemon"]["state"] == "ready"
            [found] = processes_with(helper)
            assert os.getsid(found.pid) == found.pid != os.getpgid(manager.status()["daemon"]["pid"])
        assert await gone(helper, timeout=3) == []
    finally:
        for proc in processes_with(helper):
            proc.kill()


async def test_a_setsid_grandchild_goes_when_the_host_is_sigkilled() -> None:
    """Expected: the reaper noted the escaped helper when the server started answering, and ends
    it with the server's group once the host is SIGKILLed."""
    tag = new_tag()
    host = await anyio.to_thread.run_sync(
        start_host, {"servers": {"daemon": {"command": PY, "args": escaped(tag)}}}
    )
    try:
        helper = f"patchbay-spawner-helper={tag}"
        [found] = processes_with(helper)
        assert os.getsid(found.pid) == found.pid
        os.kill(host.pid, signal.SIGKILL)
        await anyio.to_thread.run_sync(host.wait, 10)
        assert await gone(helper, timeout=3) == []
    finally:
        if host.poll() is None:
            host.kill()
        for proc in processes_with(f"patchbay-spawner-helper={tag}"):
            proc.kill()
