"""The LangChain adapter: a real tool-calling loop (fake chat model, no network) against real servers."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from patchbay import MCPManager, ResourceNotFound, ServerNotFound, ToolTimeout
from patchbay.adapters.langchain import load_documents, load_prompt, load_resources, tools

from .conftest import EVERYTHING, fleet, stdio

pytestmark = pytest.mark.anyio


class ToolCallingFake(FakeMessagesListChatModel):
    """A scripted chat model that supports ``bind_tools`` and remembers what it was bound to."""

    bound: list[dict[str, Any]] = []  # noqa: RUF012 - a pydantic field, copied per instance
    seen: list[list[BaseMessage]] = []  # noqa: RUF012

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingFake:  # type: ignore[override]
        self.bound = [convert_to_openai_tool(tool) for tool in tools]
        return self

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return await super()._agenerate(messages, *args, **kwargs)


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


async def run_agent(
    model: Any, agent_tools: list[BaseTool], question: str, max_turns: int = 5
) -> list[BaseMessage]:
    """The classic loop: ask the model, run every tool call it makes, repeat until it answers."""
    by_name = {tool.name: tool for tool in agent_tools}
    bound = model.bind_tools(agent_tools)
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(max_turns):
        reply = await bound.ainvoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return messages
        for tool_call in reply.tool_calls:
            messages.append(await by_name[tool_call["name"]].ainvoke(tool_call))
    raise AssertionError("the agent did not finish")


async def test_agent_loop_gets_results_errors_and_artifacts() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        agent_tools = tools(manager)
        assert {t.name for t in agent_tools} == {t.name for t in manager.tools()}
        model = ToolCallingFake(
            responses=[
                AIMessage(
                    "",
                    tool_calls=[
                        call("mcp__echo__add", {"a": 2, "b": 40}, "c_add"),
                        call("mcp__echo__fail", {"message": "disk full"}, "c_fail"),
                        call("mcp__echo__mixed", {}, "c_mixed"),
                    ],
                ),
                AIMessage("", tool_calls=[call("mcp__echo__add", {"a": 1, "b": "two"}, "c_bad")]),
                AIMessage("The answer is 42."),
            ]
        )
        messages = await run_agent(model, agent_tools, "add 2 and 40, then fail")
        assert messages[-1].content == "The answer is 42."
        results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}

        added = results["c_add"]
        assert added.status == "success"
        assert added.content == "42"
        assert added.artifact["structured_content"] == {"result": 42}
        assert added.artifact["server"] == "echo"

        failed = results["c_fail"]  # isError -> ToolException -> an error message, not a crash
        assert failed.status == "error"
        assert "disk full" in failed.content

        mixed = results["c_mixed"]
        assert mixed.status == "success"
        assert "mixed content" in mixed.content  # text is the content
        kinds = [block["type"] for block in mixed.artifact["content"]]
        assert kinds == ["image", "text-plain", "non_standard"]  # image, embedded resource, resource link
        image = mixed.artifact["content"][0]
        assert image["mime_type"] == "image/png"
        assert base64.b64decode(image["base64"]).startswith(b"\x89PNG")
        assert mixed.artifact["content"][1]["text"] == "static echo resource"
        assert mixed.artifact["content"][2]["value"]["uri"] == "echo://static"

        bad = results["c_bad"]  # arguments that do not fit the schema: readable, never sent
        assert bad.status == "error"
        assert "'two' is not of type 'integer'" in bad.content
        # The model saw every tool result before answering.
        assert sum(isinstance(m, ToolMessage) for m in model.seen[-1]) == 4


async def test_tools_keep_the_mcp_schema_and_description() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"), other=stdio("echo.py"))) as manager:
        only_other = tools(manager, ["other"])
        assert {t.name for t in only_other} == {t.name for t in manager.tools("other")}
        model = ToolCallingFake(responses=[AIMessage("ok")])
        model.bind_tools(only_other)
        by_name = {entry["function"]["name"]: entry["function"] for entry in model.bound}
        add = manager.get_tool("mcp__other__add")
        assert by_name[add.name]["description"] == add.description
        parameters = by_name[add.name]["parameters"]
        # (LangChain's own OpenAI conversion drops "title" keys; everything else arrives as given.)
        assert parameters["properties"] == {
            name: {k: v for k, v in spec.items() if k != "title"}
            for name, spec in add.input_schema["properties"].items()
        }
        assert parameters["required"] == add.input_schema["required"]
        tool = next(t for t in only_other if t.name == add.name)
        assert tool.args_schema == add.input_schema  # passed through, not converted


async def test_search_mode_agent_finds_then_calls() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"), calc=stdio("echo.py"))) as manager:
        top = tools(manager, query="add two integers", limit=2)
        assert {t.name for t in top} == {"mcp__echo__add", "mcp__calc__add"}
        agent_tools = tools(manager, mode="search")
        assert [t.name for t in agent_tools] == ["patchbay_search_tools", "patchbay_call_tool"]
        model = ToolCallingFake(
            responses=[
                AIMessage(
                    "", tool_calls=[call("patchbay_search_tools", {"query": "add two integers"}, "s1")]
                ),
                AIMessage(
                    "",
                    tool_calls=[
                        call(
                            "patchbay_call_tool",
                            {"name": "mcp__calc__add", "arguments": {"a": 5, "b": 6}},
                            "c1",
                        ),
                        call("patchbay_call_tool", {"name": "mcp__calc__nope", "arguments": {}}, "c2"),
                    ],
                ),
                AIMessage("11"),
            ]
        )
        messages = await run_agent(model, agent_tools, "what is 5 + 6?")
        results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
        hits = json.loads(str(results["s1"].content))["tools"]
        assert "mcp__calc__add" in [hit["name"] for hit in hits]
        assert results["c1"].content == "11"
        assert results["c1"].artifact["structured_content"] == {"result": 11}
        assert results["c2"].status == "error"
        assert "Unknown tool" in results["c2"].content


async def test_truncation_and_transport_errors() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py", max_output_chars=5, timeout=0.5))) as manager:
        by_name = {t.name: t for t in tools(manager)}
        # Calls go through the manager's live session: the same server process answers every time.
        pids = [
            (await by_name["mcp__echo__pid"].ainvoke(call("mcp__echo__pid", {}, f"p{i}"))).content
            for i in range(3)
        ]
        assert pids == [str(manager.status()["echo"]["pid"])] * 3
        long = await by_name["mcp__echo__echo"].ainvoke(call("mcp__echo__echo", {"text": "abcdefghij"}, "t1"))
        assert long.content.startswith("abcde\n")
        assert "5 of 10 characters cut" in long.content
        assert long.artifact["structured_content"] == {"result": "abcdefghij"}  # the artifact is whole
        # A server-side failure to answer is not the model's mistake: it raises, typed.
        with pytest.raises(ToolTimeout):
            await by_name["mcp__echo__hang"].ainvoke(call("mcp__echo__hang", {}, "t2"))


async def test_prompts_and_resources() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"), paged=stdio("paged.py"))) as manager:
        messages = await load_prompt(manager, "mcp__echo__greet", {"name": "Ada"})
        assert len(messages) == 1
        assert isinstance(messages[0], HumanMessage)
        assert messages[0].content == "Hello, Ada!"

        blobs = await load_resources(manager, server="echo")
        assert [(b.metadata["uri"], b.as_string()) for b in blobs] == [
            ("echo://static", "static echo resource")
        ]
        assert blobs[0].mimetype == "text/plain"
        every = await load_resources(manager)
        assert len(every) == 1 + 5  # echo's one resource and paged's five, all pages
        templated = await load_resources(manager, ["echo://upper/shout"])
        assert templated[0].as_string() == "SHOUT"

        with pytest.raises(ResourceNotFound):  # a typed error, not an ExceptionGroup
            await load_resources(manager, ["echo://static", "nowhere://x"])
        with pytest.raises(ServerNotFound):
            tools(manager, ["ecko"])

        documents = await load_documents(manager, ["echo://static", "paged://r/3"])
        assert [d.metadata["server"] for d in documents] == ["echo", "paged"]
        assert documents[0].page_content == "static echo resource"


async def test_binary_resources_and_draft07_schemas_on_server_everything() -> None:
    everything = {"command": "node", "args": [str(EVERYTHING), "stdio"]}
    async with MCPManager(fleet(everything=everything)) as manager:
        by_name = {t.name: t for t in tools(manager)}
        reference = by_name["mcp__everything__get-resource-reference"]
        message = await reference.ainvoke(
            call(reference.name, {"resourceType": "Blob", "resourceId": 2}, "r1")
        )
        assert message.status == "success"
        assert "Resource 2" in message.content
        (block,) = message.artifact["content"]  # the embedded blob resource, as a file block
        assert block["type"] == "file"
        assert block["extras"]["uri"] == "demo://resource/dynamic/blob/2"
        assert base64.b64decode(block["base64"]).startswith(b"Resource 2")

        # Its draft-07 input schema is enforced before the call.
        wrong = await reference.ainvoke(
            call(reference.name, {"resourceType": "Pdf", "resourceId": "two"}, "r2")
        )
        assert wrong.status == "error"
        assert "'Pdf' is not one of ['Text', 'Blob']" in wrong.content
        assert "'two' is not of type 'number'" in wrong.content

        (blob,) = await load_resources(manager, ["demo://resource/dynamic/blob/2"])
        assert isinstance(blob.data, bytes)
        assert blob.data.startswith(b"Resource 2")
        (document,) = await load_documents(manager, ["demo://resource/dynamic/blob/2"])
        assert document.page_content.startswith("[binary resource demo://resource/dynamic/blob/2")
        assert base64.b64decode(document.metadata["blob"]) == blob.data
