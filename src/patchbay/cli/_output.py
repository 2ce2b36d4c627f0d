"""How commands print: JSON or human text, colour only on a terminal, errors as one line on stderr.

Human output goes through rich consoles. rich turns colour off when the stream is not a terminal
and honours ``NO_COLOR``; when piped, lines are not wrapped, so ``grep`` sees whole rows.
``--json`` output is written with ``json.dumps`` directly: stable, no styling, one document.

Nothing a config file or a server wrote reaches the terminal raw: every string and ``Text`` this
class prints passes through ``patchbay._display.printable`` (ESC, CR, bidi and zero-width
characters shown as ``\\x1b``, ``\\r``, ``\\u202e`` ...), table cells on one line each, and
``--json`` output has the invisible characters ``json.dumps`` leaves raw escaped as ``\\uXXXX``.
Callers need not escape; they use ``shell_word``/``command_line`` for command lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# States a server can be in, as shown by `list`/`get`: (symbol, label, style). Unknown states are
# shown as they are. `needs_auth` and `untrusted` come from the auth and trust features.
_STATES: dict[str, tuple[str, str, str]] = {
    "ready": ("✔", "ready", "green"),
    "failed": ("✘", "failed", "red"),
    "disabled": ("⊘", "disabled", "dim"),
    "needs_auth": ("🔑", "needs auth", "yellow"),
    "untrusted": ("⚠", "untrusted", "yellow"),
    "connecting": ("…", "connecting", "cyan"),
    "reconnecting": ("↻", "reconnecting", "yellow"),
    "closed": ("·", "closed", "dim"),
}
# What to do about a state, shown next to it.
STATE_HINTS: dict[str, str] = {
    "needs_auth": "run `patchbay login {name}`",
    "untrusted": "run `patchbay trust {name}` after reviewing its command",
}


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    # Piped: never wrap or cut a row; a terminal keeps rich's own width detection.
    return Console(file=stream, highlight=False, soft_wrap=not terminal, width=None if terminal else 10_000)


class Output:
    """One command's output channel; ``json_mode`` selects machine-readable output."""

    def __init__(self, json_mode: bool = False, verbose: bool = False) -> None:
        self.json_mode = json_mode
        self.verbose = verbose

    @cached_property
    def out(self) -> Console:
        return _console(stderr=False)

    @cached_property
    def err(self) -> Console:
        return _console(stderr=True)

    # -- machine output

    def json(self, data: Any) -> None:
        from .._display import escape_json_text

        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write(escape_json_text(text) + "\n")
        sys.stdout.flush()

    # -- human output

    def print(self, *parts: str | Text, style: str | None = None) -> None:
        """Block output: newlines and tabs kept, every other unsafe character escaped."""
        self.out.print(*(safe_text(p, multiline=True) for p in parts), style=style)

    def note(self, message: str | Text, style: str = "dim") -> None:
        """Secondary information for a person, on stderr (stdout stays clean for pipes)."""
        self.err.print(safe_text(message, style=style, multiline=True))

    def warn(self, message: str | Text) -> None:
        from rich.text import Text

        self.err.print(Text("warning: ", style="yellow bold") + safe_text(message, multiline=True))

    def error(self, message: str | Text) -> None:
        from rich.text import Text

        self.err.print(Text("error: ", style="red bold") + safe_text(message, multiline=True))

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str | Text]]) -> None:
        from rich import box
        from rich.table import Table

        table = Table(
            *headers,
            box=box.SIMPLE_HEAD if self.out.is_terminal else None,
            show_edge=False,
            pad_edge=False,
            header_style="bold",
        )
        for row in rows:
            table.add_row(*(safe_text(cell) for cell in row))
        if self.out.is_terminal:
            self.out.print(table)
            return
        with self.out.capture() as captured:  # piped: rich pads the last column; drop that
            self.out.print(table)
        sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def safe_text(part: str | Text, *, style: str = "", multiline: bool = False) -> Text:
    """``part`` as rich ``Text`` with unsafe characters escaped (``_display.printable``), styles kept.

    rich passes ESC through (it strips only BEL, BS, VT, FF and CR), so this is where server and
    config strings become harmless. A ``Text`` built by a caller keeps its spans, moved to the
    escaped positions.
    """
    from rich.text import Span, Text

    from .._display import printable

    if isinstance(part, str):
        return Text(printable(part, multiline=multiline), style=style)
    plain = part.plain
    if printable(plain, multiline=multiline) == plain:
        return part
    starts = [0]  # starts[i]: where the i-th character of `plain` begins in the escaped text
    pieces = []
    for char in plain:
        piece = printable(char, multiline=multiline)
        pieces.append(piece)
        starts.append(starts[-1] + len(piece))
    escaped = part.copy()
    escaped.plain = "".join(pieces)
    escaped.spans = [Span(starts[s.start], starts[min(s.end, len(plain))], s.style) for s in part.spans]
    return escaped


def state_text(state: str, error: str | None = None, *, name: str = "", with_error: bool = True) -> Text:
    """``✔ ready``, ``✘ failed: <reason>``, ``⊘ disabled``, ``🔑 needs auth`` ... as styled text."""
    from rich.text import Text

    symbol, label, style = _STATES.get(state, ("?", state, ""))
    text = Text(f"{symbol} {label}", style=style)
    hint = STATE_HINTS.get(state)
    if with_error and error and state not in ("ready", "disabled") and not hint:
        text.append(f": {first_line(error)}", style=style)
    if hint:
        text.append(f" ({hint.format(name=name)})", style="dim")
    return text


def first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 template``, ``2 templates``, ``0 templates`` (``many`` for an irregular plural)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
