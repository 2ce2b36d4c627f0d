"""Tools with awkward names, for namespacing/sanitising tests. Each tool returns its own name as text.

    python tests/servers/awkward.py
    python tests/servers/awkward.py --transport http --port 8768      # http://127.0.0.1:8768/mcp
    python tests/servers/awkward.py --transport sse --port 8769       # http://127.0.0.1:8769/sse

MCPServer accepts every one of these names: names outside SEP-986 (`[A-Za-z0-9._-]{1,128}`) only log a
warning at registration, which is silenced here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from _serve import serve, transport_args
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
    args = transport_args(__doc__).parse_args()
    serve(build_server(), args.transport, args.port)


if __name__ == "__main__":
    main()
