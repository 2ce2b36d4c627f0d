"""Editing a config file in place without disturbing anything the edit is not about.

YAML files are edited as text: ruamel.yaml's round-trip loader finds where each entry starts
(line and column), and only those lines change. Re-emitting the whole document instead (what a
round-trip *dump* does) re-indents, moves end-of-line comments and re-quotes scalars, so a
one-line ``disable`` would show up as a diff of the whole file. Comments, key order, quoting,
blank lines and ``${VAR}`` references outside the edited entry stay byte for byte; nothing
expanded is ever written, because the text written is the text read plus what the user typed.

Rules for comments: ``remove`` takes the entry's lines, the comment lines directly above its
key at the same indentation (its own description), and comments indented inside it; any other
comment stays. ``add`` appends the new entry after the last one.

JSON files (``.mcp.json`` and friends, told apart by content as the loader does) are edited as
text too: the decoder finds where each member starts and ends, and only the edited entry's text
changes (an inline ``"args": [...]`` elsewhere stays on its line). A JSON file with a duplicate
key, which the loader refuses, is refused here too rather than rewritten.

The file as a file: a read-modify-write holds an exclusive ``flock`` on a lock file beside the
config (``.NAME.lock``, opened with ``O_NOFOLLOW``, removed afterwards) so parallel edits queue
instead of losing entries; the write is a temp file renamed over the original. A symlinked config
is edited through the link (its target is replaced, the link stays), a read-only file is refused,
CRLF line endings and a UTF-8 BOM are kept. An entry that is a YAML alias of another (``gamma: *b``)
is written out in full before its anchor's entry is edited, so an edit changes one server only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError

__all__ = ["LOCK_TIMEOUT", "ConfigFile", "emit_entry"]

# How long an edit waits for another patchbay editing the same file (seconds).
LOCK_TIMEOUT = 10.0
_BOM = "\ufeff"

_PLAIN = re.compile(r"[A-Za-z0-9_./@~+-][A-Za-z0-9_./@~+=:-]*\Z")


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
            "json" if stripped.startswith("{") and _is_json(self.text) else "yaml"
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
        target = _real_path(path)
        with _locked(target, LOCK_TIMEOUT if timeout is None else timeout, shown=path):
            file = cls.open(path)
            file.check_editable()
            yield file

    def check_editable(self) -> None:
        """Refuse a read-only file, and a JSON file the loader would refuse (duplicate keys)."""
        if self.exists:
            target = _real_path(self.path)
            try:
                mode = target.stat().st_mode
            except OSError as exc:
                raise ConfigError(f"cannot read the file: {exc.strerror}", file=str(self.path)) from None
            if not mode & 0o222 or not os.access(target, os.W_OK):
                raise ConfigError(
                    "the file is read-only; make it writable (chmod u+w) to edit it", file=str(self.path)
                )
        if self.kind == "json":
            _strict_json(self.text, self.path)

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
            return _strict_json(self.text, self.path)
        return self._yaml_doc()

    def _yaml_doc(self) -> Any:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            return YAML(typ="rt", pure=True).load(self.text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"invalid YAML{where}; fix it before editing", file=str(self.path)) from None

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
        if self.kind == "json":
            self._json_add(name, entry)
        else:
            self._yaml_add(name, entry)
        self._check(lambda servers: name in servers, name)

    def remove(self, name: str) -> None:
        key = self._key_of(name)
        self._snapshot(name)
        if self.kind == "json":
            self.text = _json_remove(self.text, *self._json_block(key), name)
        else:
            self._yaml_unalias(key, name)
            self._yaml_remove(key, name)
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
            self._json_set_enabled(key, name, enabled)
        else:
            self._yaml_unalias(key, name)
            entry = self._yaml_block(key)[1][name]
            self._yaml_set_enabled(key, name, entry, enabled)
        self._check(lambda servers: _entry_enabled(servers[name]) == enabled, name)
        return True

    def save(self) -> None:
        """Write atomically (temp file + rename), keeping the file's permissions.

        Through a symlink the link's target is replaced and the link stays; the BOM and line
        endings the file was read with are written back.
        """
        import tempfile  # ~1.5 ms; `patchbay --help` imports this module but never saves

        target = _real_path(self.path)
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

    # -------------------------------------------------------------------------------- JSON

    def _json_block(self, key: str) -> tuple[list[_Member], int, int]:
        """The members of the top-level ``key`` object, and where its braces are."""
        top, _, _ = _json_members(self.text, _json_start(self.text))
        member = next((m for m in top if m.key == key), None)
        if member is None or self.text[member.value_start] != "{":
            raise ConfigError(f"{key} must be an object of server names", file=str(self.path))
        return _json_members(self.text, member.value_start)

    def _json_add(self, name: str, entry: Mapping[str, Any]) -> None:
        key = self.server_key()
        step = _json_indent(self.text)
        if not self.text.strip():
            self.text = json.dumps({key: {name: dict(entry)}}, indent=step, ensure_ascii=False) + "\n"
            return
        top, open_at, close_at = _json_members(self.text, _json_start(self.text))
        if not any(m.key == key for m in top):
            self.text = _json_insert(
                self.text, top, open_at, close_at, key=key, value={name: dict(entry)}, step=step
            )
            return
        members, open_at, close_at = self._json_block(key)
        self.text = _json_insert(
            self.text, members, open_at, close_at, key=name, value=dict(entry), step=step
        )

    def _json_set_enabled(self, key: str, name: str, enabled: bool) -> None:
        servers, _, _ = self._json_block(key)
        entry = next(m for m in servers if m.key == name)
        if self.text[entry.value_start] != "{":
            raise ConfigError("the entry is not an object", file=str(self.path), path=f"{key}.{name}")
        for spelled in ("enabled", "disabled"):
            members, _, _ = _json_members(self.text, entry.value_start)
            found = next((m for m in members if m.key == spelled), None)
            if found is None:
                continue
            if enabled:
                self.text = _json_remove(self.text, *_json_members(self.text, entry.value_start), spelled)
            else:
                word = "false" if spelled == "enabled" else "true"
                self.text = self.text[: found.value_start] + word + self.text[found.value_end :]
                return
        if not enabled:
            members, open_at, close_at = _json_members(self.text, entry.value_start)
            spelled = "disabled" if key == "mcpServers" else "enabled"
            step = _json_indent(self.text)
            self.text = _json_insert(
                self.text, members, open_at, close_at, key=spelled, value=spelled == "disabled", step=step
            )

    # -------------------------------------------------------------------------------- YAML

    def _lines(self) -> list[str]:
        return self.text.splitlines(keepends=True)

    def _yaml_block(self, key: str) -> tuple[Any, Any]:
        doc = self._yaml_doc()
        if doc is None:
            return None, None
        if not hasattr(doc, "lc"):
            raise ConfigError("the top level must be a mapping", file=str(self.path))
        if _is_flow(doc):
            raise self._by_hand("the file is written in flow style ({...})")
        return doc, doc.get(key)

    def _by_hand(self, why: str) -> ConfigError:
        return ConfigError(f"{why}; edit it by hand", file=str(self.path))

    def _entry_span(self, block: Any, name: str) -> tuple[int, int, int]:
        """(first line, last line, key column) of an entry in a block mapping, comments included."""
        line, col = block.lc.key(name)
        lines = self._lines()
        last = line
        for index in range(line + 1, len(lines)):
            text = lines[index]
            if not text.strip():
                continue
            indent = len(text) - len(text.lstrip(" "))
            if indent > col:
                last = index
            elif not text.lstrip().startswith("#"):
                break
        first = line
        while first > 0:
            above = lines[first - 1]
            indent = len(above) - len(above.lstrip(" "))
            if above.strip().startswith("#") and indent == col:
                first -= 1
            else:
                break
        return first, last, col

    def _yaml_remove(self, key: str, name: str) -> None:
        _, block = self._yaml_block(key)
        if _is_flow(block):
            raise self._by_hand(f"{key} is written in flow style ({{...}})")
        first, last, _ = self._entry_span(block, name)
        lines = self._lines()
        self.text = "".join(lines[:first] + lines[last + 1 :])

    def _yaml_add(self, name: str, entry: Mapping[str, Any]) -> None:
        key = self.server_key()
        doc, block = self._yaml_block(key)
        lines = self._lines()
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        step = _indent_step(doc, lines)
        if doc is None or key not in doc:
            # No servers block yet: start one at the end of the file.
            lines.append(f"{key}:\n")
            lines.append(emit_entry(name, entry, step, step))
        elif block is None or (isinstance(block, Mapping) and not block):
            key_line, _ = doc.lc.key(key)
            match = re.match(rf"(\s*{re.escape(key)}\s*:)\s*(\{{\s*\}}|~|null)?\s*(#.*)?$", lines[key_line])
            if match is None:
                raise self._by_hand(f"{key} has a value that cannot be extended")
            comment = f"  {match.group(3)}" if match.group(3) else ""
            lines[key_line] = f"{match.group(1)}{comment}\n"
            key_col = doc.lc.key(key)[1]
            lines.insert(key_line + 1, emit_entry(name, entry, key_col + step, step))
        else:
            if not isinstance(block, Mapping):
                raise ConfigError(f"{key} must be a mapping of server names", file=str(self.path))
            if _is_flow(block):
                raise self._by_hand(f"{key} is written in flow style ({{...}})")
            names = list(block)
            _, last, col = self._entry_span(block, names[-1])
            child = _child_step(block, lines) or step
            lines.insert(last + 1, emit_entry(name, entry, col, child))
        self.text = "".join(lines)

    def _yaml_unalias(self, key: str, name: str) -> None:
        """Write out in full each entry that is the same YAML node as ``name`` (``gamma: *b``).

        An alias is the anchored node itself, so editing the anchor's text edits every alias
        too. Before ``name`` is edited or removed: when ``name`` is the alias, it becomes a flow
        copy of the node; when ``name`` holds the anchor, each sibling alias does.
        """
        _, block = self._yaml_block(key)
        node = block[name]
        anchor = getattr(getattr(node, "anchor", None), "value", None)
        if anchor is None:
            return
        lines = self._lines()
        alias = re.compile(rf"^(?P<head>[^#]*?:[ \t]*)\*{re.escape(anchor)}(?P<tail>[ \t]*(?:#.*)?\n?)\Z")

        def alias_line(other: str) -> int | None:
            line = int(block.lc.key(other)[0])
            return line if alias.match(lines[line]) else None

        sharing = [other for other in block if block[other] is node]
        if alias_line(name) is not None:
            targets = [name]
        else:
            targets = [other for other in sharing if other != name and alias_line(other) is not None]
        copy = json.dumps(_plain(node), ensure_ascii=False)
        for other in targets:
            line = alias_line(other)
            assert line is not None
            lines[line] = alias.sub(lambda m: f"{m['head']}{copy}{m['tail']}", lines[line])
        self.text = "".join(lines)

    def _yaml_set_enabled(self, key: str, name: str, entry: Any, enabled: bool) -> None:
        _, block = self._yaml_block(key)
        lines = self._lines()
        if _is_flow(block):
            raise self._by_hand(f"{key} is written in flow style ({{...}})")
        key_line, _ = block.lc.key(name)
        spelled = "disabled" if key == "mcpServers" else "enabled"
        if _is_flow(entry):
            lines[key_line] = _flow_set_enabled(lines[key_line], spelled, enabled, self._by_hand)
            self.text = "".join(lines)
            return
        for existing in ("enabled", "disabled"):
            if existing in entry:
                line, _ = entry.lc.key(existing)
                if enabled:
                    del lines[line]
                else:
                    value = "false" if existing == "enabled" else "true"
                    lines[line] = re.sub(r"(:\s*)[^\s#]+", rf"\g<1>{value}", lines[line], count=1)
                self.text = "".join(lines)
                return
        _, last, _ = self._entry_span(block, name)
        first_child = next(iter(entry), None)
        col = entry.lc.key(first_child)[1] if first_child is not None else block.lc.key(name)[1] + 2
        lines.insert(last + 1, f"{' ' * col}{spelled}: {'true' if spelled == 'disabled' else 'false'}\n")
        self.text = "".join(lines)

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
        others = {key: _plain(value) for key, value in servers.items() if key != name}
        if not holds(servers) or others != self._others:
            self.text = self._before
            raise ConfigError(
                "the edit could not be applied safely; nothing was written; edit the file by hand",
                file=str(self.path),
            )

    def _snapshot(self, name: str) -> None:
        """Remember the text and every other server's entry, for ``_check``."""
        self._before = self.text
        self._others = {key: _plain(value) for key, value in self.servers().items() if key != name}


# ------------------------------------------------------------------------------------ helpers


def _real_path(path: Path) -> Path:
    """The file a path names, through any symlinks: where the edit is written and locked."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def _locked(target: Path, timeout: float, *, shown: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.NAME.lock`` beside ``target`` (created if missing).

    The lock file is opened with ``O_NOFOLLOW`` (a planted symlink is refused, not followed) and
    removed by its holder before release; a waiter that then wins the lock on the removed file
    sees the path gone or replaced and starts over on the new one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    deadline = time.monotonic() + timeout
    while True:
        fd = _acquire(lock, deadline, timeout, shown)
        if fd is None:
            continue
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)
        return


def _acquire(lock: Path, deadline: float, timeout: float, shown: Path) -> int | None:
    """An fd holding the lock on the live ``lock`` file, or None when that file went away."""
    import errno
    import fcntl
    import stat

    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(lock, flags, 0o600)
    except OSError as exc:
        why = "it is a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise ConfigError(f"cannot open the lock file {lock}: {why}", file=str(shown)) from None
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode):
            raise ConfigError(f"the lock file {lock} is not a regular file", file=str(shown))
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"another patchbay is editing this file and did not finish within {timeout:g} s "
                        f"(lock: {lock}); nothing was written, try again",
                        file=str(shown),
                    ) from None
                time.sleep(0.01)
        try:
            now = os.stat(lock, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


class _Member:
    """One ``"key": value`` of a JSON object, by offsets into the text."""

    __slots__ = ("key", "key_start", "value_end", "value_start")

    def __init__(self, key: str, key_start: int, value_start: int, value_end: int) -> None:
        self.key, self.key_start, self.value_start, self.value_end = key, key_start, value_start, value_end


_WS = re.compile(r"[ \t\n\r]*")


def _json_start(text: str) -> int:
    return _WS.match(text).end()  # type: ignore[union-attr]  # matches the empty string at worst


def _json_members(text: str, open_at: int) -> tuple[list[_Member], int, int]:
    """The members of the object whose ``{`` is at ``open_at``, and the offset of its ``}``."""
    decoder = json.JSONDecoder()
    members: list[_Member] = []

    def skip(index: int) -> int:
        return _WS.match(text, index).end()  # type: ignore[union-attr]

    index = skip(open_at + 1)
    if text[index] == "}":
        return members, open_at, index
    while True:
        key_start = index  # the key's opening quote
        key, index = decoder.raw_decode(text, index)
        index = skip(index) + 1  # the ':'
        value_start = skip(index)
        _, value_end = decoder.raw_decode(text, value_start)
        members.append(_Member(str(key), key_start, value_start, value_end))
        index = skip(value_end)
        if text[index] == "}":
            return members, open_at, index
        index = skip(index + 1)  # the ','


def _line_lead(text: str, pos: int) -> int:
    """The start of ``pos``'s line when only indentation precedes it there, else ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    return start if not text[start:pos].strip() else pos


def _json_remove(text: str, members: list[_Member], open_at: int, close_at: int, key: str) -> str:
    """``text`` without the member ``key``: its lines, and the comma that joined it."""
    index = next(i for i, m in enumerate(members) if m.key == key)
    member = members[index]
    if len(members) == 1:
        return text[: open_at + 1] + text[close_at:]
    if index + 1 < len(members):
        return (
            text[: _line_lead(text, member.key_start)]
            + text[_line_lead(text, members[index + 1].key_start) :]
        )
    return text[: members[index - 1].value_end] + text[member.value_end :]


def _json_insert(
    text: str, members: list[_Member], open_at: int, close_at: int, *, key: str, value: Any, step: int | str
) -> str:
    """``text`` with ``"key": value`` appended to an object, written in the object's own layout."""
    unit = step if isinstance(step, str) else " " * step
    name = json.dumps(key, ensure_ascii=False)
    if members:
        last = members[-1]
        if _line_lead(text, last.key_start) == last.key_start and text[last.key_start - 1] != "\n":
            # The last member shares its line with what precedes it: a one-line object, stay on it.
            return (
                text[: last.value_end]
                + f", {name}: {json.dumps(value, ensure_ascii=False)}"
                + text[last.value_end :]
            )
        indent = text[text.rfind("\n", 0, last.key_start) + 1 : last.key_start]
        member = f"{name}: {_json_value(value, step, indent)}"
        return text[: last.value_end] + ",\n" + indent + member + text[last.value_end :]
    line = text[text.rfind("\n", 0, open_at) + 1 :]
    base = line[: len(line) - len(line.lstrip(" \t"))]
    member = f"{name}: {_json_value(value, step, base + unit)}"
    return text[: open_at + 1] + "\n" + base + unit + member + "\n" + base + text[close_at:]


def _json_value(value: Any, step: int | str, indent: str) -> str:
    """``value`` as indented JSON whose continuation lines start at ``indent``.

    A list of scalars stays on one line (``"args": ["-y", "pkg"]``), as hand-written files have it.
    """
    unit = step if isinstance(step, str) else " " * step
    if isinstance(value, Mapping) and value:
        inner = indent + unit
        items = [
            f"{json.dumps(str(k), ensure_ascii=False)}: {_json_value(v, step, inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(inner + item for item in items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in value):
        inner = indent + unit
        return "[\n" + ",\n".join(inner + _json_value(v, step, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _strict_json(text: str, path: Path) -> Any:
    """The JSON document, refusing a duplicate key as patchbay's loader does."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ConfigError(
                    f"the key {json.dumps(key, ensure_ascii=False)} appears twice in one object; "
                    "patchbay does not load this file, so it is not edited: fix it by hand",
                    file=str(path),
                )
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno}; fix it before editing", file=str(path)
        ) from None


def _url_transport(url: str) -> str:
    """``sse`` for a URL whose path ends in ``/sse``, else ``http``: the loader's own inference."""
    from urllib.parse import urlsplit

    try:
        path = urlsplit(url).path.rstrip("/")
    except ValueError:
        return "http"
    return "sse" if path.endswith("/sse") else "http"


def _plain(value: Any) -> Any:
    """A parsed entry (ruamel nodes included) as plain JSON-like data, for comparing and copying."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "ScalarBoolean":  # ruamel's anchored ``&x true`` is an int subclass
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _is_flow(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return bool(fa is not None and fa.flow_style())


def _is_block_mapping(node: Any) -> bool:
    """A non-empty mapping written in block style (one key per line)."""
    return hasattr(node, "lc") and isinstance(node, Mapping) and bool(node) and not _is_flow(node)


def _entry_enabled(entry: Any) -> bool:
    if not isinstance(entry, Mapping):
        return True
    if entry.get("disabled") is True:
        return False
    return entry.get("enabled") is not False


def _json_indent(text: str) -> int | str:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            prefix = line[: len(line) - len(stripped)]
            return "\t" if prefix.startswith("\t") else len(prefix)
    return 2


def _indent_step(doc: Any, lines: list[str]) -> int:  # doc: a ruamel CommentedMap
    """The file's indentation step, from the first nested key; 2 for a new file."""
    if doc is None or not hasattr(doc, "lc"):
        return 2
    for key in doc:
        value: Any = doc[key]
        if _is_block_mapping(value):
            child = next(iter(value))
            return max(1, int(value.lc.key(child)[1]) - int(doc.lc.key(key)[1]))
    return 2


def _child_step(block: Any, lines: list[str]) -> int | None:
    """How far an existing entry indents its keys under its name (block-style entries only)."""
    for name in block:
        entry: Any = block[name]
        if _is_block_mapping(entry):
            child = next(iter(entry))
            return int(entry.lc.key(child)[1]) - int(block.lc.key(name)[1])
    return None


def _flow_set_enabled(line: str, spelled: str, enabled: bool, by_hand: Any) -> str:
    """Toggle inside a one-line flow entry such as ``git: {command: uvx, enabled: false}``."""
    if enabled:
        off = r"(enabled\s*:\s*false|disabled\s*:\s*true)"
        pattern = rf",\s*{off}\b|\b{off}\s*,?\s*"
        new, count = re.subn(pattern, "", line, count=1)
        if count:
            return new
        raise by_hand("the entry is written in flow style")
    close = _closing_brace(line)
    if close is None:
        raise by_hand("the entry spans several lines in flow style")
    value = "true" if spelled == "disabled" else "false"
    inner = line[:close].rstrip()
    sep = "" if inner.endswith("{") else ", "
    return f"{inner}{sep}{spelled}: {value}{line[close:]}"


def _closing_brace(line: str) -> int | None:
    """Index of the ``}`` that closes the first ``{`` on the line (quotes respected)."""
    depth = 0
    quote: str | None = None
    started = False
    for index, char in enumerate(line):
        if quote:
            if char == quote and line[index - 1] != "\\":
                quote = None
        elif char in "\"'" and started:
            quote = char
        elif char == "#" and not started:
            return None
        elif char == "{":
            depth += 1
            started = True
        elif char == "}" and started:
            depth -= 1
            if depth == 0:
                return index
    return None


def emit_entry(name: str, entry: Mapping[str, Any], indent: int, step: int) -> str:
    """A server entry as block YAML at ``indent``; lists of scalars are written inline."""
    pad = " " * indent
    out = [f"{pad}{_scalar(name)}:"]
    if not entry:
        return out[0] + " {}\n"
    out.extend(_emit_mapping(entry, indent + step, step))
    return "\n".join(out) + "\n"


def _emit_mapping(mapping: Mapping[str, Any], indent: int, step: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in mapping.items():
        head = f"{pad}{_scalar(str(key))}:"
        if isinstance(value, Mapping) and value:
            lines.append(head)
            lines.extend(_emit_mapping(value, indent + step, step))
        else:
            lines.append(f"{head} {_inline(value)}")
    return lines


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False) if value else "{}"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) or v is None or isinstance(v, (bool, int, float)) for v in value):
            return "[" + ", ".join(_scalar(v, flow=True) for v in value) + "]"
        return json.dumps(value, ensure_ascii=False)
    return _scalar(value)


def _scalar(value: Any, flow: bool = False) -> str:
    """A scalar as YAML: plain when that reads back as the same string, else double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(":") and _reads_back(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _reads_back(text: str) -> bool:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        loaded = YAML(typ="safe", pure=True).load(f"k: {text}\n")
    except YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k") == text
