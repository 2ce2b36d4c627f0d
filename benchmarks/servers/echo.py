"""The benchmark echo server (SDK ``MCPServer``): ``echo``, ``pid``, optionally slow to start.

    python benchmarks/servers/echo.py [--name NAME] [--startup-delay 0.3] [--tag TAG]
    python benchmarks/servers/echo.py --transport http --port PORT

``--startup-delay`` sleeps before serving (after the SDK is imported), which makes the slow
starter of the connect scenario. ``--tag`` only marks the process so the harness can find it.
HTTP binds 127.0.0.1 only; the endpoint is ``http://127.0.0.1:PORT/mcp``.
"""

from __future__ import annotations

import argparse
import os
import time

from mcp.server.mcpserver import MCPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="echo")
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--tag", default="")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    server = MCPServer(args.name, log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    if args.startup_delay > 0:
        time.sleep(args.startup_delay)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
