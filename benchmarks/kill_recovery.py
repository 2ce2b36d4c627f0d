"""kill -9 of a stdio server -> the next successful call: how long a caller waits for self-healing.

    .venv/bin/python benchmarks/kill_recovery.py [--kills 15] [--server sdk|raw|both]

With the default reconnect settings (base delay 1 s, full jitter) and with a fast retry setting
(base 0.05 s), for the SDK echo server (tests/servers/echo.py, ~0.7 s to start) and the raw one
(tests/servers/raw_echo.py, ~20 ms). Each round: a call succeeds, the server's process is SIGKILLed,
and the caller keeps calling (a ConnectionLost for a call that raced the death is retried, as a
caller would) until one succeeds. Reported: median and max of kill -> success, and of kill ->
`reconnecting` (detection), within one run.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from patchbay import ConnectionLost, MCPManager  # noqa: E402
from patchbay.events import EventStream, ServerStateChanged  # noqa: E402

SERVERS = {
    "sdk": [sys.executable, str(ROOT / "tests" / "servers" / "echo.py")],
    "raw": [sys.executable, str(ROOT / "tests" / "servers" / "raw_echo.py")],
}
RETRY = {"default": None, "fast": {"attempts": 5, "base_delay": 0.05, "max_delay": 1.0}}


async def watch(events: EventStream, detected: anyio.Event, detected_at: list[float]) -> None:
    """Note when the supervisor noticed the death (the server went to `reconnecting`)."""
    async for event in events:
        if isinstance(event, ServerStateChanged) and event.state == "reconnecting":
            detected_at[0] = time.perf_counter()
            detected.set()
            return


async def measure(kind: str, retry: str, kills: int) -> tuple[list[float], list[float]]:
    command, *args = SERVERS[kind]
    entry: dict[str, object] = {"command": command, "args": args}
    if RETRY[retry] is not None:
        entry["reconnect"] = RETRY[retry]
    recoveries: list[float] = []
    detections: list[float] = []
    async with MCPManager({"servers": {"s": entry}}) as manager:
        for _ in range(kills):
            await manager.call_tool("mcp__s__echo", {"text": "before"})
            pid = manager.status()["s"]["pid"]
            detected = anyio.Event()
            detected_at = [0.0]

            async with manager.events() as events, anyio.create_task_group() as tg:
                tg.start_soon(watch, events, detected, detected_at)
                killed_at = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                while True:
                    try:
                        await manager.call_tool("mcp__s__echo", {"text": "after"}, timeout=30)
                        break
                    except ConnectionLost:
                        continue
                recoveries.append(time.perf_counter() - killed_at)
                with anyio.fail_after(5):
                    await detected.wait()
                detections.append(detected_at[0] - killed_at)
    return recoveries, detections


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms, max {max(values) * 1000:7.1f} ms"


async def main() -> None:
    logging.getLogger("patchbay").setLevel(logging.ERROR)  # the expected "connection lost" warnings
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--server", choices=["sdk", "raw", "both"], default="both")
    options = parser.parse_args()
    kinds = ["sdk", "raw"] if options.server == "both" else [options.server]
    print(f"kill -9 -> next successful call, {options.kills} kills per row")
    for kind in kinds:
        for retry in RETRY:
            recoveries, detections = await measure(kind, retry, options.kills)
            print(
                f"{kind:>3} server, {retry:>7} backoff: recovery {ms(recoveries)}; detection {ms(detections)}"
            )


if __name__ == "__main__":
    anyio.run(main)
