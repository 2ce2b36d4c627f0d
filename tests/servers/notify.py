"""A server whose tools, resources and prompts change at runtime, announcing each change to both eras.

    python tests/servers/notify.py
    python tests/servers/notify.py --transport http --port 8770      # http://127.0.0.1:8770/mcp
    python tests/servers/notify.py --transport sse --port 8771       # http://127.0.0.1:8771/sse

Tools: add_tool(name), remove_tool(name), add_resource(uri, text), remove_resource(uri),
add_prompt(name), remove_prompt(name), ping_tools_changed(). A tool made by add_tool takes an optional
`text` and returns "<name>: <text>"; a prompt made by add_prompt returns "prompt <name>".

Every change is announced twice: `ctx.session.send_*_list_changed()` reaches 2025-era (handshake)
clients as a `notifications/*/list_changed` message, and `ctx.notify_*_changed()` reaches 2026-07-28
clients that opened `subscriptions/listen`. Each is a silent no-op in the other era. The handshake-era
`listChanged` capability flags are advertised as true.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from _serve import serve, transport_args
from mcp.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.server.mcpserver.resources import TextResource

# The initial tools; removing one of these is refused so the server stays drivable.
CONTROL_TOOLS = {
    "add_tool",
    "remove_tool",
    "add_resource",
    "remove_resource",
    "add_prompt",
    "remove_prompt",
    "ping_tools_changed",
}


def _dynamic_tool(name: str) -> Callable[[str], str]:
    def tool(text: str = "") -> str:
        return f"{name}: {text}"

    return tool


def _dynamic_prompt(name: str) -> Callable[[], str]:
    def prompt() -> str:
        return f"prompt {name}"

    return prompt


async def _tools_changed(ctx: Context) -> None:
    await ctx.session.send_tool_list_changed()
    await ctx.notify_tools_changed()


async def _resources_changed(ctx: Context) -> None:
    await ctx.session.send_resource_list_changed()
    await ctx.notify_resources_changed()


async def _prompts_changed(ctx: Context) -> None:
    await ctx.session.send_prompt_list_changed()
    await ctx.notify_prompts_changed()


def build_server() -> MCPServer:
    mcp = MCPServer("notify", instructions="Its lists change at runtime; watch for list_changed.")
    # MCPServer has no option for the handshake-era listChanged flags (they default to false), so set
    # them on the low-level server it wraps. On 2026-07-28 they follow `subscriptions/listen` anyway.
    lowlevel = mcp._lowlevel_server
    lowlevel.create_initialization_options = functools.partial(  # type: ignore[method-assign]
        lowlevel.create_initialization_options,
        NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
    )
    resources = mcp._resource_manager._resources  # MCPServer has add_resource but no remove_resource

    @mcp.tool()
    async def add_tool(name: str, ctx: Context) -> str:
        """Register a new tool called `name` and announce that the tool list changed."""
        if mcp._tool_manager.get_tool(name) is not None:
            raise ToolError(f"tool {name!r} already exists")
        mcp.add_tool(
            _dynamic_tool(name), name=name, description=f"Added at runtime: {name}", structured_output=False
        )
        await _tools_changed(ctx)
        return f"added tool {name}"

    @mcp.tool()
    async def remove_tool(name: str, ctx: Context) -> str:
        """Remove a tool added by add_tool and announce that the tool list changed."""
        if name in CONTROL_TOOLS:
            raise ToolError(f"refusing to remove control tool {name!r}")
        mcp.remove_tool(name)  # ToolError "Unknown tool" if absent
        await _tools_changed(ctx)
        return f"removed tool {name}"

    @mcp.tool()
    async def add_resource(uri: str, text: str, ctx: Context) -> str:
        """Add a text resource and announce that the resource list changed."""
        if uri in resources:
            raise ToolError(f"resource {uri!r} already exists")
        mcp.add_resource(TextResource(uri=uri, name=uri, text=text, mime_type="text/plain"))
        await _resources_changed(ctx)
        return f"added resource {uri}"

    @mcp.tool()
    async def remove_resource(uri: str, ctx: Context) -> str:
        """Remove a resource and announce that the resource list changed."""
        if resources.pop(uri, None) is None:
            raise ToolError(f"no resource {uri!r}")
        await _resources_changed(ctx)
        return f"removed resource {uri}"

    @mcp.tool()
    async def add_prompt(name: str, ctx: Context) -> str:
        """Add a prompt and announce that the prompt list changed."""
        if mcp._prompt_manager.get_prompt(name) is not None:
            raise ToolError(f"prompt {name!r} already exists")
        mcp.add_prompt(
            Prompt.from_function(_dynamic_prompt(name), name=name, description=f"Added at runtime: {name}")
        )
        await _prompts_changed(ctx)
        return f"added prompt {name}"

    @mcp.tool()
    async def remove_prompt(name: str, ctx: Context) -> str:
        """Remove a prompt and announce that the prompt list changed."""
        try:
            mcp.remove_prompt(name)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        await _prompts_changed(ctx)
        return f"removed prompt {name}"

    @mcp.tool()
    async def ping_tools_changed(ctx: Context) -> str:
        """Announce that the tool list changed without changing it."""
        await _tools_changed(ctx)
        return "announced"

    return mcp


def main() -> None:
    args = transport_args(__doc__).parse_args()
    serve(build_server(), args.transport, args.port)


if __name__ == "__main__":
    main()
