"""The gateway's own messages to the operator: stderr only (on stdio, stdout is the protocol).

Messages carry text from config files and servers (names, error messages), so they are escaped
before they reach a terminal.
"""

from __future__ import annotations

import sys

from .._display import printable

__all__ = ["log_to_stderr"]


def log_to_stderr(message: str) -> None:
    print(f"patchbay serve: {printable(message)}", file=sys.stderr, flush=True)
