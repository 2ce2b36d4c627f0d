"""Soak: a fleet under steady load while its servers are killed, and nothing may hang or leak.

    .venv/bin/python benchmarks/soak.py [--servers 20] [--calls 10000] [--concurrency 50]
                                        [--kill-every 2] [--server sdk|raw] [--timeout 10]

20 stdio servers (the SDK echo server by default), 10,000 `echo` calls from 50 concurrent tasks,
each to a random server, while every 2 s a random ready server's process is SIGKILLed. Default
reconnect settings (1 s base delay, full jitter, 5 attempts). Printed at the end:

* calls succeeded, calls failed with a typed error (per type), calls failed with anything else;
* calls that hung: no answer and no error by the call's deadline + 1 s (must be 0);
* processes leaked: server processes alive after aclose, found by a tag in their argv (must be 0);
* time to recover after each kill: kill -> first success of a call *started* after the kill on that
  server (median, max);
* host memory growth: RSS after the run minus RSS after warm-up.

Not part of `make test` (it runs for a minute or so).
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import random
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from patchbay import MCPManager, PatchbayError  # noqa: E402


def server_entry(kind: str, tag: str, index: int) -> dict[str, Any]:
    if kind == "sdk":
        return {
            "command": sys.executable,
            "args": [str(ROOT / "tests/servers/echo.py"), "--name", f"{tag}-{index}"],
        }
    return {"command": sys.executable, "args": [str(ROOT / "tests/servers/raw_echo.py"), "--tag", tag]}


def tagged(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and any(
                tag in a for a in proc.info["cmdline"] or ()
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class Soak:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.succeeded = 0
        self.typed: collections.Counter[str] = collections.Counter()
        self.untyped: collections.Counter[str] = collections.Counter()
        self.hung = 0
        self.issued = 0
        self.kills = 0
        self.killed_at: dict[str, float] = {}
        self.recoveries: list[float] = []
        self.rss: list[int] = []  # sampled at every kill: growth that keeps climbing is a leak
        self.done = anyio.Event()

    async def worker(self, manager: MCPManager, names: list[str]) -> None:
        timeout = self.options.timeout
        while self.issued < self.options.calls:
            self.issued += 1
            name = random.choice(names)
            started = time.perf_counter()
            with anyio.move_on_after(timeout + 1) as watchdog:
                try:
                    await manager.call_tool(f"mcp__{name}__echo", {"text": "soak"}, timeout=timeout)
                except PatchbayError as exc:
                    self.typed[type(exc).__name__] += 1
                except Exception as exc:
                    self.untyped[f"{type(exc).__name__}: {exc}"] += 1
                else:
                    self.succeeded += 1
                    killed = self.killed_at.get(name)
                    if killed is not None and started > killed:
                        self.recoveries.append(time.perf_counter() - killed)
                        del self.killed_at[name]
            if watchdog.cancelled_caught:
                self.hung += 1
        self.done.set()

    async def killer(self, manager: MCPManager, names: list[str]) -> None:
        while not self.done.is_set():
            with anyio.move_on_after(self.options.kill_every):
                await self.done.wait()
            if self.done.is_set():
                return
            ready = [n for n in names if manager.status()[n]["state"] == "ready" and n not in self.killed_at]
            if not ready:
                continue
            self.rss.append(psutil.Process().memory_info().rss)
            victim = random.choice(ready)
            pid = manager.status()[victim]["pid"]
            self.killed_at[victim] = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            self.kills += 1


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--server", choices=["sdk", "raw"], default="sdk")
    parser.add_argument("--timeout", type=float, default=10.0)
    options = parser.parse_args()
    logging.getLogger("patchbay").setLevel(logging.ERROR)  # the expected "connection lost" warnings

    tag = f"pbsoak-{uuid.uuid4().hex[:8]}"
    names = [f"s{i}" for i in range(options.servers)]
    config = {"servers": {n: server_entry(options.server, tag, i) for i, n in enumerate(names)}}
    soak = Soak(options)
    me = psutil.Process()
    started = time.perf_counter()
    async with MCPManager(config) as manager:
        connect = time.perf_counter() - started
        not_ready = [n for n, s in manager.status().items() if s["state"] != "ready"]
        assert not not_ready, f"not ready: {not_ready}"
        for name in names * 10:  # warm-up: every server, every code path once
            await manager.call_tool(f"mcp__{name}__echo", {"text": "warm"})
        rss_before = me.memory_info().rss
        run_started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(soak.killer, manager, names)
            for _ in range(options.concurrency):
                tg.start_soon(soak.worker, manager, names)
        elapsed = time.perf_counter() - run_started
        rss_after = me.memory_info().rss
    with anyio.fail_after(10):
        leaked = await anyio.to_thread.run_sync(tagged, tag)

    calls = soak.succeeded + sum(soak.typed.values()) + sum(soak.untyped.values()) + soak.hung
    print(
        f"soak: {options.servers} {options.server} stdio servers, {calls} calls "
        f"from {options.concurrency} tasks, a random server SIGKILLed every {options.kill_every:g} s"
    )
    print(f"  connect all:              {connect:.2f} s")
    print(f"  run time:                 {elapsed:.1f} s ({calls / elapsed:.0f} calls/s), {soak.kills} kills")
    print(f"  calls succeeded:          {soak.succeeded}")
    typed = ", ".join(f"{k} {v}" for k, v in soak.typed.most_common()) or "none"
    print(f"  failed with a typed error: {sum(soak.typed.values())} ({typed})")
    print(f"  failed untyped:           {sum(soak.untyped.values())} {dict(soak.untyped) or ''}")
    print(f"  calls that hung:          {soak.hung}")
    print(f"  processes leaked:         {len(leaked)}")
    if soak.recoveries:
        print(
            f"  recovery after a kill:    median {statistics.median(soak.recoveries):.2f} s, "
            f"max {max(soak.recoveries):.2f} s (n={len(soak.recoveries)})"
        )
    print(
        f"  host memory growth:       {(rss_after - rss_before) / 2**20:+.1f} MiB "
        f"(RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB)"
    )
    if len(soak.rss) >= 3:
        thirds = [soak.rss[0], soak.rss[len(soak.rss) // 2], soak.rss[-1]]
        print("  RSS at first/middle/last kill: " + " / ".join(f"{r / 2**20:.1f}" for r in thirds) + " MiB")


if __name__ == "__main__":
    anyio.run(main)
