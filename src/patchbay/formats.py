"""The catalogue in OpenAI and Anthropic tool formats, and tool calls run straight from their replies.

No provider SDK is needed: everything is plain dicts, in the shapes the APIs document. Three
shapes of tool call are understood, as dicts or as the providers' SDK objects (``model_dump()``):

=================== ============================================== ===========================================
API                 a tool call                                    its result (what ``execute`` returns)
=================== ============================================== ===========================================
Chat Completions    ``message.tool_calls[i]``: ``{"id", "type":    ``{"role": "tool", "tool_call_id",
                    "function", "function": {"name", "arguments":  "content"}``
                    "<JSON string>"}}``
Responses           ``{"type": "function_call", "call_id",         ``{"type": "function_call_output",
                    "name", "arguments": "<JSON string>"}``        "call_id", "output"}``
Anthropic Messages  ``{"type": "tool_use", "id", "name",           ``{"type": "tool_result", "tool_use_id",
                    "input": {...}}``                              "content": [...], "is_error"}`` (a block)
=================== ============================================== ===========================================

Anthropic wants every ``tool_result`` of one assistant turn in *one* user message, so ``execute``
returns the block and ``execute_all`` returns that user message; for OpenAI ``execute_all``
returns one message (or item) per call. Either way: ``messages.extend(await execute_all(...))``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from . import errors
from ._gather import gather
from ._invoke import (
    CALL_TOOL,
    SEARCH_TOOL,
    Fleet,
    Invocation,
    Mode,
    ToolSpec,
    invoke,
    specs,
)

__all__ = [
    "CALL_TOOL",
    "FORMATS",
    "SEARCH_TOOL",
    "Format",
    "ParsedToolCall",
    "ToolSpec",
    "error_result",
    "execute",
    "execute_all",
    "parse_tool_call",
    "result_message",
    "tool_schema",
    "tool_schemas",
]

Format = Literal["openai", "openai-responses", "anthropic"]
"""``openai``: Chat Completions ``tools``; ``openai-responses``: Responses API ``tools``; ``anthropic``."""
FORMATS: tuple[Format, ...] = ("openai", "openai-responses", "anthropic")

Shape = Literal["chat", "responses", "anthropic"]

# Image types Anthropic accepts inside a tool_result; other media stay text placeholders.
_ANTHROPIC_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The input schema as given, plus ``properties: {}`` where OpenAI insists on it (no-argument tools)."""
    parameters = dict(schema)
    parameters.setdefault("type", "object")
    if parameters.get("type") == "object" and "properties" not in parameters:
        parameters["properties"] = {}
    return parameters


def tool_schema(spec: ToolSpec, format: Format = "openai") -> dict[str, Any]:
    """One tool in a provider's format (the input schema is passed through, not converted)."""
    if format == "anthropic":
        entry: dict[str, Any] = {"name": spec.name}
        if spec.description:
            entry["description"] = spec.description
        entry["input_schema"] = _parameters(spec.input_schema)
        return entry
    function: dict[str, Any] = {"name": spec.name}
    if spec.description:
        function["description"] = spec.description
    function["parameters"] = _parameters(spec.input_schema)
    if format == "openai":
        return {"type": "function", "function": function}
    if format == "openai-responses":
        return {"type": "function", **function}
    raise ValueError(f"unknown tool format {format!r}; expected one of {', '.join(FORMATS)}")


def tool_schemas(
    manager: Fleet,
    format: Format = "openai",
    servers: Sequence[str] | None = None,
    *,
    mode: Mode = "all",
    query: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The fleet's tools in a provider's format.

    ``mode="search"`` gives only ``patchbay_search_tools`` and ``patchbay_call_tool``; ``query=``
    gives the ``limit`` (default 10) tools that best match it, for a fresh top-k each turn.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown tool format {format!r}; expected one of {', '.join(FORMATS)}")
    return [
        tool_schema(spec, format) for spec in specs(manager, servers, mode=mode, query=query, limit=limit)
    ]


@dataclass(frozen=True)
class ParsedToolCall:
    """A provider's tool call, read. ``arguments`` is ``None`` when they could not be decoded
    (then ``problem`` says why, for the model)."""

    shape: Shape
    id: str
    name: str
    arguments: dict[str, Any] | None
    problem: str | None = None


def _as_dict(call: Any) -> Mapping[str, Any]:
    if isinstance(call, Mapping):
        return call
    dump = getattr(call, "model_dump", None)  # the openai / anthropic SDKs' pydantic objects
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return dumped
    raise errors.InvalidToolCall(
        f"expected a tool call as a dict (or a provider SDK object), got {type(call).__name__}"
    )


def _decode(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments sent as a JSON string (OpenAI) or an object (Anthropic) -> (arguments, problem)."""
    if raw is None:
        return {}, None
    if isinstance(raw, str):
        if not raw.strip():
            return {}, None  # some models send "" for a tool without arguments
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            return None, f"The arguments are not valid JSON ({exc}). Send the arguments as a JSON object."
    if not isinstance(raw, dict):
        return None, f"The arguments must be a JSON object, not {json.dumps(raw)[:200]}."
    return raw, None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise errors.InvalidToolCall(f"a tool call needs a non-empty string {what!r}, got {value!r}")
    return value


def parse_tool_call(call: Any) -> ParsedToolCall:
    """Read a tool call in any of the three provider shapes; raises ``InvalidToolCall`` for anything else."""
    data = _as_dict(call)
    kind = data.get("type")
    if kind == "tool_use":
        arguments, problem = _decode(data.get("input"))
        return ParsedToolCall(
            "anthropic", _text(data.get("id"), "id"), _text(data.get("name"), "name"), arguments, problem
        )
    if kind == "function_call":
        arguments, problem = _decode(data.get("arguments"))
        return ParsedToolCall(
            "responses",
            _text(data.get("call_id"), "call_id"),
            _text(data.get("name"), "name"),
            arguments,
            problem,
        )
    function = data.get("function")
    if isinstance(function, Mapping) and kind in (None, "function"):
        arguments, problem = _decode(function.get("arguments"))
        return ParsedToolCall(
            "chat",
            _text(data.get("id"), "id"),
            _text(function.get("name"), "function.name"),
            arguments,
            problem,
        )
    raise errors.InvalidToolCall(
        "not a tool call: expected an OpenAI Chat Completions tool call ({'id', 'function': {...}}), a "
        "Responses function_call item or an Anthropic tool_use block; got keys "
        f"{sorted(map(str, data))}"
    )


def _anthropic_content(invocation: Invocation) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": invocation.text or "(no output)"}]
    if invocation.result is not None:
        for block in invocation.result.content:
            if getattr(block, "type", None) == "image" and block.mime_type in _ANTHROPIC_IMAGES:
                blocks.append(
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": block.mime_type, "data": block.data},
                    }
                )
    return blocks


def _openai_text(invocation: Invocation) -> str:
    # OpenAI has no error flag on a tool message: the model learns it from the text.
    if invocation.is_error and not invocation.text.lstrip().lower().startswith("error"):
        return f"Error: {invocation.text}"
    return invocation.text


def result_message(call: ParsedToolCall, invocation: Invocation) -> dict[str, Any]:
    """The provider's tool-result message (OpenAI) or ``tool_result`` block (Anthropic) for a call."""
    if call.shape == "anthropic":
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": _anthropic_content(invocation),
        }
        if invocation.is_error:
            block["is_error"] = True
        return block
    if call.shape == "responses":
        return {"type": "function_call_output", "call_id": call.id, "output": _openai_text(invocation)}
    return {"role": "tool", "tool_call_id": call.id, "content": _openai_text(invocation)}


def error_result(tool_call: Any, text: str) -> dict[str, Any]:
    """An error result for this call, with your own text: e.g. to tell the model about a timeout."""
    call = parse_tool_call(tool_call)
    return result_message(call, Invocation(name=call.name, text=text, is_error=True))


async def execute(
    manager: Fleet,
    tool_call: Any,
    *,
    servers: Sequence[str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one tool call as the provider returned it and give back the matching result.

    Arguments that are not JSON or do not fit the tool's input schema, and unknown tool names,
    come back as error results the model can read. A server that is down, a timeout or a lost
    connection raise patchbay's typed errors (wrap with ``error_result`` to tell the model).
    """
    return await _run(manager, parse_tool_call(tool_call), servers, timeout)


async def _run(
    manager: Fleet, call: ParsedToolCall, servers: Sequence[str] | None, timeout: float | None
) -> dict[str, Any]:
    if call.arguments is None:
        invocation = Invocation(name=call.name, text=call.problem or "Invalid arguments.", is_error=True)
    else:
        invocation = await invoke(manager, call.name, call.arguments, servers=servers, timeout=timeout)
    return result_message(call, invocation)


async def execute_all(
    manager: Fleet,
    tool_calls: Iterable[Any],
    *,
    servers: Sequence[str] | None = None,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """Run one turn's tool calls concurrently; returns the messages to append to the conversation.

    OpenAI: one ``tool`` message (or ``function_call_output`` item) per call, in call order.
    Anthropic: a single ``user`` message holding every ``tool_result`` block, in call order.
    If a call raises, the others are cancelled and that error is raised.
    """
    calls = [parse_tool_call(call) for call in tool_calls]
    if not calls:
        return []
    shapes = {call.shape for call in calls}
    if len(shapes) > 1:
        raise errors.InvalidToolCall(f"one turn's tool calls mix provider shapes: {sorted(shapes)}")
    done = await gather([partial(_run, manager, call, servers, timeout) for call in calls])
    if shapes == {"anthropic"}:
        return [{"role": "user", "content": done}]
    return done
