"""A stdio server with a grandchild, and options to misbehave on shutdown, for process-cleanup tests.

    python tests/servers/spawner.py --tag TAG [--ignore-sigterm] [--ignore-eof]

At start-up it spawns a helper process that sleeps for 600 s, in the server's own process group, with
argv `[python, -c, CODE, patchbay-spawner-helper=TAG, MODE]`. Find it with psutil by looking for
`f"patchbay-spawner-helper={TAG}"` in `cmdline()` (the server's own argv has `--tag TAG`, so search for
the whole marker, not the bare tag). The helper's stdio is /dev/null, so it never holds the server's pipes.

* `--ignore-sigterm`: the server and the helper both ignore SIGTERM (only SIGKILL stops them).
* `--ignore-eof`: the server keeps running for 600 s after stdin closes instead of exiting.
* `--setsid`: the helper starts in a session of its own (``setsid()``), so it is outside the
  server's process group, as a daemonising helper is: signalling the group does not reach it.

Without either flag the server exits on stdin EOF and the helper is orphaned: only a host that signals
the whole process group cleans it up.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from mcp.server.mcpserver import MCPServer

HELPER_MARKER = "patchbay-spawner-helper"
_HELPER_CODE = """
import signal, sys, time
if sys.argv[2] == "ignore-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(600)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="untagged", help="marker put in the helper's argv")
    parser.add_argument("--ignore-sigterm", action="store_true", help="server and helper ignore SIGTERM")
    parser.add_argument("--ignore-eof", action="store_true", help="keep running after stdin closes")
    parser.add_argument("--setsid", action="store_true", help="the helper leaves the process group")
    args = parser.parse_args()

    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    helper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _HELPER_CODE,
            f"{HELPER_MARKER}={args.tag}",
            "ignore-sigterm" if args.ignore_sigterm else "default-sigterm",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=args.setsid,
    )
    print(f"spawner: pid {os.getpid()}, helper pid {helper.pid}, tag {args.tag}", file=sys.stderr, flush=True)

    mcp = MCPServer("spawner", instructions="Has a grandchild process; see child_pid().")

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    def child_pid() -> int:
        """The helper (grandchild) process id."""
        return helper.pid

    @mcp.tool()
    def pid() -> int:
        """The server's own process id."""
        return os.getpid()

    mcp.run("stdio")
    if args.ignore_eof:
        print("spawner: stdin closed; ignoring it", file=sys.stderr, flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main()
