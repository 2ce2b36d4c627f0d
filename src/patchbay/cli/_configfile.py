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

JSON files (``.mcp.json`` and friends, told apart by content as the loader does) are rewritten
through ``json`` with their key order and indentation kept; JSON has no comments to lose.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError

__all__ = ["ConfigFile", "emit_entry"]

_PLAIN = re.compile(r"[A-Za-z0-9_./@~+-][A-Za-z0-9_./@~+=:-]*\Z")


class ConfigFile:
    """One config file's text and the edits made to it; ``save()`` writes it atomically."""

    def __init__(self, path: Path, text: str, *, exists: bool) -> None:
        self.path = path
        self.text = text
        self.exists = exists
        stripped = text.lstrip()
        self.kind: Literal["yaml", "json"] = "json" if stripped.startswith("{") and _is_json(text) else "yaml"

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
            return cls(path, raw.decode("utf-8-sig"), exists=True)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text (bad byte at offset {exc.start})", file=str(path)) from None

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
            return json.loads(self.text)
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
        """Append an entry; in an ``mcpServers`` block ``transport`` is spelled ``type``, as there."""
        if name in self.servers():
            raise ValueError(f"a server named {name!r} already exists in {self.path}")
        if self.server_key() == "mcpServers" and "transport" in entry and "type" not in entry:
            entry = {("type" if key == "transport" else key): value for key, value in entry.items()}
        if self.kind == "json":
            data = json.loads(self.text) if self.text.strip() else {}
            data.setdefault(self.server_key(), {})[name] = dict(entry)
            self._set_json(data)
        else:
            self._yaml_add(name, entry)
        self._check(lambda servers: name in servers)

    def remove(self, name: str) -> None:
        key = self._key_of(name)
        if self.kind == "json":
            data = json.loads(self.text)
            del data[key][name]
            self._set_json(data)
        else:
            self._yaml_remove(key, name)
        self._check(lambda servers: name not in servers)

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
        if self.kind == "json":
            data = json.loads(self.text)
            target = data[key][name]
            target.pop("enabled", None)
            target.pop("disabled", None)
            if not enabled and key == "mcpServers":
                target["disabled"] = True
            elif not enabled:
                target["enabled"] = False
            self._set_json(data)
        else:
            self._yaml_set_enabled(key, name, entry, enabled)
        self._check(lambda servers: _entry_enabled(servers[name]) == enabled)
        return True

    def save(self) -> None:
        """Write atomically (temp file + rename), keeping the file's permissions."""
        import tempfile  # ~1.5 ms; `patchbay --help` imports this module but never saves

        self.path.parent.mkdir(parents=True, exist_ok=True)
        mode = self.path.stat().st_mode & 0o7777 if self.exists else None
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(self.text)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.exists = True

    # -------------------------------------------------------------------------------- JSON

    def _set_json(self, data: Any) -> None:
        indent = _json_indent(self.text)
        text = json.dumps(data, indent=indent, ensure_ascii=False)
        self.text = text + "\n" if self.text.endswith("\n") or not self.text else text

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

    def _check(self, holds: Any) -> None:
        """The edited text must parse and show the change; otherwise nothing is written."""
        try:
            servers = self.servers()
        except (ConfigError, ValueError) as exc:
            raise ConfigError(
                f"the edit would break the file ({exc}); nothing was written", file=str(self.path)
            ) from None
        if not holds(servers):
            raise ConfigError(
                "the edit could not be applied safely; nothing was written", file=str(self.path)
            )


# ------------------------------------------------------------------------------------ helpers


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
