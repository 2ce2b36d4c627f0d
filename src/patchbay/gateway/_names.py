"""The names and URIs the gateway shows downstream, and the map back to (server, original).

One ``Names`` snapshot is built from one ``Catalogue`` (they are immutable, so identity tells
whether it is still current). Every exposed name and URI is looked up in the maps built here,
never taken apart (DESIGN invariant 4), with one documented exception: the alias form of a URI,
``patchbay://<server>/<original URI>``, whose authority is looked up in a table of the fleet's
server names (percent-encoded), so that URIs from templates stay reachable per server.

The rule for URIs (docs/serve.md, "Resources and URIs"):

* A URI that one server lists, or that only one server's templates match, is shown and read as is.
* When several servers list the same URI (or the same URI template), the first in config order
  keeps the bare URI; the others are listed under their alias. A bare URI that is not listed is
  read from the first server whose template matches it.
* Every resource of every server is also reachable under its alias, listed or not, e.g.
  ``patchbay://docs/ui://widget/main`` reads ``ui://widget/main`` from server ``docs``.
* A tool's ``_meta.ui.resourceUri`` (MCP Apps) is rewritten to the alias when the bare URI would
  reach another server, so the host fetches the widget from the tool's own server.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..catalogue import Catalogue, Prompt, Resource, ResourceTemplate, Tool

__all__ = ["ALIAS_SCHEME", "NameCollision", "Names", "alias_uri"]

ALIAS_SCHEME = "patchbay"
_ALIAS_PREFIX = f"{ALIAS_SCHEME}://"


class NameCollision(Exception):
    """``--prefix none``: two servers offer an item under the same name."""


def alias_uri(server: str, uri: str) -> str:
    """The per-server alias of a URI or URI template: ``patchbay://<server>/<uri>``."""
    return f"{_ALIAS_PREFIX}{quote(server, safe='')}/{uri}"


@dataclass
class Names:
    """What one catalogue looks like downstream."""

    catalogue: Catalogue
    servers: list[str]
    prefix: bool = True
    tools: dict[str, Tool] = field(default_factory=dict)
    prompts: dict[str, Prompt] = field(default_factory=dict)
    resources: list[tuple[str, Resource]] = field(default_factory=list)
    templates: dict[str, ResourceTemplate] = field(default_factory=dict)
    collisions: list[str] = field(default_factory=list)
    _authorities: dict[str, str] = field(default_factory=dict)
    _bare: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, catalogue: Catalogue, servers: list[str], *, prefix: bool = True) -> Names:
        names = cls(catalogue, list(servers), prefix)
        names._authorities = {quote(s, safe=""): s for s in servers}
        order = {s: i for i, s in enumerate(servers)}

        def fleet_order(server: str) -> int:
            return order.get(server, len(order))

        # Resources: the first server in config order keeps a bare URI that several list.
        for resource in sorted(catalogue.resources, key=lambda r: fleet_order(r.server)):
            if resource.uri in names._bare and names._bare[resource.uri] != resource.server:
                names.resources.append((alias_uri(resource.server, resource.uri), resource))
            else:
                names._bare.setdefault(resource.uri, resource.server)
                names.resources.append((resource.uri, resource))
        for template in sorted(catalogue.templates, key=lambda t: fleet_order(t.server)):
            shown = template.uri_template
            if shown in names.templates and names.templates[shown].server != template.server:
                shown = alias_uri(template.server, template.uri_template)
            names.templates.setdefault(shown, template)

        if prefix:
            names.tools = {
                t.name: names._with_ui_alias(t)
                for t in sorted(catalogue.tools.values(), key=_by(fleet_order))
            }
            names.prompts = dict(sorted(catalogue.prompts.items(), key=lambda kv: fleet_order(kv[1].server)))
            return names
        for tool in sorted(catalogue.tools.values(), key=_by(fleet_order)):
            other = names.tools.get(tool.original_name)
            if other is not None:
                names.collisions.append(
                    f"tool {tool.original_name!r} is offered by both {other.server!r} and {tool.server!r}"
                )
                continue
            names.tools[tool.original_name] = names._with_ui_alias(tool)
        for prompt in sorted(catalogue.prompts.values(), key=_by(fleet_order)):
            seen = names.prompts.get(prompt.original_name)
            if seen is not None:
                names.collisions.append(
                    f"prompt {prompt.original_name!r} is offered by both {seen.server!r} "
                    f"and {prompt.server!r}"
                )
                continue
            names.prompts[prompt.original_name] = prompt
        return names

    def _with_ui_alias(self, tool: Tool) -> Tool:
        """The tool, its ``_meta.ui.resourceUri`` pointing at its own server's resource."""
        meta = tool.meta
        if not meta:
            return tool
        ui = meta.get("ui")
        uri = ui.get("resourceUri") if isinstance(ui, dict) else None
        legacy = meta.get("ui/resourceUri")
        if not isinstance(uri, str) and not isinstance(legacy, str):
            return tool
        new_meta = copy.deepcopy(meta)
        if isinstance(uri, str) and self.route(uri) != (tool.server, uri):
            new_meta["ui"]["resourceUri"] = alias_uri(tool.server, uri)
        if isinstance(legacy, str) and self.route(legacy) != (tool.server, legacy):
            new_meta["ui/resourceUri"] = alias_uri(tool.server, legacy)
        if new_meta == meta:
            return tool
        import dataclasses

        return dataclasses.replace(tool, meta=new_meta)

    def exposed_tool_name(self, tool: Tool) -> str:
        return tool.name if self.prefix else tool.original_name

    def exposed_prompt_name(self, prompt: Prompt) -> str:
        return prompt.name if self.prefix else prompt.original_name

    def route(self, uri: str) -> tuple[str, str] | None:
        """``(server, original URI)`` for a URI as a downstream client sends it, or ``None``."""
        if uri.startswith(_ALIAS_PREFIX):
            authority, sep, original = uri[len(_ALIAS_PREFIX) :].partition("/")
            server = self._authorities.get(authority)
            if sep and server is not None:
                return server, original
        server = self._bare.get(uri)
        if server is not None:
            return server, uri
        candidates = self.catalogue.servers_for_uri(uri)
        if candidates:
            order = {s: i for i, s in enumerate(self.servers)}
            return min(candidates, key=lambda s: order.get(s, len(order))), uri
        return None

    def template(self, shown: str) -> ResourceTemplate | None:
        return self.templates.get(shown)

    def wire_tools(self) -> list[dict[str, Any]]:
        return [_tool_wire(name, tool) for name, tool in self.tools.items()]

    def wire_prompts(self) -> list[dict[str, Any]]:
        return [_prompt_wire(name, prompt) for name, prompt in self.prompts.items()]

    def wire_resources(self) -> list[dict[str, Any]]:
        return [_resource_wire(uri, resource) for uri, resource in self.resources]

    def wire_templates(self) -> list[dict[str, Any]]:
        return [_template_wire(shown, template) for shown, template in self.templates.items()]


def _by(fleet_order: Any) -> Any:
    return lambda item: fleet_order(item.server)


def _clean(wire: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wire.items() if v is not None}


def _tool_wire(name: str, tool: Tool) -> dict[str, Any]:
    return _clean(
        {
            "name": name,
            "title": tool.title,
            "description": tool.description,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
            "annotations": tool.annotations,
            "icons": list(tool.icons) if tool.icons else None,
            "execution": tool.execution,
            "_meta": tool.meta,
        }
    )


def _prompt_wire(name: str, prompt: Prompt) -> dict[str, Any]:
    return _clean(
        {
            "name": name,
            "title": prompt.title,
            "description": prompt.description,
            "arguments": [
                _clean({"name": a.name, "description": a.description, "required": a.required})
                for a in prompt.arguments
            ],
            "icons": list(prompt.icons) if prompt.icons else None,
            "_meta": prompt.meta,
        }
    )


def _resource_wire(uri: str, resource: Resource) -> dict[str, Any]:
    return _clean(
        {
            "uri": uri,
            "name": resource.name,
            "title": resource.title,
            "description": resource.description,
            "mimeType": resource.mime_type,
            "size": resource.size,
            "icons": list(resource.icons) if resource.icons else None,
            "annotations": resource.annotations,
            "_meta": resource.meta,
        }
    )


def _template_wire(shown: str, template: ResourceTemplate) -> dict[str, Any]:
    return _clean(
        {
            "uriTemplate": shown,
            "name": template.name,
            "title": template.title,
            "description": template.description,
            "mimeType": template.mime_type,
            "icons": list(template.icons) if template.icons else None,
            "annotations": template.annotations,
            "_meta": template.meta,
        }
    )
