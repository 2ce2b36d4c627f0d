"""patchbay's own cost per call, measured inside one process against the bare SDK session.

    benchmarks/.venv/bin/python benchmarks/call_overhead.py [--rounds 60] [--block 100] [--json OUT]

Scenario 2 runs every client in a fresh process, as users do; on this shared 2-core machine two
processes of the same client differ by up to a third (where the scheduler puts client and server
decides much of it), which hides a 5 % effect. Here one process holds, on one server script:

* the SDK used directly: ``stdio_client`` + ``ClientSession`` (initialize, list_tools), as in
  scenario 2's baseline;
* ``MCPManager.call_tool`` with ``protocol: auto`` (the default) and with ``protocol: legacy``;
* the session inside the default manager, called directly: the same connection without
  patchbay's layers, which separates patchbay's own cost from the protocol revision's.

They are called in interleaved blocks (A B C D A B C D ...) and compared by the median over
blocks of the wall time and of this process's CPU time per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = {"sdk-server": "echo.py", "raw-server": "raw_echo.py"}


async def measure(script: str, rounds: int, block: int) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from patchbay import MCPManager

    path = str(HERE / "servers" / script)
    args = {"text": "hello"}
    async with AsyncExitStack() as stack:
        params = StdioServerParameters(command=sys.executable, args=[path, "--name", "sdk"])
        read, write = await stack.enter_async_context(stdio_client(params))
        bare = await stack.enter_async_context(ClientSession(read, write))
        await bare.initialize()
        await bare.list_tools()
        managers = {}
        for protocol in ("auto", "legacy"):
            entry = {"command": sys.executable, "args": [path, "--name", "s0"], "protocol": protocol}
            managers[protocol] = await stack.enter_async_context(MCPManager({"mcpServers": {"s0": entry}}))
        inner = managers["auto"]._get("s0")._client  # the same connection, without patchbay's layers
        assert inner is not None
        protocol = managers["auto"].status()["s0"]["protocol_version"]

        async def sdk() -> None:
            await bare.call_tool("echo", args)

        async def patchbay() -> None:
            await managers["auto"].call_tool("mcp__s0__echo", args)

        async def legacy() -> None:
            await managers["legacy"].call_tool("mcp__s0__echo", args)

        async def session() -> None:
            if protocol >= "2026-07-28":
                await inner.call_tool("echo", args)
            else:
                await inner.session.call_tool("echo", args)

        variants = {"sdk-session": sdk, "patchbay": patchbay, "patchbay-legacy": legacy, "session": session}
        for call in variants.values():
            for _ in range(block):
                await call()
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, call in variants.items():
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(block):
                    await call()
                samples[name].append(
                    ((time.perf_counter() - wall) / block * 1e6, (time.process_time() - cpu) / block * 1e6)
                )
    result: dict[str, Any] = {"protocol": protocol, "clients": {}}
    for name, values in samples.items():
        result["clients"][name] = {
            "wall_us": statistics.median(v[0] for v in values),
            "cpu_us": statistics.median(v[1] for v in values),
        }
    return result


async def main(rounds: int, block: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": rounds, "block": block, "servers": {}}
    for server, script in SCRIPTS.items():
        found = await measure(script, rounds, block)
        out["servers"][server] = found
        base = found["clients"]["sdk-session"]
        print(f"{server} (patchbay negotiated {found['protocol']}):")
        for name, row in found["clients"].items():
            print(
                f"  {name:16s} {row['wall_us']:7.1f} µs wall ({row['wall_us'] / base['wall_us']:.3f}×)"
                f"  {row['cpu_us']:7.1f} µs CPU ({row['cpu_us'] / base['cpu_us']:.3f}×)"
            )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--json", default=None)
    options = parser.parse_args()
    found = asyncio.run(main(options.rounds, options.block))
    if options.json:
        Path(options.json).write_text(json.dumps(found))
