"""A host process for the process-table tests: connect a fleet, say so, then wait to be killed.

    python tests/faults/host.py CONFIG_JSON

It prints one line, `READY <status as JSON>`, once every server has settled, then sleeps until a
signal ends it. The test decides how it dies (SIGTERM, SIGKILL) and then reads the process table.
"""

from __future__ import annotations

import json
import sys

import anyio

from patchbay import MCPManager


async def main() -> None:
    config = json.loads(sys.argv[1])
    async with MCPManager(config) as manager:
        print("READY " + json.dumps(manager.status()), flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main)
