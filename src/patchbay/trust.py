"""Which project-file servers the user has approved, and what approving one means.

A config file is code: ``command:`` runs a program and ``headers:`` can carry the user's tokens to
a URL. A file found by walking up from the working directory (the ``project`` layer) may come from
a repository someone else wrote, so its servers are not started until the user approves them,
the way Claude Code asks before it starts the servers of a project's ``.mcp.json``. Every other
layer is the user's or the program's own choice and is trusted: the user file, ``$PATCHBAY_CONFIG``,
files a program names explicitly (``load_config([path])``) and configs built in code.

Approvals live in ``trust.json`` in the user data directory (``$XDG_DATA_HOME/patchbay`` on Linux),
keyed by the project file's real path and the server's name, and store a sha256 of the entry **as
written** (``ServerConfig.raw``), not of the expanded entry:

* the file is what a stranger controls; ``${VAR}`` values come from the user's own environment,
  so expanding them adds nothing to what is being approved;
* a hash of expanded values would put a digest of the user's tokens on disk (a short token can be
  recovered from its hash by brute force), and every token rotation would ask for approval again.

Keys that cannot change which program runs, where, with what environment, or which URL is sent
which headers (timeouts, reconnect, tool filters, ``enabled``/``disabled``, ``protocol``, ...) are
left out of the hash, so tuning a timeout or ``patchbay disable``/``enable`` keeps the approval.
Every other key, including ones this version does not know, is hashed: a new command, argument,
env entry, ``env_passthrough`` name, ``cwd``, URL or header makes the server untrusted again.

The approval covers the entry, not the programs it names: a trusted ``command: ./run.sh`` runs
whatever ``run.sh`` contains when it starts.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._display import printable, shell_word
from ._redaction import mask_url
from .config import ProjectSettings, ServerConfig, references
from .errors import ServerUnavailable, TrustStoreError

__all__ = [
    "SETTINGS_KEY",
    "TRUST_ENV_VAR",
    "Approval",
    "TrustStore",
    "check_trusted",
    "decide",
    "describe_server",
    "describe_settings",
    "entry_digest",
    "needs_trust",
    "trust_from_env",
    "trust_store_path",
    "untrusted_message",
]

TRUST_ENV_VAR = "PATCHBAY_TRUST_PROJECT"
_STORE_VERSION = 1
_TRUTHY = frozenset({"1", "true", "yes", "on"})

# Entry keys that change neither what runs nor what it is given; everything else is hashed.
_UNHASHED_KEYS = frozenset(
    {
        "enabled",
        "disabled",
        "auto_connect",
        "timeout",
        "connect_timeout",
        "shutdown_grace",
        "health_interval",
        "protocol",
        "max_output_chars",
        "reconnect",
        "reconnect_attempts",
        "reconnect_delay",
        "reconnect_max_delay",
        "include_tools",
        "exclude_tools",
        "disabledTools",
        "alwaysAllow",
        "autoApprove",
        "watchPaths",
    }
)


def trust_store_path() -> Path:
    """Where approvals are kept: ``trust.json`` in the user data directory."""
    import platformdirs

    return platformdirs.user_data_path("patchbay") / "trust.json"


def trust_from_env(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``$PATCHBAY_TRUST_PROJECT`` says to trust every project server (``1``/``true``/``yes``)."""
    value = (os.environ if env is None else env).get(TRUST_ENV_VAR, "")
    return value.strip().lower() in _TRUTHY


def needs_trust(server: ServerConfig) -> bool:
    """Whether this server needs the user's approval before it may start (it came from a project file)."""
    return server.layer == "project"


def entry_digest(server: ServerConfig) -> str:
    """sha256 of the entry as written, without the keys that cannot change what runs."""
    hashed = {key: value for key, value in server.raw.items() if key not in _UNHASHED_KEYS}
    blob = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


SETTINGS_KEY = "/settings"
"""Where a project file's approved ``settings`` are recorded (no server name can contain ``/``)."""


def settings_digest(held: ProjectSettings) -> str:
    """sha256 of a project file's held settings as written (``roots`` and the like)."""
    blob = json.dumps(held.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def describe_settings(held: ProjectSettings) -> list[tuple[str, str]]:
    """Rows for reviewing a project file's held settings: each key and what it would give servers."""
    rows: list[tuple[str, str]] = [("file", held.source)]
    if held.roots is not None:
        rows.append(("roots", ", ".join(root.uri for root in held.roots) or "(none)"))
    for key, value in held.raw.items():
        if key != "roots":
            rows.append((key, json.dumps(value, ensure_ascii=True)))
    return rows


def _file_key(server: ServerConfig) -> str | None:
    return os.path.realpath(server.source) if server.source is not None else None


@dataclass(frozen=True)
class Approval:
    """One recorded approval: this server of this file, with this entry hash, at this time."""

    file: str
    server: str
    sha256: str
    trusted_at: str


class TrustStore:
    """The approvals file. Reads are lock-free; every change is locked, written whole, and replaced
    atomically, so a crash or a concurrent ``patchbay trust`` never leaves half a file.

    An unreadable or malformed file raises ``TrustStoreError`` and is never overwritten.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else trust_store_path()

    # ------------------------------------------------------------------------------- reading

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise TrustStoreError(f"cannot read the trust store: {exc}", file=str(self.path)) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrustStoreError(
                f"the trust store is not valid JSON (line {exc.lineno}, column {exc.colno});"
                " fix or delete it to approve servers again",
                file=str(self.path),
            ) from None
        projects = data.get("projects") if isinstance(data, dict) else None
        if not isinstance(projects, dict) or not all(
            isinstance(servers, dict) and all(isinstance(entry, dict) for entry in servers.values())
            for servers in projects.values()
        ):
            raise TrustStoreError(
                "the trust store does not have the expected shape; fix or delete it to approve servers again",
                file=str(self.path),
            )
        return projects

    def approval(self, server: ServerConfig) -> Approval | None:
        """The recorded approval for this server's name in its file (whatever entry it was for)."""
        key = _file_key(server)
        if key is None:
            return None
        entry = self._read().get(key, {}).get(server.name)
        if entry is None:
            return None
        return Approval(key, server.name, str(entry.get("sha256", "")), str(entry.get("trusted_at", "")))

    def is_trusted(self, server: ServerConfig) -> bool:
        """Whether the server may start: it is not from a project file, or this exact entry is approved."""
        if not needs_trust(server):
            return True
        approval = self.approval(server)
        return approval is not None and approval.sha256 == entry_digest(server)

    def settings_trusted(self, held: ProjectSettings) -> bool:
        """Whether the user approved this project file's held settings as they are now written."""
        entry = self._read().get(os.path.realpath(held.source), {}).get(SETTINGS_KEY)
        return entry is not None and entry.get("sha256") == settings_digest(held)

    def approve_settings(self, held: ProjectSettings) -> Approval:
        """Record that the user accepts this project file's held settings as written."""
        key = os.path.realpath(held.source)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        digest = settings_digest(held)
        with self._locked() as projects:
            projects.setdefault(key, {})[SETTINGS_KEY] = {"sha256": digest, "trusted_at": stamp}
        return Approval(key, SETTINGS_KEY, digest, stamp)

    def approvals(self) -> list[Approval]:
        """Every recorded approval, by file then server."""
        return [
            Approval(file, name, str(entry.get("sha256", "")), str(entry.get("trusted_at", "")))
            for file, servers in sorted(self._read().items())
            for name, entry in sorted(servers.items())
        ]

    # ------------------------------------------------------------------------------- writing

    def approve(self, server: ServerConfig) -> Approval:
        """Record that the user trusts this server's entry as it is now written."""
        key = _file_key(server)
        if key is None:
            raise TrustStoreError(
                f"{server.name} has no source file, so there is nothing to approve", file=str(self.path)
            )
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        digest = entry_digest(server)
        with self._locked() as projects:
            projects.setdefault(key, {})[server.name] = {"sha256": digest, "trusted_at": stamp}
        return Approval(key, server.name, digest, stamp)

    def revoke(self, server: ServerConfig) -> bool:
        """Forget the approval for this server of its file; whether there was one."""
        return server.source is not None and self.forget(server.source, server.name)

    def forget(self, file: str | os.PathLike[str], name: str) -> bool:
        """Forget the approval for server ``name`` of ``file`` (also one the file no longer defines)."""
        key = os.path.realpath(file)
        if name not in self._read().get(key, {}):
            return False
        with self._locked() as projects:
            servers = projects.get(key, {})
            found = servers.pop(name, None) is not None
            if not servers:
                projects.pop(key, None)
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, dict[str, str]]]]:
        """Read-modify-write under an exclusive lock; the new content replaces the file atomically."""
        directory = self.path.parent
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Never through a symlink: one planted here would have the open create or truncate
            # whatever it points at.
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            lock = os.open(directory / f"{self.path.name}.lock", flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise TrustStoreError(
                    f"cannot write the trust store: its lock file {self.path.name}.lock is a symbolic"
                    " link (remove it)",
                    file=str(self.path),
                ) from None
            raise TrustStoreError(f"cannot write the trust store: {exc}", file=str(self.path)) from None
        try:
            _lock(lock)
            projects = self._read()
            yield projects
            body = json.dumps({"version": _STORE_VERSION, "projects": projects}, indent=2, sort_keys=True)
            self._replace(body + "\n")
        finally:
            os.close(lock)  # closing releases the lock

    def _replace(self, text: str) -> None:
        import tempfile

        try:
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".trust-", suffix=".tmp")
        except OSError as exc:
            raise TrustStoreError(f"cannot write the trust store: {exc}", file=str(self.path)) from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:  # mkstemp creates it 0600
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise TrustStoreError(f"cannot write the trust store: {exc}", file=str(self.path)) from None


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the atomic replace still keeps the file whole
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


# ------------------------------------------------------------------------------------ display


def _named(mapping: Any) -> str:
    """``NAME (from $VAR)`` for each key of an env/headers mapping as written; values never appear."""
    if not isinstance(mapping, Mapping):
        return ""
    parts = []
    for name in sorted(mapping, key=str):
        value = mapping[name]
        used = references(value) if isinstance(value, str) else []
        parts.append(f"{name} (from {', '.join('$' + v for v in used)})" if used else str(name))
    return ", ".join(parts)


def describe_server(server: ServerConfig) -> list[tuple[str, str]]:
    """What starting this server would do, as (label, text) rows for a person deciding to trust it.

    Commands and arguments are shown as written (``${TOKEN}`` stays a reference); env and header
    values never appear, only their names and the host variables they draw on.

    Every text is safe for a terminal (``_display``): the command and each argument are shell
    words (quoted unless plain, ``$'...'`` with visible escapes when they hold control or
    invisible characters), so what is shown is exactly what would be executed, one word per
    argument; names, paths and the URL have such characters escaped.
    """
    raw = server.raw
    rows: list[tuple[str, str]] = [
        ("file", printable(server.source or "(built in code)")),
        ("transport", server.transport),
    ]
    if server.transport == "stdio":
        command = shell_word(raw.get("command", server.command or ""))
        if "$" in command and server.error is None and server.command:
            command = f"{command}  (now {shell_word(server.command)})"
        rows.append(("command", command))
        args = raw.get("args")
        if isinstance(args, list) and args:
            rows.append(("args", " ".join(shell_word(a) for a in args)))
        cwd = shell_word(server.cwd) if server.cwd else "(not set: the directory patchbay runs in)"
        rows.append(("cwd", cwd))
        if raw.get("env"):
            rows.append(("env", printable(_named(raw["env"]))))
        if server.inherit_env:
            rows.append(("inherit_env", "yes: the server gets the WHOLE host environment, secrets included"))
        elif server.env_passthrough:
            rows.append(("env_passthrough", printable(", ".join(server.env_passthrough))))
    else:
        rows.append(("url", printable(mask_url(str(raw.get("url", ""))))))
        if raw.get("headers"):
            rows.append(("headers", printable(_named(raw["headers"]))))
    used: list[str] = []
    for value in _walk_strings(raw):
        used.extend(name for name in references(value) if name not in used)
    if used:
        rows.append(("host variables", ", ".join(used)))
    return rows


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def check_trusted(server: ServerConfig, *, trust_project: bool = False) -> None:
    """Raise ``ServerUnavailable`` (state ``untrusted``) unless this server may be contacted.

    For code paths that reach a server without a manager (``patchbay login``): a project server
    the user has not approved must not be started, nor sent its headers.
    """
    if not needs_trust(server) or trust_project or trust_from_env():
        return
    store = TrustStore()
    if store.is_trusted(server):
        return
    message = untrusted_message(server, store.approval(server))
    raise ServerUnavailable(server.name, "untrusted", f"server is untrusted: {message}")


def untrusted_message(server: ServerConfig, approval: Approval | None = None) -> str:
    """Why a project server was not started and how to let it start; names only, never values."""
    why = "its entry changed since it was approved" if approval is not None else "it is not approved yet"
    return (
        f"not started: {why} (project file {server.source}); review it with"
        f" `patchbay trust {server.name}`, or trust all project servers with"
        f" trust_project=True or {TRUST_ENV_VAR}=1"
    )


def decide(server: ServerConfig, store: TrustStore) -> tuple[bool, str]:
    """Whether a project server may start now, and the message that says why not.

    Unreadable approvals count as none: the server is held back, and the message says why.
    """
    try:
        approval = store.approval(server)
        trusted = approval is not None and approval.sha256 == entry_digest(server)
        return trusted, untrusted_message(server, approval)
    except TrustStoreError as exc:
        return False, f"{untrusted_message(server)}; {exc}"
