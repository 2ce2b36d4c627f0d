"""LangChain tools, messages and documents over a running ``MCPManager`` (extra: ``patchbay-mcp[langchain]``).

Every tool calls through the manager's live sessions: no session, process or handshake per call.
A tool's argument schema is the server's MCP input schema, unchanged, and its description is kept.
Results use ``response_format="content_and_artifact"``: the content is the text (cut to
``max_output_chars``), the artifact a dict with the server's structured content and its images,
audio and resources as LangChain standard content blocks. A result with ``isError`` (or arguments
that do not fit the schema) raises ``ToolException``, which the tools handle, so the agent reads a
``ToolMessage(status="error")`` instead of crashing; a server that is down or a timeout raise
patchbay's typed errors as usual.

The tool list is a snapshot of the catalogue: call ``tools()`` again after the fleet changes, or
use ``mode="search"``, whose two tools always search and call the live catalogue.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

try:
    from langchain_core.documents.base import Blob, Document
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
    from langchain_core.messages.content import (
        create_audio_block,
        create_file_block,
        create_image_block,
        create_non_standard_block,
        create_plaintext_block,
    )
    from langchain_core.tools import BaseTool, StructuredTool, ToolException
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "patchbay.adapters.langchain needs langchain-core: pip install 'patchbay-mcp[langchain]'"
    ) from exc

from .._gather import gather
from .._invoke import Fleet, Invocation, Mode, ToolSpec, invoke, specs
from ..results import render_text

if TYPE_CHECKING:
    from ..results import ToolResult

__all__ = ["load_documents", "load_prompt", "load_resources", "tools"]


def tools(
    manager: Fleet,
    servers: Sequence[str] | None = None,
    *,
    mode: Mode = "all",
    query: str | None = None,
    limit: int | None = None,
) -> list[BaseTool]:
    """One async LangChain tool per catalogue tool (of ``servers``, or of every ready server).

    ``mode="search"`` gives just ``patchbay_search_tools`` and ``patchbay_call_tool`` instead, for
    fleets whose full tool list would drown the model; ``query=`` gives the ``limit`` (default 10)
    tools that best match it, for a fresh top-k each turn.
    """
    chosen = specs(manager, servers, mode=mode, query=query, limit=limit)
    return [_tool(manager, spec, servers) for spec in chosen]


def _tool(manager: Fleet, spec: ToolSpec, servers: Sequence[str] | None) -> BaseTool:
    async def call(**arguments: Any) -> tuple[str, dict[str, Any]]:
        invocation = await invoke(manager, spec.name, arguments, servers=servers)
        if invocation.is_error:
            raise ToolException(invocation.text)
        return invocation.text, _artifact(invocation)

    return StructuredTool(
        name=spec.name,
        description=spec.description or "",
        args_schema=spec.input_schema,
        coroutine=call,
        response_format="content_and_artifact",
        handle_tool_error=True,
    )


def _artifact(invocation: Invocation) -> dict[str, Any]:
    result = invocation.result
    if result is None:  # a search: the hits are in the text, as JSON
        return {"tool": invocation.name}
    return {
        "server": result.server,
        "tool": invocation.name,
        "structured_content": result.structured,
        "content": _media_blocks(result),
    }


def _media_blocks(result: ToolResult) -> list[Any]:
    """Every non-text part of a result as a LangChain standard content block."""
    blocks: list[Any] = []
    for block in result.content:
        kind = getattr(block, "type", None)
        if kind == "image":
            blocks.append(create_image_block(base64=block.data, mime_type=block.mime_type))
        elif kind == "audio":
            blocks.append(create_audio_block(base64=block.data, mime_type=block.mime_type))
        elif kind == "resource":
            blocks.append(_resource_block(block.resource))
        elif kind == "resource_link":
            blocks.append(create_non_standard_block(block.model_dump(mode="json", exclude_none=True)))
    return blocks


def _resource_block(resource: Any) -> Any:
    uri = str(resource.uri)
    mime = getattr(resource, "mime_type", None)
    text = getattr(resource, "text", None)
    if text is not None:
        return create_plaintext_block(text=text, uri=uri, source_mime_type=mime)
    return create_file_block(base64=resource.blob, mime_type=mime or "application/octet-stream", uri=uri)


async def load_prompt(
    manager: Fleet,
    name: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    server: str | None = None,
) -> list[BaseMessage]:
    """Render an MCP prompt as LangChain messages (user -> ``HumanMessage``, assistant -> ``AIMessage``)."""
    rendered = await manager.get_prompt(name, arguments, server=server)
    messages: list[BaseMessage] = []
    for message in rendered.messages:
        content = message.content
        kind = getattr(content, "type", None)
        body: Any
        if kind == "image":
            body = [create_image_block(base64=content.data, mime_type=content.mime_type)]
        elif kind == "audio":
            body = [create_audio_block(base64=content.data, mime_type=content.mime_type)]
        else:
            body = render_text([content])
        messages.append(
            AIMessage(content=body) if message.role == "assistant" else HumanMessage(content=body)
        )
    return messages


async def _read_all(
    manager: Fleet, uris: Sequence[str] | None, server: str | None
) -> list[tuple[str, str, list[Any]]]:
    """(server, uri, contents) for each URI (default: every listed resource), read concurrently."""
    targets: list[tuple[str | None, str]]
    if uris is None:
        targets = [(r.server, r.uri) for r in manager.resources(server)]
    else:
        targets = [(server, uri) for uri in uris]

    async def read(owner: str | None, uri: str) -> tuple[str, str, list[Any]]:
        result = await manager.read_resource(uri, owner)
        return result.server, uri, result.contents

    return await gather([partial(read, owner, uri) for owner, uri in targets])


async def load_resources(
    manager: Fleet, uris: Sequence[str] | None = None, *, server: str | None = None
) -> list[Blob]:
    """Read resources as LangChain ``Blob`` s, one per content part (text or binary, nothing dropped).

    Without ``uris`` every listed resource (of ``server``, or of the fleet) is read. Metadata holds
    ``uri`` and ``server``.
    """
    blobs = []
    for owner, uri, contents in await _read_all(manager, uris, server):
        for part in contents:
            metadata = {"uri": str(part.uri), "server": owner, "requested_uri": uri}
            text = getattr(part, "text", None)
            data: str | bytes = text if text is not None else base64.b64decode(part.blob)
            blobs.append(Blob.from_data(data, mime_type=part.mime_type, metadata=metadata))
    return blobs


async def load_documents(
    manager: Fleet, uris: Sequence[str] | None = None, *, server: str | None = None
) -> list[Document]:
    """Read resources as LangChain ``Document`` s, one per content part.

    A binary part becomes a document whose text is a short placeholder and whose metadata keeps
    the data (``metadata["blob"]``, base64), so nothing is lost.
    """
    documents = []
    for owner, uri, contents in await _read_all(manager, uris, server):
        for part in contents:
            metadata: dict[str, Any] = {
                "uri": str(part.uri),
                "server": owner,
                "requested_uri": uri,
                "mime_type": part.mime_type,
            }
            text = getattr(part, "text", None)
            if text is None:
                metadata["blob"] = part.blob
                mime = part.mime_type or "application/octet-stream"
                text = f"[binary resource {part.uri}: {mime}, {len(base64.b64decode(part.blob))} bytes]"
            documents.append(Document(page_content=text, metadata=metadata))
    return documents
