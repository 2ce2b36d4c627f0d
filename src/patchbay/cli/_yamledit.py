"""A YAML config file's text edited in place: only the edited entry's lines change.

ruamel.yaml's round-trip loader finds where each entry starts (line and column), and only those
lines change. Re-emitting the whole document instead (what a round-trip *dump* does) re-indents,
moves end-of-line comments and re-quotes scalars, so a one-line ``disable`` would show up as a
diff of the whole file. Comments, key order, quoting, blank lines and ``${VAR}`` references
outside the edited entry stay byte for byte; nothing expanded is ever written, because the text
written is the text read plus what the user typed.

Rules for comments: ``remove`` takes the entry's lines, the comment lines directly above its
key at the same indentation (its own description), and comments indented inside it; any other
comment stays. ``add`` appends the new entry after the last one. An entry that is a YAML alias of
another (``gamma: *b``) is written out in full (``unalias``) before its anchor's entry is edited,
so an edit changes one server only.

Each edit takes the text and returns the new text; ``ConfigFile`` checks the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._yamlemit import emit_entry

__all__ = ["add", "load", "plain", "remove", "set_enabled", "unalias"]


def load(text: str, path: Path) -> Any:
    """The round-trip document (ruamel nodes, which know their line and column)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt", pure=True).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"invalid YAML{where}; fix it before editing", file=str(path)) from None


def add(text: str, key: str, name: str, entry: Mapping[str, Any], path: Path) -> str:
    """``text`` with ``name: entry`` after the last entry of ``key`` (a block started when missing)."""
    doc, block = _block(text, key, path)
    lines = text.splitlines(keepends=True)
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
            raise _by_hand(path, f"{key} has a value that cannot be extended")
        comment = f"  {match.group(3)}" if match.group(3) else ""
        lines[key_line] = f"{match.group(1)}{comment}\n"
        key_col = doc.lc.key(key)[1]
        lines.insert(key_line + 1, emit_entry(name, entry, key_col + step, step))
    else:
        if not isinstance(block, Mapping):
            raise ConfigError(f"{key} must be a mapping of server names", file=str(path))
        if _is_flow(block):
            raise _by_hand(path, f"{key} is written in flow style ({{...}})")
        names = list(block)
        _, last, col = _entry_span(text, block, names[-1])
        child = _child_step(block, lines) or step
        lines.insert(last + 1, emit_entry(name, entry, col, child))
    return "".join(lines)


def remove(text: str, key: str, name: str, path: Path) -> str:
    """``text`` without the entry ``name`` of ``key``: its lines and its own comments."""
    _, block = _block(text, key, path)
    if _is_flow(block):
        raise _by_hand(path, f"{key} is written in flow style ({{...}})")
    first, last, _ = _entry_span(text, block, name)
    lines = text.splitlines(keepends=True)
    return "".join(lines[:first] + lines[last + 1 :])


def unalias(text: str, key: str, name: str, path: Path) -> str:
    """Write out in full each entry that is the same YAML node as ``name`` (``gamma: *b``).

    An alias is the anchored node itself, so editing the anchor's text edits every alias
    too. Before ``name`` is edited or removed: when ``name`` is the alias, it becomes a flow
    copy of the node; when ``name`` holds the anchor, each sibling alias does.
    """
    _, block = _block(text, key, path)
    node = block[name]
    anchor = getattr(getattr(node, "anchor", None), "value", None)
    if anchor is None:
        return text
    lines = text.splitlines(keepends=True)
    alias = re.compile(rf"^(?P<head>[^#]*?:[ \t]*)\*{re.escape(anchor)}(?P<tail>[ \t]*(?:#.*)?\n?)\Z")

    def alias_line(other: str) -> int | None:
        line = int(block.lc.key(other)[0])
        return line if alias.match(lines[line]) else None

    sharing = [other for other in block if block[other] is node]
    if alias_line(name) is not None:
        targets = [name]
    else:
        targets = [other for other in sharing if other != name and alias_line(other) is not None]
    copy = json.dumps(plain(node), ensure_ascii=False)
    for other in targets:
        line = alias_line(other)
        assert line is not None
        lines[line] = alias.sub(lambda m: f"{m['head']}{copy}{m['tail']}", lines[line])
    return "".join(lines)


def set_enabled(text: str, key: str, name: str, enabled: bool, path: Path) -> str:
    """``text`` with ``name`` enabled (its off switch deleted) or disabled, in the file's spelling.

    ``unalias`` first, so the switch lands on this entry only.
    """
    _, block = _block(text, key, path)
    entry = block[name]
    lines = text.splitlines(keepends=True)
    if _is_flow(block):
        raise _by_hand(path, f"{key} is written in flow style ({{...}})")
    key_line, _ = block.lc.key(name)
    spelled = "disabled" if key == "mcpServers" else "enabled"
    if _is_flow(entry):
        lines[key_line] = _flow_set_enabled(lines[key_line], spelled, enabled, path)
        return "".join(lines)
    for existing in ("enabled", "disabled"):
        if existing in entry:
            line, _ = entry.lc.key(existing)
            if enabled:
                del lines[line]
            else:
                value = "false" if existing == "enabled" else "true"
                lines[line] = re.sub(r"(:\s*)[^\s#]+", rf"\g<1>{value}", lines[line], count=1)
            return "".join(lines)
    _, last, _ = _entry_span(text, block, name)
    first_child = next(iter(entry), None)
    col = entry.lc.key(first_child)[1] if first_child is not None else block.lc.key(name)[1] + 2
    lines.insert(last + 1, f"{' ' * col}{spelled}: {'true' if spelled == 'disabled' else 'false'}\n")
    return "".join(lines)


def plain(value: Any) -> Any:
    """A parsed entry (ruamel nodes included) as plain JSON-like data, for comparing and copying."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "ScalarBoolean":  # ruamel's anchored ``&x true`` is an int subclass
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _block(text: str, key: str, path: Path) -> tuple[Any, Any]:
    """The document and its ``key`` block; a document in flow style is refused."""
    doc = load(text, path)
    if doc is None:
        return None, None
    if not hasattr(doc, "lc"):
        raise ConfigError("the top level must be a mapping", file=str(path))
    if _is_flow(doc):
        raise _by_hand(path, "the file is written in flow style ({...})")
    return doc, doc.get(key)


def _by_hand(path: Path, why: str) -> ConfigError:
    return ConfigError(f"{why}; edit it by hand", file=str(path))


def _entry_span(text: str, block: Any, name: str) -> tuple[int, int, int]:
    """(first line, last line, key column) of an entry in a block mapping, comments included."""
    line, col = block.lc.key(name)
    lines = text.splitlines(keepends=True)
    last = line
    for index in range(line + 1, len(lines)):
        row = lines[index]
        if not row.strip():
            continue
        indent = len(row) - len(row.lstrip(" "))
        if indent > col:
            last = index
        elif not row.lstrip().startswith("#"):
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


def _is_flow(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return bool(fa is not None and fa.flow_style())


def _is_block_mapping(node: Any) -> bool:
    """A non-empty mapping written in block style (one key per line)."""
    return hasattr(node, "lc") and isinstance(node, Mapping) and bool(node) and not _is_flow(node)


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


def _flow_set_enabled(line: str, spelled: str, enabled: bool, path: Path) -> str:
    """Toggle inside a one-line flow entry such as ``git: {command: uvx, enabled: false}``."""
    if enabled:
        off = r"(enabled\s*:\s*false|disabled\s*:\s*true)"
        pattern = rf",\s*{off}\b|\b{off}\s*,?\s*"
        new, count = re.subn(pattern, "", line, count=1)
        if count:
            return new
        raise _by_hand(path, "the entry is written in flow style")
    close = _closing_brace(line)
    if close is None:
        raise _by_hand(path, "the entry spans several lines in flow style")
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
