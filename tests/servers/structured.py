"""Structured tool output in the shapes the Python SDK produces, for `patchbay call`'s printing.

    python tests/servers/structured.py

Tools: `names` (``-> list[str]``: one text block per item, structured ``{"result": [...]}``),
`point` (``-> dict``: the dict as JSON text and as structured content), `count` (``-> int``),
`search` (text "2 matches" with structured content that says more than the text).
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent


def build_server() -> MCPServer:
    mcp = MCPServer("structured")

    @mcp.tool()
    def names() -> list[str]:
        """Three names: a list of strings."""
        return ["ada", "grace", "linus"]

    @mcp.tool()
    def point() -> dict[str, int]:
        """A point: a dict."""
        return {"x": 1, "y": 2}

    @mcp.tool()
    def count() -> int:
        """A number."""
        return 7

    @mcp.tool()
    def search(query: str) -> CallToolResult:
        """A summary as text, the matches as structured content."""
        matches: list[dict[str, Any]] = [
            {"id": 1, "title": f"{query} one"},
            {"id": 2, "title": f"{query} two"},
        ]
        return CallToolResult(
            content=[TextContent(type="text", text="2 matches")], structured_content={"matches": matches}
        )

    return mcp


if __name__ == "__main__":
    build_server().run("stdio")
