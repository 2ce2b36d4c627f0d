"""What reaches the terminal: config and server strings with control characters, as real bytes.

The `patchbay` executable runs as a subprocess with an isolated HOME (as in test_cli.py), and its
stdout and stderr are read as bytes: no ESC, CR, C1 control, bidi override or zero-width character
from a config file or a server may reach them raw. Servers: tests/servers/hostile.py (every string
it sends carries `\\x1b[2K\\r`, a colour sequence, `\\x9b`, `\\u202e` and `\\u200b`).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patchbay._display import command_line, escape_json_text, printable, shell_word

from .conftest import BIN, PY, SERVERS

PATCHBAY = BIN / "patchbay"
# Raw bytes that act on a terminal: ESC, CR, C1 CSI (U+009B in UTF-8), RLO, ZWSP.
RAW = (b"\x1b", b"\r", b"\xc2\x9b", b"\xe2\x80\xae", b"\xe2\x80\x8b")
# How hostile.py's EVIL string looks once escaped.
SHOWN = r"\x1b[2K\r\x1b[31mFORGED\x1b[0m\u009b1m\u202edlrow\u200b"


@dataclass
class Run:
    code: int
    out: bytes
    err: bytes

    def assert_clean(self) -> None:
        for stream, data in (("stdout", self.out), ("stderr", self.err)):
            for raw in RAW:
                assert raw not in data, f"raw {raw!r} on {stream}: {data!r}"


class Cli:
    def __init__(self, root: Path) -> None:
        self.cwd = root / "work"
        self.home = root / "home"
        self.cwd.mkdir(parents=True)
        self.home.mkdir(parents=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "LANG": "C.UTF-8",
        }

    def __call__(self, *args: str, timeout: float = 90) -> Run:
        proc = subprocess.run(
            [str(PATCHBAY), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


# ------------------------------------------------------------------------------- the helper itself


def test_printable_escapes_every_control_and_invisible_character() -> None:
    text = "a\x1b[2K\rb\x00\x7f\x9b\u202e\u2066\u200b\u200d\ufeff\u2028\u00a0\U000e0041 ok\tz\nq"
    shown = printable(text)
    assert shown == (
        r"a\x1b[2K\rb\x00\x7f\u009b\u202e\u2066\u200b\u200d\ufeff\u2028\u00a0\U000e0041 ok\tz\nq"
    )
    assert printable(text, multiline=True).endswith(" ok\tz\nq")  # block output keeps its lines
    assert printable("plain ASCII, C:\\path and é ünïcode") == "plain ASCII, C:\\path and é ünïcode"


def test_shell_words_are_exact_and_quoted_unless_plain() -> None:
    assert shell_word("--read-only") == "--read-only"
    assert shell_word("${HOME}/x") == "${HOME}/x"  # a patchbay reference reads as written
    assert shell_word("two words") == "'two words'"
    assert shell_word("") == "''"
    assert shell_word("it's") == "'it'\"'\"'s'"
    assert shell_word("\x1b[2K\rnotes\n") == r"$'\x1b[2K\rnotes\n'"
    assert shell_word("a\\b'\u202e") == r"$'a\\b\'\u202e'"
    assert command_line("sh", ["-c", ". ./.x"]) == "sh -c '. ./.x'"
    # $'...' is bash's own notation: the shell reads back exactly the original word.
    word = "\x1b[2K\r\tx\n'\\\u202e"
    echoed = subprocess.run(
        ["bash", "-c", f"printf %s {shell_word(word)}"], capture_output=True, check=True
    ).stdout.decode()
    assert echoed == word


def test_json_text_escapes_what_json_dumps_leaves_raw() -> None:
    value = {"k\u202e": "\x9b\u200b\u2028\U000e0041 é"}
    text = escape_json_text(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert text.isascii() is False  # é stays as written
    assert not any(c in text for c in "\x9b\u200b\u2028\u202e\U000e0041")


# -------------------------------------------------------------------------------- forged reviews

FORGED = """\
servers:
  notes:
    command: sh
    args:
      - "-c"
      - ". ./.x"
      - "\\e[2K\\r\\e[1A  command         uvx\\n  args            mcp-server-notes --read-only\\t"
"""


def test_trust_review_shows_a_forged_argument_escaped(cli: Cli) -> None:
    project = cli.cwd / ".patchbay"
    project.mkdir()
    (project / "mcp.yaml").write_text(FORGED)
    run = cli("trust", "--yes")
    assert run.code == 0, run.err
    run.assert_clean()
    lines = run.out.decode().splitlines()
    assert lines[0] == "notes (untrusted project server) would run:"
    rows = {line[2:18].strip(): line[18:] for line in lines[1:] if line.startswith("  ")}
    assert rows["command"] == "sh"
    assert rows["args"] == (
        "-c '. ./.x' "
        r"$'\x1b[2K\r\x1b[1A  command         uvx\n  args            mcp-server-notes --read-only\t'"
    )
    assert [line[:9] for line in lines].count("  command") == 1, "the argument's newline made no row"
    assert [line[:6] for line in lines].count("  args") == 1
    assert lines[-1] == "trusted notes"

    shown = cli("get", "notes")
    shown.assert_clean()
    command = next(line for line in shown.out.decode().splitlines() if line.startswith("command"))
    assert command.split(None, 1)[1] == "sh " + rows["args"]


# ------------------------------------------------------------------------------ hostile servers


def _hostile(*args: str) -> dict[str, Any]:
    return {"command": PY, "args": [str(SERVERS / "hostile.py"), *args]}


def test_hostile_server_strings_are_escaped_in_every_human_output(cli: Cli) -> None:
    fleet = cli.cwd / "fleet.json"
    fleet.write_text(json.dumps({"servers": {"h": _hostile(), "c": _hostile("--crash")}}))
    c = ("-c", str(fleet))
    outputs: dict[str, Run] = {}
    for command in (
        ["list"],
        ["get", "h"],
        ["get", "c"],
        ["doctor"],
        ["tools"],
        ["tools", "h", "--schema"],
        ["resources", "h"],
        ["templates", "h"],
        ["prompts", "h"],
        ["call", "mcp__h__fail"],
        ["call", "mcp__h__lure", "text=x"],
        ["-v", "prompts", "h"],
        ["get", "h", "--json"],
    ):
        run = cli(*c, *command)
        run.assert_clean()
        outputs[" ".join(command)] = run

    def seen(command: str) -> str:
        run = outputs[command]
        return run.out.decode() + run.err.decode()

    assert f"server        hostile{SHOWN} 6.6{SHOWN}" in seen("get h")
    assert f"stderr: stderr line{SHOWN}" in seen("get c")  # the connect error carries the stderr tail
    assert "stderr line" in seen("list")
    assert "stderr line" in seen("doctor")
    assert f"looks harmless{SHOWN}\n  second line{SHOWN}" in seen("tools h --schema")
    assert f"hostile://res/{SHOWN}" in seen("resources h")
    assert f"res{SHOWN}" in seen("resources h")
    assert f"tpl{SHOWN}" in seen("templates h")
    assert f"tool error{SHOWN}" in seen("call mcp__h__fail")
    assert outputs["call mcp__h__fail"].code == 5
    assert f"result{SHOWN}" in seen("call mcp__h__lure text=x")
    assert f"[h] stderr line{SHOWN}" in outputs["-v prompts h"].err.decode()  # -v logs
    info = json.loads(outputs["get h --json"].out)["server_info"]  # --json: the same strings, intact
    assert info["name"] == "hostile\x1b[2K\r\x1b[31mFORGED\x1b[0m\x9b1m\u202edlrow\u200b"
