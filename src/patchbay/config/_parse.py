"""One file's parsed content into models, with every problem reported at the key path as written.

``FileParser.document`` walks the two file shapes (``servers`` and ``mcpServers``), folds the
Claude/Cline spellings into patchbay's keys, expands ``${VAR}`` where it is allowed and validates
the result, returning a ``ParsedFile``: one layer's contribution before merging (``_layers``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from pydantic import ValidationError

from patchbay.errors import ConfigError

from ._discover import file_cwd, user_home
from ._expand import ExpansionError, expand, expand_home
from ._models import (
    FLAT_RECONNECT,
    PARSED,
    PARTIAL,
    Layer,
    ServerConfig,
    Settings,
    Transport,
    env_name_problem,
    name_problem,
    url_problem,
)
from ._models import (
    warn as warn_config,
)

CALLER_CWD = "<caller>"
"""``cwd: <caller>``: start the server in the directory patchbay was started from (read at load)."""


KeyPath: TypeAlias = tuple[str | int, ...]  # ("servers", "git", "args", 0)
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def join_path(base: str, *parts: str | int) -> str:
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
    *FLAT_RECONNECT,
    *_SCALAR_SERVER_KEYS,
    *_LIST_SERVER_KEYS,
)
_SETTINGS_KEYS = tuple(name for name in Settings.model_fields if name != "reconnect")
_NULLABLE_SETTINGS = frozenset({"health_interval", "max_output_chars"})
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def error_reason(error: Mapping[str, Any]) -> str:
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
class ParsedFile:
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


@dataclass
class _Entry:
    """One server entry's keys as gathered, before expansion: the fields, and how they were spelled."""

    fields: dict[str, Any]
    keymap: dict[KeyPath, KeyPath] = field(default_factory=dict)
    """Model field path -> the key path written (``("enabled",)`` -> ``("disabled",)``), for errors."""
    transports: dict[str, Transport] = field(default_factory=dict)
    """Each of ``transport`` / ``type`` / ``transportType`` that was written -> what it names."""
    disabled: tuple[str, bool] | None = None
    excluded: list[str] = field(default_factory=list)
    reconnect: dict[str, Any] = field(default_factory=dict)
    reconnect_path: str | None = None
    """The key path of the first reconnect key written, for errors about the merged value."""


def url_transport(url: str) -> Transport:
    """``sse`` for a URL whose path ends in ``/sse`` (such URLs are SSE in Claude Desktop-era
    configs), else ``http``."""
    try:
        url_path = urlsplit(url).path.rstrip("/")
    except ValueError:  # a broken URL is reported by the URL check
        return "http"
    return "sse" if url_path.endswith("/sse") else "http"


class FileParser:
    """Turns one file's parsed content into a ``ParsedFile``, raising ``ConfigError`` at the first problem."""

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
            return user_home(self.env)
        if self.file is None:
            return None
        return file_cwd(self.file)

    # -- reporting

    def fail(self, path: str, reason: str) -> ConfigError:
        return ConfigError(reason, file=self.file, path=path or None)

    def warn(self, path: str, reason: str) -> None:
        message = ": ".join(part for part in (self.file, path, reason) if part)
        warn_config(message)

    def unknown(self, base: str, key: Any, known: Sequence[str]) -> None:
        import difflib

        label = key if isinstance(key, str) else str(key)
        close = difflib.get_close_matches(label, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.warn(join_path(base, label), f"unknown key{hint}, ignored")

    def translate(self, exc: ValidationError, base: str, keymap: Mapping[KeyPath, KeyPath]) -> ConfigError:
        """The first pydantic error as a ConfigError at the key path the user wrote."""
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = tuple(first["loc"])
        parts: KeyPath = loc
        for size in (2, 1):
            prefix = loc[:size]
            if len(prefix) == size and prefix in keymap:
                parts = keymap[prefix] + loc[size:]
                break
        reason = error_reason(first)
        if len(errors) > 1:
            more = len(errors) - 1
            reason += f" (and {more} more problem{'s' if more > 1 else ''} here)"
        return self.fail(join_path(base, *parts), reason)

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
                raise self.fail(join_path(path, index), f"expected a string, got {_kind(item)}")
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
                    raise self.fail(join_path(path, name), f"invalid {what} name")
            else:
                problem = env_name_problem(name)
                if problem:
                    raise self.fail(join_path(path, name), f"invalid {what} name: {problem}")
            if isinstance(item, str):
                result[name] = item
            elif isinstance(item, (bool, int, float)):
                result[name] = _scalar_text(item)
            else:
                raise self.fail(join_path(path, name), f"expected a string value, got {_kind(item)}")
        return result

    # -- the document

    def document(self, data: Any) -> ParsedFile:
        doc = ParsedFile(file=self.file, layer=self.layer)
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
            if block is not None:
                self.servers(top, block, doc)
        self.settings(data.get("settings"), doc)
        return doc

    def servers(self, top: str, block: Any, doc: ParsedFile) -> None:
        """The entries under ``servers`` or ``mcpServers``; a name is checked here, once, before its entry."""
        if not isinstance(block, Mapping):
            raise self.fail(top, f"expected a mapping of server names to entries, got {_kind(block)}")
        for name, entry in block.items():
            if not isinstance(name, str):
                raise self.fail(top, f"server names must be strings (quote {name!r})")
            path = join_path(top, name)
            problem = name_problem(name)
            if problem:
                raise self.fail(path, problem)
            if name in doc.servers:
                raise self.fail(path, "this server is also defined under mcpServers; keep one")
            server, reconnect_path = self.server(path, name, entry)
            doc.servers[name] = server
            if reconnect_path is not None:
                doc.reconnect_paths[name] = reconnect_path

    def settings(self, block: Any, doc: ParsedFile) -> None:
        if block is None:
            return
        if not isinstance(block, Mapping):
            raise self.fail("settings", f"expected a mapping, got {_kind(block)}")
        given: dict[str, Any] = {}
        reconnect: dict[str, Any] = {}
        keymap: dict[KeyPath, KeyPath] = {}
        for key, value in block.items():
            if key in _SETTINGS_KEYS:
                if value is None and key not in _NULLABLE_SETTINGS:
                    continue  # null means "not set" unless null is a meaningful value
                given[key] = value
                doc.settings_paths[key] = join_path("settings", key)
                doc.settings_raw[key] = value  # the file's data is plain already: nothing to copy
            elif key == "reconnect" or key in FLAT_RECONNECT:
                for sub, parts in self.reconnect_keys(key, value, "settings", reconnect, keymap):
                    doc.settings_paths[f"reconnect.{sub}"] = join_path("settings", *parts)
            else:
                self.unknown("settings", key, (*_SETTINGS_KEYS, "reconnect", *FLAT_RECONNECT))
        if reconnect:
            given["reconnect"] = reconnect
        try:
            validated = Settings.model_validate(given, context=PARTIAL)
        except ValidationError as exc:
            raise self.translate(exc, "settings", keymap) from None
        for key in given:
            if key != "reconnect":
                doc.settings[key] = getattr(validated, key)
        if reconnect:
            doc.settings["reconnect"] = {sub: getattr(validated.reconnect, sub) for sub in reconnect}

    def reconnect_keys(
        self, key: str, value: Any, base: str, into: dict[str, Any], keymap: dict[KeyPath, KeyPath]
    ) -> list[tuple[str, KeyPath]]:
        """The reconnect sub-keys of ``reconnect: {...}`` or a flat key (``reconnect_delay``) into
        ``into``, the written key paths into ``keymap``; returns (sub-key, key path parts) of each.

        One sub-key given twice (``reconnect_delay`` and ``reconnect.base_delay``) fails.
        """
        added: list[tuple[str, KeyPath]] = []
        for sub, sub_value, parts in self.reconnect_items(key, value, base):
            if sub in into:
                raise self.fail(join_path(base, *parts), f"reconnect {sub} is given twice")
            into[sub] = sub_value
            keymap[("reconnect", sub)] = parts
            added.append((sub, parts))
        return added

    def reconnect_items(self, key: str, value: Any, base: str) -> list[tuple[str, Any, KeyPath]]:
        """(sub-key, value, key path parts as written) from ``reconnect: {...}`` or a flat key."""
        if key in FLAT_RECONNECT:
            return [] if value is None else [(FLAT_RECONNECT[key], value, (key,))]
        if value is None:
            return []
        if not isinstance(value, Mapping):
            raise self.fail(
                join_path(base, key),
                f"expected a mapping of attempts, base_delay, max_delay, got {_kind(value)}",
            )
        items: list[tuple[str, Any, KeyPath]] = []
        for sub, sub_value in value.items():
            if sub in _RECONNECT_KEYS:
                if sub_value is not None:
                    items.append((sub, sub_value, (key, sub)))
            else:
                self.unknown(join_path(base, key), sub, _RECONNECT_KEYS)
        return items

    # -- one server entry, in steps

    def server(self, path: str, name: str, entry: Any) -> tuple[ServerConfig, str | None]:
        """One server entry; returns it and the key path of its reconnect entry, if any.

        The steps, each failing at the first problem with the key path as written: gather the keys
        in the order written, fold the Claude/Cline spellings into patchbay's, expand ``${VAR}``,
        settle the transport, check what it needs (a command or a URL), then validate the rest.
        """
        if not isinstance(entry, Mapping):
            raise self.fail(path, f"expected a mapping (command/args/env or url/headers), got {_kind(entry)}")
        # The file's data is plain already (read_file, Config.from_dict): ``raw`` needs no copy.
        gathered = _Entry(fields={"name": name, "source": self.file, "layer": self.layer, "raw": dict(entry)})
        for key, value in entry.items():
            self.gather(gathered, path, key, value)
        self.fold(gathered, path)
        fields = gathered.fields
        problems = self.expand_fields(path, fields)
        fields["transport"] = transport = self.transport(gathered, path)
        if transport == "stdio":
            self.check_stdio(path, fields, problems)
        else:
            self.check_remote(path, transport, fields, problems)
        if problems:
            fields["error"] = "; ".join(problems.values())
        try:
            server = ServerConfig.model_validate(fields, context=PARSED)
        except ValidationError as exc:
            raise self.translate(exc, path, gathered.keymap) from None
        return server, gathered.reconnect_path

    def gather(self, entry: _Entry, path: str, key: Any, value: Any) -> None:
        """One key of a server entry, as written; a wrong shape fails, an unknown key warns."""
        if not isinstance(key, str):
            self.unknown(path, key, _SERVER_KEYS)
            return
        if key in _IGNORED_SERVER_KEYS or value is None:  # null means "not set"
            return
        key_path = join_path(path, key)
        if key in _TRANSPORT_KEYS:
            entry.transports[key] = self.transport_name(value, key_path)
        elif key in ("command", "cwd", "url"):
            entry.fields[key] = self.string(value, key_path)
        elif key == "args":
            entry.fields["args"] = self.string_list(value, key_path, coerce=True)
        elif key in ("env", "headers"):
            entry.fields[key] = self.string_map(value, key_path, headers=key == "headers")
        elif key == "disabled":  # Claude / Cline spelling
            if not isinstance(value, bool):
                raise self.fail(key_path, "expected true or false")
            entry.disabled = (key, value)
        elif key in _LIST_SERVER_KEYS:
            self.gather_list(entry, key, value, key_path)
        elif key == "reconnect" or key in FLAT_RECONNECT:
            added = self.reconnect_keys(key, value, path, entry.reconnect, entry.keymap)
            if added and entry.reconnect_path is None:
                entry.reconnect_path = key_path
                entry.keymap[("reconnect",)] = (key,)
        elif key in _SCALAR_SERVER_KEYS:
            entry.fields[key] = value
        else:
            self.unknown(path, key, _SERVER_KEYS)

    def transport_name(self, value: Any, key_path: str) -> Transport:
        spelled = self.string(value, key_path)
        known = _TRANSPORTS.get(spelled.lower())
        if known is None:
            raise self.fail(
                key_path, f"unknown transport {spelled!r}; expected stdio, http (streamable-http) or sse"
            )
        return known

    def gather_list(self, entry: _Entry, key: str, value: Any, key_path: str) -> None:
        items = self.string_list(value, key_path, coerce=False)
        if key in ("exclude_tools", "disabledTools"):  # disabledTools: Roo Code
            entry.excluded.extend(items)
            entry.keymap.setdefault(("exclude_tools",), (key,))
            return
        if key == "env_passthrough":
            for index, item in enumerate(items):
                problem = env_name_problem(item)
                if problem:
                    raise self.fail(
                        join_path(key_path, index), f"invalid environment variable name: {problem}"
                    )
        entry.fields[key] = tuple(items)

    def fold(self, entry: _Entry, path: str) -> None:
        """``disabled``, ``disabledTools`` and the reconnect sub-keys into the fields they spell."""
        fields = entry.fields
        if entry.disabled is not None:
            key, disabled = entry.disabled
            if "enabled" in fields and fields["enabled"] is disabled:
                raise self.fail(join_path(path, "disabled"), "contradicts enabled")
            fields["enabled"] = not disabled
            entry.keymap[("enabled",)] = (key,)
        if entry.excluded:
            fields["exclude_tools"] = tuple(dict.fromkeys(entry.excluded))
        if entry.reconnect:
            fields["reconnect"] = entry.reconnect

    def transport(self, entry: _Entry, path: str) -> Transport:
        """The transport as written (every spelling must agree), else inferred from command or url."""
        fields = entry.fields
        if len(set(entry.transports.values())) > 1:
            spelled_keys = " and ".join(entry.transports)
            raise self.fail(path, f"{spelled_keys} disagree about the transport")
        if entry.transports:
            key, transport = next(iter(entry.transports.items()))
            entry.keymap[("transport",)] = (key,)
            return transport
        if "command" in fields and "url" in fields:
            raise self.fail(path, "has both command and url; set transport (stdio, http or sse) to choose")
        if "command" in fields:
            return "stdio"
        if "url" in fields:
            return url_transport(fields["url"])
        raise self.fail(path, "needs a command (stdio server) or a url (http or sse server)")

    def check_stdio(self, path: str, fields: dict[str, Any], problems: dict[str, str]) -> None:
        """A stdio server needs a command, checked here only (see ``PARSED``); its cwd defaults."""
        if "command" not in fields:
            raise self.fail(join_path(path, "command"), "required for a stdio server")
        if fields["command"] == "" and "command" not in problems:
            self.value_problem(problems, path, "command", "must not be empty", fields["raw"])
        if "url" in fields:
            self.warn(join_path(path, "url"), "ignored for a stdio server")
        if "cwd" not in fields:
            fields["cwd"] = self.default_cwd()

    def check_remote(
        self, path: str, transport: str, fields: dict[str, Any], problems: dict[str, str]
    ) -> None:
        """An http or sse server needs a valid URL, checked here only (see ``PARSED``)."""
        if "url" not in fields:
            raise self.fail(join_path(path, "url"), f"required for an {transport} server")
        if "url" not in problems:
            problem = url_problem(fields["url"])
            if problem:
                self.value_problem(problems, path, "url", problem, fields["raw"])
        if "command" in fields:
            self.warn(join_path(path, "command"), f"ignored for an {transport} server")

    def value_problem(self, problems: dict[str, str], path: str, key: str, reason: str, raw: Any) -> None:
        """A bad value fails the file when written literally, only its server when it came from ``${VAR}``."""
        written = raw.get(key)
        if isinstance(written, str) and "$" in written:
            problems[key] = f"{join_path(path, key)}: {reason} (after expanding variables)"
        else:
            raise self.fail(join_path(path, key), reason)

    def expand_fields(self, path: str, fields: dict[str, Any]) -> dict[str, str]:
        """Expand ``${VAR}`` in the fields that allow it, in place; problems keyed by top-level key.

        A value that cannot be expanded keeps its text as written (the server carries ``error``).
        """
        problems: dict[str, list[str]] = {}

        def one(value: str, *parts: str | int) -> str:
            try:
                return expand(value, self.env)
            except ExpansionError as exc:
                problems.setdefault(str(parts[0]), []).append(f"{join_path(path, *parts)}: {exc}")
                return value

        if "command" in fields:
            fields["command"] = one(fields["command"], "command")
            if "command" not in problems:
                fields["command"] = expand_home(fields["command"], self.env)
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
                cwd = expand_home(fields["cwd"], self.env)
                if self.file is not None and not os.path.isabs(cwd):
                    # Next to the real file, which is the one an approval names (see file_cwd).
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


def _scalar_text(value: bool | int | float) -> str:
    """What a YAML number or boolean meant as text: ``8080`` -> "8080", ``true`` -> "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
