"""The config models (pydantic, frozen) and the value checks they share with the file parser.

Every model here hides its input in validation errors, and ``ServerConfig`` keeps secrets out of
its ``repr``. A model built in code is checked by its validators; an entry read from a file has been
checked by ``_parse`` already, which reports the exact key path, so those checks are not repeated.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Annotated, Any, Literal, Self, TypeAlias
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
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
]

Transport: TypeAlias = Literal["stdio", "http", "sse"]
Layer: TypeAlias = Literal["user", "project", "env", "explicit", "code"]
Protocol: TypeAlias = Literal["auto", "legacy", "2026-07-28"]


class ConfigWarning(UserWarning):
    """A config file has something patchbay ignores (usually a misspelt key); the rest still loads."""


_PACKAGE = __name__.rpartition(".")[0]  # patchbay.config


def warn(message: str) -> None:
    """A ``ConfigWarning`` attributed to the first frame outside this package (the caller's code)."""
    frame: FrameType | None = sys._getframe()  # stacklevel 1: this function
    level = 1
    while frame is not None and _in_package(frame):
        frame = frame.f_back
        level += 1
    warnings.warn(message, ConfigWarning, stacklevel=level)


def _in_package(frame: FrameType) -> bool:
    name = str(frame.f_globals.get("__name__", ""))
    return name == _PACKAGE or name.startswith(f"{_PACKAGE}.")


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
PARTIAL: dict[str, bool] = {"patchbay_partial": True}
# Passed for a server entry read from a file. The file parser has checked the entry's name and what
# its transport needs (a command, a valid URL) and reported a problem at the key path as written
# (``servers.git.command: required for a stdio server``), so the model does not check them again;
# for a model built in code, its own validators are the only check.
PARSED: dict[str, bool] = {**PARTIAL, "patchbay_parsed": True}


def _is_partial(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("patchbay_partial"))


def _is_parsed(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("patchbay_parsed"))


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


FLAT_RECONNECT = {
    "reconnect_attempts": "attempts",
    "reconnect_delay": "base_delay",
    "reconnect_max_delay": "max_delay",
}


def _fold_flat_reconnect(data: Any) -> Any:
    """Accept ``reconnect_attempts`` etc. as spellings of ``reconnect: {attempts: ...}``."""
    if not isinstance(data, Mapping) or not any(key in data for key in FLAT_RECONNECT):
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
    for flat, key in FLAT_RECONNECT.items():
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


def name_problem(name: str) -> str | None:
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


def env_name_problem(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if "=" in name:
        return "must not contain '='"
    if any(unicodedata.category(char) == "Cc" or _invisible(char) for char in name):
        return "must not contain control, invisible or bidirectional characters"
    return None


def url_problem(url: str) -> str | None:
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
    def _check_name(cls, name: str, info: ValidationInfo) -> str:
        problem = None if _is_parsed(info) else name_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @model_validator(mode="after")
    def _check_transport(self, info: ValidationInfo) -> Self:
        if self.error is not None:
            return self  # fields whose expansion failed hold their unexpanded text
        problem = None if _is_parsed(info) else self._endpoint_problem()
        if problem:
            raise ValueError(problem)
        if self.auth is not None and self.transport == "stdio":
            raise ValueError("auth applies to http and sse servers only")
        return self

    def _endpoint_problem(self) -> str | None:
        if self.transport == "stdio":
            return None if self.command else "a stdio server needs a command"
        if not self.url:
            return f"an {self.transport} server needs a url"
        problem = url_problem(self.url)
        return f"url: {problem}" if problem else None

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
