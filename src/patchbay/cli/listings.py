"""``patchbay tools|resources|templates|prompts [SERVER]``: the namespaced catalogue.

With ``SERVER`` only that server is started, and it not coming up is an error (exit 3 or 4).
Without it every server is started; those that fail are named on stderr (and under ``errors``
with ``--json``) while the others are still listed, exit 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ._fleet import (
    ConnectTimeoutOpt,
    ensure_ready,
    not_ready,
    open_fleet,
    report_not_ready,
    require_server,
    state_of,
)
from ._output import Output, first_line, safe_text

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
ServerArg = Annotated[str | None, typer.Argument(help="Only this server (only it is started).")]


def register(app: typer.Typer) -> None:
    app.command("tools")(tools)
    app.command("resources")(resources)
    app.command("templates")(templates)
    app.command("prompts")(prompts)


def _collect(
    ctx: typer.Context,
    server: str | None,
    json_flag: bool,
    pick: Callable[[Any, str | None], list[Any]],
    connect_timeout: float | None = None,
) -> tuple[Output, list[Any], list[dict[str, Any]]]:
    """Start the servers, then (output, items, problems) for the chosen kind of item."""
    import anyio

    state = state_of(ctx)
    output = state.output(json_flag)
    config = state.load()
    if server is not None:
        require_server(config, server)

    async def gather() -> tuple[list[Any], list[dict[str, Any]]]:
        names = None if server is None else [server]
        async with open_fleet(config, names, connect_timeout=connect_timeout, output=output) as manager:
            if server is not None:
                ensure_ready(manager, server, connect_timeout)
            return pick(manager, server), not_ready(manager, connect_timeout)

    items, problems = anyio.run(gather)
    if not output.json_mode:
        report_not_ready(output, problems)
    return output, items, problems


def tools(
    ctx: typer.Context,
    *,
    server: ServerArg = None,
    schema: Annotated[bool, typer.Option("--schema", help="Show input and output schemas.")] = False,
    json_: JsonFlag = False,
    connect_timeout: ConnectTimeoutOpt = None,
) -> None:
    """Tools, by the namespaced name you call them with (mcp__SERVER__TOOL)."""
    output, items, problems = _collect(ctx, server, json_, lambda m, s: m.tools(s), connect_timeout)
    if output.json_mode:
        output.json({"tools": [t.to_dict() for t in items], "errors": problems})
        return
    if schema:
        _print_schemas(output, items)
        return
    output.table(
        ["TOOL", "ARGUMENTS", "DESCRIPTION"],
        [[t.name, argument_summary(t.input_schema), first_line(t.description or "", 100)] for t in items],
    )


def resources(
    ctx: typer.Context,
    server: ServerArg = None,
    json_: JsonFlag = False,
    connect_timeout: ConnectTimeoutOpt = None,
) -> None:
    """Concrete resources (read them with `patchbay read URI`)."""
    output, items, problems = _collect(ctx, server, json_, lambda m, s: m.resources(s), connect_timeout)
    if output.json_mode:
        output.json({"resources": [r.to_dict() for r in items], "errors": problems})
        return
    output.table(
        ["URI", "SERVER", "NAME", "MIME TYPE", "DESCRIPTION"],
        [[r.uri, r.server, r.name, r.mime_type or "", first_line(r.description or "", 80)] for r in items],
    )


def templates(
    ctx: typer.Context,
    server: ServerArg = None,
    json_: JsonFlag = False,
    connect_timeout: ConnectTimeoutOpt = None,
) -> None:
    """Resource templates: URI patterns a server can read but does not list."""
    output, items, problems = _collect(
        ctx, server, json_, lambda m, s: m.resource_templates(s), connect_timeout
    )
    if output.json_mode:
        output.json({"resource_templates": [t.to_dict() for t in items], "errors": problems})
        return
    output.table(
        ["URI TEMPLATE", "SERVER", "NAME", "MIME TYPE", "DESCRIPTION"],
        [
            [t.uri_template, t.server, t.name, t.mime_type or "", first_line(t.description or "", 80)]
            for t in items
        ],
    )


def prompts(
    ctx: typer.Context,
    server: ServerArg = None,
    json_: JsonFlag = False,
    connect_timeout: ConnectTimeoutOpt = None,
) -> None:
    """Prompts, by namespaced name (render one with `patchbay prompt NAME key=value ...`)."""
    output, items, problems = _collect(ctx, server, json_, lambda m, s: m.prompts(s), connect_timeout)
    if output.json_mode:
        output.json({"prompts": [p.to_dict() for p in items], "errors": problems})
        return
    output.table(
        ["PROMPT", "ARGUMENTS", "DESCRIPTION"],
        [
            [
                p.name,
                ", ".join(a.name if a.required else f"{a.name}?" for a in p.arguments),
                first_line(p.description or "", 100),
            ]
            for p in items
        ],
    )


def argument_summary(schema: dict[str, Any]) -> str:
    """``text: string, count?: integer`` from an input schema (``?`` marks optional)."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parts = []
    for name, prop in properties.items():
        kind = _type_name(prop) if isinstance(prop, dict) else ""
        mark = "" if name in required else "?"
        parts.append(f"{name}{mark}: {kind}" if kind else f"{name}{mark}")
    return ", ".join(parts)


def _type_name(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if isinstance(kind, str):
        return kind
    for key in ("anyOf", "oneOf"):
        options = prop.get(key)
        if isinstance(options, list):
            names = [_type_name(o) for o in options if isinstance(o, dict)]
            return "|".join(n for n in names if n)
    return ""


def _print_schemas(output: Output, items: list[Any]) -> None:
    from rich.text import Text

    for index, tool in enumerate(items):
        if index:
            output.print("")
        heading = Text(tool.name, style="bold") + Text(f"  ({tool.server}: {tool.original_name})", "dim")
        output.print(safe_text(heading))  # one line: a name's own newline is shown as \n
        if tool.description:
            output.print("  " + tool.description.strip().replace("\n", "\n  "))
        output.print("  input schema:")
        output.print(_indent(json.dumps(tool.input_schema, indent=2, ensure_ascii=False), 4))
        if tool.output_schema:
            output.print("  output schema:")
            output.print(_indent(json.dumps(tool.output_schema, indent=2, ensure_ascii=False), 4))


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in text.splitlines())
