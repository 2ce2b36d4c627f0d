"""Does a slow event subscriber slow the fleet down? Call latency with and without one, in one run.

    .venv/bin/python benchmarks/events_bench.py [--calls 200] [--rounds 5]

Each call is ``host.py``'s ``log`` tool, which sends one ``notifications/message`` per call, so
every call publishes one ``LogMessage`` event from inside the connection's receive path. Three
managers on three server processes, measured round-robin (one block of calls each per round, the
order rotating):

* ``none``: no subscriber;
* ``stalled``: an ``events()`` stream that is never read (its buffer fills, then drops the oldest);
* ``slow-callback``: ``subscribe(callback)`` whose callback sleeps 10 ms per event.

The report gives the median per-call latency of each (median of round medians), the ratio to
``none``, and the events the stalled stream dropped. The claim under test is that delivery never
blocks the receive loop: if it did, every ``slow-callback`` call would take at least the callback's
10 ms, and the stalled stream would stop the server's connection once its buffer filled.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from patchbay import MCPManager  # noqa: E402
from patchbay.events import Event  # noqa: E402


def entry() -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": [str(ROOT / "tests" / "servers" / "host.py")],
        "protocol": "legacy",
    }


async def block(manager: MCPManager, calls: int) -> list[float]:
    times = []
    for i in range(calls):
        started = time.perf_counter()
        await manager.call_tool("mcp__host__log", {"level": "info", "text": f"m{i}"})
        times.append(time.perf_counter() - started)
    return times


async def main(calls: int, rounds: int) -> None:
    async with (
        MCPManager({"servers": {"host": entry()}}) as none,
        MCPManager({"servers": {"host": entry()}}) as stalled,
        MCPManager({"servers": {"host": entry()}}) as slow,
    ):
        stream = stalled.events(maxsize=64)

        async def sleepy(event: Event) -> None:
            await anyio.sleep(0.01)

        slow.subscribe(sleepy, maxsize=64)
        managers = {"none": none, "stalled": stalled, "slow-callback": slow}
        for manager in managers.values():
            await block(manager, 20)  # warm-up
        medians: dict[str, list[float]] = {name: [] for name in managers}
        order = list(managers)
        for round_ in range(rounds):
            for name in order[round_ % 3 :] + order[: round_ % 3]:  # rotate: no position bias
                medians[name].append(statistics.median(await block(managers[name], calls)))
        base = statistics.median(medians["none"])
        print(f"{calls} calls x {rounds} rounds, one LogMessage event per call")
        print(f"{'subscriber':<14} {'median µs/call':>15} {'round medians (µs)':>40} {'ratio':>6}")
        for name, values in medians.items():
            median = statistics.median(values)
            spread = ", ".join(f"{v * 1e6:.0f}" for v in values)
            print(f"{name:<14} {median * 1e6:>15.0f} {spread:>40} {median / base:>6.2f}")
        print(f"stalled stream: {stream.dropped} events dropped, {stream.pending()} buffered (maxsize 64)")
        stream.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.rounds)
