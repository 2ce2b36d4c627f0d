"""``patchbay trust [NAME ...]`` and ``patchbay untrust NAME``: approve project-file servers.

A project file (``.patchbay/mcp.yaml`` found from the working directory) may come from a cloned
repository, so its servers stay ``untrusted`` until approved here. ``trust`` shows exactly what
would run (command, args, cwd, env *names*, URL with query values masked) and records the
approval on ``y``; ``--yes`` approves without asking, for scripts. See ``patchbay.trust``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._exit import UsageError
from ._fleet import require_server, state_of
from ._output import Output, safe_text

if TYPE_CHECKING:
    from ..config import ServerConfig

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def register(app: typer.Typer) -> None:
    app.command("trust")(trust_servers)
    app.command("untrust")(untrust_server)


def trust_servers(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Project servers to review (default: every untrusted one).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve without asking (for scripts).")] = False,
    json_: JsonFlag = False,
) -> None:
    """Review what the project file's servers would run and approve them."""
    from ..trust import TrustStore, describe_server, needs_trust

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    for name in names or ():
        require_server(config, name)
    chosen = [config.servers[n] for n in dict.fromkeys(names)] if names else list(config.servers.values())
    store = TrustStore()
    report: dict[str, list[Any]] = {"trusted": [], "declined": [], "already_trusted": [], "not_needed": []}

    for server in chosen:
        if not needs_trust(server):
            report["not_needed"].append(server.name)
            if names:
                output.note(f"{server.name}: {_why_trusted(server)}; nothing to approve")
            continue
        if store.is_trusted(server):
            report["already_trusted"].append(server.name)
            if names:
                output.note(f"{server.name} is already trusted")
            continue
        rows = describe_server(server)
        _show(output, server, rows)
        if yes or _confirm(server.name):
            store.approve(server)
            report["trusted"].append({"name": server.name, **{label: text for label, text in rows}})
            if not output.json_mode:
                output.print(f"trusted {server.name}")
        else:
            report["declined"].append(server.name)
            output.note(f"{server.name} stays untrusted")

    held = config.project_settings
    if not names and held is not None:
        report["settings"] = [_review_settings(output, store, held, yes)]

    if output.json_mode:
        output.json(report)
    elif not names and not report["trusted"] and not report["declined"] and held is None:
        output.note("no untrusted project servers here")


def _review_settings(output: Output, store: Any, held: Any, yes: bool) -> dict[str, Any]:
    """The project file's held ``settings`` (roots and the like): shown and approved like a server.

    Until approved they do not apply to any server, trusted or not.
    """
    from rich.text import Text

    from ..trust import describe_settings

    rows = describe_settings(held)
    if store.settings_trusted(held):
        return {"state": "already_trusted", **dict(rows)}
    console = output.err if output.json_mode else output.out
    console.print(
        Text("project settings (not applied until approved) would give servers:", style="bold yellow")
    )
    for label, text in rows:
        console.print(Text(f"  {label:<16}", style="bold") + Text(text))
    if yes or _confirm("these project settings"):
        store.approve_settings(held)
        if not output.json_mode:
            output.print("trusted the project settings")
        return {"state": "trusted", **dict(rows)}
    output.note("the project settings stay unapplied")
    return {"state": "declined", **dict(rows)}


def untrust_server(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project server whose approval to withdraw.")],
    json_: JsonFlag = False,
) -> None:
    """Withdraw the approval of a project server: it is not started again until trusted."""
    from ..trust import TrustStore, needs_trust

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    store = TrustStore()
    server = config.servers.get(name)
    if server is not None and not needs_trust(server):
        raise UsageError(f"{name}: {_why_trusted(server)}; only project-file servers need approval")
    if server is not None:
        removed = store.revoke(server)
    else:
        # The entry may be gone from the file already; its approval can still be withdrawn.
        from ..config import find_project_config

        project = find_project_config(Path.cwd())
        removed = project is not None and store.forget(project, name)
        if not removed:
            require_server(config, name)
    if output.json_mode:
        output.json({"name": name, "untrusted": removed})
    elif removed:
        output.print(f"{name} is no longer trusted")
    else:
        output.note(f"{name} was not trusted")


def approve_added(path: Path, name: str) -> bool:
    """Approve a server the user just added to the project file with ``add``: they wrote it.

    The entry is read back the way ``list`` will read it, so the approval matches exactly; a file
    that does not load (or is not this directory's project file) approves nothing.
    """
    from .. import errors
    from ..config import load_config
    from ..trust import TrustStore, needs_trust

    try:
        server = load_config().servers.get(name)
    except errors.ConfigError:
        return False
    if server is None or not needs_trust(server) or server.source is None:
        return False
    if Path(server.source).resolve() != path.resolve():
        return False
    TrustStore().approve(server)
    return True


def _why_trusted(server: ServerConfig) -> str:
    where = f"defined in {server.source}" if server.source else "defined in code"
    return f"{where} ({server.layer} layer), which is always trusted"


def _show(output: Output, server: ServerConfig, rows: list[tuple[str, str]]) -> None:
    """What would run, on stderr in JSON mode so stdout stays one JSON document."""
    from rich.text import Text

    lines = [Text(f"{server.name} (untrusted project server) would run:", style="bold yellow")]
    lines += [Text(f"  {label:<16}", style="bold") + Text(text) for label, text in rows]
    console = output.err if output.json_mode else output.out
    for line in lines:  # one line each: nothing in a row may start a line of its own
        console.print(safe_text(line))


def _confirm(name: str) -> bool:
    import sys

    from .._display import printable

    try:
        return typer.confirm(f"Trust {printable(name)}?", default=False, err=True)
    except typer.Abort:
        if sys.stdin.isatty():
            raise  # Ctrl-C at the prompt ends the command
        typer.echo(" no answer; use --yes to approve without asking", err=True)
        return False
