"""Editing a config file in place without disturbing anything the edit is not about.

The file is edited as text, not re-emitted: only the edited entry's lines change (YAML,
``_yamledit``) or its members' text (JSON, ``_jsonedit``); comments, key order, quoting, blank
lines and ``${VAR}`` references elsewhere stay byte for byte, and nothing expanded is ever
written. After each edit the text must parse, show the change and leave every other server as
it was, or nothing is written.

The file as a file: a read-modify-write holds an exclusive ``flock`` on a lock file beside the
config (``.NAME.lock``, opened with ``O_NOFOLLOW``, removed afterwards; ``_filelock``) so parallel
edits queue instead of losing entries; the write is a temp file renamed over the original. A
symlinked config is edited through the link (its target is replaced, the link stays), a
read-only file is refused, CRLF line endings and a UTF-8 BOM are kept.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from . import _jsonedit, _yamledit
from ._filelock import locked, real_path
from ._yamledit import plain
from ._yamlemit import emit_entry

__all__ = ["LOCK_TIMEOUT", "ConfigFile", "emit_entry"]

# How long an edit waits for another patchbay editing the same file (seconds).
LOCK_TIMEOUT = 10.0
_BOM = "\ufeff"


class ConfigFile:
    """One config file's text and the edits made to it; ``save()`` writes it atomically."""

    def __init__(self, path: Path, text: str, *, exists: bool) -> None:
        self.path = path
        # Kept as read and restored on save: a BOM, and CRLF line endings (edited as LF).
        self.bom = text.startswith(_BOM)
        text = text.removeprefix(_BOM)
        first_end = text.find("\n")
        self.newline = "\r\n" if first_end > 0 and text[first_end - 1] == "\r" else "\n"
        self.text = text.replace("\r\n", "\n") if self.newline == "\r\n" else text
        self.exists = exists
        stripped = self.text.lstrip()
        self.kind: Literal["yaml", "json"] = (
            "json" if stripped.startswith("{") and _jsonedit.is_json(self.text) else "yaml"
        )

    @classmethod
    def open(cls, path: Path) -> ConfigFile:
        """The file at ``path``; a missing file is an empty YAML file, created on ``save()``."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, "", exists=False)
        except OSError as exc:
            raise ConfigError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
        try:
            return cls(path, raw.decode("utf-8"), exists=True)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text (bad byte at offset {exc.start})", file=str(path)) from None

    @classmethod
    @contextlib.contextmanager
    def editing(cls, path: Path, *, timeout: float | None = None) -> Iterator[ConfigFile]:
        """The file at ``path``, read under an exclusive lock held until the block ends.

        Make the edits and ``save()`` inside the block: a parallel ``patchbay add`` waits for the
        lock (up to ``timeout``, default ``LOCK_TIMEOUT``) and then reads the saved text, so no
        entry is lost. A file patchbay should not rewrite is refused before anything changes.
        """
        target = real_path(path)
        with locked(target, LOCK_TIMEOUT if timeout is None else timeout, shown=path):
            file = cls.open(path)
            file.check_editable()
            yield file

    def check_editable(self) -> None:
        """Refuse a read-only file, and a JSON file the loader would refuse (duplicate keys)."""
        if self.exists:
            target = real_path(self.path)
            try:
                mode = target.stat().st_mode
            except OSError as exc:
                raise ConfigError(f"cannot read the file: {exc.strerror}", file=str(self.path)) from None
            if not mode & 0o222 or not os.access(target, os.W_OK):
                raise ConfigError(
                    "the file is read-only; make it writable (chmod u+w) to edit it", file=str(self.path)
                )
        if self.kind == "json":
            _jsonedit.strict_json(self.text, self.path)

    # ------------------------------------------------------------------------------ queries

    def servers(self) -> dict[str, Any]:
        """Server name -> entry as written, from ``mcpServers`` then ``servers``."""
        data = self._data()
        found: dict[str, Any] = {}
        for key in ("mcpServers", "servers"):
            block = data.get(key) if isinstance(data, Mapping) else None
            if isinstance(block, Mapping):
                found.update({str(name): entry for name, entry in block.items()})
        return found

    def server_key(self) -> str:
        """The top-level key that holds servers: the file's own, else the shape's default."""
        data = self._data()
        if isinstance(data, Mapping):
            for key in ("servers", "mcpServers"):
                if key in data:
                    return key
        return "mcpServers" if self.kind == "json" else "servers"

    def _key_of(self, name: str) -> str:
        data = self._data()
        for key in ("mcpServers", "servers"):
            block = data.get(key) if isinstance(data, Mapping) else None
            if isinstance(block, Mapping) and name in block:
                return key
        raise KeyError(name)

    def _data(self) -> Any:
        if not self.text.strip():
            return {}
        if self.kind == "json":
            return _jsonedit.strict_json(self.text, self.path)
        return _yamledit.load(self.text, self.path)

    # -------------------------------------------------------------------------------- edits

    def add(self, name: str, entry: Mapping[str, Any]) -> None:
        """Append an entry; in an ``mcpServers`` block ``transport`` is spelled ``type``, as there.

        ``mcpServers`` hosts (Claude Code) need ``type`` on every URL entry, so one is written
        for a URL entry that has none: ``sse`` when the path ends in ``/sse``, else ``http``,
        exactly as patchbay's loader infers it.
        """
        if name in self.servers():
            raise ValueError(f"a server named {name!r} already exists in {self.path}")
        if self.server_key() == "mcpServers":
            if "transport" in entry and "type" not in entry:
                entry = {("type" if key == "transport" else key): value for key, value in entry.items()}
            if "url" in entry and "type" not in entry and "command" not in entry:
                entry = {"type": _url_transport(str(entry["url"])), **entry}
        self._snapshot(name)
        edit = _jsonedit.add if self.kind == "json" else _yamledit.add
        self.text = edit(self.text, self.server_key(), name, entry, self.path)
        self._check(lambda servers: name in servers, name)

    def remove(self, name: str) -> None:
        key = self._key_of(name)
        self._snapshot(name)
        if self.kind == "json":
            self.text = _jsonedit.remove(self.text, key, name, self.path)
        else:
            self.text = _yamledit.unalias(self.text, key, name, self.path)
            self.text = _yamledit.remove(self.text, key, name, self.path)
        self._check(lambda servers: name not in servers, name)

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable ``name``; returns False when it already was. Uses the file's spelling.

        Enabling deletes the ``enabled: false`` / ``disabled: true`` key (enabled is the default);
        disabling writes ``disabled: true`` in ``mcpServers`` files (the Claude/Cline spelling)
        and ``enabled: false`` in patchbay's own shape.
        """
        key = self._key_of(name)
        entry = self.servers()[name]
        if not isinstance(entry, Mapping):
            raise ConfigError("the entry is not a mapping", file=str(self.path), path=f"{key}.{name}")
        if _entry_enabled(entry) == enabled:
            return False
        self._snapshot(name)
        if self.kind == "json":
            self.text = _jsonedit.set_enabled(self.text, key, name, enabled, self.path)
        else:
            self.text = _yamledit.unalias(self.text, key, name, self.path)
            self.text = _yamledit.set_enabled(self.text, key, name, enabled, self.path)
        self._check(lambda servers: _entry_enabled(servers[name]) == enabled, name)
        return True

    def save(self) -> None:
        """Write atomically (temp file + rename), keeping the file's permissions.

        Through a symlink the link's target is replaced and the link stays; the BOM and line
        endings the file was read with are written back.
        """
        import tempfile  # ~1.5 ms; `patchbay --help` imports this module but never saves

        target = real_path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = target.stat().st_mode & 0o7777 if self.exists else None
        text = self.text.replace("\n", "\r\n") if self.newline == "\r\n" else self.text
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write((_BOM if self.bom else "") + text)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.exists = True

    # ------------------------------------------------------------------------------ safety

    def _check(self, holds: Any, name: str) -> None:
        """The edited text must parse, show the change, and leave every other server as it was.

        Otherwise nothing is written (the text is put back). The last part catches an edit that
        would reach another entry through a YAML alias the editor did not write out.
        """
        try:
            servers = self.servers()
        except (ConfigError, ValueError) as exc:
            self.text = self._before
            raise ConfigError(
                f"the edit would break the file ({exc}); nothing was written", file=str(self.path)
            ) from None
        others = {key: plain(value) for key, value in servers.items() if key != name}
        if not holds(servers) or others != self._others:
            self.text = self._before
            raise ConfigError(
                "the edit could not be applied safely; nothing was written; edit the file by hand",
                file=str(self.path),
            )

    def _snapshot(self, name: str) -> None:
        """Remember the text and every other server's entry, for ``_check``."""
        self._before = self.text
        self._others = {key: plain(value) for key, value in self.servers().items() if key != name}


def _url_transport(url: str) -> str:
    """``sse`` for a URL whose path ends in ``/sse``, else ``http``: the loader's own inference."""
    from urllib.parse import urlsplit

    try:
        path = urlsplit(url).path.rstrip("/")
    except ValueError:
        return "http"
    return "sse" if path.endswith("/sse") else "http"


def _entry_enabled(entry: Any) -> bool:
    if not isinstance(entry, Mapping):
        return True
    if entry.get("disabled") is True:
        return False
    return entry.get("enabled") is not False
