"""A low-level `Server` that paginates every list: tools, resources, resource templates, prompts.

    python tests/servers/paged.py [--page-size 2]
    python tests/servers/paged.py --transport http --port 8767      # http://127.0.0.1:8767/mcp

Contents: tools t1..t5 (each echoes its name and arguments as JSON text), resources paged://r/1..5,
templates paged://a/{x}, paged://b/{x}, paged://c/{x} (readable), prompts p1..p5 (argument `topic`, optional).
With the default page size 2 every list comes back in 3 pages (2 + 2 + 1; 2 + 1 for the templates).
`nextCursor` is an opaque base64 token bound to the list kind; a malformed cursor, or one from a
different list, is a JSON-RPC error -32602.

`--endless`: the tool list never ends: every page holds `--page-size` new tools (e1, e2, ...) and a
fresh, distinct `nextCursor`, as a hostile server would.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

import anyio
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextContent,
    TextResourceContents,
    Tool,
)

T = TypeVar("T")

TOOLS = [
    Tool(
        name=f"t{i}",
        description=f"Paged tool {i}: echoes its arguments",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    )
    for i in range(1, 6)
]
RESOURCES = [
    Resource(uri=f"paged://r/{i}", name=f"r{i}", description=f"Paged resource {i}", mime_type="text/plain")
    for i in range(1, 6)
]
TEMPLATES = [
    ResourceTemplate(
        uri_template=f"paged://{letter}/{{x}}", name=f"template-{letter}", mime_type="text/plain"
    )
    for letter in "abc"
]
PROMPTS = [
    Prompt(
        name=f"p{i}",
        description=f"Paged prompt {i}",
        arguments=[PromptArgument(name="topic", description="what to talk about", required=False)],
    )
    for i in range(1, 6)
]
_TEMPLATE_URI = re.compile(r"^paged://([abc])/(.+)$")


class Pager:
    def __init__(self, page_size: int) -> None:
        self.page_size = page_size

    def page(
        self, kind: str, items: Sequence[T], params: PaginatedRequestParams | None
    ) -> tuple[list[T], str | None]:
        cursor = params.cursor if params is not None else None
        start = 0 if cursor is None else self._decode(kind, cursor)
        end = start + self.page_size
        next_cursor = self._encode(kind, end) if end < len(items) else None
        return list(items[start:end]), next_cursor

    @staticmethod
    def _encode(kind: str, offset: int) -> str:
        return base64.urlsafe_b64encode(json.dumps({"k": kind, "o": offset}).encode()).decode()

    @staticmethod
    def _decode(kind: str, cursor: str) -> int:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            if data["k"] == kind and isinstance(data["o"], int) and data["o"] >= 0:
                return int(data["o"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            pass
        raise MCPError(code=INVALID_PARAMS, message=f"Invalid cursor for {kind}: {cursor!r}")


def build_server(page_size: int, endless: bool = False) -> Server[Any]:
    pager = Pager(page_size)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        if endless:
            start = 0 if params is None or params.cursor is None else pager._decode("tools", params.cursor)
            schema = {"type": "object"}
            more = [Tool(name=f"e{start + i + 1}", input_schema=schema) for i in range(page_size)]
            return ListToolsResult(tools=more, next_cursor=pager._encode("tools", start + page_size))
        tools, cursor = pager.page("tools", TOOLS, params)
        return ListToolsResult(tools=tools, next_cursor=cursor)

    async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        if params.name not in {tool.name for tool in TOOLS}:
            return CallToolResult(
                content=[TextContent(type="text", text=f"Unknown tool: {params.name}")], is_error=True
            )
        text = json.dumps({"tool": params.name, "arguments": params.arguments or {}}, sort_keys=True)
        return CallToolResult(content=[TextContent(type="text", text=text)])

    async def list_resources(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        resources, cursor = pager.page("resources", RESOURCES, params)
        return ListResourcesResult(resources=resources, next_cursor=cursor)

    async def list_resource_templates(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        templates, cursor = pager.page("templates", TEMPLATES, params)
        return ListResourceTemplatesResult(resource_templates=templates, next_cursor=cursor)

    async def read_resource(
        ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        uri = str(params.uri)
        if any(resource.uri == uri for resource in RESOURCES):
            text = f"content of {uri}"
        elif match := _TEMPLATE_URI.match(uri):
            text = f"template {match[1]} with x={match[2]}"
        else:
            raise MCPError(code=INVALID_PARAMS, message=f"Resource not found: {uri}")
        return ReadResourceResult(contents=[TextResourceContents(uri=uri, text=text, mime_type="text/plain")])

    async def list_prompts(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListPromptsResult:
        prompts, cursor = pager.page("prompts", PROMPTS, params)
        return ListPromptsResult(prompts=prompts, next_cursor=cursor)

    async def get_prompt(ctx: ServerRequestContext[Any], params: GetPromptRequestParams) -> GetPromptResult:
        if params.name not in {prompt.name for prompt in PROMPTS}:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {params.name}")
        topic = (params.arguments or {}).get("topic", "nothing in particular")
        message = PromptMessage(role="user", content=TextContent(type="text", text=f"{params.name}: {topic}"))
        return GetPromptResult(description=f"Paged prompt {params.name}", messages=[message])

    return Server(
        "paged",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


async def serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(server: Server[Any], port: int) -> None:
    import uvicorn

    app = server.streamable_http_app(host="127.0.0.1")
    await uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info")).serve()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--page-size", type=int, default=2)
    parser.add_argument("--endless", action="store_true", help="a tool list with no end")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument(
        "--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default 0: any free port)"
    )
    args = parser.parse_args()

    server = build_server(args.page_size, args.endless)
    if args.transport == "stdio":
        anyio.run(serve_stdio, server)
    else:
        anyio.run(serve_http, server, args.port)


if __name__ == "__main__":
    main()
