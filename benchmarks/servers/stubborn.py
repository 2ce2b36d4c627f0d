"""A server that ignores stdin EOF and SIGTERM, with a grandchild that ignores SIGTERM too.

    python benchmarks/servers/stubborn.py --tag TAG

Only SIGKILL to the whole process group stops both; a client that waits for a polite exit pays
its full grace period, and one that signals only the direct child leaves the grandchild behind.
Both processes carry TAG in their argv, so the harness counts what is left with psutil.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from mcp.server.mcpserver import MCPServer

_HELPER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="stubborn")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen(
        [sys.executable, "-c", _HELPER, f"stubborn-helper={args.tag}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = MCPServer(args.name, log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    server.run("stdio")
    # stdin is closed: a polite server would exit here; this one lingers.
    time.sleep(600)


if __name__ == "__main__":
    main()
