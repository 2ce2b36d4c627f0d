"""An SDK server (MCPServer) that shows whether a timed-out call's handler was really cancelled.

    python tests/faults/servers/cancel_probe.py [--tag TAG] [--transport stdio|http --port N]

* `block {key}`: waits forever; when cancelled, records `key` as cancelled (and re-raises).
* `outcome {key}`: `"cancelled"` once `block` with that key was cancelled, `"running"` while it still
  waits, `"unknown"` if it never started. The status is recorded in the handler itself, so it proves
  the server-side task was cancelled, not merely that a notification arrived.
"""

from __future__ import annotations

import argparse

import anyio
from mcp.server.mcpserver import MCPServer

_status: dict[str, str] = {}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1")
    options = parser.parse_args()
    mcp = MCPServer("cancel-probe")

    @mcp.tool()
    async def block(key: str) -> str:
        """Wait forever; record the cancellation."""
        _status[key] = "running"
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            _status[key] = "cancelled"
            raise
        return "unreachable"

    @mcp.tool()
    def outcome(key: str) -> str:
        """What happened to `block(key)`."""
        return _status.get(key, "unknown")

    if options.transport == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=options.port)
    else:
        mcp.run("stdio")


if __name__ == "__main__":
    main()
