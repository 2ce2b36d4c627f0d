"""Layering: ``load_config`` reads the files of each layer and merges them into one ``Config``;
``diff_servers`` says what a new ``Config`` changes (what ``MCPManager.reload`` applies).

Servers replace whole (a later file's entry wins, at the first file's position); settings merge key
by key for exactly the keys each file wrote. A project file's settings that widen what servers see
(``roots``) are held back in ``Config.project_settings`` until approved.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from patchbay.errors import ConfigError, ServerNotFound

from ._discover import absolute, default_config_paths
from ._models import Layer, ProjectSettings, ReconnectSettings, ServerConfig, Settings
from ._parse import FileParser, ParsedFile, error_reason, join_path
from ._read import TooBig, plain, read_file

__all__ = ["Config", "ServerChanges", "diff_servers", "load_config"]

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
        parser = FileParser(
            file=file,
            layer=layer or ("code" if file is None else "explicit"),
            env=os.environ if env is None else env,
        )
        try:
            content = plain(data)
        except TooBig as exc:
            raise ConfigError(str(exc), file=file) from None
        return merge([parser.document(content)])

    def require_servers(self, servers: Sequence[str] | str | None) -> list[str] | None:
        """``servers`` as a list (a lone name is fine); an unconfigured name raises ``ServerNotFound``.

        ``None`` (no restriction) stays ``None``. One check for the library, the agent layer and the CLI.
        """
        if servers is None:
            return None
        names = [servers] if isinstance(servers, str) else list(servers)
        for name in names:
            if name not in self.servers:
                raise ServerNotFound(name, list(self.servers))
        return names

    def enabled_servers(self) -> list[ServerConfig]:
        """The servers not switched off with ``enabled: false``, in config order."""
        return [server for server in self.servers.values() if server.enabled]


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
        files = [(absolute(path, base), "explicit") for path in paths]
    docs = []
    for path, layer in files:
        parser = FileParser(file=str(path), layer=layer, env=environ, caller=str(base.absolute()))
        docs.append(parser.document(read_file(path)))
    return merge(docs)


_Origin: TypeAlias = tuple[str | None, str]  # (file, key path) that set a settings value
_Held: TypeAlias = dict[
    str, tuple[ParsedFile, Any]
]  # key -> the project file that set it last, and its value


def merge(docs: Sequence[ParsedFile]) -> Config:
    """Merge parsed files in order: servers replace whole, settings merge key by key."""
    settings, held = _merge_settings(docs)
    return Config(
        servers=_merge_servers(docs, settings),
        settings=settings,
        sources=tuple(doc.file for doc in docs if doc.file is not None),
        project_settings=_held_back(held),
    )


def _merge_settings(docs: Sequence[ParsedFile]) -> tuple[Settings, _Held]:
    """The merged settings, and the project-file settings held back until approved."""
    merged: dict[str, Any] = {}
    origins: dict[str, _Origin] = {}  # settings key -> where it was set last, most recent last
    held: _Held = {}

    def touch(key: str, origin: _Origin) -> None:
        origins.pop(key, None)  # re-insert so the order is "most recently set last"
        origins[key] = origin

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
    return _validated_settings(merged, origins), held


def _validated_settings(merged: dict[str, Any], origins: Mapping[str, _Origin]) -> Settings:
    """The merged settings checked as a whole; an error names the file and key that set the value last."""
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        head = str(first["loc"][0]) if first["loc"] else ""
        culprits = [key for key in origins if key == head or key.startswith(f"{head}.")]
        file, path = origins[culprits[-1]] if culprits else (None, "settings")
        raise ConfigError(error_reason(first), file=file, path=path) from None


def _merge_servers(docs: Sequence[ParsedFile], settings: Settings) -> dict[str, ServerConfig]:
    """Each name's last definition, at its first position, its reconnect completed from ``settings``."""
    servers: dict[str, ServerConfig] = {}
    reconnect_paths: dict[str, str] = {}
    for doc in docs:
        for name, server in doc.servers.items():
            servers[name] = server  # a redefinition keeps the first file's position
            if name in doc.reconnect_paths:
                reconnect_paths[name] = doc.reconnect_paths[name]
            else:
                reconnect_paths.pop(name, None)
    for name, server in servers.items():
        if server.reconnect is not None:
            path = reconnect_paths.get(name, join_path("servers", name))
            servers[name] = _with_reconnect(server, server.reconnect, settings, path)
    return servers


def _with_reconnect(
    server: ServerConfig, reconnect: ReconnectSettings, settings: Settings, path: str
) -> ServerConfig:
    """A server's reconnect sub-keys override the merged settings' reconnect, not the defaults."""
    given = {key: getattr(reconnect, key) for key in reconnect.model_fields_set}
    try:
        full = ReconnectSettings.model_validate({**settings.reconnect.model_dump(), **given})
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise ConfigError(error_reason(first), file=server.source, path=path) from None
    return server.model_copy(update={"reconnect": full})


def _held_back(held: _Held) -> ProjectSettings | None:
    """The held project-file settings, with the keys as written (what an approval hashes)."""
    if not held:
        return None
    holder = next(iter(held.values()))[0]
    return ProjectSettings(
        source=holder.file or "",
        raw={key: holder.settings_raw.get(key) for key in sorted(held)},
        **{key: value for key, (_, value) in held.items() if key in ProjectSettings.model_fields},
    )


@dataclass(frozen=True)
class ServerChanges:
    """What a new config changes about the servers of an old one, by name (what ``reload`` applies).

    ``added`` and ``changed`` and ``unchanged`` are in the new config's order, ``removed`` in the
    old one's. A server is changed when its ``fingerprint()`` differs: provenance alone (the same
    entry moved to another file) is no change.
    """

    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        """``{"added": [...], "removed": [...], "changed": [...], "unchanged": [...]}``."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "unchanged": list(self.unchanged),
        }


def diff_servers(old: Config, new: Config) -> ServerChanges:
    """The servers ``new`` adds, removes, changes and keeps relative to ``old``."""
    before = old.servers
    changed = [
        name
        for name in new.servers
        if name in before and new.servers[name].fingerprint() != before[name].fingerprint()
    ]
    return ServerChanges(
        added=[name for name in new.servers if name not in before],
        removed=[name for name in before if name not in new.servers],
        changed=changed,
        unchanged=[name for name in new.servers if name in before and name not in changed],
    )
