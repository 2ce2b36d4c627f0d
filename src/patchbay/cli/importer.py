"""``patchbay import [claude-desktop|claude-code|cursor|vscode|FILE]``: copy other hosts' servers.

Where each host keeps its servers:

==============  =====================================================================================
claude-desktop  ``~/.config/Claude/claude_desktop_config.json`` (Linux),
                ``~/Library/Application Support/Claude/claude_desktop_config.json`` (macOS)
claude-code     ``~/.claude.json`` (top-level ``mcpServers`` and ``projects[<this dir or a parent>]``),
                ``.mcp.json`` in the working directory
cursor          ``~/.cursor/mcp.json``, ``.cursor/mcp.json``
vscode          the user's ``mcp.json`` and ``settings.json`` (``~/.config/Code/User/`` on Linux,
                ``~/Library/Application Support/Code/User/`` on macOS), ``.vscode/mcp.json`` and
                ``.vscode/settings.json`` (``servers`` + ``inputs``, or in settings ``mcp.servers``)
==============  =====================================================================================

Without an argument every host above is read. Entries are copied as written (``${VAR}`` stays a
reference), keeping only keys patchbay understands; the rest are named in the report. VS Code and
Cursor variables are converted where they have a meaning outside the editor: ``${env:X}`` ->
``${X}``, ``${workspaceFolder}`` -> the workspace path, ``${userHome}`` -> the home directory, and
``${input:x}`` -> ``${X}`` (a prompt for a secret becomes an environment variable you set; the
report says which). A server using any other editor variable is skipped with the reason.

Secrets from user-level sources (every file above outside the working directory: Claude Desktop,
``~/.claude.json``, the user's Cursor and VS Code files, or a FILE outside it) never reach a
file that may be committed. By default such a server, when it holds literal values in ``env``,
``headers`` or its URL, is written to the user file instead of the project file (where it was
private before, it stays private). When the destination was chosen (``--scope project`` or
``--config FILE``), those values are replaced by ``${VAR}`` references and the report names the
variables to set; the values stay in the host's file.

Servers written to the project file start only once approved (``patchbay trust``): those that
came from the user's own host files are approved at once, as ``add`` approves what the user
typed; those copied from files in the working directory (a repository's ``.mcp.json``) are not,
and the report says to review them and run ``patchbay trust``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import errors
from ._configfile import ConfigFile
from ._exit import UsageError
from ._fleet import CliState, state_of
from ._output import Output
from .edit import Scope, target_path

HOSTS = ("claude-desktop", "claude-code", "cursor", "vscode")
# Keys copied from a foreign entry; everything else is reported as ignored.
_KEEP = ("command", "args", "env", "cwd", "url", "headers", "disabled", "enabled")
# Client-side approval settings: meaningless to patchbay, dropped without a note.
_SILENT = frozenset({"alwaysAllow", "autoApprove", "watchPaths", "type", "transport", "transportType"})
_TRANSPORTS = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamablehttp": "http",
    "streamable_http": "http",
    "sse": "sse",
}
_VSCODE_VAR = re.compile(
    r"\$\{([A-Za-z]+):([^}]*)\}|\$\{(workspaceFolder|userHome|workspaceFolderBasename)\}"
)


@dataclass
class Found:
    """One server entry found in a host's file."""

    name: str
    entry: Any
    source: str  # "claude-desktop: /path/file.json"
    vscode: bool = False  # editor variables (${workspaceFolder}, ${input:x}) to convert: VS Code, Cursor
    workspace: Path | None = None
    user_level: bool = False  # from a file outside the working directory (the user's own host config)


@dataclass
class Outcome:
    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)


class _Skip(Exception):
    pass


def register(app: typer.Typer) -> None:
    app.command("import")(import_servers)


def import_servers(
    ctx: typer.Context,
    *,
    source: Annotated[
        str | None,
        typer.Argument(help="claude-desktop, claude-code, cursor, vscode, or a file (default: every host)."),
    ] = None,
    scope: Annotated[
        Scope | None, typer.Option("--scope", help="Where to write: project (default) or user.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be imported; write nothing.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Copy servers from Claude Desktop, Claude Code, Cursor or VS Code into a patchbay file."""
    state = state_of(ctx)
    output = state.output(json_)
    outcome = Outcome()
    found = _discover(source, outcome)
    files = _Destinations(ctx, state, scope)
    for item in found:
        try:
            name, entry, target, notes = files.place(item)
        except _Skip as skip:
            outcome.skipped.append({"name": item.name, "source": item.source, "reason": str(skip)})
            continue
        if not dry_run:
            target.add(name, entry)
        files.taken[name] = item.source
        outcome.imported.append(
            {
                "name": name,
                "source": item.source,
                "file": str(target.path),
                "notes": notes,
                "user_level": item.user_level,
            }
        )
    if not dry_run:
        files.save(outcome.imported)
        _trust_imported(outcome.imported, files.destination.path)
    for row in outcome.imported:
        row.pop("user_level", None)
    _report(output, outcome, files.destination.path, dry_run=dry_run, found=bool(found))


class _Destinations:
    """Where imported servers go: the file chosen, or the user file for one holding secrets.

    Each file is locked until the command ends (click closes the resource), so parallel edits
    all land; the user file is opened only when a server must go there.
    """

    def __init__(self, ctx: typer.Context, state: CliState, scope: Scope | None) -> None:
        self._ctx = ctx
        self.destination: ConfigFile = ctx.with_resource(ConfigFile.editing(target_path(state, scope)))
        self._chosen = scope is not None or bool(state.config_files)  # the user named the file
        self._user_path = target_path(state, Scope.user) if not state.config_files else None
        self._private: ConfigFile | None = None
        self.taken: dict[str, str] = {}  # name -> the source it was imported from

    def place(self, item: Found) -> tuple[str, dict[str, Any], ConfigFile, list[str]]:
        """The name, converted entry, file and notes for one found server; ``_Skip`` says why not."""
        from ..catalogue import is_plain_name

        name = item.name
        notes: list[str] = []
        if not is_plain_name(name):
            renamed = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:64] or "server"
            notes.append(f"renamed from {name!r} (server names use letters, digits, '-' and '_')")
            name = renamed
        if name in self.taken:
            raise _Skip(f"already imported from {self.taken[name]}")
        entry = _convert(item, notes)
        entry, target = self._target(name, entry, item, notes)
        if name in target.servers():
            raise _Skip(f"already configured in {target.path}")
        _validate(name, entry)
        return name, entry, target, notes

    def _target(
        self, name: str, entry: dict[str, Any], item: Found, notes: list[str]
    ) -> tuple[dict[str, Any], ConfigFile]:
        """A user-level server with literal secrets goes to the user file, or is given references."""
        secrets = _literal_values(entry) if item.user_level else []
        if not secrets or _same_file(self.destination.path, self._user_path):
            return entry, self.destination
        if self._chosen or self._user_path is None:
            return _as_references(name, entry, notes), self.destination
        if self._private is None:
            self._private = self._ctx.with_resource(ConfigFile.editing(self._user_path))
        notes.append(
            f"holds secret values ({', '.join(secrets)}): written to the user file, not the project file"
        )
        return entry, self._private

    def save(self, imported: list[dict[str, Any]]) -> None:
        """Save each file that received a server."""
        written = {str(f.path): f for f in (self.destination, self._private) if f is not None}
        for path, file in written.items():
            if any(row["file"] == path for row in imported):
                file.save()


def _validate(name: str, entry: dict[str, Any]) -> None:
    """The entry as patchbay would load it; a problem skips it, with the reason and key path."""
    from ..config import Config

    try:
        Config.from_dict({"servers": {name: entry}}, env=os.environ)
    except errors.ConfigError as exc:
        raise _Skip(f"invalid entry: {exc.reason}" + (f" at {exc.path}" if exc.path else "")) from None


def _report(output: Output, outcome: Outcome, file: Path, *, dry_run: bool, found: bool) -> None:
    """What was imported and skipped: the JSON object, or a line per server and a summary."""
    if output.json_mode:
        output.json(
            {
                "file": str(file),
                "files": sorted({row["file"] for row in outcome.imported}),
                "dry_run": dry_run,
                "imported": outcome.imported,
                "skipped": outcome.skipped,
                "searched": outcome.searched,
            }
        )
        return
    if not found:
        output.note("no servers found; looked in:\n  " + "\n  ".join(outcome.searched))
        return
    verb = "would import" if dry_run else "imported"
    for row in outcome.imported:
        output.print(f"{verb} {row['name']}  ({row['source']})")
        for note in row["notes"]:
            output.print(f"    note: {note}")
    for row in outcome.skipped:
        output.print(f"skipped {row['name']}  ({row['source']}): {row['reason']}")
    summary = f"{len(outcome.imported)} {verb}, {len(outcome.skipped)} skipped"
    files = sorted({row["file"] for row in outcome.imported})
    output.note(summary + ("" if dry_run or not files else f"; written to {', '.join(files)}"))


# -------------------------------------------------------------------------------- discovering


def _discover(source: str | None, outcome: Outcome) -> list[Found]:
    if source is None:
        found: list[Found] = []
        for host in HOSTS:
            found.extend(_host(host, outcome))
        return found
    if source in HOSTS:
        found = _host(source, outcome)
        if not any(Path(p).exists() for p in outcome.searched):
            raise errors.ConfigError(
                f"no {source} configuration found (looked in {', '.join(outcome.searched)})"
            )
        return found
    path = Path(source).expanduser()
    if not path.exists():
        if "/" not in source and "." not in source:
            raise UsageError(f"unknown source {source!r}: expected one of {', '.join(HOSTS)} or a file path")
        raise errors.ConfigError("file not found", file=str(path))
    outcome.searched.append(str(path))
    data = _read(path)
    vscode = isinstance(data, Mapping) and ("inputs" in data or isinstance(data.get("mcp"), Mapping))
    vscode = vscode or path.parent.name in (".vscode", ".cursor")
    workspace = path.resolve().parent.parent if path.parent.name in (".vscode", ".cursor") else Path.cwd()
    user_level = not path.resolve().is_relative_to(Path.cwd().resolve())
    return _entries(data, f"{path}", vscode=vscode, workspace=workspace, user_level=user_level)


def _host(host: str, outcome: Outcome) -> list[Found]:
    home = Path.home()
    cwd = Path.cwd()
    found: list[Found] = []

    def read(path: Path) -> Any:
        outcome.searched.append(str(path))
        return _read(path) if path.is_file() else None

    if host == "claude-desktop":
        for path in (
            home / ".config" / "Claude" / "claude_desktop_config.json",
            home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json",
        ):
            found.extend(_entries(read(path), f"claude-desktop: {path}", user_level=True))
    elif host == "claude-code":
        path = home / ".claude.json"
        data = read(path)
        found.extend(_entries(data, f"claude-code: {path}", user_level=True))
        projects = data.get("projects") if isinstance(data, Mapping) else None
        if isinstance(projects, Mapping):
            for directory in (cwd, *cwd.parents):
                project = projects.get(str(directory))
                if isinstance(project, Mapping):  # Claude Code's "local" scope: private to the user
                    source = f"claude-code: {path} (project {directory})"
                    found.extend(_entries(project, source, user_level=True))
                    break
        local = cwd / ".mcp.json"
        found.extend(_entries(read(local), f"claude-code: {local}"))
    elif host == "cursor":
        # Cursor resolves ${workspaceFolder}, ${userHome} and ${env:X} in both files, as VS Code does.
        user = home / ".cursor" / "mcp.json"
        found.extend(_entries(read(user), f"cursor: {user}", vscode=True, workspace=cwd, user_level=True))
        local = cwd / ".cursor" / "mcp.json"
        found.extend(_entries(read(local), f"cursor: {local}", vscode=True, workspace=cwd))
    elif host == "vscode":
        for path in _vscode_user_files(home):
            found.extend(_entries(read(path), f"vscode: {path}", vscode=True, workspace=cwd, user_level=True))
        for path in (cwd / ".vscode" / "mcp.json", cwd / ".vscode" / "settings.json"):
            found.extend(_entries(read(path), f"vscode: {path}", vscode=True, workspace=cwd))
    return found


def _vscode_user_files(home: Path) -> list[Path]:
    """VS Code's user-level ``mcp.json`` and ``settings.json`` (Linux honours ``$XDG_CONFIG_HOME``)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    directories = [Path(config) / "Code" / "User", home / "Library" / "Application Support" / "Code" / "User"]
    return [directory / name for directory in directories for name in ("mcp.json", "settings.json")]


def _read(path: Path) -> Any:
    """A host's file, read and parsed by the config reader, so a broken file gets the same error.

    JSON files may have ``//`` and ``/* */`` comments, as VS Code and Cursor allow (trailing commas
    too: the config parser falls back to YAML, which accepts them).
    """
    from ..config import load_json, parse_text, read_text

    text = read_text(path)
    data, problem = load_json(text)
    if problem is None:  # plain JSON, the usual case: ~/.claude.json can be megabytes of history
        return data
    uncommented = _strip_json_comments(text)
    if uncommented.lstrip().startswith("{"):  # only JSON: in YAML, `//` is ordinary text (a URL)
        text = uncommented
    return parse_text(text, str(path))


def _strip_json_comments(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments outside strings (JSONC, as VS Code writes).

    Comments become spaces and their line breaks stay, so a parse error's line and column still
    point into the file as written.
    """
    out: list[str] = []
    i, quote = 0, False
    while i < len(text):
        char = text[i]
        if quote:
            out.append(char)
            if char == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                quote = False
        elif char == '"':
            quote = True
            out.append(char)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(" " * (end - i))
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _entries(
    data: Any,
    source: str,
    *,
    vscode: bool = False,
    workspace: Path | None = None,
    user_level: bool = False,
) -> list[Found]:
    if not isinstance(data, Mapping):
        return []
    blocks = [data.get("mcpServers"), data.get("servers")]
    nested = data.get("mcp")  # VS Code settings.json, as server READMEs say to paste it
    if isinstance(nested, Mapping):
        blocks.append(nested.get("servers"))
    found = []
    for block in blocks:
        if isinstance(block, Mapping):
            for name, entry in block.items():
                found.append(
                    Found(str(name), entry, source, vscode=vscode, workspace=workspace, user_level=user_level)
                )
    return found


# --------------------------------------------------------------------------------- converting


def _convert(item: Found, notes: list[str]) -> dict[str, Any]:
    entry = item.entry
    if not isinstance(entry, Mapping):
        raise _Skip("the entry is not an object")
    converted: dict[str, Any] = {}
    ignored = [k for k in entry if k not in _KEEP and k not in _SILENT]
    spelled = entry.get("type", entry.get("transport", entry.get("transportType")))
    transport = _TRANSPORTS.get(str(spelled).lower()) if spelled is not None else None
    if spelled is not None and transport is None:
        raise _Skip(f"unsupported transport {spelled!r}")
    url = entry.get("url") or entry.get("serverUrl")
    if "serverUrl" in entry:
        ignored.remove("serverUrl")
    if transport in ("http", "sse") or (transport is None and url and not entry.get("command")):
        if not url:
            raise _Skip(f"a {transport} server without a url")
        inferred = "sse" if str(url).rstrip("/").endswith("/sse") else "http"
        if transport is not None and transport != inferred:
            converted["transport"] = transport
        converted["url"] = url
        if entry.get("headers"):
            converted["headers"] = entry["headers"]
    else:
        if not entry.get("command"):
            raise _Skip("neither a command nor a url")
        for key in ("command", "args", "env", "cwd"):
            if entry.get(key) not in (None, [], {}):
                converted[key] = entry[key]
    for key in ("disabled", "enabled"):
        if key in entry:
            converted[key] = entry[key]
    if "envFile" in entry:
        notes.append("envFile is not supported: put those variables in env")
        ignored.remove("envFile")
    if ignored:
        notes.append(f"ignored keys: {', '.join(ignored)}")
    if item.vscode:
        converted = _vscode_variables(converted, item.workspace or Path.cwd(), notes)
    return converted


def _vscode_variables(value: Any, workspace: Path, notes: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {k: _vscode_variables(v, workspace, notes) for k, v in value.items()}
    if isinstance(value, list):
        return [_vscode_variables(v, workspace, notes) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        kind, arg, bare = match.group(1), match.group(2), match.group(3)
        if bare == "workspaceFolder":
            return str(workspace)
        if bare == "workspaceFolderBasename":
            return workspace.name
        if bare == "userHome":
            return str(Path.home())
        if kind == "env":
            return f"${{{arg}}}"
        if kind == "input":
            var = re.sub(r"[^A-Za-z0-9]+", "_", arg).strip("_").upper() or "INPUT"
            note = f"${{input:{arg}}} became ${{{var}}}: set {var} in the environment"
            if note not in notes:
                notes.append(note)
            return f"${{{var}}}"
        raise _Skip(f"uses ${{{kind}:{arg}}}, a VS Code variable patchbay cannot resolve")

    return _VSCODE_VAR.sub(replace, value)


# ------------------------------------------------------------------------------------ secrets


def _literal_values(entry: Mapping[str, Any]) -> list[str]:
    """Where the entry holds values written out rather than ``${VAR}`` references: possible secrets.

    Every ``env`` and ``headers`` value without a reference counts (a value is not known to be
    harmless), and a URL with credentials or query values.
    """
    from .._redaction import mask_url

    found = [
        f"{field} {key}"
        for field in ("env", "headers")
        for key, value in (entry.get(field) or {}).items()
        if isinstance(value, str) and value and not _references(value)
    ]
    url = entry.get("url")
    if isinstance(url, str) and not _references(url) and mask_url(url) != url:
        found.append("url")
    return found


def _references(text: str) -> list[str]:
    from ..config import references

    return references(text)


def _as_references(name: str, entry: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The entry with each literal env/header/url value replaced by a ``${VAR}`` reference.

    ``env`` keeps its own name (``API_KEY: ${API_KEY}``); a header becomes
    ``${<SERVER>_<HEADER>}``, keeping an ``Authorization`` scheme (``Bearer ${GH_AUTHORIZATION}``).
    """
    from .._redaction import mask_url

    prefix = _var_name(name)
    variables: list[str] = []
    entry = dict(entry)
    env = entry.get("env")
    if isinstance(env, Mapping):
        entry["env"] = {k: v if _references_or_blank(v) else _ref(str(k), variables) for k, v in env.items()}
    headers = entry.get("headers")
    if isinstance(headers, Mapping):
        rewritten = {}
        for key, value in headers.items():
            if _references_or_blank(value):
                rewritten[key] = value
                continue
            scheme, sep, _rest = str(value).partition(" ")
            reference = _ref(f"{prefix}_{_var_name(str(key))}", variables)
            keep = sep and scheme.lower() in ("bearer", "basic", "token")
            rewritten[key] = f"{scheme} {reference}" if keep else reference
        entry["headers"] = rewritten
    url = entry.get("url")
    if isinstance(url, str) and not _references(url) and mask_url(url) != url:
        entry["url"] = _ref(f"{prefix}_URL", variables)
    if variables:
        notes.append(
            f"secret values were not copied: set {', '.join(variables)} in the environment "
            "(the values are in the source file)"
        )
    return entry


def _references_or_blank(value: Any) -> bool:
    return not isinstance(value, str) or not value or bool(_references(value))


def _ref(var: str, variables: list[str]) -> str:
    variables.append(var)
    return f"${{{var}}}"


def _var_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper() or "VALUE"


def _same_file(path: Path, other: Path | None) -> bool:
    return other is not None and path.expanduser().absolute() == other.expanduser().absolute()


# -------------------------------------------------------------------------------------- trust


def _trust_imported(rows: list[dict[str, Any]], project: Path) -> None:
    """Approve what landed in the project file from the user's own host files; hint at the rest.

    A server from the user's Claude Desktop or editor config already runs on their machine, so it
    is approved as ``add`` approves what the user typed. One copied from a file in the working
    directory (a repository's ``.mcp.json``) is the kind the approval exists for: not approved.
    """
    from .trust import approve_added

    for row in rows:
        if row["file"] != str(project):
            continue
        if row["user_level"] and approve_added(project, row["name"]):
            row["trusted"] = True
            row["notes"].append("trusted: it came from your own configuration")
        elif _needs_approval(project, row["name"]):
            row["trusted"] = False
            row["notes"].append(
                f"not trusted yet: review it, then run `patchbay trust {row['name']}` to let it start"
            )


def _needs_approval(path: Path, name: str) -> bool:
    from ..config import load_config
    from ..trust import TrustStore, needs_trust

    try:
        server = load_config().servers.get(name)
        if server is None or not needs_trust(server) or server.source is None:
            return False
        return Path(server.source).resolve() == path.resolve() and not TrustStore().is_trusted(server)
    except errors.PatchbayError:
        return False
