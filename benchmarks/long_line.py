"""One 50 MB line on a stdio server's stdout: the cost of reading it, and why the buffer is a bytearray.

    .venv/bin/python benchmarks/long_line.py [--mb 50] [--reps 3]

Two measurements in one run, medians of `--reps`:

* buffer growth alone, 256 KiB chunks (the transport's read size) appended until the line is whole:
  `bytes +=` (copies the whole buffer per chunk: quadratic) against `bytearray +=` (in place);
* end to end: `call_tool` on tests/faults/servers/faulty.py `flood`, which writes the line and then
  its answer, so the time is what a caller waits while patchbay reads and drops the line.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from patchbay import MCPManager  # noqa: E402

CHUNK = 256 * 1024


def grow(size: int, kind: type[bytes] | type[bytearray]) -> float:
    chunk = b"x" * CHUNK
    started = time.perf_counter()
    buffer = kind()
    while len(buffer) < size:
        buffer += chunk
    return time.perf_counter() - started


async def end_to_end(mb: float, reps: int) -> list[float]:
    entry = {"command": sys.executable, "args": [str(ROOT / "tests/faults/servers/faulty.py")]}
    times = []
    async with MCPManager({"servers": {"f": entry}}) as manager:
        for _ in range(reps):
            started = time.perf_counter()
            result = await manager.call_tool("mcp__f__flood", {"mb": mb}, timeout=60)
            times.append(time.perf_counter() - started)
            assert result.text == "flooded"
    return times


async def main() -> None:
    logging.getLogger("patchbay").setLevel(logging.ERROR)  # "ignored a non-JSON-RPC line", each rep
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--reps", type=int, default=3)
    options = parser.parse_args()
    size = int(options.mb * 2**20)
    as_bytes = statistics.median(grow(size, bytes) for _ in range(options.reps))
    as_bytearray = statistics.median(grow(size, bytearray) for _ in range(options.reps))
    print(f"{options.mb:g} MB line in {CHUNK // 1024} KiB chunks, median of {options.reps}:")
    print(f"  buffer growth, bytes +=     {as_bytes * 1000:8.1f} ms")
    print(
        f"  buffer growth, bytearray += {as_bytearray * 1000:8.1f} ms ({as_bytes / as_bytearray:.0f}x faster)"
    )
    calls = await end_to_end(options.mb, options.reps)
    print(
        f"  call_tool answered after the line (end to end): median {statistics.median(calls) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    anyio.run(main)
