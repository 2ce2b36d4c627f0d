"""The general-purpose test server: echo, errors, progress, hangs, env, content types.

Run over stdio (the default) or HTTP, always bound to 127.0.0.1:

    python tests/servers/echo.py [--name NAME] [--startup-delay SECONDS]
    python tests/servers/echo.py --transport http --port 8765 [--json-response] [--stateless]
    python tests/servers/echo.py --transport sse --port 8766

HTTP endpoints: http://127.0.0.1:PORT/mcp (streamable HTTP) and http://127.0.0.1:PORT/sse (SSE).
`--port 0` (the default) takes any free port; uvicorn then logs
"Uvicorn running on http://127.0.0.1:PORT" on stderr.
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import sys
import time

import anyio
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import (
    ContentBlock,
    EmbeddedResource,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

# A valid 1x1 PNG (one opaque red pixel).
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
STATIC_TEXT = "static echo resource"


def build_server(name: str) -> MCPServer:
    mcp = MCPServer(name, instructions="Test server: echoes, fails, sleeps and hangs on request.")

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged (structured output + text)."""
        return text

    @mcp.tool(structured_output=False)
    def echo_plain(text: str) -> str:
        """Return the text unchanged (text content only, no outputSchema)."""
        return text

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool()
    def fail(message: str) -> str:
        """Fail: an isError result with the text "Error executing tool fail: <message>"."""
        # Only ToolError keeps its message: any other exception becomes "Error executing tool fail".
        raise ToolError(message)

    @mcp.tool()
    async def slow(seconds: float, ctx: Context) -> str:
        """Sleep for `seconds`, reporting progress every 0.1 s."""
        steps = max(1, math.ceil(seconds / 0.1))
        for step in range(1, steps + 1):
            await anyio.sleep(seconds / steps)
            done = min(seconds, step * seconds / steps)
            await ctx.report_progress(done, seconds, f"step {step}/{steps}")
        return f"slept {seconds}"

    @mcp.tool()
    async def hang() -> str:
        """Never return (until cancelled)."""
        await anyio.sleep_forever()
        return "unreachable"

    @mcp.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    @mcp.tool()
    def env(name: str) -> str:
        """The value of an environment variable in the server process, or '<unset>'."""
        return os.environ.get(name, "<unset>")

    @mcp.tool()
    def image() -> Image:
        """A tiny PNG image."""
        return Image(data=TINY_PNG, format="png")

    @mcp.tool(structured_output=False)
    def mixed() -> list[ContentBlock]:
        """Text, image, embedded resource and resource link content blocks in one result."""
        return [
            TextContent(type="text", text="mixed content"),
            Image(data=TINY_PNG, format="png").to_image_content(),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(uri="echo://static", text=STATIC_TEXT, mime_type="text/plain"),
            ),
            ResourceLink(type="resource_link", name="static", uri="echo://static", mime_type="text/plain"),
        ]

    @mcp.tool()
    def crash(code: int = 1) -> str:
        """Exit the server process immediately with this code (for disconnect tests)."""
        sys.stderr.flush()
        os._exit(code)

    @mcp.resource("echo://static", name="static", mime_type="text/plain")
    def static() -> str:
        return STATIC_TEXT

    @mcp.resource("echo://upper/{text}", name="upper", mime_type="text/plain")
    def upper(text: str) -> str:
        return text.upper()

    @mcp.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Hello, {name}!"

    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="echo", help="server name reported in serverInfo (default: echo)")
    parser.add_argument("--startup-delay", type=float, default=0.0, help="sleep this long before serving")
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="HTTP/SSE port on 127.0.0.1 (default 0: any free port; uvicorn logs it)",
    )
    parser.add_argument("--json-response", action="store_true", help="streamable HTTP: JSON instead of SSE")
    parser.add_argument("--stateless", action="store_true", help="streamable HTTP: stateless mode")
    args = parser.parse_args()

    mcp = build_server(args.name)
    if args.startup_delay > 0:
        time.sleep(args.startup_delay)
    if args.transport == "stdio":
        mcp.run("stdio")
    elif args.transport == "http":
        mcp.run(
            "streamable-http",
            host="127.0.0.1",
            port=args.port,
            json_response=args.json_response,
            stateless_http=args.stateless,
        )
    else:
        mcp.run("sse", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
