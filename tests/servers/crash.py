"""A "server" that fails before speaking MCP: writes a message to stderr and exits with code 3.

    python tests/servers/crash.py [--code N] [--message TEXT] [--delay SECONDS] [--traceback]

Defaults: message "boom: missing API key", exit code 3, no delay. It never reads stdin or writes
stdout, and imports nothing from mcp, so it fails in milliseconds. ``--traceback`` dies the way a
broken Python server does instead: an uncaught ``AttributeError`` (exit code 1), whose traceback
has caret lines and a trailing blank line, after the message.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--code", type=int, default=3, help="exit code (default 3)")
    parser.add_argument("--message", default="boom: missing API key", help="text written to stderr")
    parser.add_argument("--delay", type=float, default=0.0, help="sleep this long before failing")
    parser.add_argument("--traceback", action="store_true", help="die of an uncaught exception")
    args = parser.parse_args()
    if args.delay > 0:
        time.sleep(args.delay)
    print(args.message, file=sys.stderr, flush=True)
    if args.traceback:
        _register_handlers(_Server())
    sys.exit(args.code)


class _Server:
    name = "crash"


def _register_handlers(server: _Server) -> None:
    handlers = {"resources": server.list_resources()}  # type: ignore[attr-defined]
    print(handlers, file=sys.stderr)


if __name__ == "__main__":
    main()
