"""Tools with awkward names, for namespacing/sanitising tests. Each tool returns its own name as text.

    python tests/servers/awkward.py
    python tests/servers/awkward.py --transport http --port 8768      # http://127.0.0.1:8768/mcp
    python tests/servers/awkward.py --transport sse --port 8769       # http://127.0.0.1:8769/sse

MCPServer accepts every one of these names: names outside SEP-986 (`[A-Za-z0-9._-]{1,128}`) only log a
warning at registration, which is silenced here.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from mcp.server.mcpserver import MCPServer

LONG_NAME = "a_tool_name_that_is_exactly_sixty_characters_long_0123456789"
assert len(LONG_NAME) == 60

NAMES = [
    "get_current_time",
    "get.current.time",  # dots; collides with get_current_time once dots become underscores
    LONG_NAME,  # over 64 characters once a server prefix is added
    "a b",  # space
    "a.b",  # a.b and a_b collide after sanitising
    "a_b",
    "ünïcode",  # non-ASCII
    "x/y",  # slash
    "-leading-dash",
]


def build_server() -> MCPServer:
    logging.getLogger("mcp.shared.tool_name_validation").setLevel(logging.ERROR)
    mcp = MCPServer("awkward", instructions="Tools with awkward names; each returns its own name.")
    for name in NAMES:
        mcp.add_tool(_returns(name), name=name, description=f"Returns {name!r}", structured_output=False)
    return mcp


def _returns(name: str) -> Callable[[], str]:
    """A no-argument tool function returning `name` (bound by closure, so the input schema is empty)."""

    def tool() -> str:
        return name

    return tool


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument(
        "--port", type=int, default=0, help="HTTP/SSE port on 127.0.0.1 (default 0: any free port)"
    )
    args = parser.parse_args()

    mcp = build_server()
    if args.transport == "stdio":
        mcp.run("stdio")
    elif args.transport == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        mcp.run("sse", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
