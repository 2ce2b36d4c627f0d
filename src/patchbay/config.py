"""Which MCP servers to run and how to treat them: models, file formats, layering, ``${VAR}`` expansion.

Two file shapes are read, each in YAML or JSON. The format is told apart by content, not by the
file extension, so ``.mcp.json`` files written by other tools can be used as they are:

* patchbay's own::

      servers:
        git: {command: uvx, args: [mcp-server-git]}
        remote: {url: "https://example.com/mcp", headers: {Authorization: "Bearer ${TOKEN}"}}
      settings:
        timeout: 20

* the ``mcpServers`` shape written by Claude Desktop, Claude Code (``.mcp.json``) and Cursor::

      {"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"]},
                      "remote": {"type": "http", "url": "https://example.com/mcp"}}}

  A file with both keys gets the servers from both, ``mcpServers`` first; a name defined under both
  is an error because neither reading would be obviously right. Such a file belongs to another
  application, so its other top-level keys are ignored without a warning.

``type`` is an alias of ``transport``. Without either, a ``command`` means stdio and a ``url``
means Streamable HTTP, except that a URL whose path ends in ``/sse`` means the legacy SSE transport
(that is what such URLs are in Claude Desktop-era configs).

Layering: ``load_config()`` with no paths reads the user file, then the project file
(``.patchbay/mcp.yaml`` in the working directory or a parent), then the file named by
``$PATCHBAY_CONFIG``. Explicit paths replace those defaults. A server defined in a later file
replaces the earlier definition whole, because a half-merged entry (one file's ``command`` with
another file's ``args``) is hard to debug. Settings merge key by key for exactly the keys each file
writes, so a later file can set a value back to its default.

``${VAR}`` and ``${VAR:-default}`` are expanded in ``command``, ``args``, ``env`` values, ``cwd``,
``url``, ``headers`` values and the ``auth`` credentials (``client_id``, ``client_secret``,
``private_key``), and nowhere else. ``$$`` is a literal ``$``. A variable that is not
set fails only its own server (``ServerConfig.error``), not the whole file, because one missing
token should not take the rest of the fleet down. One variable is always set:
``${PATCHBAY_PYTHON}`` is the interpreter running patchbay (``sys.executable``) unless the
environment sets it, so a Python server written against the installed SDK (``command:
${PATCHBAY_PYTHON}``) runs wherever patchbay does: a venv that is not activated, pipx, uv tool.

``roots:`` (per server, or in ``settings`` for all) lists directories offered to servers that ask for
roots; a path is made absolute and becomes a ``file://`` URI. ``auth: oauth`` (or a mapping with
``client_id``, ``client_secret``, ``scopes``, ``client_metadata_url``, ``callback_port``) makes an
HTTP/SSE server authorise with OAuth (see ``patchbay.auth``).

Unknown keys give a ``ConfigWarning`` naming the file and key path, not a failure, so a typo is
visible but a newer file still loads. Claude/Cline conventions are understood: ``disabled: true``,
``disabledTools`` (as ``exclude_tools``); ``alwaysAllow``/``autoApprove``/``watchPaths`` are
client-side approval settings and are skipped silently.

Secret values (``env`` and ``headers`` values, and URLs, which often embed an API key) never appear
in an error, a warning or a ``repr``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import unicodedata
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Literal, Self, TypeAlias
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from patchbay.errors import ConfigError

__all__ = [
    "Config",
    "ConfigWarning",
    "EffectiveServer",
    "Layer",
    "OAuthConfig",
    "ProjectSettings",
    "Protocol",
    "ReconnectSettings",
    "RootEntry",
    "ServerConfig",
    "Settings",
    "Transport",
    "default_config_paths",
    "find_project_config",
    "load_config",
    "references",
    "user_config_path",
]

Transport: TypeAlias = Literal["stdio", "http", "sse"]
Layer: TypeAlias = Literal["user", "project", "env", "explicit", "code"]
Protocol: TypeAlias = Literal["auto", "legacy", "2026-07-28"]

PROJECT_CONFIG = Path(".patchbay") / "mcp.yaml"
ENV_VAR = "PATCHBAY_CONFIG"
CALLER_CWD = "<caller>"
"""``cwd: <caller>``: start the server in the directory patchbay was started from (read at load)."""

# Bounds on what reading one file may cost, whatever it holds (a project file may be hostile): a
# YAML alias costs nothing to write and a full copy to expand, and the pure-Python YAML reader
# spends about 50 microseconds a node. Within these, any file loads or fails in well under a second
# and a few MB; a real config is a few KB and a few hundred values.
MAX_FILE_BYTES = 1_000_000
"""A config file larger than this is refused."""
_MAX_YAML_NODES = 10_000  # nodes the YAML reader builds (an alias counts once)
_MAX_VALUES = 100_000  # values after aliases are expanded into copies
_MAX_DEPTH = 64  # nesting of mappings and lists


class ConfigWarning(UserWarning):
    """A config file has something patchbay ignores (usually a misspelt key); the rest still loads."""


# --------------------------------------------------------------------------------------------------
# Field types


def _reject_bool(value: Any) -> Any:
    """Stop pydantic's lax mode from reading ``timeout: true`` as 1.0 seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


_NotBool = BeforeValidator(_reject_bool)
# Positive: a zero deadline or delay is never what anyone means.
_Seconds = Annotated[float, _NotBool, Field(gt=0, allow_inf_nan=False)]
# Zero allowed: shutdown_grace 0 kills at once; health_interval / max_output_chars 0 mean "off".
_SecondsOrZero = Annotated[float, _NotBool, Field(ge=0, allow_inf_nan=False)]
_Count = Annotated[int, _NotBool, Field(ge=0)]

# Passed as validation context while reading one file: a file may set reconnect.base_delay above the
# default max_delay when another file (or the merged settings) supplies a larger max_delay, so the
# cross-field check runs only on the merged result.
_PARTIAL: dict[str, bool] = {"patchbay_partial": True}


def _is_partial(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("patchbay_partial"))


# --------------------------------------------------------------------------------------------------
# Models


class ReconnectSettings(BaseModel):
    """Exponential backoff for reconnecting a server that died: ``base_delay * 2**k``, capped."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    attempts: _Count = 5
    base_delay: _Seconds = 1.0
    max_delay: _Seconds = 60.0

    @model_validator(mode="after")
    def _check_delays(self, info: ValidationInfo) -> Self:
        if not _is_partial(info) and self.max_delay < self.base_delay:
            raise ValueError(
                f"max_delay ({self.max_delay:g}) must be at least base_delay ({self.base_delay:g})"
            )
        return self


def _root_shorthand(value: Any) -> Any:
    """``- ~/src/app`` is ``- {uri: file:///home/me/src/app}``."""
    if isinstance(value, str):
        return {"uri": value}
    return value


class RootEntry(BaseModel):
    """A directory offered to servers as a root; a path (``~`` expanded) becomes a ``file://`` URI."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    uri: str
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        data = _root_shorthand(data)
        if isinstance(data, Mapping) and "path" in data and "uri" not in data:
            data = {**data, "uri": data["path"]}
            del data["path"]
        return data

    @field_validator("uri")
    @classmethod
    def _to_uri(cls, value: str) -> str:
        from patchbay.handlers import root_uri

        return root_uri(value)


def _auth_shorthand(value: Any) -> Any:
    """``auth: oauth`` is ``auth: {type: oauth}``."""
    if isinstance(value, str):
        return {"type": value}
    return value


class OAuthConfig(BaseModel):
    """``auth: oauth`` on an HTTP/SSE server: OAuth 2.1 with PKCE through the SDK's provider.

    Without ``client_id`` the client registers itself dynamically (or uses ``client_metadata_url``
    as a URL-based client id when the authorization server supports that). ``scopes`` are requested
    in addition to what the server asks for; ``callback_port`` fixes the loopback port of the redirect
    (default: any free port). ``type: client_credentials`` is the machine-to-machine grant: with
    ``client_id`` + ``client_secret``, or ``client_id`` + ``private_key`` (PEM, signed as a
    ``private_key_jwt`` assertion with ``signing_algorithm``); ``issuer`` pins the authorization
    server those credentials belong to. Secrets never appear in a repr or an error.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    type: Literal["oauth", "client_credentials"] = "oauth"
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    scopes: tuple[str, ...] | None = None
    client_metadata_url: str | None = None
    callback_port: Annotated[int, _NotBool, Field(ge=0, le=65535)] | None = None
    private_key: str | None = Field(default=None, repr=False)
    signing_algorithm: str = "RS256"
    issuer: str | None = None

    @model_validator(mode="after")
    def _check_grant(self) -> Self:
        if self.type == "client_credentials":
            if not self.client_id:
                raise ValueError("client_credentials needs a client_id")
            if not (self.client_secret or self.private_key):
                raise ValueError("client_credentials needs a client_secret or a private_key")
        return self

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _auth_shorthand(data)

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value


_FLAT_RECONNECT = {
    "reconnect_attempts": "attempts",
    "reconnect_delay": "base_delay",
    "reconnect_max_delay": "max_delay",
}


def _fold_flat_reconnect(data: Any) -> Any:
    """Accept ``reconnect_attempts`` etc. as spellings of ``reconnect: {attempts: ...}``."""
    if not isinstance(data, Mapping) or not any(key in data for key in _FLAT_RECONNECT):
        return data
    folded = dict(data)
    nested = folded.get("reconnect")
    if nested is None:
        merged: dict[str, Any] = {}
    elif isinstance(nested, ReconnectSettings):
        merged = {key: getattr(nested, key) for key in nested.model_fields_set}
    elif isinstance(nested, Mapping):
        merged = dict(nested)
    else:
        return data  # let validation report the wrong type
    for flat, key in _FLAT_RECONNECT.items():
        if flat in folded:
            if key in merged:
                raise ValueError(f"{flat} and reconnect.{key} are both given")
            merged[key] = folded.pop(flat)
    folded["reconnect"] = merged
    return folded


class Settings(BaseModel):
    """Defaults for every server; each can be overridden per server."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    auto_connect: bool = True
    timeout: _Seconds = 30.0
    """Seconds per request."""
    connect_timeout: _Seconds = 30.0
    """Seconds for start + handshake + initial listing."""
    reconnect: ReconnectSettings = ReconnectSettings()
    shutdown_grace: _SecondsOrZero = 2.0
    """Total seconds for closing a stdio server (stdin close -> SIGTERM group -> SIGKILL group)."""
    health_interval: _SecondsOrZero | None = None
    """Seconds between health checks; 0 = off. ``None`` = off, except stateless 2026-07-28 HTTP
    sessions (nothing open between requests), which are probed every 5 s."""
    max_output_chars: _Count | None = None
    """Truncate tool output rendered as text; ``None`` or 0 = no limit."""
    roots: tuple[RootEntry, ...] | None = None
    """Roots offered to every server that has none of its own; ``None`` = roots not offered."""
    max_response_bytes: _Count = 32 * 1024 * 1024
    """Largest HTTP response body read whole (a JSON answer); a longer one fails its request. 0 = no limit."""
    max_list_items: _Count = 10_000
    """Most items kept of one list (tools, prompts, resources, templates) of one server; 0 = no limit."""

    @model_validator(mode="before")
    @classmethod
    def _flat_spellings(cls, data: Any) -> Any:
        return _fold_flat_reconnect(data)


@dataclass(frozen=True)
class EffectiveServer:
    """A server's options with every ``None`` ("use the settings") resolved against the settings."""

    name: str
    auto_connect: bool
    timeout: float
    connect_timeout: float
    reconnect: ReconnectSettings
    shutdown_grace: float
    health_interval: float | None
    max_output_chars: int | None


_BOOKKEEPING = frozenset({"name", "source", "layer", "raw", "error"})


def _name_problem(name: str) -> str | None:
    """Why a server name is unusable, or None. Anything else is fine: the manager sanitises names."""
    if not name.strip():
        return "server names must not be empty"
    if "/" in name:
        return "server names must not contain '/'"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "server names must not contain control characters"
    if any(_invisible(char) for char in name):
        return (
            "server names must not contain invisible, bidirectional or line-separator characters"
            " (zero-width, U+202E, U+2028, no-break spaces, ...)"
        )
    return None


def _invisible(char: str) -> bool:
    """Format characters (zero-width, bidi controls), separators other than a plain space."""
    category = unicodedata.category(char)
    return category in ("Cf", "Zl", "Zp") or (category == "Zs" and char != " ")


def _env_name_problem(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if "=" in name:
        return "must not contain '='"
    if any(unicodedata.category(char) == "Cc" or _invisible(char) for char in name):
        return "must not contain control, invisible or bidirectional characters"
    return None


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:  # its message may quote the host part, which can hold a password
        return "not a valid URL (check the host part, e.g. the brackets of an IPv6 address)"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "expected an http:// or https:// URL"
    return None


class ServerConfig(BaseModel):
    """One server entry, validated and with ``${VAR}`` references expanded.

    ``None`` in an option means "use the value from ``Settings``"; the ``resolved_*`` methods (or
    ``effective()``) apply that rule. For ``health_interval`` and ``max_output_chars`` a per-server 0
    means "off", since ``None`` already means "inherit".

    ``env``, ``headers``, ``url`` and ``raw`` are left out of ``repr()`` because they hold secrets, and
    validation errors of every model here hide their input for the same reason.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = Field(default=None, repr=False)  # hosted servers often put the API key in it
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    enabled: bool = True
    auto_connect: bool | None = None
    timeout: _Seconds | None = None
    connect_timeout: _Seconds | None = None
    shutdown_grace: _SecondsOrZero | None = None
    health_interval: _SecondsOrZero | None = None
    reset_timeout_on_progress: bool = False
    """Each progress notification of a tool call restarts its deadline (``call_tool`` can override)."""
    reconnect: ReconnectSettings | None = None
    include_tools: tuple[str, ...] | None = None
    exclude_tools: tuple[str, ...] = ()
    protocol: Protocol = "auto"
    max_output_chars: _Count | None = None
    env_passthrough: tuple[str, ...] = ()
    inherit_env: bool = False
    roots: tuple[RootEntry, ...] | None = None
    """Roots offered to this server (overrides ``settings.roots``)."""
    auth: OAuthConfig | None = Field(default=None, repr=False)
    """``oauth`` for a remote server that needs OAuth; tokens persist in the user data directory."""
    # Provenance and bookkeeping, not keys a user writes:
    source: str | None = None
    """Absolute path of the file the entry came from; ``None`` for a config built in code."""
    layer: Layer = "code"
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """The entry exactly as written, before expansion (for trust hashing and CLI round-trips)."""
    error: str | None = None
    """Set when the entry is valid but ``${VAR}`` expansion failed; the manager reports it failed."""

    def __repr_args__(self) -> Any:
        """``command``, ``args`` and ``cwd`` as written where they use ``${VAR}``: the expanded
        value may be a secret (``--token=${TOKEN}``)."""
        for key, value in super().__repr_args__():
            written = self.raw.get(key) if key in ("command", "args", "cwd") else None
            if written is not None and "${" in json.dumps(written):
                yield key, tuple(written) if isinstance(written, list) else written
            else:
                yield key, value

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        problem = _name_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @model_validator(mode="after")
    def _check_transport(self) -> Self:
        if self.error is not None:
            return self  # fields whose expansion failed hold their unexpanded text
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("a stdio server needs a command")
        elif not self.url:
            raise ValueError(f"an {self.transport} server needs a url")
        else:
            problem = _url_problem(self.url)
            if problem:
                raise ValueError(f"url: {problem}")
        if self.auth is not None and self.transport == "stdio":
            raise ValueError("auth applies to http and sse servers only")
        return self

    def resolved_auto_connect(self, settings: Settings) -> bool:
        return settings.auto_connect if self.auto_connect is None else self.auto_connect

    def resolved_timeout(self, settings: Settings) -> float:
        return settings.timeout if self.timeout is None else self.timeout

    def resolved_connect_timeout(self, settings: Settings) -> float:
        return settings.connect_timeout if self.connect_timeout is None else self.connect_timeout

    def resolved_reconnect(self, settings: Settings) -> ReconnectSettings:
        return settings.reconnect if self.reconnect is None else self.reconnect

    def resolved_shutdown_grace(self, settings: Settings) -> float:
        return settings.shutdown_grace if self.shutdown_grace is None else self.shutdown_grace

    def resolved_health_interval(self, settings: Settings) -> float | None:
        """Seconds between health checks, or ``None`` when they are off (0 also means off)."""
        value = settings.health_interval if self.health_interval is None else self.health_interval
        return value or None

    def resolved_max_output_chars(self, settings: Settings) -> int | None:
        """The output limit, or ``None`` for no limit (0 also means no limit)."""
        value = settings.max_output_chars if self.max_output_chars is None else self.max_output_chars
        return value or None

    def effective(self, settings: Settings) -> EffectiveServer:
        """Every option resolved against ``settings``, in one value."""
        return EffectiveServer(
            name=self.name,
            auto_connect=self.resolved_auto_connect(settings),
            timeout=self.resolved_timeout(settings),
            connect_timeout=self.resolved_connect_timeout(settings),
            reconnect=self.resolved_reconnect(settings),
            shutdown_grace=self.resolved_shutdown_grace(settings),
            health_interval=self.resolved_health_interval(settings),
            max_output_chars=self.resolved_max_output_chars(settings),
        )

    def fingerprint(self) -> str:
        """A stable sha256 hex digest of what the entry means, so ``reload()`` can skip untouched servers.

        Provenance (``source``, ``layer``, ``raw``), ``error`` and the name are left out, and dict
        key order does not matter, so the same entry moved to another file keeps its fingerprint.
        Expanded env/header values are hashed in, so a rotated token counts as a change; the digest
        is for comparison, not for display.
        """
        data = self.model_dump(mode="json", exclude=set(_BOOKKEEPING))
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


# Settings that change only timing; every other settings key (``roots``, and any later one) widens
# what servers see or run, so a project file's value waits for the user's approval.
_HARMLESS_SETTINGS = frozenset(
    {
        "auto_connect",
        "timeout",
        "connect_timeout",
        "reconnect",
        "shutdown_grace",
        "health_interval",
        "max_output_chars",
    }
)


class ProjectSettings(BaseModel):
    """``settings`` of a project file that need approval before they apply (see ``patchbay.trust``).

    ``Config.settings`` leaves them out; the manager applies them once the file's settings are
    approved (``patchbay trust``) or every project file is trusted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    source: str
    """The project file."""
    raw: dict[str, Any] = Field(default_factory=dict)
    """The held keys exactly as written (what the approval hashes and the review shows)."""
    roots: tuple[RootEntry, ...] | None = None


class Config(BaseModel):
    """The merged configuration: servers in file order, settings, and the files that were read."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    servers: dict[str, ServerConfig] = Field(default_factory=dict)
    settings: Settings = Settings()
    sources: tuple[str, ...] = ()
    project_settings: ProjectSettings | None = None
    """Project-file settings held back until approved (``None``: nothing held)."""

    @model_validator(mode="after")
    def _check_names(self) -> Self:
        for key, server in self.servers.items():
            if key != server.name:
                raise ValueError(f"server stored under {key!r} is named {server.name!r}")
        return self

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        layer: Layer | None = None,
    ) -> Config:
        """Parse a mapping exactly as a file's content (either shape), e.g. one built by a program.

        ``source`` names the file for error messages and resolves a relative ``cwd``; ``layer``
        defaults to ``"explicit"`` with a source and ``"code"`` without.
        """
        file = os.path.abspath(os.fspath(source)) if source is not None else None
        parser = _FileParser(
            file=file,
            layer=layer or ("code" if file is None else "explicit"),
            env=os.environ if env is None else env,
        )
        try:
            plain = _plain(data)
        except _TooBig as exc:
            raise ConfigError(str(exc), file=file) from None
        return _build([parser.document(plain)])

    def enabled_servers(self) -> list[ServerConfig]:
        """The servers not switched off with ``enabled: false``, in config order."""
        return [server for server in self.servers.values() if server.enabled]


# --------------------------------------------------------------------------------------------------
# Finding and loading files


def user_config_path() -> Path:
    """The per-user config file (it may not exist)."""
    import platformdirs  # 20+ ms to import; only needed when the default layers are looked up

    return platformdirs.user_config_path("patchbay") / "mcp.yaml"


def find_project_config(start: Path, *, home: str | os.PathLike[str] | None = None) -> Path | None:
    """``.patchbay/mcp.yaml`` in ``start`` or the nearest parent that has one, like ``.git``.

    The home directory is not a project (``~/.patchbay/mcp.yaml`` would be found from every
    directory under it, and its servers would run there), so from inside ``home`` (default: the
    user's) the search stops below it.
    """
    start = Path(start).absolute()
    home_dir = Path(os.path.expanduser("~") if home is None else home).absolute()
    inside = start == home_dir or home_dir in start.parents
    for directory in (start, *start.parents):
        if inside and directory == home_dir:
            return None
        candidate = directory / PROJECT_CONFIG
        if candidate.is_file():
            return candidate
    return None


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _file_cwd(file: str) -> str:
    """Where a stdio server from ``file`` starts by default: the directory holding the project (the
    parent of ``.patchbay/``) or else the file's own directory, after symlinks are resolved, so it
    is next to the real file an approval is recorded for."""
    folder = os.path.dirname(os.path.realpath(file))
    if os.path.basename(folder) == PROJECT_CONFIG.parent.name:
        return os.path.dirname(folder)
    return folder


def _absolute(path: str | os.PathLike[str], base: Path) -> Path:
    expanded = Path(path).expanduser()
    return Path(os.path.abspath(base / expanded))


def default_config_paths(
    *, env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> list[tuple[Path, Layer]]:
    """The default layers that exist, lowest priority first: user, project, ``$PATCHBAY_CONFIG``.

    A ``$PATCHBAY_CONFIG`` naming a missing file is an error (a typo there should not silently fall
    back to other files). A file reached by two layers is read once, at its first layer.
    """
    environ = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    found: list[tuple[Path, Layer]] = []
    user = user_config_path()
    if user.is_file():
        found.append((user, "user"))
    project = find_project_config(base, home=_home(environ))
    if project is not None:
        found.append((project, "project"))
    named = environ.get(ENV_VAR)
    if named:
        path = _absolute(named, base)
        if not os.path.isabs(os.path.expanduser(named)):
            # Read once, here, and said: a relative name would follow every directory change.
            warnings.warn(
                f"{ENV_VAR} is a relative path, read as {path} (relative to the working directory);"
                " set an absolute path",
                ConfigWarning,
                stacklevel=_caller_stacklevel(),
            )
        if not path.is_file():
            reason = "is not a file" if path.exists() else "does not exist"
            raise ConfigError(f"the file named by {ENV_VAR} {reason}", file=str(path))
        found.append((path, "env"))
    unique: list[tuple[Path, Layer]] = []
    seen: dict[str, int] = {}
    for path, layer in found:
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen:
            seen[key] = len(unique)
            unique.append((path, layer))
        elif layer == "env" and unique[seen[key]][1] == "project":
            # $PATCHBAY_CONFIG naming the project file is the user's explicit choice, so it is
            # trusted; the two layers are adjacent, so the merge order is the same.
            unique[seen[key]] = (unique[seen[key]][0], "env")
    return unique


def load_config(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Config:
    """Read, validate, expand and merge config files; later files win.

    With ``paths`` (one path or several) exactly those files are read, as the ``explicit`` layer,
    and the default layers (including ``$PATCHBAY_CONFIG``) are not. With ``None`` the default
    layers are read; when none exists the result is an empty config. ``env`` (default
    ``os.environ``) is used for ``${VAR}`` expansion and ``$PATCHBAY_CONFIG``; ``cwd`` (default the
    working directory) is where the project file search starts and what relative paths are
    relative to.
    """
    environ = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    files: list[tuple[Path, Layer]]
    if paths is None:
        files = default_config_paths(env=environ, cwd=base)
    else:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files = [(_absolute(path, base), "explicit") for path in paths]
    docs = []
    for path, layer in files:
        parser = _FileParser(file=str(path), layer=layer, env=environ, caller=str(base.absolute()))
        docs.append(parser.document(_read(path)))
    return _build(docs)


def _read(path: Path) -> Any:
    """The parsed content of one file, as plain dicts, lists and scalars, within the size bounds."""
    file = str(path)
    data = _parse_text(_read_text(path, limit=MAX_FILE_BYTES), file)
    try:
        return _plain(data, budget=_Budget())
    except _TooBig as exc:
        raise ConfigError(str(exc), file=file) from None


def _read_text(path: Path, *, limit: int | None = None) -> str:
    """A file's text; a missing, unreadable, non-UTF-8 or (with ``limit``) larger file is a
    ``ConfigError`` naming it."""
    file = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a config file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=file) from None
    if limit is not None and len(data) > limit:
        raise ConfigError(
            f"the file is larger than {limit:,} bytes, too large for a config file", file=file
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (bad byte at offset {exc.start})", file=file) from None


def _parse_text(text: str, file: str) -> Any:
    """JSON when it looks like JSON (fast, precise errors), YAML otherwise. Comments-only = None.

    The loaders report problems as strings, and the ConfigError is raised outside their ``except``
    blocks, so no parser exception (whose text may quote a line holding a secret) rides along as
    ``__context__``.
    """
    stripped = text.lstrip()
    if not stripped:
        return None
    if stripped[0] == "{":
        data, problem, syntax = _load_json(text)
        if problem is None:
            return data
        if syntax:  # maybe a YAML flow mapping, or JSON with a trailing comma, which YAML accepts
            data, yaml_problem = _load_yaml(text)
            if yaml_problem is None:
                return data
        raise ConfigError(problem, file=file)
    data, problem = _load_yaml(text)
    if problem is not None:
        raise ConfigError(problem, file=file)
    return data


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """YAML rejects duplicate keys; do the same for JSON rather than silently keep the last one."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(json.dumps(key, ensure_ascii=False))
        result[key] = value
    return result


def _load_json(text: str) -> tuple[Any, str | None, bool]:
    """(data, problem, is_syntax_error); the problem names line and column, never content."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys), None, False
    except _DuplicateKey as exc:
        return None, f"invalid JSON: duplicate key {exc.key}", False
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", True
    except RecursionError:
        return None, _TOO_DEEP, False


def _load_yaml(text: str) -> tuple[Any, str | None]:
    """(data, problem) from ruamel's pure-Python safe loader.

    The pure loader is the faster choice here: the C loader is not in the usual wheels, and asking
    for it costs a failed import first (measured ~1 ms slower per small file). The problem carries
    only line, column and ruamel's short description, never its snippet of the file, which could
    show a secret.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _bounded_composer()
    try:
        return yaml.load(text), None
    except _TooBig as exc:
        return None, f"invalid YAML: {exc}"
    except RecursionError:
        return None, f"invalid YAML: {_TOO_DEEP}"
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        duplicate = re.match(r'found duplicate key (".*?") with value', problem)
        if duplicate:  # ruamel quotes both values in this message
            problem = f"duplicate key {duplicate.group(1)}"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return None, f"invalid YAML{where}: {problem}"
    except YAMLError as exc:
        return None, f"invalid YAML ({type(exc).__name__})"


_TOO_DEEP = f"nested more than {_MAX_DEPTH} levels deep"


class _TooBig(Exception):
    """A file over one of the reading bounds; the message says which, never content."""


@dataclass
class _Budget:
    """How many more values a copy may make (aliases expand into copies, so this bounds the cost)."""

    left: int = _MAX_VALUES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _TooBig(
                f"more than {_MAX_VALUES:,} values once YAML aliases are expanded"
                " (an alias bomb?); a config file needs far fewer"
            )


def _bounded_composer() -> Any:
    """ruamel's composer, counting the nodes it builds and how deep they nest."""
    from ruamel.yaml.composer import Composer

    class BoundedComposer(Composer):
        nodes = 0
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.nodes += 1
            if self.nodes > _MAX_YAML_NODES:
                raise _TooBig(f"more than {_MAX_YAML_NODES:,} nodes; a config file needs far fewer")
            self.depth += 1
            try:
                if self.depth > _MAX_DEPTH:
                    raise _TooBig(_TOO_DEEP)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedComposer


def _plain(value: Any, *, budget: _Budget | None = None, depth: int = 0) -> Any:
    """A deep copy made of dict/list/str/int/float/bool/None only.

    YAML dates become ISO strings, which is what ``protocol: 2026-07-28`` or an env value
    ``DATE: 2024-01-01`` mean; YAML anchors become independent copies. With a ``budget`` the copy
    stops (``_TooBig``) past ``_MAX_VALUES`` values; nesting past ``_MAX_DEPTH`` always does.
    """
    if budget is not None:
        budget.spend()
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if depth >= _MAX_DEPTH:
            raise _TooBig(_TOO_DEEP)
        if isinstance(value, Mapping):
            return {
                _plain_key(key): _plain(item, budget=budget, depth=depth + 1) for key, item in value.items()
            }
        return [_plain(item, budget=budget, depth=depth + 1) for item in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return str(value)


def _plain_key(key: Any) -> Any:
    if isinstance(key, (date, datetime, time)):
        return key.isoformat()
    return key


# --------------------------------------------------------------------------------------------------
# ${VAR} expansion


_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _ExpansionError(Exception):
    """A reference that cannot be expanded; the message names the variable, never a value."""


@dataclass(frozen=True, slots=True)
class _Reference:
    """One well-formed ``${name}`` or ``${name:-default}``."""

    name: str
    default: str | None  # None: written without ``:-``


def _pieces(value: str) -> Iterator[str | _Reference | _ExpansionError]:
    """``value`` split by the reference grammar: literal text, references, and malformed references.

    The one reader of the grammar, shared by expansion and ``references()`` so the two cannot
    disagree: ``$$`` is a literal ``$``, ``${`` starts a reference that ends at the next ``}``, any
    other ``$`` is literal. A malformed reference is yielded as the error it would raise; scanning
    goes on after its ``}`` (an unterminated ``${`` ends the value).
    """
    i = 0
    while True:
        j = value.find("$", i)
        if j < 0:
            if i < len(value):
                yield value[i:]
            return
        if j > i:
            yield value[i:j]
        following = value[j + 1 : j + 2]
        if following == "$":
            yield "$"
            i = j + 2
        elif following == "{":
            end = value.find("}", j + 2)
            if end < 0:
                yield _ExpansionError("unterminated ${ (write $$ for a literal $)")
                return
            name, has_default, default = value[j + 2 : end].partition(":-")
            if not _VAR_NAME.match(name) or "${" in default:
                yield _ExpansionError(
                    "malformed variable reference; expected ${NAME} or ${NAME:-default}"
                    " (write $$ for a literal $)"
                )
            else:
                yield _Reference(name, default if has_default else None)
            i = end + 1
        else:
            yield "$"
            i = j + 1


PYTHON_VARIABLE = "PATCHBAY_PYTHON"


def _builtin(name: str) -> str | None:
    """The value of a variable patchbay always defines when the environment leaves it unset or empty."""
    if name == PYTHON_VARIABLE:
        return sys.executable or None  # empty or None when the interpreter cannot tell
    return None


def references(value: str, *, defaulted: bool = True) -> list[str]:
    """The variables ``value`` refers to, each once, in the order first written.

    Exactly the references expansion would look up: ``$${X}`` (a literal ``${X}``) refers to
    nothing, ``$$${X}`` to ``X``; malformed references are skipped. With ``defaulted=False`` only
    the variables whose absence would fail the server (written without ``:-default``, and not
    ``${PATCHBAY_PYTHON}``, which is never absent) count.
    """
    if "$" not in value:
        return []
    names = (
        piece.name
        for piece in _pieces(value)
        if isinstance(piece, _Reference)
        and (defaulted or (piece.default is None and _builtin(piece.name) is None))
    )
    return list(dict.fromkeys(names))


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Expand ``${VAR}``, ``${VAR:-default}`` and ``$$``; any other ``$`` is literal.

    Like the shell, ``:-`` uses the default when the variable is unset *or empty*. The default is
    literal text: no nested references. ``PATCHBAY_PYTHON`` unset or empty is this interpreter.
    """
    if "$" not in value:
        return value
    out: list[str] = []
    for piece in _pieces(value):
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, _ExpansionError):
            raise piece
        else:
            current = env.get(piece.name)
            if not current:
                current = _builtin(piece.name) or current
            if piece.default is not None:
                out.append(current or piece.default)
            elif current is None:
                raise _ExpansionError(f"environment variable {piece.name} is not set")
            else:
                out.append(current)
    return "".join(out)


def _expand_home(value: str, env: Mapping[str, str]) -> str:
    """``~`` and ``~/x`` use ``HOME`` from ``env`` when it has one; ``~user`` asks the OS."""
    if not value.startswith("~"):
        return value
    if value == "~" or value[1] in "/\\":
        home = env.get("HOME") or os.path.expanduser("~")
        return home + value[1:]
    return os.path.expanduser(value)


# --------------------------------------------------------------------------------------------------
# Parsing one file's content


_KeyPath: TypeAlias = tuple[str | int, ...]  # ("servers", "git", "args", 0)
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def _join(base: str, *parts: str | int) -> str:
    """A key path as the user would point at it: ``servers.git.args[0]``, ``servers["my.server"]``."""
    out = base
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out = f"{out}.{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def _kind(value: Any) -> str:
    """The YAML/JSON name of a value's type, for messages that must not show the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


_TRANSPORTS: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamablehttp": "http",
    "shttp": "http",
    "sse": "sse",
}
_TOP_KEYS = ("servers", "mcpServers", "settings")
_IGNORED_TOP_KEYS = frozenset({"$schema"})
_TRANSPORT_KEYS = ("transport", "type", "transportType")  # transportType: Cline / Roo Code
_SCALAR_SERVER_KEYS = (
    "enabled",
    "auto_connect",
    "timeout",
    "connect_timeout",
    "shutdown_grace",
    "health_interval",
    "reset_timeout_on_progress",
    "protocol",
    "max_output_chars",
    "inherit_env",
    "roots",
    "auth",
)
_LIST_SERVER_KEYS = ("include_tools", "exclude_tools", "disabledTools", "env_passthrough")
_RECONNECT_KEYS = ("attempts", "base_delay", "max_delay")
# Client-side approval lists and file watching from Cline / Roo Code: meaningless to patchbay and
# harmless to skip, so they are ignored without a warning. (``disabledTools`` is honoured as
# ``exclude_tools``.) Other foreign keys, e.g. ``envFile`` or ``oauth``, do warn: ignoring them
# changes what the server gets.
_IGNORED_SERVER_KEYS = frozenset({"alwaysAllow", "autoApprove", "watchPaths"})
_SERVER_KEYS = (
    *_TRANSPORT_KEYS,
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "disabled",
    "reconnect",
    *_FLAT_RECONNECT,
    *_SCALAR_SERVER_KEYS,
    *_LIST_SERVER_KEYS,
)
_SETTINGS_KEYS = tuple(name for name in Settings.model_fields if name != "reconnect")
_NULLABLE_SETTINGS = frozenset({"health_interval", "max_output_chars"})
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def _reason(error: Mapping[str, Any]) -> str:
    """A pydantic error as a short human reason, without the offending value (it may be secret)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("float_type", "float_parsing"):
        return "expected a number"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected a whole number"
    if kind == "finite_number":
        return "expected a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if kind == "string_type":
        return "expected a string"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']:g}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']:g}"
    if kind == "literal_error":
        return f"expected one of {ctx['expected']}"
    if kind in ("tuple_type", "list_type"):
        return "expected a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


@dataclass
class _Doc:
    """One file's contribution before merging."""

    file: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    """Validated values for exactly the keys the file set; ``reconnect`` holds only its set sub-keys."""
    settings_paths: dict[str, str] = field(default_factory=dict)
    """``timeout`` / ``reconnect.base_delay`` -> the key path as written, for merged-value errors."""
    servers: dict[str, ServerConfig] = field(default_factory=dict)
    settings_raw: dict[str, Any] = field(default_factory=dict)
    """The settings keys as written, for approving a project file's settings."""
    layer: Layer = "code"
    reconnect_paths: dict[str, str] = field(default_factory=dict)
    """Server name -> key path of its reconnect entry (its sub-keys are merged over the settings)."""


class _FileParser:
    """Turns one file's parsed content into a ``_Doc``, raising ``ConfigError`` at the first problem."""

    def __init__(
        self, *, file: str | None, layer: Layer, env: Mapping[str, str], caller: str | None = None
    ) -> None:
        self.file = file
        self.layer: Layer = layer
        self.env = env
        self.caller = caller
        """The directory patchbay was started from, for ``cwd: <caller>`` (None: the working directory)."""

    def default_cwd(self) -> str | None:
        """A stdio server's directory when the entry names none: never the caller's, so what runs
        does not depend on where the user stands. The user file's servers start in the home
        directory, other files' next to the project or file; a config built in code keeps the
        program's working directory (``None``), which the program chose."""
        if self.layer == "user":
            return _home(self.env)
        if self.file is None:
            return None
        return _file_cwd(self.file)

    # -- reporting

    def fail(self, path: str, reason: str) -> ConfigError:
        return ConfigError(reason, file=self.file, path=path or None)

    def warn(self, path: str, reason: str) -> None:
        message = ": ".join(part for part in (self.file, path, reason) if part)
        warnings.warn(message, ConfigWarning, stacklevel=_caller_stacklevel())

    def unknown(self, base: str, key: Any, known: Sequence[str]) -> None:
        import difflib

        label = key if isinstance(key, str) else str(key)
        close = difflib.get_close_matches(label, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.warn(_join(base, label), f"unknown key{hint}, ignored")

    def translate(self, exc: ValidationError, base: str, keymap: Mapping[_KeyPath, _KeyPath]) -> ConfigError:
        """The first pydantic error as a ConfigError at the key path the user wrote."""
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = tuple(first["loc"])
        parts: _KeyPath = loc
        for size in (2, 1):
            prefix = loc[:size]
            if len(prefix) == size and prefix in keymap:
                parts = keymap[prefix] + loc[size:]
                break
        reason = _reason(first)
        if len(errors) > 1:
            more = len(errors) - 1
            reason += f" (and {more} more problem{'s' if more > 1 else ''} here)"
        return self.fail(_join(base, *parts), reason)

    # -- value shapes

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_kind(value)}")
        return value

    def string_list(self, value: Any, path: str, *, coerce: bool) -> list[str]:
        """A list of strings; ``coerce`` turns YAML numbers/booleans (``- 8080``) into their text."""
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of strings, got {_kind(value)}")
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                items.append(item)
            elif coerce and isinstance(item, (bool, int, float)):
                items.append(_scalar_text(item))
            else:
                raise self.fail(_join(path, index), f"expected a string, got {_kind(item)}")
        return items

    def string_map(self, value: Any, path: str, *, headers: bool) -> dict[str, str]:
        """Env or header names to values; numbers and booleans become their text."""
        what = "header" if headers else "environment variable"
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping of {what} names to values, got {_kind(value)}")
        result: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise self.fail(path, f"{what} names must be strings")
            name = str(key)
            if headers:
                if not _HEADER_NAME.match(name):
                    raise self.fail(_join(path, name), f"invalid {what} name")
            else:
                problem = _env_name_problem(name)
                if problem:
                    raise self.fail(_join(path, name), f"invalid {what} name: {problem}")
            if isinstance(item, str):
                result[name] = item
            elif isinstance(item, (bool, int, float)):
                result[name] = _scalar_text(item)
            else:
                raise self.fail(_join(path, name), f"expected a string value, got {_kind(item)}")
        return result

    # -- the document

    def document(self, data: Any) -> _Doc:
        doc = _Doc(file=self.file, layer=self.layer)
        if data is None:
            return doc
        if not isinstance(data, Mapping):
            raise self.fail(
                "", f"the top level must be a mapping with a 'servers' or 'mcpServers' key, not {_kind(data)}"
            )
        # A file with mcpServers belongs to another application (Claude Desktop keeps its
        # preferences next to them), so its other keys are none of our business.
        foreign = "mcpServers" in data
        for key in data:
            if key not in _TOP_KEYS and key not in _IGNORED_TOP_KEYS and not foreign:
                self.unknown("", key, _TOP_KEYS)
        for top in ("mcpServers", "servers"):
            block = data.get(top)
            if block is None:
                continue
            if not isinstance(block, Mapping):
                raise self.fail(top, f"expected a mapping of server names to entries, got {_kind(block)}")
            for name, entry in block.items():
                if not isinstance(name, str):
                    raise self.fail(top, f"server names must be strings (quote {name!r})")
                path = _join(top, name)
                problem = _name_problem(name)
                if problem:
                    raise self.fail(path, problem)
                if name in doc.servers:
                    raise self.fail(path, "this server is also defined under mcpServers; keep one")
                server, reconnect_path = self.server(path, name, entry)
                doc.servers[name] = server
                if reconnect_path is not None:
                    doc.reconnect_paths[name] = reconnect_path
        self.settings(data.get("settings"), doc)
        return doc

    def settings(self, block: Any, doc: _Doc) -> None:
        if block is None:
            return
        if not isinstance(block, Mapping):
            raise self.fail("settings", f"expected a mapping, got {_kind(block)}")
        given: dict[str, Any] = {}
        reconnect: dict[str, Any] = {}
        keymap: dict[_KeyPath, _KeyPath] = {}
        for key, value in block.items():
            if key in _SETTINGS_KEYS:
                if value is None and key not in _NULLABLE_SETTINGS:
                    continue  # null means "not set" unless null is a meaningful value
                given[key] = value
                doc.settings_paths[key] = _join("settings", key)
                doc.settings_raw[key] = _plain(value)
            elif key == "reconnect" or key in _FLAT_RECONNECT:
                for sub, sub_value, parts in self.reconnect_items(key, value, "settings"):
                    if sub in reconnect:
                        raise self.fail(_join("settings", *parts), f"reconnect {sub} is given twice")
                    reconnect[sub] = sub_value
                    keymap[("reconnect", sub)] = parts
                    doc.settings_paths[f"reconnect.{sub}"] = _join("settings", *parts)
            else:
                self.unknown("settings", key, (*_SETTINGS_KEYS, "reconnect", *_FLAT_RECONNECT))
        if reconnect:
            given["reconnect"] = reconnect
        try:
            validated = Settings.model_validate(given, context=_PARTIAL)
        except ValidationError as exc:
            raise self.translate(exc, "settings", keymap) from None
        for key in given:
            if key != "reconnect":
                doc.settings[key] = getattr(validated, key)
        if reconnect:
            doc.settings["reconnect"] = {sub: getattr(validated.reconnect, sub) for sub in reconnect}

    def reconnect_items(self, key: str, value: Any, base: str) -> list[tuple[str, Any, _KeyPath]]:
        """(sub-key, value, key path parts as written) from ``reconnect: {...}`` or a flat key."""
        if key in _FLAT_RECONNECT:
            return [] if value is None else [(_FLAT_RECONNECT[key], value, (key,))]
        if value is None:
            return []
        if not isinstance(value, Mapping):
            raise self.fail(
                _join(base, key), f"expected a mapping of attempts, base_delay, max_delay, got {_kind(value)}"
            )
        items: list[tuple[str, Any, _KeyPath]] = []
        for sub, sub_value in value.items():
            if sub in _RECONNECT_KEYS:
                if sub_value is not None:
                    items.append((sub, sub_value, (key, sub)))
            else:
                self.unknown(_join(base, key), sub, _RECONNECT_KEYS)
        return items

    def server(self, path: str, name: str, entry: Any) -> tuple[ServerConfig, str | None]:
        """One server entry; returns it and the key path of its reconnect entry, if any."""
        if not isinstance(entry, Mapping):
            raise self.fail(path, f"expected a mapping (command/args/env or url/headers), got {_kind(entry)}")
        fields: dict[str, Any] = {
            "name": name,
            "source": self.file,
            "layer": self.layer,
            "raw": _plain(entry),
        }
        keymap: dict[_KeyPath, _KeyPath] = {}
        transports: dict[str, Transport] = {}
        disabled: tuple[str, bool] | None = None
        excluded: list[str] = []
        reconnect: dict[str, Any] = {}
        reconnect_path: str | None = None

        for key, value in entry.items():
            if not isinstance(key, str):
                self.unknown(path, key, _SERVER_KEYS)
                continue
            if key in _IGNORED_SERVER_KEYS or value is None:  # null means "not set"
                continue
            key_path = _join(path, key)
            if key in _TRANSPORT_KEYS:
                spelled = self.string(value, key_path)
                known = _TRANSPORTS.get(spelled.lower())
                if known is None:
                    raise self.fail(
                        key_path,
                        f"unknown transport {spelled!r}; expected stdio, http (streamable-http) or sse",
                    )
                transports[key] = known
            elif key in ("command", "cwd", "url"):
                fields[key] = self.string(value, key_path)
            elif key == "args":
                fields["args"] = self.string_list(value, key_path, coerce=True)
            elif key in ("env", "headers"):
                fields[key] = self.string_map(value, key_path, headers=key == "headers")
            elif key == "disabled":  # Claude / Cline spelling
                if not isinstance(value, bool):
                    raise self.fail(key_path, "expected true or false")
                disabled = (key, value)
            elif key in _LIST_SERVER_KEYS:
                items = self.string_list(value, key_path, coerce=False)
                if key in ("exclude_tools", "disabledTools"):  # disabledTools: Roo Code
                    excluded.extend(items)
                    keymap.setdefault(("exclude_tools",), (key,))
                else:
                    if key == "env_passthrough":
                        for index, item in enumerate(items):
                            problem = _env_name_problem(item)
                            if problem:
                                raise self.fail(
                                    _join(key_path, index), f"invalid environment variable name: {problem}"
                                )
                    fields[key] = tuple(items)
            elif key == "reconnect" or key in _FLAT_RECONNECT:
                for sub, sub_value, parts in self.reconnect_items(key, value, path):
                    if sub in reconnect:
                        raise self.fail(_join(path, *parts), f"reconnect {sub} is given twice")
                    reconnect[sub] = sub_value
                    keymap[("reconnect", sub)] = parts
                    if reconnect_path is None:
                        reconnect_path = _join(path, key)
                        keymap[("reconnect",)] = (key,)
            elif key in _SCALAR_SERVER_KEYS:
                fields[key] = value
            else:
                self.unknown(path, key, _SERVER_KEYS)

        if disabled is not None:
            if "enabled" in fields and fields["enabled"] is disabled[1]:
                raise self.fail(_join(path, "disabled"), "contradicts enabled")
            fields["enabled"] = not disabled[1]
            keymap[("enabled",)] = (disabled[0],)
        if excluded:
            fields["exclude_tools"] = tuple(dict.fromkeys(excluded))
        if reconnect:
            fields["reconnect"] = reconnect

        problems = self.expand(path, fields)

        if len(set(transports.values())) > 1:
            spelled_keys = " and ".join(transports)
            raise self.fail(path, f"{spelled_keys} disagree about the transport")
        if transports:
            key, transport = next(iter(transports.items()))
            keymap[("transport",)] = (key,)
        elif "command" in fields and "url" in fields:
            raise self.fail(path, "has both command and url; set transport (stdio, http or sse) to choose")
        elif "command" in fields:
            transport = "stdio"
        elif "url" in fields:
            try:
                url_path = urlsplit(fields["url"]).path.rstrip("/")
            except ValueError:  # reported by _url_problem below
                url_path = ""
            transport = "sse" if url_path.endswith("/sse") else "http"
        else:
            raise self.fail(path, "needs a command (stdio server) or a url (http or sse server)")
        fields["transport"] = transport

        raw = fields["raw"]
        if transport == "stdio":
            if "command" not in fields:
                raise self.fail(_join(path, "command"), "required for a stdio server")
            if fields["command"] == "" and "command" not in problems:
                self.value_problem(problems, path, "command", "must not be empty", raw)
            if "url" in fields:
                self.warn(_join(path, "url"), "ignored for a stdio server")
            if "cwd" not in fields:
                fields["cwd"] = self.default_cwd()
        else:
            if "url" not in fields:
                raise self.fail(_join(path, "url"), f"required for an {transport} server")
            if "url" not in problems:
                problem = _url_problem(fields["url"])
                if problem:
                    self.value_problem(problems, path, "url", problem, raw)
            if "command" in fields:
                self.warn(_join(path, "command"), f"ignored for an {transport} server")

        if problems:
            fields["error"] = "; ".join(problems.values())
        try:
            server = ServerConfig.model_validate(fields, context=_PARTIAL)
        except ValidationError as exc:
            raise self.translate(exc, path, keymap) from None
        return server, reconnect_path

    def value_problem(self, problems: dict[str, str], path: str, key: str, reason: str, raw: Any) -> None:
        """A bad value fails the file when written literally, only its server when it came from ``${VAR}``."""
        written = raw.get(key)
        if isinstance(written, str) and "$" in written:
            problems[key] = f"{_join(path, key)}: {reason} (after expanding variables)"
        else:
            raise self.fail(_join(path, key), reason)

    def expand(self, path: str, fields: dict[str, Any]) -> dict[str, str]:
        """Expand ``${VAR}`` in the fields that allow it, in place; problems keyed by top-level key.

        A value that cannot be expanded keeps its text as written (the server carries ``error``).
        """
        problems: dict[str, list[str]] = {}

        def one(value: str, *parts: str | int) -> str:
            try:
                return _expand(value, self.env)
            except _ExpansionError as exc:
                problems.setdefault(str(parts[0]), []).append(f"{_join(path, *parts)}: {exc}")
                return value

        if "command" in fields:
            fields["command"] = one(fields["command"], "command")
            if "command" not in problems:
                fields["command"] = _expand_home(fields["command"], self.env)
        if "args" in fields:
            fields["args"] = tuple(one(arg, "args", index) for index, arg in enumerate(fields["args"]))
        for key in ("env", "headers"):
            if key in fields:
                fields[key] = {name: one(value, key, name) for name, value in fields[key].items()}
        if fields.get("cwd") == CALLER_CWD:
            fields["cwd"] = os.path.abspath(self.caller if self.caller is not None else os.getcwd())
        elif "cwd" in fields:
            fields["cwd"] = one(fields["cwd"], "cwd")
            if "cwd" not in problems:
                cwd = _expand_home(fields["cwd"], self.env)
                if self.file is not None and not os.path.isabs(cwd):
                    # Next to the real file, which is the one an approval names (see _file_cwd).
                    base = os.path.dirname(os.path.realpath(self.file))
                    cwd = os.path.normpath(os.path.join(base, cwd))
                fields["cwd"] = cwd
        if "url" in fields:
            fields["url"] = one(fields["url"], "url")
        auth = fields.get("auth")
        if isinstance(auth, Mapping):
            fields["auth"] = {
                key: one(value, "auth", key)
                if key in ("client_id", "client_secret", "private_key") and isinstance(value, str)
                else value
                for key, value in auth.items()
            }
        return {key: "; ".join(messages) for key, messages in problems.items()}


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first frame outside this module."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
        level += 1
    return level


def _scalar_text(value: bool | int | float) -> str:
    """What a YAML number or boolean meant as text: ``8080`` -> "8080", ``true`` -> "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------------
# Merging layers


def _build(docs: Sequence[_Doc]) -> Config:
    """Merge parsed files in order: servers replace whole, settings merge key by key."""
    merged: dict[str, Any] = {}
    origins: dict[str, tuple[str | None, str]] = {}  # settings key -> (file, path) that set it last
    servers: dict[str, ServerConfig] = {}
    reconnect_paths: dict[str, str] = {}

    def touch(key: str, origin: tuple[str | None, str]) -> None:
        origins.pop(key, None)  # re-insert so the order is "most recently set last"
        origins[key] = origin

    held: dict[str, tuple[_Doc, Any]] = {}  # key -> the project file that set it last, and its value
    for doc in docs:
        for key, value in doc.settings.items():
            if key not in _HARMLESS_SETTINGS:
                if doc.layer == "project":
                    held[key] = (doc, value)
                    continue
                held.pop(key, None)  # a later file's own value wins anyway
            if key == "reconnect":
                merged.setdefault("reconnect", {}).update(value)
                for sub in value:
                    touch(f"reconnect.{sub}", (doc.file, doc.settings_paths[f"reconnect.{sub}"]))
            else:
                merged[key] = value
                touch(key, (doc.file, doc.settings_paths[key]))
        for name, server in doc.servers.items():
            servers[name] = server  # a redefinition keeps the first file's position
            if name in doc.reconnect_paths:
                reconnect_paths[name] = doc.reconnect_paths[name]
            else:
                reconnect_paths.pop(name, None)

    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        head = str(first["loc"][0]) if first["loc"] else ""
        culprits = [key for key in origins if key == head or key.startswith(f"{head}.")]
        file, path = origins[culprits[-1]] if culprits else (None, "settings")
        raise ConfigError(_reason(first), file=file, path=path) from None

    # A server's reconnect sub-keys override the merged settings' reconnect, not the defaults.
    for name, server in servers.items():
        if server.reconnect is None:
            continue
        given = {key: getattr(server.reconnect, key) for key in server.reconnect.model_fields_set}
        try:
            full = ReconnectSettings.model_validate({**settings.reconnect.model_dump(), **given})
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            raise ConfigError(
                _reason(first), file=server.source, path=reconnect_paths.get(name, _join("servers", name))
            ) from None
        servers[name] = server.model_copy(update={"reconnect": full})

    sources = tuple(doc.file for doc in docs if doc.file is not None)
    project_settings = None
    if held:
        holder = next(iter(held.values()))[0]
        project_settings = ProjectSettings(
            source=holder.file or "",
            raw={key: holder.settings_raw.get(key) for key in sorted(held)},
            **{key: value for key, (_, value) in held.items() if key in ProjectSettings.model_fields},
        )
    return Config(servers=servers, settings=settings, sources=sources, project_settings=project_settings)
