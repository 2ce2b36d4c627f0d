"""The ``${VAR}`` grammar and its one reader: expansion and ``references()`` share ``_pieces``.

``${VAR}`` and ``${VAR:-default}`` are references, ``$$`` is a literal ``$``, any other ``$`` is
literal. Errors name the variable, never a value (values are often secrets).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["PYTHON_VARIABLE", "ExpansionError", "expand", "expand_home", "references"]

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ExpansionError(Exception):
    """A reference that cannot be expanded; the message names the variable, never a value."""


@dataclass(frozen=True, slots=True)
class _Reference:
    """One well-formed ``${name}`` or ``${name:-default}``."""

    name: str
    default: str | None  # None: written without ``:-``


def _pieces(value: str) -> Iterator[str | _Reference | ExpansionError]:
    """``value`` split by the reference grammar: literal text, references, and malformed references.

    The one reader of the grammar, shared by expansion and ``references()`` so the two cannot
    disagree: ``$$`` is a literal ``$``, ``${`` starts a reference that ends at the next ``}``, any
    other ``$`` is literal. A malformed reference is yielded as the error it would raise; scanning
    goes on after its ``}`` (an unterminated ``${`` ends the value).
    """
    i = 0
    while True:
        j = value.find("$", i)
        if j < 0:
            if i < len(value):
                yield value[i:]
            return
        if j > i:
            yield value[i:j]
        following = value[j + 1 : j + 2]
        if following == "$":
            yield "$"
            i = j + 2
        elif following == "{":
            end = value.find("}", j + 2)
            if end < 0:
                yield ExpansionError("unterminated ${ (write $$ for a literal $)")
                return
            name, has_default, default = value[j + 2 : end].partition(":-")
            if not _VAR_NAME.match(name) or "${" in default:
                yield ExpansionError(
                    "malformed variable reference; expected ${NAME} or ${NAME:-default}"
                    " (write $$ for a literal $)"
                )
            else:
                yield _Reference(name, default if has_default else None)
            i = end + 1
        else:
            yield "$"
            i = j + 1


PYTHON_VARIABLE = "PATCHBAY_PYTHON"


def _builtin(name: str) -> str | None:
    """The value of a variable patchbay always defines when the environment leaves it unset or empty."""
    if name == PYTHON_VARIABLE:
        return sys.executable or None  # empty or None when the interpreter cannot tell
    return None


def references(value: str, *, defaulted: bool = True) -> list[str]:
    """The variables ``value`` refers to, each once, in the order first written.

    Exactly the references expansion would look up: ``$${X}`` (a literal ``${X}``) refers to
    nothing, ``$$${X}`` to ``X``; malformed references are skipped. With ``defaulted=False`` only
    the variables whose absence would fail the server (written without ``:-default``, and not
    ``${PATCHBAY_PYTHON}``, which is never absent) count.
    """
    if "$" not in value:
        return []
    names = (
        piece.name
        for piece in _pieces(value)
        if isinstance(piece, _Reference)
        and (defaulted or (piece.default is None and _builtin(piece.name) is None))
    )
    return list(dict.fromkeys(names))


def expand(value: str, env: Mapping[str, str]) -> str:
    """Expand ``${VAR}``, ``${VAR:-default}`` and ``$$``; any other ``$`` is literal.

    Like the shell, ``:-`` uses the default when the variable is unset *or empty*. The default is
    literal text: no nested references. ``PATCHBAY_PYTHON`` unset or empty is this interpreter.
    """
    if "$" not in value:
        return value
    out: list[str] = []
    for piece in _pieces(value):
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, ExpansionError):
            raise piece
        else:
            current = env.get(piece.name)
            if not current:
                current = _builtin(piece.name) or current
            if piece.default is not None:
                out.append(current or piece.default)
            elif current is None:
                raise ExpansionError(f"environment variable {piece.name} is not set")
            else:
                out.append(current)
    return "".join(out)


def expand_home(value: str, env: Mapping[str, str]) -> str:
    """``~`` and ``~/x`` use ``HOME`` from ``env`` when it has one; ``~user`` asks the OS."""
    if not value.startswith("~"):
        return value
    if value == "~" or value[1] in "/\\":
        home = env.get("HOME") or os.path.expanduser("~")
        return home + value[1:]
    return os.path.expanduser(value)
