"""A "server" that fails before speaking MCP: writes a message to stderr and exits with code 3.

    python tests/servers/crash.py [--code N] [--message TEXT] [--delay SECONDS]

Defaults: message "boom: missing API key", exit code 3, no delay. It never reads stdin or writes
stdout, and imports nothing from mcp, so it fails in milliseconds.
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
    args = parser.parse_args()
    if args.delay > 0:
        time.sleep(args.delay)
    print(args.message, file=sys.stderr, flush=True)
    sys.exit(args.code)


if __name__ == "__main__":
    main()
