"""A server written with fastmcp 4.x (the published framework, not the SDK): interop with its transports.

Tools ``add`` (structured int result) and ``shout`` (text); resource ``fastmcp://motto``; prompt
``haiku``. fastmcp 4 speaks the 2026-07-28 revision over Streamable HTTP and falls back to the 2025
handshake. ``--transport stdio|http|sse --port N`` like the other test servers (127.0.0.1 only;
``--stateless`` for stateless Streamable HTTP sessions).
"""

from __future__ import annotations

import sys

from fastmcp import FastMCP

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _serve import transport_args

mcp = FastMCP("fastmcp-app")


@mcp.tool
def add(a: int, b: int) -> int:
    """a + b"""
    return a + b


@mcp.tool
def shout(text: str) -> str:
    """``text`` in capitals."""
    return text.upper()


@mcp.resource("fastmcp://motto")
def motto() -> str:
    return "one fleet, one catalogue"


@mcp.prompt
def haiku(topic: str) -> str:
    """A haiku about ``topic``."""
    return f"Write a haiku about {topic}."


def main() -> None:
    parser = transport_args(__doc__)
    parser.add_argument("--stateless", action="store_true")
    args = parser.parse_args()
    if args.transport == "stdio":
        mcp.run("stdio", show_banner=False)
    else:
        mcp.run(
            "http" if args.transport == "http" else "sse",
            show_banner=False,
            host="127.0.0.1",
            port=args.port,
            **({"stateless_http": True} if args.stateless else {}),
        )


if __name__ == "__main__":
    main()
