"""Showing untrusted text to a person: control and invisible characters escaped, shell words quoted.

Strings from a config file (a cloned repository's project file) or from a server (names, versions,
descriptions, URIs, error messages, stderr) can hold ESC sequences, carriage returns, bidi
overrides and zero-width characters. Printed raw they rewrite what the terminal shows: an
approval screen for ``sh -c '. ./.x'`` can be made to read ``uvx mcp-server-notes``. Every human
-readable output goes through ``printable`` (text) or ``shell_word`` (one command-line word), so
such characters appear as visible escapes (``\\x1b``, ``\\r``, ``\\n``, ``\\u202e``) instead.

A leaf module (``re`` and ``unicodedata`` only), so the CLI can use it before anything heavy loads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["command_line", "escape_json_text", "is_unsafe_char", "printable", "shell_word"]

# Named escapes; every other unsafe character is \xHH (ASCII), \uHHHH or \UHHHHHHHH.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Unicode categories that are never shown as themselves: controls (C0, DEL, C1), format characters
# (bidi embeddings/overrides/isolates, zero-width space/joiners, BOM, word joiner, soft hyphen, tag
# characters), surrogates (not even encodable), line and paragraph separators, and every space
# but the ASCII one (NBSP and friends look like a space but are not one to a shell).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})
# The fast path: text made only of these needs no look at each character.
_SAFE_ASCII = re.compile(r"[\x20-\x7e]*\Z")
# A word a POSIX shell reads as itself (shlex's own set), shown without quotes.
# A ``${VAR}`` / ``${VAR:-default}`` reference counts as plain: patchbay expands it, as a shell would.
_PLAIN_WORD = re.compile(
    r"(?:[A-Za-z0-9_@%+=:,./-]|\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[A-Za-z0-9_@%+=:,./-]*)?\})+\Z"
)


def is_unsafe_char(char: str) -> bool:
    """True for a character that must not reach a terminal as itself (see ``_UNSAFE_CATEGORIES``)."""
    return char != " " and unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: object, *, multiline: bool = False) -> str:
    """``text`` with every unsafe character as a visible escape; safe for any terminal.

    Single-line by default: a newline shows as ``\\n`` (names, arguments, table cells, one-line
    errors). ``multiline=True`` keeps newlines and tabs for block output (a tool's text result, a
    description shown in full); carriage returns and escapes are still escaped. Backslashes are
    kept as they are, so Windows paths stay readable; ``shell_word`` is the unambiguous form.
    """
    value = text if isinstance(text, str) else str(text)
    if _SAFE_ASCII.match(value):
        return value
    keep = "\n\t" if multiline else ""
    return "".join(_escape(c) if c not in keep and is_unsafe_char(c) else c for c in value)


def shell_word(word: object) -> str:
    """One command-line word as a POSIX shell would need it typed: exact and copy-pasteable.

    A plain word stays bare (``--read-only``); any other word is quoted like ``shlex.quote``
    (``'two words'``, ``''``); a word holding a control or invisible character is written in
    ANSI-C quoting with each such character escaped (``$'\\x1b[2K\\rnotes'``), so the reader sees
    every character that will be passed and none of them can act on the terminal.
    """
    value = word if isinstance(word, str) else str(word)
    if _PLAIN_WORD.match(value):
        return value
    if not any(is_unsafe_char(c) for c in value):
        return "'" + value.replace("'", "'\"'\"'") + "'"
    body = "".join(
        "\\\\" if c == "\\" else "\\'" if c == "'" else _escape(c) if is_unsafe_char(c) else c for c in value
    )
    return f"$'{body}'"


def command_line(command: object, args: Iterable[object] = ()) -> str:
    """``command arg ...`` with each word from ``shell_word``: what would be executed, exactly."""
    return " ".join(shell_word(word) for word in (command, *args))


# Candidates in JSON text: DEL and everything past ASCII (json.dumps escapes C0 itself).
_NON_ASCII = re.compile(r"[^\x00-\x7e]")


def escape_json_text(text: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` wrote it) with invisible characters escaped.

    ``json.dumps`` escapes C0 controls already; C1 controls, bidi and zero-width characters and
    line separators it writes raw. Those can only occur inside JSON strings, where ``\\uXXXX`` means
    the same character, so the document is unchanged for a parser and harmless for a terminal.
    """

    def one(match: re.Match[str]) -> str:
        char = match.group()
        if not is_unsafe_char(char):
            return char
        code = ord(char)
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return text if text.isascii() and "\x7f" not in text else _NON_ASCII.sub(one, text)
