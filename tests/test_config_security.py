"""Hostile config files: bounded reading, where a server starts, what an unapproved file may change.

Each test reproduces an attack from issue 12 against the real loader (and, where the outcome is a
process, a real server process) and checks the safe outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from patchbay.config import MAX_FILE_BYTES, Config, load_config
from patchbay.errors import ConfigError

NO_ENV: dict[str, str] = {}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=NO_ENV)
    return caught.value


# ------------------------------------------------------------------------------- bounded reading


def alias_bomb(levels: int) -> str:
    """Nine copies of the previous list per level: 439 bytes expand to 9**8 strings at 7 levels."""
    lines = ["servers:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


MEASURE = """
import re, sys, time
from patchbay.config import load_config
from patchbay.errors import ConfigError
start = time.perf_counter()
try:
    load_config(sys.argv[1], env={})
except ConfigError as exc:
    message = str(exc)
else:
    message = ""
seconds = time.perf_counter() - start
# VmHWM: this program's own peak (ru_maxrss would include the forking parent's size)
with open("/proc/self/status") as status:
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
print(seconds, peak_kb // 1024)
print(message)
"""


@pytest.mark.parametrize("levels", [7, 8])
def test_a_yaml_alias_bomb_fails_fast_and_small(tmp_path: Path, levels: int) -> None:
    """Before the fix the 7-level file (439 bytes) took 22 s and 1.1 GB; 8 levels (495) never ended."""
    bomb = tmp_path / ".patchbay" / "mcp.yaml"
    write(bomb, alias_bomb(levels))
    assert bomb.stat().st_size < 500
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(bomb)], capture_output=True, text=True, timeout=120, check=True
    )
    figures, message = done.stdout.splitlines()[:2]
    seconds, peak_mb = figures.split()
    assert str(bomb) in message
    assert "aliases" in message
    # The bound is 1 s and 50 MB on an idle machine (measured 0.07 s, 34 MB peak for the whole
    # process); the test allows for a machine busy with other work.
    assert float(seconds) < 3
    assert int(peak_mb) < 80


def test_a_file_over_the_size_cap_is_refused_naming_it(tmp_path: Path) -> None:
    big = tmp_path / "mcp.yaml"
    big.write_text("servers: {}\n" + "#" * MAX_FILE_BYTES)
    error = load_error(big)
    assert str(big) in str(error)
    assert "larger than 1,000,000 bytes" in str(error)
    write(big, "servers: {}\n")  # a file under the cap still loads
    assert load_config(big, env=NO_ENV).servers == {}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # YAML flow
        "x:\n" + "".join("  " * level + "- \n" for level in range(1, 500)),  # YAML block lists
        '{"servers": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,  # JSON
        '{"servers": {"a": {"command": "x", "args": ' + "[" * 200 + "]" * 200 + "}}}",
    ],
    ids=["yaml-flow", "yaml-block", "json", "json-args"],
)
def test_deep_nesting_is_a_config_error_naming_the_file(tmp_path: Path, text: str) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(text)
    error = load_error(deep)
    assert str(deep) in str(error)
    assert "nested more than 64 levels deep" in str(error)


def test_deep_nesting_from_code_is_a_config_error() -> None:
    data: dict[str, object] = {"command": "x"}
    for _ in range(5000):
        data = {"a": data}
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        Config.from_dict({"servers": {"s": data}}, source="/somewhere/code.yaml")


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mcp.yaml",
        """
        x-base: &base {command: uvx, env: {A: "1"}}
        servers:
          one: *base
          two: {<<: *base, args: [b]}
        """,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = load_config(path, env=NO_ENV)
    assert config.servers["two"].args == ("b",)
    assert json.dumps(config.servers["one"].env) == '{"A": "1"}'
