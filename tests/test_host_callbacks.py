"""Host callbacks (sampling, elicitation, roots) against a real server, in both protocol eras.

tests/servers/host.py asks through `Resolve(...)` dependencies, which the SDK sends as server-to-client
requests on 2025 sessions and as `input_required` results on 2026-07-28: the same Handlers must
answer both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patchbay import MCPManager, ProtocolError
from patchbay.handlers import (
    ElicitationRequest,
    ElicitationResponse,
    Handlers,
    Root,
    SamplingRequest,
    schema_defaults,
)

from .conftest import fleet, stdio

pytestmark = pytest.mark.anyio

ERAS = pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])


async def echo_model(request: SamplingRequest) -> dict[str, Any]:
    prompt = request.params.messages[0].content
    text = getattr(prompt, "text", "?")
    return {"role": "assistant", "content": {"type": "text", "text": f"model saw: {text}"}, "model": "test"}


def host(mode: str, **extra: Any) -> dict[str, Any]:
    return fleet(host=stdio("host.py", protocol=mode, **extra))


@ERAS
async def test_sampling_and_elicitation_through_one_set_of_handlers(mode: str, version: str) -> None:
    """One manager per era: capabilities, sampling (plain and with tools), every elicitation outcome."""
    seen: list[SamplingRequest] = []
    asked: list[ElicitationRequest] = []
    answers = [
        ElicitationResponse.accept({"name": "Grace"}),  # age and subscribe left at their defaults
        ElicitationResponse.decline(),
        ElicitationResponse.cancel(),
    ]

    async def model(request: SamplingRequest) -> dict[str, Any]:
        seen.append(request)
        if request.params.tools:
            return {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}}
                ],
                "model": "test",
                "stopReason": "toolUse",
            }
        return await echo_model(request)

    async def user(request: ElicitationRequest) -> ElicitationResponse:
        asked.append(request)
        return answers[len(asked) - 1]

    handlers = Handlers(sampling=model, elicitation=user, roots=["/tmp"])
    async with MCPManager(host(mode), handlers=handlers) as manager:
        assert manager.status()["host"]["protocol_version"] == version
        caps = json.loads((await manager.call_tool("mcp__host__client_info")).text)["capabilities"]
        assert set(caps) == {"sampling", "elicitation", "roots"}
        assert caps["sampling"] == {"tools": {}}
        assert set(caps["elicitation"]) == {"form", "url"}

        result = await manager.call_tool("mcp__host__sample", {"prompt": "hello"})
        assert result.text == "model saw: hello"
        assert seen[0].server == "host"
        assert seen[0].params.system_prompt == "Answer briefly."
        assert seen[0].params.max_tokens == 64

        result = await manager.call_tool("mcp__host__sample_with_tools", {"prompt": "weather?"})
        assert not result.is_error, result.text
        answer = json.loads(result.text)
        assert answer["stopReason"] == "toolUse"
        assert answer["content"][0]["name"] == "get_weather"
        params = seen[1].params
        assert params.tools is not None
        assert [t.name for t in params.tools] == ["get_weather"]
        assert params.tool_choice is not None
        assert params.tool_choice.mode == "auto"

        outcomes = [
            json.loads((await manager.call_tool("mcp__host__elicit", {"question": "Who are you?"})).text)
            for _ in answers
        ]
        assert outcomes == [
            {"action": "accept", "content": {"name": "Grace", "age": 36, "subscribe": True}},
            {"action": "decline", "content": None},
            {"action": "cancel", "content": None},
        ]
        assert asked[0].mode == "form"
        assert asked[0].message == "Who are you?"
        assert asked[0].defaults == {"name": "Ada", "age": 36, "subscribe": True}


@ERAS
async def test_roots_from_config_and_from_a_callback(mode: str, version: str, tmp_path: Path) -> None:
    config = host(mode, roots=[str(tmp_path), {"uri": "file:///srv/data", "name": "data"}])
    async with MCPManager(config) as manager:
        result = await manager.call_tool("mcp__host__roots")
        assert json.loads(result.text) == [
            {"uri": tmp_path.as_uri(), "name": None},
            {"uri": "file:///srv/data", "name": "data"},
        ]

    asked: list[str] = []

    async def roots(server: str) -> list[Root]:
        asked.append(server)
        return [Root("file:///work", "work")]

    async with MCPManager(host(mode), handlers=Handlers(roots=roots)) as manager:
        result = await manager.call_tool("mcp__host__roots")
        assert json.loads(result.text) == [{"uri": "file:///work", "name": "work"}]
        assert asked == ["host"]


async def test_set_roots_notifies_a_2025_server(tmp_path: Path) -> None:
    config = {
        "servers": {"host": stdio("host.py", protocol="legacy")},
        "settings": {"roots": [str(tmp_path)]},
    }
    async with MCPManager(config) as manager:
        before = json.loads((await manager.call_tool("mcp__host__client_info")).text)
        assert before["capabilities"]["roots"] == {"listChanged": True}
        assert before["roots_changes"] == 0
        await manager.set_roots(["/opt/project"])
        after = json.loads((await manager.call_tool("mcp__host__client_info")).text)
        assert after["roots_changes"] == 1
        listed = json.loads((await manager.call_tool("mcp__host__roots")).text)
        assert listed == [{"uri": "file:///opt/project", "name": None}]

        await manager.set_roots(None)  # back to the config's roots, which a reload then changes
        outcome = await manager.reload({"servers": config["servers"], "settings": {"roots": ["/srv/new"]}})
        assert outcome["unchanged"] == ["host"]  # same session, told about the change
        after = json.loads((await manager.call_tool("mcp__host__client_info")).text)
        assert after["roots_changes"] == 3
        listed = json.loads((await manager.call_tool("mcp__host__roots")).text)
        assert listed == [{"uri": "file:///srv/new", "name": None}]


@ERAS
async def test_nothing_is_advertised_without_handlers(mode: str, version: str) -> None:
    async with MCPManager(host(mode)) as manager:
        info = json.loads((await manager.call_tool("mcp__host__client_info")).text)
        assert info["capabilities"] == {}
        # The server sees no sampling capability and says so at once; nothing hangs.
        with pytest.raises(ProtocolError, match="sampling") as caught:
            await manager.call_tool("mcp__host__sample", {"prompt": "hi"}, timeout=10)
        assert caught.value.code == -32021


async def test_a_failing_handler_is_an_error_for_the_server_not_a_crash() -> None:
    async def broken(request: SamplingRequest) -> dict[str, Any]:
        raise RuntimeError("no model configured")

    async with MCPManager(host("legacy"), handlers=Handlers(sampling=broken)) as manager:
        for _ in range(2):  # the connection survives the failure
            with pytest.raises(ProtocolError, match=r"sampling handler failed \(RuntimeError\)"):
                await manager.call_tool("mcp__host__sample", {"prompt": "hi"}, timeout=10)
            assert manager.status()["host"]["state"] == "ready"


def test_schema_defaults_reads_top_level_defaults_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "default": "x"},
            "b": {"type": "integer"},
            "c": {"type": "boolean", "default": False},
            "d": {"type": "string", "enum": ["p", "q"], "default": "q"},
        },
    }
    assert schema_defaults(schema) == {"a": "x", "c": False, "d": "q"}
    assert schema_defaults(None) == {}


@ERAS
async def test_callbacks_over_streamable_http(mode: str, version: str, http_server: Any) -> None:
    server = http_server("host.py", "http")

    async def user(request: ElicitationRequest) -> ElicitationResponse:
        return ElicitationResponse.accept()

    handlers = Handlers(sampling=echo_model, elicitation=user, roots=["/srv"])
    config = {"servers": {"host": {"url": server.url(), "protocol": mode}}}
    async with MCPManager(config, handlers=handlers) as manager:
        assert manager.status()["host"]["protocol_version"] == version
        assert (await manager.call_tool("mcp__host__sample", {"prompt": "hi"})).text == "model saw: hi"
        answer = json.loads((await manager.call_tool("mcp__host__elicit", {"question": "?"})).text)
        assert answer == {"action": "accept", "content": {"name": "Ada", "age": 36, "subscribe": True}}
        roots = json.loads((await manager.call_tool("mcp__host__roots")).text)
        assert roots == [{"uri": "file:///srv", "name": None}]
