"""Start-up time of the `patchbay` command, against `python -c pass`, in one interleaved run.

    .venv/bin/python benchmarks/startup.py [--runs 10] [--json results.json]

Each command is run ``--runs`` times, round-robin (one of each per round, so machine noise hits
all of them alike); the report gives the median, min and max wall time per command and the
ratio of each median to the median of ``python -c pass``. ``patchbay tools`` runs on the demo
fleet (examples/fleet.yaml, three SDK servers over stdio): it includes importing the MCP SDK,
starting the three servers concurrently, listing, and closing them.

It also checks, once, that ``--help`` and ``--version`` do not import the MCP SDK
(``PYTHONPROFILEIMPORTTIME``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATCHBAY = str(BIN / "patchbay")
FLEET = str(ROOT / "examples" / "fleet.yaml")


def commands() -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import patchbay'": [sys.executable, "-c", "import patchbay"],
        "patchbay --version": [PATCHBAY, "--version"],
        "patchbay --help": [PATCHBAY, "--help"],
        "patchbay tools (demo fleet, 3 servers)": [PATCHBAY, "-c", FLEET, "tools"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def sdk_imported(argv: list[str], env: dict[str, str]) -> bool:
    proc = subprocess.run(
        argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True, check=False
    )
    modules = re.findall(r"\|\s+(\S+)\s*$", proc.stderr, re.MULTILINE)
    return any(m == "mcp" or m.startswith("mcp.") for m in modules)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", dest="json_path", help="also write the results as JSON here")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        # An empty home: no user config is read; the fleet's servers use this interpreter.
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "XDG_CONFIG_HOME": f"{home}/.config",
            "XDG_DATA_HOME": f"{home}/.local/share",
            "PATCHBAY_PYTHON": sys.executable,
        }
        table = commands()
        for argv in table.values():  # warm the page cache and .pyc files
            run_once(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in table}
        for _ in range(options.runs):
            for name, argv in table.items():
                samples[name].append(run_once(argv, env))
        checks = {
            "--help imports mcp": sdk_imported([PATCHBAY, "--help"], env),
            "--version imports mcp": sdk_imported([PATCHBAY, "--version"], env),
        }

    base = statistics.median(samples["python -c pass"])
    results = []
    print(f"{options.runs} runs each, interleaved; wall time in ms (cpus: {os.cpu_count()})\n")
    print(f"{'command':<42} {'median':>8} {'min':>8} {'max':>8} {'x pass':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        row = {
            "command": name,
            "median_ms": round(median * 1000, 1),
            "min_ms": round(min(values) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            "ratio_to_python_pass": round(median / base, 1),
        }
        results.append(row)
        print(
            f"{name:<42} {row['median_ms']:>8.1f} {row['min_ms']:>8.1f} {row['max_ms']:>8.1f} "
            f"{row['ratio_to_python_pass']:>7.1f}x"
        )
    print()
    for check, value in checks.items():
        print(f"{check}: {'YES (regression)' if value else 'no'}")
    if options.json_path:
        Path(options.json_path).write_text(
            json.dumps({"runs": options.runs, "results": results, **checks}, indent=2)
        )


if __name__ == "__main__":
    main()
