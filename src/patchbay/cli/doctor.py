"""``patchbay doctor [SERVER...]``: connect every server, time each phase, explain each failure.

Phases (from ``Connection.phases``): ``spawn`` is starting the process (stdio) or opening the HTTP
transport, ``handshake`` is the server booting and answering initialize/discover, ``listing`` is
reading tools, prompts, resources and templates (all pages). Checks that need no connection run
first: an unset ``${VAR}``, a command not on PATH, a missing ``cwd``; such a server is not started.
While connecting, lines a stdio server writes to stdout that are not JSON-RPC are collected: the
connection survives them, but they mean the server logs to the wrong stream.

Exit code: 0 when every enabled server is ready, otherwise 4 (3 when the only problem is missing
authorisation).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import _exit
from ._fleet import open_fleet, require_server, state_of
from ._output import Output, first_line, ms, plural, state_text

if TYPE_CHECKING:
    from ..config import Config, ServerConfig

_NOISE = "non-JSON-RPC line on stdout"


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    *,
    servers: Annotated[list[str] | None, typer.Argument(help="Only these servers (default: all).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Connect every server, time spawn/handshake/listing, and explain failures with a hint."""
    import anyio

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    for name in servers or ():
        require_server(config, name)
    names = list(servers) if servers else list(config.servers)

    reports: dict[str, dict[str, Any]] = {}
    to_connect: list[str] = []
    for name in names:
        server = config.servers[name]
        report = _base_report(server)
        reports[name] = report
        if not server.enabled:
            report["state"] = "disabled"
        elif _static_checks(server, report):
            report["state"] = "failed"
        else:
            to_connect.append(name)

    if to_connect:
        noise = _NoiseCollector()
        logger = logging.getLogger("patchbay.server")
        logger.addHandler(noise)
        previous = logging.getLogger("patchbay").level
        logging.getLogger("patchbay").setLevel(min(previous, logging.WARNING) or logging.WARNING)
        try:
            statuses = anyio.run(_connect, config, to_connect)
        finally:
            logger.removeHandler(noise)
            logging.getLogger("patchbay").setLevel(previous)
        for name in to_connect:
            _explain(config.servers[name], statuses[name], reports[name], noise.lines.get(name, []))

    rows = [reports[name] for name in names]
    problems = [r for r in rows if r["state"] not in ("ready", "disabled")]
    if output.json_mode:
        output.json({"ok": not problems, "servers": rows})
    else:
        _print(output, rows)
    if problems:
        only_auth = all(r["state"] in _exit.AUTH_STATES for r in problems)
        raise typer.Exit(_exit.AUTH if only_auth else _exit.SERVER)


async def _connect(config: Config, names: list[str]) -> dict[str, dict[str, Any]]:
    async with open_fleet(config, names) as manager:
        return manager.status()


def _base_report(server: ServerConfig) -> dict[str, Any]:
    return {
        "name": server.name,
        "transport": server.transport,
        "state": None,
        "error": None,
        "phases": None,
        "connect_ms": None,
        "hints": [],
        "stdout_noise": [],
    }


def _static_checks(server: ServerConfig, report: dict[str, Any]) -> bool:
    """Problems visible without starting anything; True when the server should not be started."""
    hints: list[str] = report["hints"]
    if server.error is not None:
        report["error"] = server.error
        for var in dict.fromkeys(re.findall(r"environment variable (\w+) is not set", server.error)):
            hints.append(
                f"export {var}=... before running patchbay, or write ${{{var}:-default}} in the config"
            )
        if not hints:
            hints.append("fix the value in the config file")
        return True
    if server.transport != "stdio" or server.command is None:
        return False
    if server.cwd and not Path(server.cwd).is_dir():
        report["error"] = f"cwd does not exist: {server.cwd}"
        hints.append("fix cwd in the config (a relative cwd is relative to the config file)")
        return True
    command = server.command
    path = server.env.get("PATH") or os.environ.get("PATH", "")
    if os.sep in command:
        full = Path(server.cwd or ".") / command if not os.path.isabs(command) else Path(command)
        found = full.is_file() and os.access(full, os.X_OK)
    else:
        found = shutil.which(command, path=path) is not None
    if not found:
        report["error"] = f"command not found: {command}"
        hints.append(
            f"{command!r} is not an executable on the server's PATH; install it, or give its absolute path"
            + (" (is the virtualenv that has it activated?)" if "python" in command else "")
        )
        return True
    return False


def _explain(server: ServerConfig, status: dict[str, Any], report: dict[str, Any], noise: list[str]) -> None:
    report.update(
        state=status["state"],
        error=status.get("error"),
        phases=status.get("phases"),
        connect_ms=status.get("connect_ms"),
        stdout_noise=noise[:5],
    )
    hints: list[str] = report["hints"]
    name = server.name
    error = (status.get("error") or "").lower()
    state = status["state"]
    if state == "needs_auth" or "401" in error or "unauthorized" in error:
        hints.append(
            f"the server needs authorisation: run `patchbay login {name}` (an `auth: oauth` entry), "
            "or put a token in its headers"
        )
    elif state == "untrusted":
        hints.append(f"review the command and run `patchbay trust {name}`")
    elif "403" in error:
        hints.append("the credentials were refused (HTTP 403): check the token and its scopes")
    elif "404" in error:
        hints.append("nothing at that URL path (HTTP 404): MCP endpoints usually end in /mcp or /sse")
    elif any(s in error for s in ("connection refused", "all connection attempts failed", "connecterror")):
        hints.append(
            f"nothing is listening at {_host(server)}: is the server running, and is the port right?"
        )
    elif any(s in error for s in ("name or service not known", "nodename nor servname", "getaddrinfo")):
        hints.append(f"the host name in {_host(server)} does not resolve")
    elif "timed out" in error:
        hints.append(
            "the server did not finish starting in time: raise connect_timeout, or run its command "
            "by hand to see where it stops"
        )
    elif "command not found" in error:
        hints.append("install the command or give its absolute path")
    elif "permission denied" in error:
        hints.append("the command is not executable (chmod +x?)")
    elif any(
        s in error for s in ("exited with code", "closed its stdout", "process ended", "connection closed")
    ):
        hints.append("the server exited during start-up; the end of its stderr is in the error above")
    elif state not in ("ready", "disabled") and error:
        hints.append("run with -v to see the server's stderr and protocol log")
    if noise:
        hints.append(
            f"the server wrote {plural(len(noise), 'non-protocol line')} to stdout before or during the "
            f"handshake (first: {noise[0]!r}); an MCP server must log to stderr"
        )


def _host(server: ServerConfig) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(server.url or "")
    return parts.netloc.rpartition("@")[2] or "the URL"


class _NoiseCollector(logging.Handler):
    """Collects the transport's warnings about non-JSON-RPC stdout lines, per server."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _NOISE in message:
            server = record.name.removeprefix("patchbay.server.")
            line = message.split(": ", 1)[-1].strip("'\"")
            self.lines.setdefault(server, []).append(line)


def _print(output: Output, rows: list[dict[str, Any]]) -> None:
    from rich.text import Text

    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        label = Text(f"{row['name']:<{width}}  ", style="bold")
        status = state_text(row["state"] or "failed", row["error"], name=row["name"], with_error=False)
        line = label + status
        phases = row["phases"] or {}
        if row["state"] == "ready":
            parts = [f"{key.removesuffix('_ms')} {ms(value)}" for key, value in phases.items()]
            line += Text("  " + " · ".join(parts), style="dim")
        output.print(line)
        if row["error"] and row["state"] not in ("ready", "disabled"):
            # The first line says what happened; the rest is the server's stderr tail, in full.
            output.print(Text(f"    {_printable(first_line(row['error'], 300))}", style="red"))
            for tail_line in row["error"].strip().splitlines()[1:]:
                output.print(Text(f"    │ {_printable(tail_line)}", style="dim"))
            if phases:
                reached = ", ".join(f"{k.removesuffix('_ms')} {ms(v)}" for k, v in phases.items())
                output.print(Text(f"    phases completed: {reached}", style="dim"))
        for hint in row["hints"]:
            output.print(Text(f"    hint: {hint}", style="yellow"))
    bad = [r for r in rows if r["state"] not in ("ready", "disabled")]
    ready = sum(1 for r in rows if r["state"] == "ready")
    output.note(f"{ready} ready, {len(bad)} with problems, {len(rows) - ready - len(bad)} disabled")


def _printable(text: str) -> str:
    """Server text with control characters (ESC sequences, carriage returns) as visible escapes."""
    return "".join(
        c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
        for c in text
    )
