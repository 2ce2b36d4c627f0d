"""Demo MCP server: the current time in any IANA timezone, and a sleep that reports progress.

Run over stdio: python examples/servers/clock.py
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

mcp = MCPServer("clock", instructions="Tells the time in any IANA timezone; can also sleep with progress.")


def _zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z"):
        return UTC  # works even without a tz database installed
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(f"Unknown timezone {name!r}: use an IANA name such as 'Europe/Paris'") from exc


@mcp.tool()
def now(timezone: str = "UTC") -> str:
    """The current time in `timezone` (an IANA name such as 'Europe/Paris') as ISO 8601."""
    return datetime.now(_zone(timezone)).isoformat()


@mcp.tool()
async def sleep(seconds: float, ctx: Context) -> str:
    """Sleep for `seconds` (at most 600), reporting progress every 0.1 s."""
    if not 0 <= seconds <= 600:
        raise ToolError("seconds must be between 0 and 600")
    steps = max(1, math.ceil(seconds / 0.1))
    for step in range(1, steps + 1):
        await anyio.sleep(seconds / steps)
        await ctx.report_progress(min(seconds, step * seconds / steps), seconds, f"{step}/{steps}")
    return f"slept {seconds} s"


if __name__ == "__main__":
    mcp.run("stdio")
