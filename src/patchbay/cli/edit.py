"""``patchbay add | add-json | remove | enable | disable``: edit a config file in place.

The file: ``--config FILE`` when given (exactly one), else ``--scope project`` (the default:
``.patchbay/mcp.yaml`` found upward from the working directory, or created in it) or
``--scope user`` (``patchbay.config.user_config_path()``). ``remove``/``enable``/``disable``
without ``--scope`` edit whichever of the project and user files defines the server (project
first). Edits keep everything else in the file as written (see ``_configfile``), and hold a lock
on the file for the read-modify-write so parallel edits all land. ``add`` refuses to create a
project file in the home directory (``--scope user`` is the file for servers wanted everywhere).
"""

from __future__ import annotations

import contextlib
import difflib
import enum
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import errors
from ._configfile import ConfigFile
from ._exit import UsageError
from ._fleet import CliState, state_of
from ._output import Output


class Scope(enum.StrEnum):
    project = "project"
    user = "user"


ScopeOpt = Annotated[
    Scope | None,
    typer.Option("--scope", help="Which file: project (.patchbay/mcp.yaml, the default) or user."),
]
NameArg = Annotated[str, typer.Argument(help="The server's name.", metavar="NAME")]


def register(app: typer.Typer) -> None:
    app.command("add")(add)
    app.command("add-json")(add_json)
    app.command("remove")(remove)
    app.command("enable")(enable)
    app.command("disable")(disable)


# -------------------------------------------------------------------------------------- files


def target_path(state: CliState, scope: Scope | None, *, adding: bool = True) -> Path:
    """The file ``add`` (and ``import``) writes to; never a project file in the home directory."""
    if state.config_files:
        if scope is not None:
            raise UsageError("--scope and --config both choose the file; give one")
        if len(state.config_files) > 1:
            raise UsageError("config edits take exactly one --config FILE")
        return state.config_files[0].expanduser().absolute()
    if scope is Scope.user:
        from ..config import user_config_path

        return user_config_path()
    from ..config import PROJECT_CONFIG, find_project_config

    path = find_project_config(Path.cwd()) or Path.cwd() / PROJECT_CONFIG
    if adding:
        _refuse_home_project(path)
    return path


def _refuse_home_project(path: Path) -> None:
    """``add`` never creates (or writes to) a project file in the home directory.

    Every directory under ``~`` would find ``~/.patchbay/mcp.yaml`` by walking up, so a server
    added there would run, under that approval, in any repository cloned below ``~``.
    """
    from ..config import PROJECT_CONFIG

    depth = len(Path(PROJECT_CONFIG).parts)
    if path.parts[-depth:] != Path(PROJECT_CONFIG).parts:
        return
    project_dir = path.parents[depth - 1]
    if project_dir.resolve() == Path.home().resolve():
        raise UsageError(
            f"refusing to write a project file in your home directory ({path}): every directory "
            "under it would pick it up; use `--scope user` for servers you want everywhere, or run "
            "this inside a project directory"
        )


def _file_defining(state: CliState, scope: Scope | None, name: str) -> Path:
    """The file that defines ``name`` among the candidates; a miss suggests the nearest name."""
    if state.config_files or scope is not None:
        candidates = [target_path(state, scope, adding=False)]
    else:
        from ..config import user_config_path

        candidates = [target_path(state, Scope.project, adding=False), user_config_path()]
    known: list[str] = []
    for path in candidates:
        names = list(ConfigFile.open(path).servers())
        if name in names:
            return path
        known.extend(names)
    where = " or ".join(str(p) for p in candidates)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"no server named {name!r} in {where}{hint}")


def check_name(name: str) -> None:
    from ..catalogue import is_plain_name

    if not is_plain_name(name):
        raise UsageError(
            f"invalid server name {name!r}: use 1-64 letters, digits, '-' or '_' "
            "(it becomes part of every tool name, mcp__<server>__<tool>)"
        )


def validate_entry(name: str, entry: dict[str, Any]) -> None:
    """Refuse an entry patchbay could not load, with the loader's own reason."""
    try:
        from ..config import Config

        Config.from_dict({"servers": {name: entry}}, env=os.environ)
    except errors.ConfigError as exc:
        raise UsageError(
            f"invalid server entry: {exc.path}: {exc.reason}" if exc.path else str(exc)
        ) from None


def _write(output: Output, file: ConfigFile, action: str, name: str, state: CliState) -> None:
    file.save()
    if output.json_mode:
        output.json({"action": action, "server": name, "file": str(file.path)})
    else:
        output.print(f"{action} {name} in {file.path}")


def _add_entry(ctx: typer.Context, name: str, entry: dict[str, Any], scope: Scope | None) -> None:
    state = state_of(ctx)
    output = state.output()
    check_name(name)
    validate_entry(name, entry)
    with ConfigFile.editing(target_path(state, scope)) as file:  # parallel `add`s queue here; none is lost
        if name in file.servers():
            raise UsageError(
                f"a server named {name!r} already exists in {file.path}; "
                f"remove it first (`patchbay remove {name}`) or choose another name"
            )
        file.add(name, entry)
        _warn_unset(output, entry)
        _write(output, file, "added", name, state)
    from .trust import approve_added

    if approve_added(file.path, name):  # the user typed this entry: no need to ask them to trust it
        output.note(f"trusted {name}: you added it to the project file yourself")


def _warn_unset(output: Output, entry: dict[str, Any]) -> None:
    """Name each variable the entry needs (no ``:-default``) that this shell does not set."""
    from ..config import references

    needed = (name for text in _strings(entry) for name in references(text, defaulted=False))
    for var in dict.fromkeys(needed):
        if var not in os.environ:
            output.warn(f"${{{var}}} is not set in this shell; the server fails to start until it is")


def _strings(value: Any) -> list[str]:
    """Every string value in a JSON-like entry (keys are names, never expanded)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


# ----------------------------------------------------------------------------------- commands


def add(
    ctx: typer.Context,
    *,
    name: NameArg,
    command: Annotated[
        list[str] | None,
        typer.Argument(help="After --: the command and its arguments (a stdio server).", metavar="COMMAND"),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="KEY=VALUE for the server's environment (repeatable)."),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="The URL of an HTTP or SSE server.")] = None,
    transport: Annotated[
        str | None, typer.Option("--transport", "-t", help="http or sse (default: from the URL).")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="'Key: Value' HTTP header (repeatable).")
    ] = None,
    scope: ScopeOpt = None,
) -> None:
    """Add a server: `add NAME -- COMMAND [ARGS]...` or `add NAME --url URL`."""
    entry: dict[str, Any] = {}
    if command and url:
        raise UsageError("give either a command (after --) or --url, not both")
    if command:
        if header or transport not in (None, "stdio"):
            raise UsageError("--header and --transport are for --url servers")
        entry["command"] = command[0]
        if command[1:]:
            entry["args"] = list(command[1:])
    elif url:
        if transport not in (None, "http", "sse"):
            raise UsageError("--transport must be http or sse")
        if transport:
            entry["transport"] = transport
        entry["url"] = url
        if header:
            entry["headers"] = dict(_header(h) for h in header)
    else:
        raise UsageError("give a command after -- (stdio) or --url URL (http/sse)")
    if env:
        if not command:
            raise UsageError("--env is for stdio servers")
        entry["env"] = dict(_env_pair(e) for e in env)
    _add_entry(ctx, name, entry, scope)


def add_json(
    ctx: typer.Context,
    *,
    name: NameArg,
    entry_json: Annotated[
        str, typer.Argument(help='The entry as JSON, e.g. \'{"command": "uvx", ...}\'.', metavar="JSON")
    ],
    scope: ScopeOpt = None,
) -> None:
    """Add a server from a JSON entry (the shape of an mcpServers entry)."""
    try:
        entry = json.loads(entry_json)
    except json.JSONDecodeError as exc:
        raise UsageError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(entry, dict):
        raise UsageError("the entry must be a JSON object")
    _add_entry(ctx, name, entry, scope)


def remove(ctx: typer.Context, name: NameArg, scope: ScopeOpt = None) -> None:
    """Remove a server from its config file (and its approval, for a project server)."""
    state = state_of(ctx)
    with _editing(state, scope, name) as file:
        file.remove(name)
        _write(state.output(), file, "removed", name, state)
    from ..trust import TrustStore

    # A server added again later under the same name is a new entry: it is approved afresh.
    output = state.output()
    try:
        forgotten = TrustStore().forget(file.path, name)
    except errors.TrustStoreError as exc:  # the edit is done; say what was left behind
        output.warn(f"the approval of {name} was not dropped: {exc}")
        return
    if forgotten and not output.json_mode:
        output.note(f"dropped the approval of {name}")


def enable(ctx: typer.Context, name: NameArg, scope: ScopeOpt = None) -> None:
    """Enable a server (removes its `enabled: false` / `disabled: true`)."""
    _toggle(ctx, name, scope, True)


def disable(ctx: typer.Context, name: NameArg, scope: ScopeOpt = None) -> None:
    """Disable a server without removing it."""
    _toggle(ctx, name, scope, False)


def _toggle(ctx: typer.Context, name: str, scope: Scope | None, enabled: bool) -> None:
    state = state_of(ctx)
    output = state.output()
    word = "enabled" if enabled else "disabled"
    with _editing(state, scope, name) as file:
        if not file.set_enabled(name, enabled):
            if output.json_mode:
                output.json({"action": "unchanged", "server": name, "file": str(file.path)})
            else:
                output.print(f"{name} is already {word} in {file.path}")
            return
        _write(output, file, word, name, state)


@contextlib.contextmanager
def _editing(state: CliState, scope: Scope | None, name: str) -> Iterator[ConfigFile]:
    """The file defining ``name``, locked and read again (another edit may have run meanwhile)."""
    with ConfigFile.editing(_file_defining(state, scope, name)) as file:
        if name not in file.servers():
            raise UsageError(f"no server named {name!r} in {file.path} (it was just removed)")
        yield file


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--env expects KEY=VALUE, got {text!r}")
    return key, value


def _header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition(":")
    if not sep or not key.strip():
        raise UsageError(f"--header expects 'Key: Value', got {text!r}")
    return key.strip(), value.strip()
