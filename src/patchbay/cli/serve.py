"""``patchbay serve``: the whole fleet as one MCP server (docs/serve.md).

stdio by default, for hosts that launch it (``claude mcp add patchbay -- patchbay serve``); stdout
is then the protocol, so every message of patchbay goes to stderr. ``--http HOST:PORT`` serves
Streamable HTTP on ``/mcp`` instead, loopback unless a bearer token is configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._exit import SERVER, UsageError
from ._fleet import CliState, state_of
from ._output import plural

if TYPE_CHECKING:
    from ..config import Config
    from ..gateway import HttpOptions

TOKEN_ENV = "PATCHBAY_SERVE_TOKEN"
TOKENS_ENV = "PATCHBAY_SERVE_TOKENS"


_Http = Annotated[
    str | None,
    typer.Option(
        "--http",
        metavar="HOST:PORT",
        help="Serve Streamable HTTP on http://HOST:PORT/mcp instead of stdio (loopback without a token).",
    ),
]
_Sse = Annotated[
    str | None,
    typer.Option(
        "--sse",
        metavar="HOST:PORT",
        help="Serve the legacy HTTP+SSE transport (GET /sse, POST /messages/) for old clients.",
    ),
]
_Prefix = Annotated[
    str,
    typer.Option(
        "--prefix",
        metavar="mcp|none",
        help="mcp: tools as mcp__SERVER__TOOL (default); none: the servers' own names (a clash: error).",
    ),
]
_Mode = Annotated[
    str,
    typer.Option(
        "--mode",
        metavar="all|search",
        help="all: every tool (default); search: only patchbay_search_tools and patchbay_call_tool.",
    ),
]
_TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help=f"HTTP bearer tokens, one a line (# comments); also ${TOKEN_ENV} / ${TOKENS_ENV}.",
        dir_okay=False,
    ),
]
_Token = Annotated[
    str | None,
    typer.Option("--token", help=f"An HTTP bearer token (visible in the process list: prefer ${TOKEN_ENV})."),
]
_AllowOrigin = Annotated[
    list[str] | None,
    typer.Option("--allow-origin", help="Another browser Origin allowed on loopback HTTP (repeatable)."),
]
_Watch = Annotated[
    bool,
    typer.Option(
        "--watch",
        help="Reload the config on every save of a config file (SIGHUP always reloads it).",
    ),
]
_Check = Annotated[
    bool,
    typer.Option(
        "--check", help="Start the fleet, wait for it to settle, report what would be served, exit."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    *,
    http: _Http = None,
    sse: _Sse = None,
    prefix: _Prefix = "mcp",
    mode: _Mode = "all",
    token_file: _TokenFile = None,
    token: _Token = None,
    allow_origin: _AllowOrigin = None,
    watch: _Watch = False,
    check: _Check = False,
) -> None:
    """Serve every configured server as one MCP server (stdio, or Streamable HTTP with --http)."""
    import anyio

    from ..gateway import serve as run_gateway

    if prefix not in ("mcp", "none"):
        raise UsageError(f"--prefix must be 'mcp' or 'none', not {prefix!r}")
    if mode not in ("all", "search"):
        raise UsageError(f"--mode must be 'all' or 'search', not {mode!r}")
    state = state_of(ctx)
    config = state.load()
    if check:
        _check(state, config, prefix=prefix == "mcp", mode=mode)
        return
    options = _http_options(
        config, http=http, sse=sse, token=token, token_file=token_file, allow_origin=allow_origin
    )
    try:
        # The manager reads the files itself (already checked above), so SIGHUP and --watch can
        # read them again.
        sources = [str(path) for path in state.config_files] or None
        anyio.run(lambda: run_gateway(sources, http=options, prefix=prefix == "mcp", mode=mode, watch=watch))
    except KeyboardInterrupt:
        return


def _http_options(
    config: Config,
    *,
    http: str | None,
    sse: str | None,
    token: str | None,
    token_file: Path | None,
    allow_origin: list[str] | None,
) -> HttpOptions | None:
    """What ``--http`` / ``--sse`` ask for, with the bearer tokens; ``None`` for stdio."""
    from ..gateway import HttpOptions, log_to_stderr, parse_address

    tokens = _tokens(token, token_file)
    if http is not None and sse is not None:
        raise UsageError("--http and --sse are alternatives: give one")
    address = http if http is not None else sse
    if address is not None:
        host, port = parse_address(address)
        return HttpOptions(
            host=host,
            port=port,
            tokens=tokens,
            sse=sse is not None,
            allowed_origins=tuple(allow_origin or ()),
            on_listening=lambda url: log_to_stderr(f"serving {len(config.servers)} servers on {url}"),
        )
    if tokens and (token is not None or token_file is not None):
        raise UsageError("--token and --token-file apply to --http and --sse only")
    return None


def _check(state: CliState, config: Config, *, prefix: bool, mode: str) -> None:
    """``--check``: exit 0 when every enabled server is ready (and no name clashes), else 4."""
    import anyio

    from ..gateway import check as check_gateway
    from ._fleet import report_not_ready

    output = state.output()
    report = anyio.run(lambda: check_gateway(config, prefix=prefix, mode=mode))
    if output.json_mode:
        output.json(report)
    else:
        ready = sum(1 for s in report["servers"].values() if s == "ready")
        output.print(
            f"{ready} of {len(report['servers'])} servers ready; serving {plural(report['tools'], 'tool')}, "
            f"{plural(report['prompts'], 'prompt')}, {plural(report['resources'], 'resource')}"
        )
        report_not_ready(output, report["problems"])
        for collision in report["collisions"]:
            output.warn(f"--prefix none: {collision}")
    if not report["ok"]:
        raise typer.Exit(SERVER)


def _tokens(token: str | None, token_file: Path | None) -> tuple[str, ...]:
    found: list[str] = []
    if token:
        found.append(token)
    for name in (TOKEN_ENV, TOKENS_ENV):
        value = os.environ.get(name, "")
        found.extend(item.strip() for item in value.split(",") if item.strip())
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--token-file {token_file}: {exc.strerror or exc}") from None
        for line in text.splitlines():
            item = line.split("#", 1)[0].strip()
            if item:
                found.append(item)
    return tuple(dict.fromkeys(found))
