"""A server whose ``hang`` tool never answers (and an ``echo`` that does).

python benchmarks/servers/hang.py [--tag TAG]
"""

from __future__ import annotations

import argparse

import anyio
from mcp.server.mcpserver import MCPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="hang")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    server = MCPServer(args.name, log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    async def hang() -> str:
        """Never returns."""
        await anyio.sleep_forever()
        return "unreachable"

    server.run("stdio")


if __name__ == "__main__":
    main()
