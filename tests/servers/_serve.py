"""The command line every HTTP-capable test server shares: `--transport stdio|http|sse --port N`.

Servers are standalone scripts, so this sits beside them and is imported from the script's own
directory. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
from typing import Any


def transport_args(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument(
        "--port", type=int, default=0, help="HTTP/SSE port on 127.0.0.1 (default 0: any free port)"
    )
    return parser


def serve(mcp: Any, transport: str, port: int, **http_options: Any) -> None:
    """Run an MCPServer over stdio, Streamable HTTP or SSE on loopback."""
    if transport == "stdio":
        mcp.run("stdio")
    elif transport == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=port, **http_options)
    else:
        mcp.run("sse", host="127.0.0.1", port=port)
