"""What a model's tool call becomes: shared by the provider formats and the LangChain adapter.

A model's mistakes (an unknown tool name, arguments that do not fit the input schema) are answered
with an error *result* the model can read and correct, because raising would end the agent loop
over something the model can fix. Problems with the fleet itself (a server down, a timeout, a
lost connection) still raise patchbay's typed errors, as everywhere else.

This is also where the two search-mode meta-tools live: ``patchbay_search_tools`` and
``patchbay_call_tool`` let an agent work with a fleet of hundreds of tools while being sent only
two tool definitions.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from . import errors
from .catalogue import Tool
from .results import ToolResult
from .search import describe, index_for

if TYPE_CHECKING:
    from .catalogue import Catalogue, Resource
    from .config import Config
    from .results import PromptResult, ResourceResult

__all__ = [
    "CALL_TOOL",
    "SEARCH_TOOL",
    "Fleet",
    "Invocation",
    "Mode",
    "ToolSpec",
    "invoke",
    "output_limit",
    "search_answer",
    "specs",
    "truncate",
    "validate_arguments",
]

Mode = Literal["all", "search"]

SEARCH_TOOL = "patchbay_search_tools"
CALL_TOOL = "patchbay_call_tool"
DEFAULT_SEARCH_LIMIT = 5
MAX_SEARCH_LIMIT = 20
_MAX_REPORTED_ERRORS = 5


class Fleet(Protocol):
    """What the agent layer (``_invoke``, ``formats``, ``adapters``) needs from a fleet.

    ``MCPManager`` is one. Typing against this instead of the manager keeps imports one way: the
    manager's ``tool_schemas`` / ``execute`` facade calls down into ``formats``, which never
    imports the manager back.
    """

    @property
    def config(self) -> Config: ...

    @property
    def catalogue(self) -> Catalogue: ...

    def tools(self, server: str | None = None) -> list[Tool]: ...

    def resources(self, server: str | None = None) -> list[Resource]: ...

    def search_tools(
        self, query: str, limit: int = 10, servers: Sequence[str] | None = None
    ) -> list[Tool]: ...

    def get_tool(self, name: str, server: str | None = None) -> Tool: ...

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> ToolResult: ...

    async def get_prompt(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, server: str | None = None
    ) -> PromptResult: ...

    async def read_resource(self, uri: str, server: str | None = None) -> ResourceResult: ...


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a model is told about it: a catalogue tool or one of the meta-tools."""

    name: str
    description: str | None
    input_schema: dict[str, Any]

    @classmethod
    def of(cls, tool: Tool) -> ToolSpec:
        return cls(tool.name, tool.description, tool.input_schema)


SEARCH_SPEC = ToolSpec(
    SEARCH_TOOL,
    "Search the available tools by what you want to do. Returns the best matching tools with their "
    "names, descriptions and input schemas; then call one with patchbay_call_tool.",
    {
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "description": "What you want to do, in a few words (e.g. 'create a github issue').",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_SEARCH_LIMIT,
                "description": f"How many tools to return (default {DEFAULT_SEARCH_LIMIT}).",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    },
)

CALL_SPEC = ToolSpec(
    CALL_TOOL,
    "Call a tool found with patchbay_search_tools, by its exact name, with arguments that match "
    "its input schema.",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The tool's exact name from the search results."},
            "arguments": {"type": "object", "description": "The tool's arguments, as a JSON object."},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
)


def specs(
    manager: Fleet,
    servers: Sequence[str] | None = None,
    *,
    mode: Mode = "all",
    query: str | None = None,
    limit: int | None = None,
) -> list[ToolSpec]:
    """The tools to hand a model: the catalogue, the two meta-tools, or the top-k for a query."""
    servers = manager.config.require_servers(servers)
    if mode == "search":
        if query is not None:
            raise ValueError("query= selects the top-k tools; it cannot be combined with mode='search'")
        return [SEARCH_SPEC, CALL_SPEC]
    if mode != "all":
        raise ValueError(f"mode must be 'all' or 'search', not {mode!r}")
    if query is not None:
        hits = manager.search_tools(query, limit=limit or 10, servers=servers)
        return [ToolSpec.of(tool) for tool in hits]
    tools = [t for t in manager.tools() if servers is None or t.server in servers]
    return [ToolSpec.of(tool) for tool in (tools if limit is None else tools[:limit])]


@dataclass(frozen=True)
class Invocation:
    """The outcome of one model tool call, ready to be rendered for a provider or framework.

    ``text`` is what the model reads (already cut to ``max_output_chars``). ``result`` is the
    server's full, untruncated result, or ``None`` when patchbay answered by itself (a search, or
    an error the model made).
    """

    name: str
    text: str
    is_error: bool
    result: ToolResult | None = None


def truncate(text: str, limit: int | None) -> str:
    """Keep the first ``limit`` characters and say how many were cut."""
    if not limit or len(text) <= limit:
        return text
    cut = len(text) - limit
    return (
        f"{text[:limit]}\n\n[output truncated by patchbay: {cut} of {len(text)} characters cut "
        f"(max_output_chars={limit})]"
    )


def output_limit(manager: Fleet, server: str) -> int | None:
    """The server's ``max_output_chars`` (falling back to the settings); ``None`` means no limit."""
    config = manager.config
    entry = config.servers.get(server)
    if entry is None:
        return config.settings.max_output_chars or None
    return entry.resolved_max_output_chars(config.settings)


def model_text(result: ToolResult) -> str:
    """The text a model should read for a result; structured content stands in for empty content."""
    if not result.content and result.structured is not None:
        return json.dumps(result.structured, ensure_ascii=False)
    return result.text


# id(schema) -> (schema, validator or None), least recently used first. Keyed by identity because
# building a content key (the schema as JSON) on every call cost about as much as validating; the
# entry holds the schema, so its id cannot be reused by another object while it is cached.
_VALIDATORS: OrderedDict[int, tuple[Mapping[str, Any], Any]] = OrderedDict()
_VALIDATORS_LOCK = threading.Lock()  # the LangChain adapter validates from worker threads too
_MAX_VALIDATORS = 512


def _validator(schema: Mapping[str, Any]) -> Any:
    """A compiled validator for this schema object, or ``None`` if the schema itself is invalid.

    Schemas are treated as immutable once used: the catalogue replaces a tool's schema when the
    server re-lists, it never edits one in place.
    """
    key = id(schema)
    with _VALIDATORS_LOCK:
        entry = _VALIDATORS.get(key)
        if entry is not None and entry[0] is schema:
            _VALIDATORS.move_to_end(key)
            return entry[1]
    validator = _compile(schema)
    with _VALIDATORS_LOCK:
        _VALIDATORS[key] = (schema, validator)
        if len(_VALIDATORS) > _MAX_VALIDATORS:
            _VALIDATORS.popitem(last=False)
    return validator


def _compile(schema: Mapping[str, Any]) -> Any:
    from jsonschema import exceptions, validators

    plain = schema if isinstance(schema, dict) else dict(schema)
    cls = validators.validator_for(plain)
    try:
        cls.check_schema(plain)
    except exceptions.SchemaError:
        return None  # a broken schema is the server's problem: let the server judge the arguments
    return cls(plain)


def validate_arguments(schema: Mapping[str, Any], arguments: Any) -> str | None:
    """Why ``arguments`` do not fit ``schema``, as a few lines a model can act on; ``None`` if they do."""
    from referencing.exceptions import Unresolvable

    validator = _validator(schema)
    if validator is None:
        return None
    try:
        problems = sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
    except Unresolvable:
        return None  # a $ref we cannot follow offline: leave the judgement to the server
    if not problems:
        return None
    lines = []
    for problem in problems[:_MAX_REPORTED_ERRORS]:
        where = ".".join(str(part) for part in problem.absolute_path)
        lines.append(f"- {where}: {problem.message}" if where else f"- {problem.message}")
    if len(problems) > _MAX_REPORTED_ERRORS:
        lines.append(f"- ... and {len(problems) - _MAX_REPORTED_ERRORS} more")
    return "\n".join(lines)


def _expected(schema: Mapping[str, Any]) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return "no arguments"
    required = set(schema.get("required") or ())
    parts = []
    for name, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        kind = "|".join(kind) if isinstance(kind, list) else str(kind)
        parts.append(f"{name} ({kind}{', required' if name in required else ''})")
    return ", ".join(parts)


def argument_error(name: str, schema: Mapping[str, Any], problems: str) -> str:
    return (
        f"Invalid arguments for tool {name!r}:\n{problems}\n"
        f"Expected arguments: {_expected(schema)}. Fix the arguments and call the tool again."
    )


def _failure(name: str, text: str) -> Invocation:
    return Invocation(name=name, text=text, is_error=True)


async def invoke(
    manager: Fleet,
    name: str,
    arguments: Any,
    *,
    servers: Sequence[str] | None = None,
    timeout: float | None = None,
) -> Invocation:
    """Run one tool call a model made (a catalogue tool or a meta-tool) and say what the model reads.

    ``arguments`` is what the model sent, already decoded from JSON; it is checked here. With
    ``servers`` only tools of those servers can be searched for and called.
    """
    servers = manager.config.require_servers(servers)
    if name == SEARCH_TOOL:
        return _search(manager, arguments, servers)
    if name == CALL_TOOL:
        inner = arguments.get("arguments") if isinstance(arguments, Mapping) else None
        if isinstance(inner, str):  # some models double-encode the nested object
            try:
                arguments = {**arguments, "arguments": json.loads(inner) if inner.strip() else {}}
            except ValueError as exc:
                return _failure(name, f"'arguments' is not valid JSON ({exc}); send a JSON object.")
        problems = validate_arguments(CALL_SPEC.input_schema, arguments)
        if problems:
            return _failure(name, argument_error(name, CALL_SPEC.input_schema, problems))
        inner = arguments.get("arguments", {})
        return await _call(manager, str(arguments["name"]), inner, servers, timeout, searching=True)
    return await _call(manager, name, arguments, servers, timeout, searching=False)


def _search(manager: Fleet, arguments: Any, servers: Sequence[str] | None) -> Invocation:
    problems = validate_arguments(SEARCH_SPEC.input_schema, arguments)
    if problems:
        return _failure(SEARCH_TOOL, argument_error(SEARCH_TOOL, SEARCH_SPEC.input_schema, problems))
    limit = int(arguments.get("limit", DEFAULT_SEARCH_LIMIT))
    hits = index_for(manager.catalogue).search(str(arguments["query"]), limit, servers)
    text = search_answer([describe(tool) for tool, _ in hits])
    return Invocation(name=SEARCH_TOOL, text=text, is_error=False)


def search_answer(found: list[dict[str, Any]]) -> str:
    """What ``patchbay_search_tools`` answers for these hits (``describe`` entries), as JSON text."""
    payload: dict[str, Any] = {"tools": found}
    if found:
        payload["next_step"] = f"Call one of these with {CALL_TOOL}, giving its name and arguments."
    else:
        payload["hint"] = "No tool matched; search again with other words."
    return json.dumps(payload, ensure_ascii=False)


async def _call(
    manager: Fleet,
    name: str,
    arguments: Any,
    servers: Sequence[str] | None,
    timeout: float | None,
    *,
    searching: bool,
) -> Invocation:
    hint = f" Use {SEARCH_TOOL} to find the right name." if searching else ""
    out_of_scope = _failure(name, f"Unknown tool: no tool named {name!r} is available here.{hint}")
    try:
        tool = manager.get_tool(name)  # the one lookup; ServerUnavailable if the tool's server is down
    except errors.ToolNotFound as exc:
        if servers is not None:  # "did you mean" could point outside the allowed servers
            return out_of_scope
        reason = str(exc) if str(exc).endswith(("?", ".")) else f"{exc}."
        return _failure(name, f"Unknown tool: {reason}{hint}")
    if servers is not None and tool.server not in servers:
        return out_of_scope
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        return _failure(tool.name, f"Arguments for {tool.name!r} must be a JSON object, not {arguments!r}.")
    problems = validate_arguments(tool.input_schema, arguments)
    if problems:
        return _failure(tool.name, argument_error(tool.name, tool.input_schema, problems))
    # The exposed name is the catalogue's own key: the manager's fast path, a single dict get.
    result = await manager.call_tool(tool.name, arguments, timeout=timeout)
    text = truncate(model_text(result), output_limit(manager, tool.server))
    return Invocation(name=tool.name, text=text, is_error=result.is_error, result=result)
