"""Demo MCP server: an in-memory notebook with tools, resources and prompts.

Run over stdio: python examples/servers/notes.py

Every note is also a resource (notes://note/<title, percent-encoded>); adding a new note announces
"resources list changed" to both protocol eras.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from mcp.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.resources import FunctionResource

mcp = MCPServer("notes", instructions="A small notebook: add, list and search notes; read them as resources.")

# MCPServer offers no switch for the handshake-era `listChanged` capability flags (they default to false);
# set them on the low-level server it wraps. On 2026-07-28 the flags follow `subscriptions/listen` anyway.
_lowlevel = mcp._lowlevel_server
_lowlevel.create_initialization_options = functools.partial(  # type: ignore[method-assign]
    _lowlevel.create_initialization_options, NotificationOptions(resources_changed=True)
)

NOTES: dict[str, str] = {}


def note_uri(title: str) -> str:
    return f"notes://note/{quote(title, safe='')}"


def _store(title: str, body: str) -> bool:
    """Store a note; True if it is new (and so was registered as a resource)."""
    is_new = title not in NOTES
    NOTES[title] = body
    if is_new:
        mcp.add_resource(
            FunctionResource.from_function(
                fn=lambda: NOTES[title],
                uri=note_uri(title),
                name=f"note: {title}",
                description=f"The note titled {title!r}",
                mime_type="text/plain",
            )
        )
    return is_new


@mcp.tool()
async def add_note(title: str, body: str, ctx: Context) -> str:
    """Add a note (or replace the body of an existing one)."""
    title = title.strip()
    if not title:
        raise ToolError("title must not be empty")
    if not _store(title, body):
        return f"updated note {title!r}"
    await ctx.session.send_resource_list_changed()  # 2025-era clients (a no-op on 2026-07-28)
    await ctx.notify_resources_changed()  # 2026-07-28 clients listening via subscriptions/listen
    return f"added note {title!r}"


@mcp.tool()
def list_notes() -> list[str]:
    """The titles of all notes."""
    return list(NOTES)


@mcp.tool()
def search_notes(query: str) -> list[str]:
    """Titles of the notes whose title or body contains `query` (case-insensitive)."""
    needle = query.casefold()
    return [title for title, body in NOTES.items() if needle in title.casefold() or needle in body.casefold()]


@mcp.resource(
    "notes://index", name="index", description="Every note title, one per line", mime_type="text/plain"
)
def index() -> str:
    return "\n".join(f"- {title}" for title in NOTES) or "(no notes)"


@mcp.resource("notes://note/{title}", name="note", description="One note by title", mime_type="text/plain")
def note(title: str) -> str:
    if title not in NOTES:
        raise ResourceNotFoundError(f"no note titled {title!r}")
    return NOTES[title]


# Seeded after notes://index so the index comes first in resources/list.
for _title, _body in {
    "welcome": "patchbay connects one agent to many MCP servers.",
    "shopping": "eggs, flour, coffee",
    "meeting": "Thursday 10:00 with the platform team: agree on the config format.",
}.items():
    _store(_title, _body)


@mcp.prompt()
def summarize_notes(style: str = "brief") -> str:
    """Ask for a summary of all notes in the given style."""
    listing = "\n".join(f"## {title}\n{body}" for title, body in NOTES.items())
    return f"Summarize these notes in a {style} style.\n\n{listing}"


@mcp.prompt()
def draft_note(topic: str) -> str:
    """Ask for a draft note about a topic."""
    return f"Draft a short note about {topic}. Give it a one-line title, then the body."


if __name__ == "__main__":
    mcp.run("stdio")
