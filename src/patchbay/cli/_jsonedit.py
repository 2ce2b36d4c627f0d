"""A JSON config file's text edited in place: only the edited entry's text changes.

JSON files (``.mcp.json`` and friends, told apart by content as the loader does) are edited as
text: the decoder finds where each member starts and ends, and only the edited entry's text
changes (an inline ``"args": [...]`` elsewhere stays on its line). A JSON file with a duplicate
key, which the loader refuses, is refused here too rather than rewritten.

Each edit takes the text and returns the new text; ``ConfigFile`` checks the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["add", "is_json", "remove", "set_enabled", "strict_json"]


def add(text: str, key: str, name: str, entry: Mapping[str, Any], path: Path) -> str:
    """``text`` with ``name: entry`` appended to the ``key`` object (created when missing)."""
    step = _indent(text)
    if not text.strip():
        return json.dumps({key: {name: dict(entry)}}, indent=step, ensure_ascii=False) + "\n"
    top, open_at, close_at = _members(text, _start(text))
    if not any(m.key == key for m in top):
        return _insert(text, top, open_at, close_at, key=key, value={name: dict(entry)}, step=step)
    members, open_at, close_at = _block(text, key, path)
    return _insert(text, members, open_at, close_at, key=name, value=dict(entry), step=step)


def remove(text: str, key: str, name: str, path: Path) -> str:
    """``text`` without the entry ``name`` of the ``key`` object."""
    return _remove(text, *_block(text, key, path), name)


def set_enabled(text: str, key: str, name: str, enabled: bool, path: Path) -> str:
    """``text`` with ``name`` enabled (its ``enabled``/``disabled`` key dropped) or disabled."""
    servers, _, _ = _block(text, key, path)
    entry = next(m for m in servers if m.key == name)
    if text[entry.value_start] != "{":
        raise ConfigError("the entry is not an object", file=str(path), path=f"{key}.{name}")
    for spelled in ("enabled", "disabled"):
        members, _, _ = _members(text, entry.value_start)
        found = next((m for m in members if m.key == spelled), None)
        if found is None:
            continue
        if enabled:
            text = _remove(text, *_members(text, entry.value_start), spelled)
        else:
            word = "false" if spelled == "enabled" else "true"
            return text[: found.value_start] + word + text[found.value_end :]
    if not enabled:
        members, open_at, close_at = _members(text, entry.value_start)
        spelled = "disabled" if key == "mcpServers" else "enabled"
        step = _indent(text)
        text = _insert(text, members, open_at, close_at, key=spelled, value=spelled == "disabled", step=step)
    return text


def _block(text: str, key: str, path: Path) -> tuple[list[_Member], int, int]:
    """The members of the top-level ``key`` object, and where its braces are."""
    top, _, _ = _members(text, _start(text))
    member = next((m for m in top if m.key == key), None)
    if member is None or text[member.value_start] != "{":
        raise ConfigError(f"{key} must be an object of server names", file=str(path))
    return _members(text, member.value_start)


class _Member:
    """One ``"key": value`` of a JSON object, by offsets into the text."""

    __slots__ = ("key", "key_start", "value_end", "value_start")

    def __init__(self, key: str, key_start: int, value_start: int, value_end: int) -> None:
        self.key, self.key_start, self.value_start, self.value_end = key, key_start, value_start, value_end


_WS = re.compile(r"[ \t\n\r]*")


def _start(text: str) -> int:
    return _WS.match(text).end()  # type: ignore[union-attr]  # matches the empty string at worst


def _members(text: str, open_at: int) -> tuple[list[_Member], int, int]:
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


def _remove(text: str, members: list[_Member], open_at: int, close_at: int, key: str) -> str:
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


def _insert(
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
        member = f"{name}: {_value(value, step, indent)}"
        return text[: last.value_end] + ",\n" + indent + member + text[last.value_end :]
    line = text[text.rfind("\n", 0, open_at) + 1 :]
    base = line[: len(line) - len(line.lstrip(" \t"))]
    member = f"{name}: {_value(value, step, base + unit)}"
    return text[: open_at + 1] + "\n" + base + unit + member + "\n" + base + text[close_at:]


def _value(value: Any, step: int | str, indent: str) -> str:
    """``value`` as indented JSON whose continuation lines start at ``indent``.

    A list of scalars stays on one line (``"args": ["-y", "pkg"]``), as hand-written files have it.
    """
    unit = step if isinstance(step, str) else " " * step
    if isinstance(value, Mapping) and value:
        inner = indent + unit
        items = [
            f"{json.dumps(str(k), ensure_ascii=False)}: {_value(v, step, inner)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(inner + item for item in items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in value):
        inner = indent + unit
        return "[\n" + ",\n".join(inner + _value(v, step, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def strict_json(text: str, path: Path) -> Any:
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


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _indent(text: str) -> int | str:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            prefix = line[: len(line) - len(stripped)]
            return "\t" if prefix.startswith("\t") else len(prefix)
    return 2
