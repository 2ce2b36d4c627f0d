"""A server entry written as block YAML, the way a person would type it.

Used by ``add`` on a YAML file; scalars stay plain when they read back as the same string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["emit_entry"]

_PLAIN = re.compile(r"[A-Za-z0-9_./@~+-][A-Za-z0-9_./@~+=:-]*\Z")


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
