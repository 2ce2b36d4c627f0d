"""``patchbay list`` and ``patchbay get NAME``: the fleet's health, and one server in detail.

Both are reports: they exit 0 even when a server failed (``doctor`` is the command whose exit
code says whether everything works). Values of env variables and headers are never shown, and
commands, arguments and URLs are shown as written in the file, with ``${VAR}`` unexpanded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._fleet import ConnectTimeoutOpt, did_not_answer, open_fleet, require_server, state_of
from ._output import Output, ms, plural, safe_text, state_text

if TYPE_CHECKING:
    from ..config import Config, ServerConfig

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def register(app: typer.Typer) -> None:
    app.command("list")(list_servers)
    app.command("get")(get_server)


def list_servers(
    ctx: typer.Context, json_: JsonFlag = False, connect_timeout: ConnectTimeoutOpt = None
) -> None:
    """Every configured server: transport, state, tool/resource/prompt counts, time to connect."""
    import anyio

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    statuses = anyio.run(_statuses, config, None, connect_timeout, output)
    rows = [_server_summary(config.servers[name], status) for name, status in statuses.items()]
    if output.json_mode:
        output.json({"servers": rows})
        return
    hint = None if state.config_files else _claude_code_hint()
    if not rows:
        output.note(hint or "no servers configured; add one with `patchbay add NAME -- COMMAND [ARGS...]`")
        return
    if hint:
        output.note(hint)
    output.table(
        ["NAME", "TRANSPORT", "STATE", "TOOLS", "RESOURCES", "PROMPTS", "CONNECT"],
        [
            [
                row["name"],
                row["transport"],
                state_text(row["state"], row.get("error"), name=row["name"]),
                _count(row, "tools"),
                _count(row, "resources"),
                _count(row, "prompts"),
                ms(row.get("connect_ms")),
            ]
            for row in rows
        ],
    )


def get_server(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="The server's configured name.")],
    json_: JsonFlag = False,
) -> None:
    """One server in detail: command or URL, env/header names, capabilities, protocol, last error."""
    import anyio

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    require_server(config, name)
    status = anyio.run(_statuses, config, [name])[name]
    detail = _server_detail(config.servers[name], status)
    if output.json_mode:
        output.json(detail)
        return
    _print_detail(output, detail)


def _claude_code_hint() -> str | None:
    """A suggestion when this folder has Claude Code's ``.mcp.json`` but no patchbay project file."""
    import os
    from pathlib import Path

    from ..config import ENV_VAR, find_project_config

    cwd = Path.cwd()
    if not (cwd / ".mcp.json").is_file() or find_project_config(cwd) is not None or os.environ.get(ENV_VAR):
        return None
    return (
        "this folder has a .mcp.json (Claude Code's servers) but no patchbay project file: "
        "use it as it is with `patchbay -c .mcp.json list`, or copy its servers with "
        "`patchbay import claude-code`"
    )


async def _statuses(
    config: Config,
    names: list[str] | None,
    connect_timeout: float | None = None,
    output: Output | None = None,
) -> dict[str, dict[str, Any]]:
    async with open_fleet(config, names, connect_timeout=connect_timeout, output=output) as manager:
        statuses = manager.status()
    if connect_timeout is not None:  # still connecting when the wait ran out: say so
        for status in statuses.values():
            if status["state"] == "connecting" and not status.get("error"):
                status["error"] = did_not_answer(connect_timeout)
    return statuses


def _count(row: dict[str, Any], key: str) -> str:
    return str(row.get(key, 0)) if row["state"] == "ready" else "-"


def _server_summary(server: ServerConfig, status: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "name",
        "state",
        "error",
        "transport",
        "enabled",
        "tools",
        "resources",
        "resource_templates",
        "prompts",
        "connect_ms",
        "protocol_version",
    )
    summary = {key: status.get(key) for key in keys}
    summary.update(
        name=server.name,
        transport=server.transport,
        enabled=server.enabled,
        source=server.source,
        layer=server.layer,
    )
    for key in ("tools", "resources", "resource_templates", "prompts"):
        summary[key] = summary[key] or 0
    return summary


def _server_detail(server: ServerConfig, status: dict[str, Any]) -> dict[str, Any]:
    from .._redaction import mask_url  # with the stdio transport behind it: not for --help

    raw = server.raw
    detail: dict[str, Any] = {
        "name": server.name,
        "state": status.get("state"),
        "error": status.get("error"),
        "transport": server.transport,
        "enabled": server.enabled,
        "source": server.source,
        "layer": server.layer,
        "command": raw.get("command") if server.transport == "stdio" else None,
        "args": [str(a) for a in raw.get("args") or []] if server.transport == "stdio" else [],
        "cwd": raw.get("cwd"),
        "url": mask_url(str(raw.get("url"))) if server.transport != "stdio" and raw.get("url") else None,
        "env": sorted(server.env),
        "headers": sorted(server.headers),
        "protocol_version": status.get("protocol_version"),
        "server_info": {"name": status.get("server_name"), "version": status.get("server_version")}
        if status.get("server_name") is not None
        else None,
        "capabilities": status.get("capabilities"),
        "tools": status.get("tools") or 0,
        "resources": status.get("resources") or 0,
        "resource_templates": status.get("resource_templates") or 0,
        "prompts": status.get("prompts") or 0,
        "connect_ms": status.get("connect_ms"),
        "phases": status.get("phases"),
    }
    return detail


def _print_detail(output: Output, d: dict[str, Any]) -> None:
    """One ``label  value`` line each; values are escaped onto their line (``safe_text``)."""
    from rich.text import Text

    from .._display import command_line, shell_word

    def line(label: str, value: str | Text) -> None:
        output.print(Text(f"{label:<13}", style="bold"), safe_text(value))

    output.print(safe_text(d["name"], style="bold"))
    line("state", state_text(d["state"], d["error"], name=d["name"], with_error=False))
    if d["error"]:
        line("last error", d["error"])
    line("transport", d["transport"])
    if d["source"]:
        line("defined in", f"{d['source']} ({d['layer']})")
    if d["command"] is not None:
        line("command", command_line(d["command"], d["args"]))
    if d["cwd"]:
        line("cwd", shell_word(d["cwd"]))
    if d["url"]:
        line("url", d["url"])
    line("env", ", ".join(d["env"]) or "-")
    if d["transport"] != "stdio":
        line("headers", ", ".join(d["headers"]) or "-")
    if d["server_info"]:
        info = d["server_info"]
        line("server", f"{info['name']} {info['version'] or ''}".strip())
    if d["protocol_version"]:
        line("protocol", d["protocol_version"])
    if d["capabilities"] is not None:
        line("capabilities", ", ".join(sorted(d["capabilities"])) or "-")
    if d["state"] == "ready":
        line(
            "offers",
            ", ".join(
                (
                    plural(d["tools"], "tool"),
                    plural(d["resources"], "resource"),
                    plural(d["resource_templates"], "template"),
                    plural(d["prompts"], "prompt"),
                )
            ),
        )
        line("connected in", ms(d["connect_ms"]))
