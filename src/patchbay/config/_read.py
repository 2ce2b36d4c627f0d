"""Reading a config file's bytes into plain data: JSON or YAML, duplicate keys refused, bounded cost.

Every problem becomes a ``ConfigError`` naming the file, and no message quotes the file's content
(a line of it may hold a secret). The public functions here are what another reader of host files
(the CLI's ``patchbay import``) uses to get the same errors as the loader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from patchbay.errors import ConfigError

__all__ = ["MAX_FILE_BYTES", "load_json", "parse_text", "read_text"]

# Bounds on what reading one file may cost, whatever it holds (a project file may be hostile): a
# YAML alias costs nothing to write and a full copy to expand, and the pure-Python YAML reader
# spends about 50 microseconds a node. Within these, any file loads or fails in well under a second
# and a few MB; a real config is a few KB and a few hundred values.
MAX_FILE_BYTES = 1_000_000
"""A config file larger than this is refused."""
_MAX_YAML_NODES = 10_000  # nodes the YAML reader builds (an alias counts once)
_MAX_VALUES = 100_000  # values after aliases are expanded into copies
_MAX_DEPTH = 64  # nesting of mappings and lists


def read_file(path: Path) -> Any:
    """The parsed content of one config file, as plain dicts, lists and scalars, within the size bounds."""
    file = str(path)
    data = _parse_text(read_text(path, limit=MAX_FILE_BYTES), file)
    try:
        return plain(data, budget=Budget())
    except TooBig as exc:
        raise ConfigError(str(exc), file=file) from None


def parse_text(text: str, file: str) -> Any:
    """A config file's text (JSON or YAML, told apart by content) as plain data: dicts, lists, str,
    int, float, bool and None, YAML dates as ISO strings, anchors as independent copies.

    A syntax error or a duplicate key is a ``ConfigError`` naming ``file`` and the line and column,
    never the content, and so is nesting deeper than ``load_config`` allows. Unlike ``load_config``
    this sets no limit on the number of values, so a large host file (``~/.claude.json``) can be read.
    """
    data = _parse_text(text, file)
    try:
        return plain(data)
    except TooBig as exc:  # JSON nested past the limit (YAML stops while reading)
        raise ConfigError(str(exc), file=file) from None


def load_json(text: str) -> tuple[Any, str | None]:
    """``(data, None)`` for strict JSON (duplicate keys refused), else ``(None, problem)``.

    The problem names the line and column and never the content, as the loader's errors do. For
    text that may be JSON with comments, or YAML, first try this and then ``parse_text``.
    """
    data, problem, _ = _load_json(text)
    return data, problem


def read_text(path: Path, *, limit: int | None = None) -> str:
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
    except TooBig as exc:
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


class TooBig(Exception):
    """A file over one of the reading bounds; the message says which, never content."""


@dataclass
class Budget:
    """How many more values a copy may make (aliases expand into copies, so this bounds the cost)."""

    left: int = _MAX_VALUES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TooBig(
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
                raise TooBig(f"more than {_MAX_YAML_NODES:,} nodes; a config file needs far fewer")
            self.depth += 1
            try:
                if self.depth > _MAX_DEPTH:
                    raise TooBig(_TOO_DEEP)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedComposer


def plain(value: Any, *, budget: Budget | None = None, depth: int = 0) -> Any:
    """A deep copy made of dict/list/str/int/float/bool/None only.

    YAML dates become ISO strings, which is what ``protocol: 2026-07-28`` or an env value
    ``DATE: 2024-01-01`` mean; YAML anchors become independent copies. With a ``budget`` the copy
    stops (``TooBig``) past ``_MAX_VALUES`` values; nesting past ``_MAX_DEPTH`` always does.
    """
    if budget is not None:
        budget.spend()
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if depth >= _MAX_DEPTH:
            raise TooBig(_TOO_DEEP)
        if isinstance(value, Mapping):
            return {
                _plain_key(key): plain(item, budget=budget, depth=depth + 1) for key, item in value.items()
            }
        return [plain(item, budget=budget, depth=depth + 1) for item in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return str(value)


def _plain_key(key: Any) -> Any:
    if isinstance(key, (date, datetime, time)):
        return key.isoformat()
    return key
