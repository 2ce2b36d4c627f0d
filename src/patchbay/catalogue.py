"""One namespaced catalogue over every ready server's tools, prompts, resources and templates.

Exposed names look like ``mcp__<server>__<tool>`` and always match ``^[a-zA-Z0-9_-]{1,64}$``,
the rule the OpenAI and Anthropic APIs enforce. Characters outside it become ``_``; a name that
would be too long, or would collide with another, gets a short stable hash of
``(server, original name)`` instead of silently shadowing it. The exposed name maps to its
``(server, original name)`` through the table built here; it is never turned back into the
original by string manipulation.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Catalogue",
    "Prompt",
    "PromptArgument",
    "Resource",
    "ResourceTemplate",
    "ServerListing",
    "Tool",
    "exposed_name",
]

MAX_NAME = 64
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_LEN = 8


@dataclass(frozen=True)
class Tool:
    """A tool as the fleet exposes it.

    ``name`` is what a model calls; ``original_name`` is what the server knows it by.
    """

    name: str
    server: str
    original_name: str
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    title: str | None = None
    icons: tuple[dict[str, Any], ...] | None = None
    meta: dict[str, Any] | None = None
    """The tool's ``_meta`` as the server listed it (``ui.resourceUri`` of MCP Apps, vendor keys)."""
    execution: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "original_name": self.original_name,
            "title": self.title,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "annotations": self.annotations,
            "icons": _listed(self.icons),
            "execution": self.execution,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str | None = None
    required: bool = False


@dataclass(frozen=True)
class Prompt:
    """A prompt, namespaced like tools."""

    name: str
    server: str
    original_name: str
    description: str | None
    arguments: tuple[PromptArgument, ...] = ()
    title: str | None = None
    icons: tuple[dict[str, Any], ...] | None = None
    meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "original_name": self.original_name,
            "title": self.title,
            "description": self.description,
            "arguments": [
                {"name": a.name, "description": a.description, "required": a.required} for a in self.arguments
            ],
            "icons": _listed(self.icons),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Resource:
    """A concrete resource; URIs are the server's own and are not renamed."""

    uri: str
    name: str
    server: str
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    title: str | None = None
    icons: tuple[dict[str, Any], ...] | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "name": self.name,
            "server": self.server,
            "title": self.title,
            "description": self.description,
            "mime_type": self.mime_type,
            "size": self.size,
            "icons": _listed(self.icons),
            "annotations": self.annotations,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class ResourceTemplate:
    """A URI template (RFC 6570) under which a server offers resources it does not list."""

    uri_template: str
    name: str
    server: str
    description: str | None = None
    mime_type: str | None = None
    title: str | None = None
    icons: tuple[dict[str, Any], ...] | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri_template": self.uri_template,
            "name": self.name,
            "server": self.server,
            "title": self.title,
            "description": self.description,
            "mime_type": self.mime_type,
            "icons": _listed(self.icons),
            "annotations": self.annotations,
            "meta": self.meta,
        }

    def matches(self, uri: str) -> bool:
        return _template_regex(self.uri_template).fullmatch(uri) is not None


def _listed(icons: tuple[dict[str, Any], ...] | None) -> list[dict[str, Any]] | None:
    """Icons as the JSON list the server sent (kept as a tuple on the frozen dataclass)."""
    return None if icons is None else list(icons)


@functools.lru_cache(maxsize=1024)
def _template_regex(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    pos = 0
    for match in re.finditer(r"\{([^}]*)\}", template):
        parts.append(re.escape(template[pos : match.start()]))
        expr = match.group(1)
        # {+var} and {#var} may contain reserved characters such as "/"; plain {var} may not.
        parts.append(".*" if expr[:1] in "+#" else "[^/]*" if expr[:1] not in "/?&" else ".*")
        pos = match.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts))


@dataclass
class ServerListing:
    """Everything one server listed, as SDK objects, after its tool filters were applied."""

    tools: list[Any] = field(default_factory=list)
    prompts: list[Any] = field(default_factory=list)
    resources: list[Any] = field(default_factory=list)
    templates: list[Any] = field(default_factory=list)


def _sanitize(text: str) -> str:
    return _INVALID.sub("_", text) or "_"


def is_plain_name(text: str) -> bool:
    """Whether ``text`` is 1-64 letters, digits, ``-`` and ``_``: what exposed names keep as is.

    The rule for server names the CLI writes (``patchbay add``, ``import``): config files may use
    any name, which is then sanitised into tool names, but a name typed now can be a plain one.
    """
    return 0 < len(text) <= MAX_NAME and _INVALID.search(text) is None


def _suffixed(base: str, server: str, original: str, extra: int = 0) -> str:
    digest = hashlib.sha256(f"{server}\x00{original}".encode()).hexdigest()[: _HASH_LEN + extra]
    return f"{base[: MAX_NAME - len(digest) - 1]}_{digest}"


def server_prefix(server: str) -> str:
    """The ``mcp__<server>__`` prefix that a server's exposed names start with (unless hashed)."""
    return f"mcp__{_sanitize(server)}__"


def exposed_name(server: str, original: str) -> str:
    """The name a (server, item) pair gets when nothing collides with it."""
    base = server_prefix(server) + _sanitize(original)
    return base if len(base) <= MAX_NAME else _suffixed(base, server, original)


def assign_names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Unique valid names for ``(server, original)`` pairs, in their order.

    In a collision the pair whose name needed no sanitising keeps the plain name (``a_b`` beats
    ``a.b``), then the earlier one in fleet order; the others get the hash suffix.
    """
    names = [exposed_name(server, original) for server, original in pairs]
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        groups.setdefault(name, []).append(index)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        ranked = sorted(indices, key=lambda i: (_INVALID.search(pairs[i][1]) is not None, i))
        for index in ranked[1:]:
            server, original = pairs[index]
            names[index] = _suffixed(names[index], server, original)
    taken: set[str] = set()
    for index, assigned in enumerate(names):
        candidate, extra = assigned, 0
        while candidate in taken:  # a hash collision: astronomically rare, but never a silent overwrite
            extra += 4
            server, original = pairs[index]
            candidate = _suffixed(exposed_name(server, original), server, original, extra)
        taken.add(candidate)
        names[index] = candidate
    return names


def filter_tools(tools: Iterable[Any], include: Sequence[str] | None, exclude: Sequence[str]) -> list[Any]:
    """Apply a server's ``include_tools`` / ``exclude_tools`` globs to its own tool names."""
    kept = []
    for tool in tools:
        if include is not None and not any(fnmatch.fnmatchcase(tool.name, p) for p in include):
            continue
        if any(fnmatch.fnmatchcase(tool.name, p) for p in exclude):
            continue
        kept.append(tool)
    return kept


def _icons(item: Any) -> tuple[dict[str, Any], ...] | None:
    icons = getattr(item, "icons", None)
    if not icons:
        return None
    return tuple(d for d in (_dump(icon) for icon in icons) if d is not None)


def _meta(item: Any) -> dict[str, Any] | None:
    meta = getattr(item, "meta", None)
    return dict(meta) if meta else None


def _dump(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    dumped: dict[str, Any] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


class Catalogue:
    """An immutable snapshot of the fleet's catalogue; the manager rebuilds it when a listing changes."""

    def __init__(self, listings: Sequence[tuple[str, ServerListing]] = ()) -> None:
        tool_pairs = [(server, t.name) for server, listing in listings for t in listing.tools]
        tool_objs = [t for _, listing in listings for t in listing.tools]
        self.tools: dict[str, Tool] = {}
        for name, (server, _), tool in zip(assign_names(tool_pairs), tool_pairs, tool_objs, strict=True):
            self.tools[name] = Tool(
                name=name,
                server=server,
                original_name=tool.name,
                title=getattr(tool, "title", None),
                description=tool.description,
                input_schema=dict(tool.input_schema or {"type": "object"}),
                output_schema=dict(tool.output_schema) if tool.output_schema else None,
                annotations=_dump(tool.annotations),
                icons=_icons(tool),
                meta=_meta(tool),
                execution=_dump(getattr(tool, "execution", None)),
            )
        prompt_pairs = [(server, p.name) for server, listing in listings for p in listing.prompts]
        prompt_objs = [p for _, listing in listings for p in listing.prompts]
        self.prompts: dict[str, Prompt] = {}
        for name, (server, _), prompt in zip(
            assign_names(prompt_pairs), prompt_pairs, prompt_objs, strict=True
        ):
            self.prompts[name] = Prompt(
                name=name,
                server=server,
                original_name=prompt.name,
                title=getattr(prompt, "title", None),
                description=prompt.description,
                arguments=tuple(
                    PromptArgument(a.name, a.description, bool(a.required)) for a in prompt.arguments or ()
                ),
                icons=_icons(prompt),
                meta=_meta(prompt),
            )
        self.resources: list[Resource] = [
            Resource(
                uri=str(r.uri),
                name=r.name,
                server=server,
                title=getattr(r, "title", None),
                description=r.description,
                mime_type=r.mime_type,
                size=r.size,
                icons=_icons(r),
                annotations=_dump(getattr(r, "annotations", None)),
                meta=_meta(r),
            )
            for server, listing in listings
            for r in listing.resources
        ]
        self.templates: list[ResourceTemplate] = [
            ResourceTemplate(
                uri_template=t.uri_template,
                name=t.name,
                server=server,
                title=getattr(t, "title", None),
                description=t.description,
                mime_type=t.mime_type,
                icons=_icons(t),
                annotations=_dump(getattr(t, "annotations", None)),
                meta=_meta(t),
            )
            for server, listing in listings
            for t in listing.templates
        ]

    def find_tool(self, name: str, server: str | None = None) -> Tool | None:
        """By exposed name; else by original name within ``server``, or fleet-wide when unique."""
        tool = self.tools.get(name)
        if tool is not None and (server is None or tool.server == server):
            return tool
        matches = [
            t
            for t in self.tools.values()
            if t.original_name == name and (server is None or t.server == server)
        ]
        return matches[0] if len(matches) == 1 else None

    def find_prompt(self, name: str, server: str | None = None) -> Prompt | None:
        prompt = self.prompts.get(name)
        if prompt is not None and (server is None or prompt.server == server):
            return prompt
        matches = [
            p
            for p in self.prompts.values()
            if p.original_name == name and (server is None or p.server == server)
        ]
        return matches[0] if len(matches) == 1 else None

    def servers_for_uri(self, uri: str) -> list[str]:
        """Servers that list this URI, else those with a template matching it (fleet order)."""
        listed = list(dict.fromkeys(r.server for r in self.resources if r.uri == uri))
        if listed:
            return listed
        return list(dict.fromkeys(t.server for t in self.templates if t.matches(uri)))
