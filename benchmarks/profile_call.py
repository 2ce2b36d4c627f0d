"""Profile one client's sequential call path with cProfile (to find where per-call time goes).

    benchmarks/.venv/bin/python benchmarks/profile_call.py [patchbay|sdk-session|...] [raw|sdk] [calls]

Prints the top functions by own time and by cumulative time, and the event-loop iterations per
call. Not part of `make bench`; this is the tool behind the latency notes in RESULTS.md.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import DRIVERS  # noqa: E402


async def main(client: str, kind: str, calls: int) -> None:
    script = "raw_echo.py" if kind == "raw" else "echo.py"
    spec = {"name": "s0", "command": sys.executable, "args": [str(HERE / "servers" / script), "--name", "s0"]}
    driver = DRIVERS[client]()
    await driver.open([spec])
    for _ in range(200):
        await driver.call("s0", "echo", {"text": "hello"})
    loop = asyncio.get_running_loop()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for _ in range(calls):
        await driver.call("s0", "echo", {"text": "hello"})
    profiler.disable()
    elapsed = time.perf_counter() - t0
    await driver.close()
    stats = pstats.Stats(profiler)
    run_once = sum(v[1] for k, v in stats.stats.items() if k[2] == "_run_once")  # type: ignore[attr-defined]
    print(
        f"{client} vs {kind} server: {elapsed / calls * 1e6:.0f} µs/call under the profiler; "
        f"{run_once / calls:.1f} event-loop iterations per call; loop={type(loop).__name__}"
    )
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            args[0] if args else "patchbay",
            args[1] if len(args) > 1 else "raw",
            int(args[2]) if len(args) > 2 else 3000,
        )
    )
