"""A LangChain tool-calling agent on the demo fleet, with a scripted chat model (offline).

Replace ``ScriptedChatModel`` with any LangChain chat model that supports ``bind_tools``
(``ChatOpenAI``, ``ChatAnthropic``, ...) and the rest stays the same. The tools call through the
manager's live sessions: no server is started or handshaken per call. Needs the extra:
``pip install 'patchbay-mcp[langchain]'``.

    .venv/bin/python examples/langchain_agent.py
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from patchbay import MCPManager
from patchbay.adapters.langchain import load_documents, load_prompt, tools

HERE = Path(__file__).resolve().parent


class ScriptedChatModel(FakeMessagesListChatModel):
    """LangChain's fake chat model, plus the ``bind_tools`` an agent needs."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self


def tool_call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


SCRIPT = [
    AIMessage(
        "",
        tool_calls=[
            tool_call("mcp__notes__add_note", {"title": "idea", "body": "try patchbay with LangChain"}, "c1"),
            tool_call("mcp__calculator__evaluate", {"expression": "2 ** 10"}, "c2"),
            tool_call("mcp__calculator__divide", {"a": 1, "b": 0}, "c3"),  # the server reports an error
        ],
    ),
    AIMessage("", tool_calls=[tool_call("mcp__notes__search_notes", {"query": "langchain"}, "c4")]),
    AIMessage("Saved the note; 2 ** 10 = 1024; dividing by zero is an error."),
]


async def run_agent(model: Any, agent_tools: list[BaseTool], question: str) -> list[BaseMessage]:
    by_name = {tool.name: tool for tool in agent_tools}
    bound = model.bind_tools(agent_tools)
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(10):
        reply = await bound.ainvoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return messages
        for call in reply.tool_calls:
            result = await by_name[call["name"]].ainvoke(call)
            print(f"  {call['name']}({call['args']}) -> [{result.status}] {str(result.content)[:80]!r}")
            messages.append(result)
    raise RuntimeError("the model did not finish")


async def main() -> int:
    async with MCPManager.from_config(HERE / "fleet.yaml") as manager:
        agent_tools = tools(manager)
        print(f"{len(agent_tools)} LangChain tools: {', '.join(t.name for t in agent_tools)}")
        messages = await run_agent(
            ScriptedChatModel(responses=SCRIPT), agent_tools, "Note my idea, then do some maths."
        )
        print("answer:", messages[-1].content)
        errors = [m for m in messages if isinstance(m, ToolMessage) and m.status == "error"]
        print(f"tool errors the model read: {len(errors)}")

        prompt = await load_prompt(manager, "mcp__notes__draft_note", {"topic": "MCP"})
        print(
            "prompt as LangChain messages:", [type(m).__name__ for m in prompt], repr(prompt[0].content[:50])
        )
        documents = await load_documents(manager, ["notes://index"])
        print("notes://index as a Document:", repr(documents[0].page_content))
    return 0 if len(errors) == 1 else 1


if __name__ == "__main__":
    sys.exit(anyio.run(main))
