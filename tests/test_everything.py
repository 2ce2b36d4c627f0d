"""Every feature of @modelcontextprotocol/server-everything, through MCPManager, over stdio, HTTP and SSE.

One server and one manager per transport (module-scoped: server-everything takes ~0.4 s to start and
the 2-core test budget is tight); each test drives one feature through patchbay's public API.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from patchbay import MCPManager, ProtocolError
from patchbay.events import CatalogueChanged, Event, EventStream, LogMessage, ResourceUpdated
from patchbay.handlers import ElicitationRequest, ElicitationResponse, Handlers, SamplingRequest

from .conftest import EVERYTHING, LOOPBACK_PRELOAD, BackgroundServer, free_port

pytestmark = pytest.mark.anyio

TRANSPORTS = ["stdio", "http", "sse"]
# Registered after initialize, each only when the client declared the capability it needs.
CAPABILITY_TOOLS = {
    "get-roots-list",
    "trigger-elicitation-request",
    "trigger-url-elicitation",
    "trigger-sampling-request",
}
ROOT = "file:///srv/projects/demo"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Host:
    """What the fixture's handlers saw, and what the elicitation handler answers next."""

    manager: MCPManager
    events: EventStream
    sampled: list[SamplingRequest] = field(default_factory=list)
    asked: list[ElicitationRequest] = field(default_factory=list)
    answers: list[ElicitationResponse] = field(default_factory=list)

    async def next(self, kind: type[Event], timeout: float = 15, **match: Any) -> Any:
        with anyio.fail_after(timeout):
            async for event in self.events:
                if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                    return event
        raise AssertionError(f"no {kind.__name__} {match}")


@pytest.fixture(scope="module", params=TRANSPORTS)
def everything_entry(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    assert EVERYTHING.exists(), "run `make setup` (npm ci) to install server-everything"
    transport = request.param
    if transport == "stdio":
        yield {"command": "node", "args": [str(EVERYTHING), "stdio"]}
        return
    port = free_port()
    env = {"PORT": str(port), "NODE_OPTIONS": f"--require {LOOPBACK_PRELOAD}"}
    mode = "streamableHttp" if transport == "http" else "sse"
    server = BackgroundServer(["node", str(EVERYTHING), mode], port, env)
    try:
        yield {"url": server.url("/mcp" if transport == "http" else "/sse"), "transport": transport}
    finally:
        server.kill()


@pytest.fixture(scope="module")
async def host(everything_entry: dict[str, Any]) -> AsyncIterator[Host]:
    state: dict[str, Host] = {}

    async def sampling(request: SamplingRequest) -> dict[str, Any]:
        state["host"].sampled.append(request)
        return {"role": "assistant", "content": {"type": "text", "text": "forty-two"}, "model": "test-model"}

    async def elicitation(request: ElicitationRequest) -> ElicitationResponse:
        me = state["host"]
        me.asked.append(request)
        return me.answers.pop(0) if me.answers else ElicitationResponse.cancel()

    handlers = Handlers(sampling=sampling, elicitation=elicitation, roots=[ROOT])
    manager = MCPManager({"servers": {"everything": everything_entry}}, handlers=handlers)
    async with manager, manager.events() as events:
        me = state["host"] = Host(manager, events)
        # The capability tools arrive with tools/list_changed just after initialize.
        with anyio.fail_after(15):
            while not {t.original_name for t in manager.tools()} >= CAPABILITY_TOOLS:
                await me.next(CatalogueChanged, server="everything")
        yield me


def call(host: Host, tool: str, arguments: dict[str, Any] | None = None, **options: Any) -> Any:
    return host.manager.call_tool(f"mcp__everything__{tool}", arguments or {}, **options)


async def test_tools_added_after_initialize_are_in_the_catalogue(host: Host) -> None:
    names = {t.original_name for t in host.manager.tools()}
    assert names >= CAPABILITY_TOOLS
    assert "simulate-research-query" in names
    assert len(names) == 17
    assert host.manager.status()["everything"]["protocol_version"] == "2025-11-25"


async def test_progress_from_a_long_running_tool(host: Host) -> None:
    updates: list[tuple[float, float | None]] = []

    def progress(value: float, total: float | None, message: str | None) -> None:
        updates.append((value, total))

    result = await call(
        host, "trigger-long-running-operation", {"duration": 0.6, "steps": 3}, progress=progress
    )
    assert not result.is_error
    assert updates == [(1, 3), (2, 3), (3, 3)]


async def test_sampling(host: Host) -> None:
    result = await call(
        host, "trigger-sampling-request", {"prompt": "What is six times seven?", "maxTokens": 50}
    )
    assert "forty-two" in result.text
    request = host.sampled[-1]
    assert request.server == "everything"
    assert request.params.max_tokens == 50
    assert "six times seven" in json.dumps(request.params.model_dump(mode="json"))


async def test_form_elicitation_accept_with_defaults_and_decline(host: Host) -> None:
    host.answers[:] = [ElicitationResponse.accept({"name": "Ada"}), ElicitationResponse.decline()]
    accepted = await call(host, "trigger-elicitation-request")
    request = host.asked[-1]
    assert request.mode == "form"
    assert request.schema is not None
    assert request.defaults  # the form has defaults, and they were sent back with the answer
    assert "provided the requested information" in accepted.text
    # The tool echoes the raw result: the user's answer plus every default, as patchbay sent it.
    raw = json.loads(accepted.text[accepted.text.index("{") :])
    assert raw["action"] == "accept"
    assert raw["content"] == {**request.defaults, "name": "Ada"}
    declined = await call(host, "trigger-elicitation-request")
    assert "decline" in declined.text.lower()


async def test_url_elicitation_and_its_error_path(host: Host) -> None:
    host.answers[:] = [ElicitationResponse.accept()]
    result = await call(host, "trigger-url-elicitation", {"url": "https://example.com/confirm"})
    request = host.asked[-1]
    assert (request.mode, request.url) == ("url", "https://example.com/confirm")
    assert "accept" in result.text.lower()
    # errorPath: the server answers -32042 (URL elicitation required) instead of asking.
    with pytest.raises(ProtocolError) as caught:
        await call(host, "trigger-url-elicitation", {"url": "https://example.com/confirm", "errorPath": True})
    assert caught.value.code == -32042
    assert caught.value.data["elicitations"][0]["mode"] == "url"


async def test_roots(host: Host) -> None:
    result = await call(host, "get-roots-list")
    assert ROOT in result.text


async def test_annotated_text_and_image_content(host: Host) -> None:
    result = await call(host, "get-annotated-message", {"messageType": "error", "includeImage": True})
    kinds = [block.type for block in result.content]
    assert kinds[0] == "text"
    assert "image" in kinds
    annotations = result.content[0].annotations
    assert annotations is not None
    assert annotations.priority == 1.0
    assert "user" in (annotations.audience or [])
    image = await call(host, "get-tiny-image")
    png = next(block for block in image.content if block.type == "image")
    assert png.mime_type == "image/png"
    assert base64.b64decode(png.data)[:4] == b"\x89PNG"


async def test_structured_content_with_an_output_schema(host: Host) -> None:
    tool = host.manager.get_tool("mcp__everything__get-structured-content")
    assert tool.output_schema is not None
    result = await call(host, "get-structured-content", {"location": "Chicago"})
    assert result.structured is not None
    assert set(result.structured) <= set(tool.output_schema["properties"])
    assert "temperature" in result.structured


async def test_resource_links_and_embedded_resources(host: Host) -> None:
    links = await call(host, "get-resource-links", {"count": 2})
    linked = [block for block in links.content if block.type == "resource_link"]
    assert len(linked) == 2
    embedded = await call(host, "get-resource-reference", {"resourceType": "Text", "resourceId": 1})
    resource = next(block for block in embedded.content if block.type == "resource")
    assert str(resource.resource.uri) == "demo://resource/dynamic/text/1"
    assert resource.resource.text


async def test_a_tool_that_adds_a_resource_updates_the_catalogue(host: Host) -> None:
    data = "data:application/octet-stream;base64," + base64.b64encode(b"hello from patchbay").decode()
    name = f"greeting-{id(host)}.gz"
    result = await call(
        host, "gzip-file-as-resource", {"name": name, "data": data, "outputType": "resourceLink"}
    )
    assert not result.is_error, result.text
    uri = f"demo://resource/session/{name}"
    with anyio.fail_after(15):
        while uri not in {r.uri for r in host.manager.resources()}:
            await host.next(CatalogueChanged, server="everything")
    read = await host.manager.read_resource(uri)
    blob = read.contents[0].blob
    assert gzip.decompress(base64.b64decode(blob)) == b"hello from patchbay"


async def test_resource_subscriptions_deliver_updates(host: Host) -> None:
    uri = "demo://resource/static/document/architecture.md"
    await host.manager.subscribe_resource(uri)
    try:
        await call(host, "toggle-subscriber-updates")
        updated = await host.next(ResourceUpdated, server="everything")
        assert updated.uri == uri
    finally:
        await call(host, "toggle-subscriber-updates")
        await host.manager.unsubscribe_resource(uri)


async def test_logging(host: Host) -> None:
    await host.manager.set_log_level("everything", "debug")
    await call(host, "toggle-simulated-logging")
    try:
        message = await host.next(LogMessage, server="everything")
        assert message.level in (
            "debug",
            "info",
            "notice",
            "warning",
            "error",
            "critical",
            "alert",
            "emergency",
        )
    finally:
        await call(host, "toggle-simulated-logging")


async def test_completions(host: Host) -> None:
    department = await host.manager.complete("mcp__everything__completable-prompt", ("department", "E"))
    assert department.values == ["Engineering"]
    names = await host.manager.complete(
        "mcp__everything__completable-prompt", ("name", ""), {"department": "Engineering"}
    )
    assert {"Alice", "Bob", "Charlie"} <= set(names.values)
    template = host.manager.resource_templates()[0]
    ids = await host.manager.complete(template, ("resourceId", "1"))
    assert ids.values
    assert all(value.startswith("1") for value in ids.values)


async def test_a_task_only_tool_is_listed_but_cannot_be_driven(host: Host) -> None:
    """A documented limit: `simulate-research-query` requires task augmentation (MCP tasks); the SDK
    2.3 client has no tasks support, so patchbay neither declares it nor can call such a tool."""
    result = await call(host, "simulate-research-query", {"topic": "patchbay"})
    assert result.is_error
    assert "task augmentation" in result.text


async def test_without_handlers_the_capability_tools_are_not_offered() -> None:
    """No handlers, no capabilities declared: server-everything registers none of the four tools."""
    entry = {"command": "node", "args": [str(EVERYTHING), "stdio"]}
    async with MCPManager({"servers": {"everything": entry}}) as manager, manager.events() as events:
        with anyio.fail_after(15):  # registered just after initialize, announced by list_changed
            while "simulate-research-query" not in {t.original_name for t in manager.tools()}:
                await events.get()
        names = {t.original_name for t in manager.tools()}
        assert not CAPABILITY_TOOLS & names
        assert "simulate-research-query" in names
        assert len(names) == 13
