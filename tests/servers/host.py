"""A server that asks its client for things, in both protocol eras: sampling, elicitation, roots, logs.

    python tests/servers/host.py
    python tests/servers/host.py --transport http --port 8772     # http://127.0.0.1:8772/mcp

Tools (each request to the client is a `Resolve(...)` dependency, so the SDK sends it as a
server-to-client request on 2025 sessions and as an `input_required` result on 2026-07-28):
- `sample(prompt)`: asks for a completion (`sampling/createMessage`), returns the model's text.
- `sample_with_tools(prompt)`: the same with a `get_weather` tool and `tool_choice: auto`; returns the
  JSON of the client's answer.
- `elicit(question)`: asks for a form `{name: str = "Ada", age: int = 36, subscribe: bool = true}`;
  returns the JSON of `{"action": ..., "content": ...}`.
- `roots()`: returns the JSON list of the client's roots.
- `log(level, text)`: sends a `notifications/message` at that level (2025: honours `logging/setLevel`).
- `touch(uri)`: announces `resources/updated` for `uri` (2025 subscribers via `resources/subscribe`,
  2026-07-28 via `subscriptions/listen`).
- `add_tool(name)`: registers a tool and announces `tools/list_changed` in both eras.
- `client_info()`: JSON of the capabilities the client declared and how many
  `notifications/roots/list_changed` arrived.
- `exit()`: the process exits (to test re-subscription after a reconnect).
`tools/list` is paginated, two tools per page. Resources `host://a`, `host://b`; prompt `greet(name)`
whose `name` completes from a fixed list.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Annotated, Any

from _serve import serve, transport_args
from mcp import types
from mcp.server import NotificationOptions
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, ListRoots, Resolve, Sample
from pydantic import BaseModel

NAMES = ["Ada", "Alan", "Alonzo", "Barbara", "Grace"]
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class Profile(BaseModel):
    name: str = "Ada"
    age: int = 36
    subscribe: bool = True


def ask_profile(question: str) -> Elicit[Profile]:
    return Elicit(question, Profile)


def ask_model(prompt: str) -> Sample:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    return Sample([message], max_tokens=64, system_prompt="Answer briefly.")


def ask_model_with_tools(prompt: str) -> Sample:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))
    weather = types.Tool(
        name="get_weather",
        description="Weather for a city",
        input_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    return Sample([message], max_tokens=64, tools=[weather], tool_choice=types.ToolChoice(mode="auto"))


def ask_roots() -> ListRoots:
    return ListRoots()


def build_server() -> MCPServer:
    mcp = MCPServer("host", instructions="Asks its client for completions, answers and roots.")
    lowlevel = mcp._lowlevel_server
    lowlevel.create_initialization_options = functools.partial(  # type: ignore[method-assign]
        lowlevel.create_initialization_options, NotificationOptions(tools_changed=True)
    )
    subscribed: set[str] = set()
    threshold = {"level": "debug"}
    roots_changes = [0]

    @mcp.tool()
    async def sample(prompt: str, reply: Annotated[types.CreateMessageResult, Resolve(ask_model)]) -> str:
        """Ask the client's model to answer `prompt`."""
        content = reply.content
        return content.text if isinstance(content, types.TextContent) else str(content)

    @mcp.tool()
    async def sample_with_tools(
        prompt: str, reply: Annotated[types.CreateMessageResultWithTools, Resolve(ask_model_with_tools)]
    ) -> str:
        """Ask the client's model, offering it a get_weather tool."""
        return reply.model_dump_json(by_alias=True, exclude_none=True)

    @mcp.tool()
    async def elicit(
        question: str, answer: Annotated[ElicitationResult[Profile], Resolve(ask_profile)]
    ) -> str:
        """Ask the user for a small profile form."""
        content: Any = answer.data.model_dump() if answer.action == "accept" else None
        return json.dumps({"action": answer.action, "content": content}, sort_keys=True)

    @mcp.tool()
    async def roots(listed: Annotated[types.ListRootsResult, Resolve(ask_roots)]) -> str:
        """The client's roots, as JSON."""
        return json.dumps([{"uri": str(r.uri), "name": r.name} for r in listed.roots])

    @mcp.tool()
    async def log(level: str, text: str, ctx: Context) -> str:
        """Send a log message at `level`."""
        if ctx.protocol_version == "2026-07-28" or LEVELS.index(level) >= LEVELS.index(threshold["level"]):
            await ctx.session.send_log_message(
                level=level, data=text, logger="host", related_request_id=ctx.request_id
            )  # type: ignore[arg-type]
        return "logged"

    @mcp.tool()
    async def touch(uri: str, ctx: Context) -> str:
        """Announce that `uri` changed."""
        if uri in subscribed:
            await ctx.session.send_resource_updated(uri)
        await ctx.notify_resource_updated(uri)
        return "touched"

    @mcp.tool()
    async def add_tool(name: str, ctx: Context) -> str:
        """Register a tool called `name` and announce the change."""

        def added(text: str = "") -> str:
            return f"{name}: {text}"

        mcp.add_tool(added, name=name, description=f"Added at runtime: {name}", structured_output=False)
        await ctx.session.send_tool_list_changed()
        await ctx.notify_tools_changed()
        return f"added {name}"

    @mcp.tool()
    async def client_info(ctx: Context) -> str:
        """What the client declared, and how often it said its roots changed."""
        caps = ctx.client_capabilities
        declared = caps.model_dump(mode="json", by_alias=True, exclude_none=True) if caps else {}
        return json.dumps({"capabilities": declared, "roots_changes": roots_changes[0]}, sort_keys=True)

    @mcp.tool()
    def exit() -> str:
        """End the server process at once."""
        os._exit(0)

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        tools = [t for t in (await mcp.list_tools()) if isinstance(t, types.Tool)]
        start = int(params.cursor) if params is not None and params.cursor else 0
        page = tools[start : start + 2]
        more = start + 2 < len(tools)
        return types.ListToolsResult(tools=page, next_cursor=str(start + 2) if more else None)

    async def on_roots_changed(ctx: Any, params: Any) -> None:
        roots_changes[0] += 1

    lowlevel.add_request_handler("tools/list", types.PaginatedRequestParams, list_tools)
    lowlevel.add_notification_handler(
        "notifications/roots/list_changed", types.NotificationParams, on_roots_changed
    )

    @mcp.resource("host://a")
    def resource_a() -> str:
        return "a"

    @mcp.resource("host://b")
    def resource_b() -> str:
        return "b"

    @mcp.prompt()
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @mcp.completion()
    async def complete(
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: types.CompletionArgument,
        context: types.CompletionContext | None,
    ) -> types.Completion | None:
        if isinstance(ref, types.PromptReference) and argument.name == "name":
            values = [n for n in NAMES if n.lower().startswith(argument.value.lower())]
            return types.Completion(values=values, total=len(values), has_more=False)
        return None

    async def on_subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.add(str(params.uri))
        return types.EmptyResult()

    async def on_unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribed.discard(str(params.uri))
        return types.EmptyResult()

    async def on_set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        threshold["level"] = params.level
        return types.EmptyResult()

    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, on_subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, on_unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, on_set_level)
    return mcp


def main() -> None:
    args = transport_args(__doc__).parse_args()
    serve(build_server(), args.transport, args.port)


if __name__ == "__main__":
    main()
