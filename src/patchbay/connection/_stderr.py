"""What a server that failed said on its way out: the line of its stderr that names the cause."""

from __future__ import annotations

import re

from ..transports import ManagedTransport

__all__ = ["STDERR_LINES", "stderr_reason", "with_stderr"]

STDERR_LINES = 20
"""How many of a failed server's last stderr lines its error message carries."""
_CARETS = re.compile(r"[\s^~]*")
_TRACEBACK_HEAD = "Traceback (most recent call last):"
_STACK_NOISE = re.compile(r"\s+at \S|Node\.js v\d")
"""A JavaScript stack frame below its error line, or the Node.js version it prints last."""


def stderr_reason(tail: str) -> str:
    """The line of a server's stderr that says what happened.

    For a Python traceback that is its exception line (``AttributeError: ...``), the first
    unindented line after the last traceback's frames; otherwise the last line that is neither
    blank, only carets (``^^^^``, ``~~~``), nor a JavaScript stack frame. Lines are split on
    ``\n`` only: a ``\r`` or ``\u2028`` inside a line (a terminal trick) must not choose the reason.
    """
    lines = [line.rstrip() for line in tail.split("\n")]
    heads = [i for i, line in enumerate(lines) if line.strip().endswith(_TRACEBACK_HEAD)]
    if heads:
        # An ExceptionGroup's inner tracebacks are drawn behind a margin ("    | "): the same margin
        # as their "Traceback" line.
        margin = lines[heads[-1]].split(_TRACEBACK_HEAD)[0]
        for line in lines[heads[-1] + 1 :]:
            text = line.removeprefix(margin)
            if text and not text[:1].isspace() and not _CARETS.fullmatch(text):
                return text.strip()
    for line in reversed(lines):
        if not _CARETS.fullmatch(line) and not _STACK_NOISE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def with_stderr(message: str, transport: ManagedTransport) -> str:
    """``message`` plus what the transport knows: the exit, the HTTP error, the stderr tail."""
    reason = transport.end_reason
    if reason and reason not in message and "exited" in reason:
        message = f"{message} (server {reason})"
    http_error = transport.http_error
    if http_error and http_error not in message:
        message = f"{message} ({http_error})"
    tail = transport.stderr_tail(STDERR_LINES).strip("\n")
    if not tail:
        return message
    # The first line says what happened (the tail's first line is "Traceback ..." or carets);
    # the whole tail follows it for `get` and `doctor`.
    reason = stderr_reason(tail)
    return f"{message}; stderr: {reason}" + (f"\n{tail}" if tail != reason else "")
