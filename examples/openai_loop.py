"""A plain OpenAI-style agent loop on the demo fleet, with a scripted stand-in for the model (offline).

The loop is what you would write against the real API; only ``fake_model`` replaces
``client.chat.completions.create(model=..., messages=messages, tools=tools)``. It answers with
the same shapes the API does: ``tool_calls`` whose ``function.arguments`` is a JSON string.

Two runs: one with every tool listed, one in search mode, where the model is given only
``patchbay_search_tools`` and ``patchbay_call_tool`` and finds what it needs.

    .venv/bin/python examples/openai_loop.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from patchbay import MCPManager

HERE = Path(__file__).resolve().parent


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def fake_model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Stands in for a chat model: one scripted step per turn, using only the tools it was given."""
    offered = {tool["function"]["name"] for tool in tools}
    results = [m for m in messages if m.get("role") == "tool"]
    if "patchbay_search_tools" in offered:  # search mode: find the tool, then call it through the meta-tool
        if not results:
            step = [_call("s1", "patchbay_search_tools", {"query": "evaluate an arithmetic expression"})]
            return {"role": "assistant", "content": None, "tool_calls": step}
        if len(results) == 1:
            found = json.loads(results[0]["content"])["tools"][0]["name"]
            step = [_call("c1", "patchbay_call_tool", {"name": found, "arguments": {"expression": "6 * 7"}})]
            return {"role": "assistant", "content": None, "tool_calls": step}
        return {"role": "assistant", "content": f"6 * 7 = {results[-1]['content']}"}
    if not results:
        assert {"mcp__calculator__evaluate", "mcp__clock__now"} <= offered
        step = [
            _call("c1", "mcp__calculator__evaluate", {"expression": "(2 + 3) * 7"}),
            _call("c2", "mcp__clock__now", {"timezone": "UTC"}),
            _call("c3", "mcp__calculator__divide", {"a": 1, "b": "zero"}),  # a mistake the model can fix
        ]
        return {"role": "assistant", "content": None, "tool_calls": step}
    if len(results) == 3:
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [_call("c4", "mcp__calculator__divide", {"a": 1, "b": 4})],
        }
    return {
        "role": "assistant",
        "content": f"(2 + 3) * 7 = {results[0]['content']}; it is {results[1]['content']}; "
        f"1 / 4 = {results[-1]['content']}",
    }


async def agent(manager: MCPManager, question: str, tools: list[dict[str, Any]]) -> str:
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    for _ in range(10):
        reply = fake_model(messages, tools)  # client.chat.completions.create(...).choices[0].message
        messages.append(reply)
        if not reply.get("tool_calls"):
            return str(reply["content"])
        results = await manager.execute_all(reply["tool_calls"])
        for result in results:
            print(f"  tool {result['tool_call_id']}: {result['content'][:100]!r}")
        messages.extend(results)
    raise RuntimeError("the model did not finish")


async def main() -> int:
    async with MCPManager.from_config(HERE / "fleet.yaml") as manager:
        tools = manager.tool_schemas("openai")
        print(f"all tools: {len(tools)} definitions, ~{len(json.dumps(tools)) // 4} tokens")
        print("answer:", await agent(manager, "What is (2 + 3) * 7, what time is it, and 1 / 4?", tools))

        search = manager.tool_schemas("openai", mode="search")
        print(f"search mode: {len(search)} definitions, ~{len(json.dumps(search)) // 4} tokens")
        print("answer:", await agent(manager, "What is 6 * 7?", search))
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
