"""OpenAI / Anthropic tool formats and ``execute`` against real servers (tests/servers/echo.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from patchbay import InvalidToolCall, MCPManager, ServerNotFound, ToolResult, ToolTimeout
from patchbay._invoke import ToolSpec, model_text, truncate
from patchbay.formats import error_result, parse_tool_call, tool_schema

from .conftest import fleet, stdio

pytestmark = pytest.mark.anyio

VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def chat(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    """A Chat Completions ``message.tool_calls[i]``: arguments arrive as a JSON string."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def responses(name: str, arguments: Any, call_id: str = "call_r") -> dict[str, Any]:
    """A Responses API ``function_call`` output item."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"type": "function_call", "id": "fc_1", "call_id": call_id, "name": name, "arguments": raw}


def tool_use(name: str, arguments: Any, call_id: str = "toolu_1") -> dict[str, Any]:
    """An Anthropic ``tool_use`` content block: arguments arrive as an object."""
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


async def test_tool_schemas_in_every_format() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"), other=stdio("echo.py"))) as manager:
        tools = {t.name: t for t in manager.tools()}
        openai = manager.tool_schemas("openai")
        assert len(openai) == len(tools)
        for entry in openai:
            assert entry["type"] == "function"
            function = entry["function"]
            assert VALID_NAME.match(function["name"])
            assert function["parameters"] == tools[function["name"]].input_schema  # as given
            assert function["description"] == tools[function["name"]].description

        responses_api = manager.tool_schemas("openai-responses", servers=["echo"])
        assert {e["name"] for e in responses_api} == {n for n, t in tools.items() if t.server == "echo"}
        assert all(e["type"] == "function" and "parameters" in e for e in responses_api)

        anthropic = manager.tool_schemas("anthropic")
        add = next(e for e in anthropic if e["name"] == "mcp__echo__add")
        assert add == {
            "name": "mcp__echo__add",
            "description": "Add two integers.",
            "input_schema": tools["mcp__echo__add"].input_schema,
        }

        search = manager.tool_schemas("anthropic", mode="search")
        assert [e["name"] for e in search] == ["patchbay_search_tools", "patchbay_call_tool"]
        top = manager.tool_schemas("openai", query="add two integers", limit=2)
        assert len(top) == 2
        assert top[0]["function"]["name"] in ("mcp__echo__add", "mcp__other__add")
        assert manager.tool_schemas("openai", ["other"], query="add", limit=3)[0]["function"]["name"] == (
            "mcp__other__add"
        )

        with pytest.raises(ValueError, match="unknown tool format"):
            manager.tool_schemas("gemini")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="cannot be combined"):
            manager.tool_schemas("openai", mode="search", query="x")
        # A misspelt server is an error, not an empty tool list.
        with pytest.raises(ServerNotFound, match="'ecko'"):
            manager.tool_schemas("openai", ["ecko"])
        with pytest.raises(ServerNotFound):
            manager.search_tools("add", servers=["ecko"])
        with pytest.raises(ServerNotFound):
            await manager.execute(chat("mcp__echo__add", {"a": 1, "b": 1}), servers=["ecko"])
        assert manager.tool_schemas("anthropic", "other") == manager.tool_schemas("anthropic", ["other"])


def test_schema_without_properties_gets_an_empty_object_for_openai() -> None:
    spec = ToolSpec("mcp__s__ping", None, {"type": "object"})
    assert tool_schema(spec, "openai") == {
        "type": "function",
        "function": {"name": "mcp__s__ping", "parameters": {"type": "object", "properties": {}}},
    }
    assert tool_schema(spec, "anthropic") == {
        "name": "mcp__s__ping",
        "input_schema": {"type": "object", "properties": {}},
    }
    assert spec.input_schema == {"type": "object"}  # the catalogue's schema is never mutated


class _SdkToolUse(BaseModel):
    """Stands in for anthropic.types.ToolUseBlock: a pydantic object whose model_dump() is the wire shape."""

    type: str = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


async def test_execute_returns_each_providers_result_shape() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        ok = await manager.execute(chat("mcp__echo__add", {"a": 2, "b": 40}, "call_abc"))
        assert ok == {"role": "tool", "tool_call_id": "call_abc", "content": "42"}

        item = await manager.execute(responses("mcp__echo__echo", {"text": "hi"}, "call_xyz"))
        assert item == {"type": "function_call_output", "call_id": "call_xyz", "output": "hi"}

        block = await manager.execute(tool_use("mcp__echo__echo", {"text": "hi"}, "toolu_9"))
        assert block == {
            "type": "tool_result",
            "tool_use_id": "toolu_9",
            "content": [{"type": "text", "text": "hi"}],
        }

        # isError: Anthropic's flag; OpenAI has none, so the text says it.
        failed = await manager.execute(tool_use("mcp__echo__fail", {"message": "disk full"}))
        assert failed["is_error"] is True
        assert "disk full" in failed["content"][0]["text"]
        failed_chat = await manager.execute(chat("mcp__echo__fail", {"message": "disk full"}))
        assert failed_chat["content"].startswith("Error")
        assert "disk full" in failed_chat["content"]

        # Images go to Anthropic as image blocks (a placeholder stays in the text); OpenAI gets text.
        image = await manager.execute(tool_use("mcp__echo__image", {}))
        kinds = [b["type"] for b in image["content"]]
        assert kinds == ["text", "image"]
        assert image["content"][1]["source"]["media_type"] == "image/png"
        assert image["content"][0]["text"].startswith("[image: image/png")
        # Provider SDK objects work as well as dicts.
        sdk = await manager.execute(_SdkToolUse(id="toolu_sdk", name="mcp__echo__echo", input={"text": "x"}))
        assert sdk == {
            "type": "tool_result",
            "tool_use_id": "toolu_sdk",
            "content": [{"type": "text", "text": "x"}],
        }

        mixed = await manager.execute(chat("mcp__echo__mixed", ""))  # "" = no arguments
        assert "mixed content" in mixed["content"]
        assert "[image: image/png" in mixed["content"]


async def test_model_mistakes_come_back_as_readable_errors() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        bad_json = await manager.execute(chat("mcp__echo__add", '{"a": 1,'))
        assert "not valid JSON" in bad_json["content"]

        wrong_type = await manager.execute(chat("mcp__echo__add", {"a": 1, "b": "two"}))
        assert "b: 'two' is not of type 'integer'" in wrong_type["content"]
        assert "a (integer, required), b (integer, required)" in wrong_type["content"]

        missing = await manager.execute(tool_use("mcp__echo__add", {"a": 1}))
        assert missing["is_error"] is True
        assert "'b' is a required property" in missing["content"][0]["text"]

        not_object = await manager.execute(responses("mcp__echo__add", "[1, 2]"))
        assert "must be a JSON object" in not_object["output"]
        anthropic_not_object = await manager.execute(tool_use("mcp__echo__add", "1 2"))
        assert anthropic_not_object["is_error"] is True

        unknown = await manager.execute(chat("mcp__echo__ad", {}))
        assert "Unknown tool" in unknown["content"]
        assert "did you mean mcp__echo__add" in unknown["content"]

        # Nothing above reached the server as a call that then failed: the session is fine.
        assert (await manager.execute(chat("mcp__echo__add", {"a": 1, "b": 2})))["content"] == "3"


async def test_not_a_tool_call_raises_invalid_tool_call() -> None:
    async with MCPManager(fleet()) as manager:
        for bad in ({"foo": 1}, None, "mcp__echo__add", {"type": "tool_use", "name": "x", "input": {}}):
            with pytest.raises(InvalidToolCall):
                await manager.execute(bad)
        with pytest.raises(ValueError, match=r"function\.name"):  # InvalidToolCall is a ValueError
            await manager.execute({"id": "c", "function": {"arguments": "{}"}})


async def test_max_output_chars_per_server_and_in_settings() -> None:
    config = {
        "settings": {"max_output_chars": 30},
        "servers": {
            "inherits": stdio("echo.py"),
            "own": stdio("echo.py", max_output_chars=10),
            "unlimited": stdio("echo.py", max_output_chars=0),
        },
    }
    text = "x" * 100
    async with MCPManager(config) as manager:
        inherits = await manager.execute(chat("mcp__inherits__echo", {"text": text}))
        assert inherits["content"].startswith("x" * 30 + "\n")
        assert "70 of 100 characters cut" in inherits["content"]
        own = await manager.execute(tool_use("mcp__own__echo", {"text": text}))
        assert own["content"][0]["text"].startswith("x" * 10 + "\n")
        assert "90 of 100 characters cut" in own["content"][0]["text"]
        unlimited = await manager.execute(responses("mcp__unlimited__echo", {"text": text}))
        assert unlimited["output"] == text
        # The untruncated result stays available through call_tool.
        assert (await manager.call_tool("mcp__own__echo", {"text": text})).text == text


def test_truncate_and_model_text() -> None:
    assert truncate("abc", None) == "abc"
    assert truncate("abc", 3) == "abc"
    assert truncate("abcdef", 2).startswith("ab\n\n[output truncated by patchbay: 4 of 6 characters cut")
    structured_only = ToolResult(server="s", tool="t", is_error=False, content=[], structured={"n": 1})
    assert model_text(structured_only) == '{"n": 1}'


async def test_execute_all_runs_a_turn_and_shapes_its_messages() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        turn = [
            chat("mcp__echo__slow", {"seconds": 0.3}, "c1"),
            chat("mcp__echo__add", {"a": 1, "b": 1}, "c2"),
        ]
        started = anyio.current_time()
        messages = await manager.execute_all(turn)
        assert [m["tool_call_id"] for m in messages] == ["c1", "c2"]  # call order, not finish order
        assert [m["content"] for m in messages] == ["slept 0.3", "2"]
        assert anyio.current_time() - started < 5

        blocks = await manager.execute_all(
            [tool_use("mcp__echo__echo", {"text": "a"}, "t1"), tool_use("mcp__echo__add", {"a": "x"}, "t2")]
        )
        assert len(blocks) == 1
        assert blocks[0]["role"] == "user"
        assert [b["tool_use_id"] for b in blocks[0]["content"]] == ["t1", "t2"]
        assert blocks[0]["content"][1]["is_error"] is True

        assert await manager.execute_all([]) == []
        with pytest.raises(InvalidToolCall, match="mix provider shapes"):
            await manager.execute_all([chat("mcp__echo__pid", {}), tool_use("mcp__echo__pid", {})])


async def test_search_mode_round_trip_in_provider_format() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"), other=stdio("echo.py"))) as manager:
        found = await manager.execute(
            chat("patchbay_search_tools", {"query": "add two integers", "limit": 2})
        )
        hits = json.loads(found["content"])["tools"]
        assert len(hits) == 2
        assert hits[0]["name"].endswith("__add")
        assert hits[0]["input_schema"]["required"] == ["a", "b"]

        call = {"name": hits[0]["name"], "arguments": {"a": 20, "b": 22}}
        answer = await manager.execute(tool_use("patchbay_call_tool", call))
        assert answer["content"] == [{"type": "text", "text": "42"}]
        # Some models double-encode the nested arguments object.
        encoded = await manager.execute(
            chat("patchbay_call_tool", {"name": hits[0]["name"], "arguments": '{"a":1,"b":1}'})
        )
        assert encoded["content"] == "2"
        # Mistakes inside the meta-tool are readable too.
        bad = await manager.execute(
            chat("patchbay_call_tool", {"name": hits[0]["name"], "arguments": {"a": 1}})
        )
        assert "'b' is a required property" in bad["content"]
        unknown = await manager.execute(chat("patchbay_call_tool", {"name": "mcp__nope__x", "arguments": {}}))
        assert "Unknown tool" in unknown["content"]
        assert "patchbay_search_tools" in unknown["content"]
        no_query = await manager.execute(chat("patchbay_search_tools", {"limit": 3}))
        assert "'query' is a required property" in no_query["content"]
        nothing = await manager.execute(chat("patchbay_search_tools", {"query": "zebra quantum"}))
        assert json.loads(nothing["content"])["tools"] == []

        # servers= confines both searching and calling.
        scoped = await manager.execute(chat("patchbay_search_tools", {"query": "add"}), servers=["other"])
        assert json.loads(scoped["content"])["tools"]
        assert {h["name"] for h in json.loads(scoped["content"])["tools"]} <= {
            t.name for t in manager.tools("other")
        }
        refused = await manager.execute(chat("mcp__echo__add", {"a": 1, "b": 1}), servers=["other"])
        assert "is available here" in refused["content"]


async def test_fleet_failures_raise_typed_errors_and_error_result_reports_them() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        call = chat("mcp__echo__hang", {}, "c_hang")
        with pytest.raises(ToolTimeout) as caught:
            await manager.execute(call, timeout=0.5)
        told = error_result(call, f"The tool timed out: {caught.value}")
        assert told["tool_call_id"] == "c_hang"
        assert told["content"].startswith("Error: The tool timed out")

        # In a turn, the failing call cancels its siblings and its error is raised as itself.
        with pytest.raises(ToolTimeout):
            await manager.execute_all(
                [chat("mcp__echo__hang", {}, "a"), chat("mcp__echo__slow", {"seconds": 30})], timeout=0.5
            )
        assert (await manager.execute(chat("mcp__echo__add", {"a": 1, "b": 1})))["content"] == "2"


def test_parse_tool_call_shapes() -> None:
    parsed = parse_tool_call(chat("f", '{"x": 1}', "id1"))
    assert (parsed.shape, parsed.id, parsed.name, parsed.arguments) == ("chat", "id1", "f", {"x": 1})
    assert parse_tool_call(responses("f", "", "id2")).arguments == {}
    assert parse_tool_call(tool_use("f", None)).arguments == {}
    broken = parse_tool_call(chat("f", "{nope"))
    assert broken.arguments is None
    assert "not valid JSON" in str(broken.problem)
