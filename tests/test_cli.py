"""The installed `patchbay` executable, run as a subprocess against real servers.

HOME and the XDG directories point into tmp_path, so the real user config, trust store and
tokens are never read or touched; `--config` (or a project file in the test's cwd) names the
fleet. Servers: tests/servers/echo.py and crash.py, the demo fleet in examples/, and the PyPI
reference server mcp-server-time.
"""

from __future__ import annotations

import http.server
import json
import os
import pty
import re
import select
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patchbay.config import load_config

from .conftest import BIN, EXAMPLES, PY, SERVERS

PATCHBAY = BIN / "patchbay"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9]*;)*(?:3[0-8]|9[0-7])(?:;[0-9]*)*m")  # SGR foreground colours


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `patchbay` with an isolated home in ``cwd``."""

    def __init__(self, root: Path) -> None:
        self.cwd = root / "work"
        self.home = root / "home"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "PATCHBAY_PYTHON": PY,
            "LANG": "C.UTF-8",
        }

    def __call__(self, *args: str, timeout: float = 90, **env: str) -> Run:
        proc = subprocess.run(
            [str(PATCHBAY), *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def fleet(self, name: str = "fleet.yaml", **servers: dict[str, Any]) -> str:
        path = self.cwd / name
        path.write_text(json.dumps({"servers": servers}, indent=2))
        return str(path)

    @property
    def user_file(self) -> Path:
        return self.home / ".config" / "patchbay" / "mcp.yaml"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def echo(*args: str, **extra: Any) -> dict[str, Any]:
    """tests/servers/echo.py: the SDK server with every feature (about 0.7 s to start)."""
    return {"command": PY, "args": [str(SERVERS / "echo.py"), *args], **extra}


def raw(**extra: Any) -> dict[str, Any]:
    """tests/servers/raw_echo.py: tools `echo` and `pid`, no SDK, starts in ~20 ms (keeps tests fast)."""
    return {"command": PY, "args": [str(SERVERS / "raw_echo.py")], **extra}


# ------------------------------------------------------------------------------- start-up, global


def test_help_and_version_do_not_import_the_sdk(cli: Cli) -> None:
    for args in (["--help"], ["--version"], []):
        run = cli(*args, PYTHONPROFILEIMPORTTIME="1")
        imported = re.findall(r"\|\s+(\S+)\s*$", run.err, re.MULTILINE)
        assert "patchbay.cli.app" in imported
        assert not [m for m in imported if m == "mcp" or m.startswith(("mcp.", "mcp_types", "httpx2"))]
        assert not {"base64", "tempfile"} & set(imported)  # ~2.5 ms that only saving files needs
        if args == ["--version"]:
            assert run.code == 0
            assert run.out.strip() == "patchbay 0.1.0"
        elif args == ["--help"]:
            assert run.code == 0
            for command in ("list", "get", "tools", "call", "add", "import", "doctor"):
                assert re.search(rf"\b{command}\b", run.out)
    bare = cli()  # no command: the help, as a usage outcome (exit 1), and no error line
    assert bare.code == 1
    assert "Usage" in bare.out
    assert "error" not in bare.err


def test_colour_only_on_a_terminal_and_never_with_no_color(cli: Cli) -> None:
    piped = cli("call", "nope")
    assert piped.code == 1
    assert "error:" in piped.err
    assert not ANSI.search(piped.err)
    terminal = _in_pty(cli, ["call", "nope"])
    assert COLOUR.search(terminal)
    plain = _in_pty(cli, ["call", "nope"], NO_COLOR="1")
    assert "error:" in plain
    assert not COLOUR.search(plain)  # bold may stay: NO_COLOR is about colour


def test_config_error_exit_2_with_json_error_object(cli: Cli) -> None:
    bad = cli.cwd / "bad.yaml"
    bad.write_text("servers:\n  x: {command: 3}\n")
    run = cli("-c", str(bad), "list")
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert str(bad) in run.err
    assert "servers.x.command" in run.err
    as_json = cli("--json", "-c", str(bad), "list")
    assert as_json.code == 2
    error = as_json.json["error"]
    assert error["type"] == "ConfigError"
    assert error["exit_code"] == 2
    assert error["file"] == str(bad)
    assert error["path"] == "servers.x.command"


class _Deny(http.server.BaseHTTPRequestHandler):
    """Answers every request with 401, like a protected MCP endpoint without credentials."""

    def _deny(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="mcp"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = _deny

    def log_message(self, *_args: Any) -> None:
        pass


def test_authorisation_required_exits_3(cli: Cli) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # legacy: the initialize POST gets the 401 (see the closing note on the 2026 discover probe).
        url = f"http://127.0.0.1:{server.server_address[1]}/mcp"
        fleet = cli.fleet(remote={"url": url, "protocol": "legacy"})
        listed = cli("-c", fleet, "list")
        assert listed.code == 0
        assert re.search(r"^remote\s+http\s+🔑 needs auth \(run `patchbay login remote`\)", listed.out, re.M)
        called = cli("--json", "-c", fleet, "call", "mcp__remote__anything")
        assert called.code == 3
        assert called.json["error"]["state"] == "needs_auth"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_config_is_repeatable_and_later_files_win(cli: Cli) -> None:
    first = cli.fleet("a.yaml", x=raw(), y={**raw(), "enabled": False})
    second = cli.fleet("b.yaml", x={**raw(), "enabled": False})
    rows = cli("--json", "-c", first, "-c", second, "list").json["servers"]
    assert [(r["name"], r["state"], r["source"]) for r in rows] == [
        ("x", "disabled", second),
        ("y", "disabled", first),
    ]


def test_usage_errors_exit_1(cli: Cli) -> None:
    assert cli("frobnicate").code == 1
    assert cli("list", "--no-such-flag").code == 1
    fleet = cli.fleet(echo=echo())
    unknown_server = cli("-c", fleet, "tools", "nosuch")
    assert unknown_server.code == 1
    assert "no server named 'nosuch'" in unknown_server.err


# ------------------------------------------------------------------------------ list, get, listings


def test_list_demo_fleet(cli: Cli) -> None:
    fleet = str(EXAMPLES / "fleet.yaml")
    run = cli("--json", "-c", fleet, "list")
    assert run.code == 0, run.err
    rows = {row["name"]: row for row in run.json["servers"]}
    assert list(rows) == ["notes", "clock", "calculator"]
    for row in rows.values():
        assert row["state"] == "ready"
        assert row["transport"] == "stdio"
        assert row["connect_ms"] > 0
        assert row["source"] == fleet
        assert set(row) >= {"tools", "resources", "resource_templates", "prompts", "error", "layer"}
    assert rows["clock"]["tools"] == 2
    assert rows["notes"]["prompts"] == 2


def test_list_shows_ready_failed_and_disabled_servers(cli: Cli) -> None:
    fleet = cli.fleet(
        fast=raw(),
        broken={"command": PY, "args": [str(SERVERS / "crash.py")]},
        off={**echo(), "enabled": False},
    )
    run = cli("-c", fleet, "list")
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].split() == ["NAME", "TRANSPORT", "STATE", "TOOLS", "RESOURCES", "PROMPTS", "CONNECT"]
    assert re.search(r"^fast\s+stdio\s+✔ ready\s+2\s+0\s+0\s+\d+ ms", run.out, re.MULTILINE)
    assert re.search(r"^broken\s+stdio\s+✘ failed: .*boom: missing API key", run.out, re.MULTILINE)
    assert re.search(r"^off\s+stdio\s+⊘ disabled", run.out, re.MULTILINE)


def test_get_shows_names_never_values(cli: Cli) -> None:
    fleet = cli.fleet(echo=raw(env={"SECRET_TOKEN": "s3cr3t-value", "OTHER": "${HOME}"}))
    run = cli("-c", fleet, "get", "echo")
    assert run.code == 0, run.err
    assert "s3cr3t-value" not in run.out
    assert re.search(r"^env\s+OTHER, SECRET_TOKEN$", run.out, re.MULTILINE)
    assert re.search(r"^state\s+✔ ready", run.out, re.MULTILINE)
    assert re.search(r"^protocol\s+2025-11-25", run.out, re.MULTILINE)
    assert re.search(r"^server\s+raw-echo 1.0", run.out, re.MULTILINE)
    detail = cli("-c", fleet, "get", "echo", "--json").json
    assert detail["env"] == ["OTHER", "SECRET_TOKEN"]
    assert detail["command"] == PY
    assert detail["server_info"] == {"name": "raw-echo", "version": "1.0"}
    assert "tools" in detail["capabilities"]
    assert detail["tools"] == 2
    assert set(detail["phases"]) == {"spawn_ms", "handshake_ms", "listing_ms"}
    assert "s3cr3t-value" not in json.dumps(detail)


def test_one_server_commands_start_only_that_server(cli: Cli) -> None:
    marker = cli.cwd / "other-started"
    fleet = cli.fleet(
        echo=raw(),
        other={"command": "sh", "args": ["-c", f"touch {marker}; exec {PY} {SERVERS / 'raw_echo.py'}"]},
    )
    tools = cli("--json", "-c", fleet, "tools", "echo")
    assert tools.code == 0, tools.err
    names = {tool["name"] for tool in tools.json["tools"]}
    assert names == {"mcp__echo__echo", "mcp__echo__pid"}
    tool = next(t for t in tools.json["tools"] if t["name"] == "mcp__echo__echo")
    assert set(tool) == {
        "name",
        "server",
        "original_name",
        "title",
        "description",
        "input_schema",
        "output_schema",
        "annotations",
        "icons",
        "execution",
        "meta",
    }
    assert tools.json["errors"] == []
    assert cli("-c", fleet, "call", "mcp__echo__echo", "text=hi").out == "hi\n"
    assert cli("-c", fleet, "call", "echo", "pid").code == 0  # SERVER TOOL
    assert not marker.exists()
    # A bare original name cannot be placed by prefix: the whole fleet starts (and it is ambiguous).
    assert cli("-c", fleet, "call", "pid").code == 1
    assert marker.exists()


def test_tools_text_and_schema(cli: Cli) -> None:
    fleet = cli.fleet(fast=raw())
    run = cli("-c", fleet, "tools")
    assert run.code == 0
    assert re.search(r"^TOOL\s+ARGUMENTS\s+DESCRIPTION", run.out)
    assert re.search(r"^mcp__fast__echo\s+text: string\s+Echo the text back\.", run.out, re.MULTILINE)
    schema = cli("-c", fleet, "tools", "fast", "--schema")
    assert "mcp__fast__echo  (fast: echo)" in schema.out
    assert '"text": {' in schema.out
    assert "input schema:" in schema.out


def test_resources_templates_prompts(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo())
    resources = cli("--json", "-c", fleet, "resources")
    assert resources.code == 0, resources.err
    assert [r["uri"] for r in resources.json["resources"]] == ["echo://static"]
    assert resources.json["resources"][0]["server"] == "echo"
    templates = cli("-c", fleet, "templates", "echo", "--json").json
    assert [t["uri_template"] for t in templates["resource_templates"]] == ["echo://upper/{text}"]
    prompts = cli("-c", fleet, "prompts")
    assert re.search(r"^mcp__echo__greet\s+name\s+Greet someone\.", prompts.out, re.MULTILINE)


def test_fleet_listing_reports_servers_that_are_down(cli: Cli) -> None:
    fleet = cli.fleet(echo=raw(), broken={"command": PY, "args": [str(SERVERS / "crash.py")]})
    run = cli("--json", "-c", fleet, "tools")
    assert run.code == 0
    assert run.json["errors"][0]["server"] == "broken"
    assert "boom" in run.json["errors"][0]["error"]
    assert any(t["server"] == "echo" for t in run.json["tools"])
    one = cli("-v", "-c", fleet, "tools", "broken")
    assert one.code == 4
    assert "[broken] boom: missing API key" in one.err  # -v: the server's own stderr, line by line
    assert one.err.strip().endswith("boom: missing API key")  # then the one-line error


# ---------------------------------------------------------------------------------------- call


def test_call_prints_text_and_coerces_arguments(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo(), fast=raw())
    added = cli("-c", fleet, "call", "echo", "add", "a=2", "b=40")
    assert (added.code, added.out) == (0, "42\n")
    # `text` is a string parameter: 007 stays "007", and key=value wins over --json.
    kept = cli("-c", fleet, "call", "mcp__fast__echo", "--json", '{"text": "from json"}', "text=007")
    assert kept.out == "007\n"
    as_json = cli("--json", "-c", fleet, "call", "mcp__echo__add", "--json", '{"a": 1, "b": 2}')
    assert as_json.json["structured"] == {"result": 3}
    assert as_json.json["is_error"] is False
    assert set(as_json.json) == {"server", "tool", "is_error", "content", "structured", "text"}
    bad = cli("-c", fleet, "call", "mcp__echo__echo", "oops")
    assert bad.code == 1
    assert "expected key=value, got 'oops'" in bad.err


def test_call_tool_error_exits_5(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo())
    run = cli("-c", fleet, "call", "mcp__echo__fail", "message=it broke")
    assert run.code == 5
    assert run.out == ""
    assert "it broke" in run.err


def test_call_writes_images_to_files(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo())
    out_dir = cli.cwd / "out"
    run = cli("-c", fleet, "call", "mcp__echo__mixed", "--save-dir", str(out_dir))
    assert run.code == 0, run.err
    assert "mixed content" in run.out
    assert "static echo resource" in run.out  # the embedded text resource
    assert "[resource link: echo://static]" in run.out
    saved = re.search(r"\[image: image/png, \d+ bytes\] saved to (\S+)", run.out)
    assert saved is not None
    assert Path(saved.group(1)).read_bytes().startswith(b"\x89PNG")
    assert Path(saved.group(1)).parent == out_dir


def test_call_failures_are_typed_exit_codes(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo(), fast=raw(), broken={"command": PY, "args": [str(SERVERS / "crash.py")]})
    unknown = cli("-c", fleet, "call", "mcp__fast__nosuch")
    assert unknown.code == 1
    assert "no ready server offers a tool named 'mcp__fast__nosuch'" in unknown.err
    down = cli("--json", "-c", fleet, "call", "mcp__broken__anything")
    assert down.code == 4
    assert down.err.count("\n") == 1
    assert "boom: missing API key" in down.err
    assert down.json["error"]["server"] == "broken"
    timed_out = cli("-c", fleet, "call", "mcp__echo__hang", "--timeout", "0.5")
    assert timed_out.code == 4
    assert "timed out after 0.5s" in timed_out.err


def test_call_reference_time_server(cli: Cli) -> None:
    fleet = cli.fleet(time={"command": str(BIN / "mcp-server-time"), "args": ["--local-timezone", "UTC"]})
    run = cli("--json", "-c", fleet, "call", "mcp__time__get_current_time", "timezone=UTC")
    assert run.code == 0, run.err
    assert json.loads(run.json["text"])["timezone"] == "UTC"


def test_call_shows_progress_in_a_terminal(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo())
    output = _in_pty(cli, ["-c", fleet, "call", "mcp__echo__slow", "seconds=2"])
    assert "slept 2" in output
    plain = ANSI.sub("", output)
    assert "mcp__echo__slow" in plain  # the bar's label
    assert re.search(r"step \d+/20", plain)  # the server's progress messages
    assert "━" in plain  # the bar itself
    assert re.search(r"\b\d{1,3}%", plain)


# ---------------------------------------------------------------------------------- read, prompt


def test_read_and_prompt(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo())
    static = cli("-c", fleet, "read", "echo://static")
    assert (static.code, static.out) == (0, "static echo resource\n")
    upper = cli("--json", "-c", fleet, "read", "echo://upper/abc", "--server", "echo").json
    assert upper["contents"][0]["text"] == "ABC"
    assert upper["server"] == "echo"
    missing = cli("-c", cli.fleet("raw.yaml", fast=raw()), "read", "nothing://here")
    assert missing.code == 1
    assert "no server lists 'nothing://here'" in missing.err
    greeting = cli("-c", fleet, "prompt", "mcp__echo__greet", "name=Ada")
    assert greeting.code == 0
    assert greeting.out == "user:\nHello, Ada!\n"


# ------------------------------------------------------------------------------------ config edits

PROJECT = """\
# Project servers: keep this comment.
settings:
    timeout: 20   # seconds

servers:
    # Git, for the repository.
    git:
        command: uvx
        args: [mcp-server-git, "--repository", '.']   # quoted as written
        env: {TOKEN: "${GH_TOKEN}"}
    time:   # reference server
        command: ${PYTHON:-python3}
        args:
        - -m
        - mcp_server_time
# end of file
"""


def test_add_remove_enable_disable_keep_the_file(cli: Cli) -> None:
    project = cli.cwd / ".patchbay" / "mcp.yaml"
    project.parent.mkdir()
    project.write_text(PROJECT)
    nested = cli.cwd / "sub" / "dir"
    nested.mkdir(parents=True)

    add = cli(
        "add", "fs", "-e", "ROOT=${HOME}/data", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem"
    )
    assert add.code == 0, add.err
    assert f"added fs in {project}" in add.out
    add_url = cli("add", "remote", "--url", "https://example.com/mcp", "-H", "Authorization: Bearer ${TOKEN}")
    assert add_url.code == 0
    assert "${TOKEN} is not set" in add_url.err  # a warning, the entry is still written
    assert cli("disable", "time").code == 0
    expected = PROJECT.replace(
        "        - mcp_server_time\n",
        "        - mcp_server_time\n"
        "        enabled: false\n"
        "    fs:\n"
        "        command: npx\n"
        '        args: [-y, "@modelcontextprotocol/server-filesystem"]\n'
        "        env:\n"
        '            ROOT: "${HOME}/data"\n'
        "    remote:\n"
        "        url: https://example.com/mcp\n"
        "        headers:\n"
        '            Authorization: "Bearer ${TOKEN}"\n',
    )
    assert project.read_text() == expected

    assert cli("enable", "time").code == 0
    removed = subprocess.run(
        [str(PATCHBAY), "remove", "git"], cwd=nested, env=cli.env, capture_output=True, text=True, check=False
    )
    assert removed.returncode == 0, removed.stderr  # the project file is found upward from cwd
    text = project.read_text()
    assert "git:" not in text
    assert "# Git, for the repository." not in text
    for kept in (
        "# Project servers: keep this comment.",
        "timeout: 20   # seconds",
        "time:   # reference server",
    ):
        assert kept in text
    assert text.endswith("# end of file\n")
    assert "${PYTHON:-python3}" in text
    assert "${HOME}/data" in text

    loaded = load_config(project, env={"HOME": "/h", "TOKEN": "t"})
    assert list(loaded.servers) == ["time", "fs", "remote"]
    assert loaded.servers["fs"].env == {"ROOT": "/h/data"}
    assert loaded.servers["time"].enabled


def test_edit_refusals(cli: Cli) -> None:
    project = cli.cwd / ".patchbay" / "mcp.yaml"
    project.parent.mkdir()
    project.write_text(PROJECT)
    duplicate = cli("add", "git", "--", "x")
    assert duplicate.code == 1
    assert "a server named 'git' already exists" in duplicate.err
    invalid = cli("add", "my server", "--", "x")
    assert invalid.code == 1
    assert "invalid server name 'my server'" in invalid.err
    typo = cli("remove", "gti")
    assert typo.code == 1
    assert "did you mean 'git'?" in typo.err
    bad_url = cli("add", "u", "--url", "ftp://example.com")
    assert bad_url.code == 1
    assert "http:// or https://" in bad_url.err
    both = cli("add", "b", "--url", "https://example.com/mcp", "--", "x")
    assert both.code == 1
    not_json = cli("add-json", "j", "[1]")
    assert not_json.code == 1
    assert project.read_text() == PROJECT  # nothing was written by any of these


def test_add_warns_only_about_variables_the_server_needs(cli: Cli) -> None:
    entry = {
        "command": "x",
        "args": ["$${PB_LITERAL}", "$$${PB_NEEDED}", "${PB_DEFAULTED:-d}", "${PB_SET}"],
        "env": {"${PB_KEY_NAME}": "v"},  # names are never expanded
    }
    added = cli("add-json", "j", json.dumps(entry), PB_SET="yes")
    assert added.code == 0, added.err
    assert "${PB_NEEDED} is not set" in added.err
    for unused in ("PB_LITERAL", "PB_DEFAULTED", "PB_SET", "PB_KEY_NAME"):
        assert unused not in added.err


def test_user_scope_and_json_files(cli: Cli) -> None:
    user = cli("add", "--scope", "user", "fast", "--", PY, str(SERVERS / "raw_echo.py"))
    assert user.code == 0, user.err
    assert cli.user_file.read_text() == (
        f"servers:\n  fast:\n    command: {PY}\n    args: [{SERVERS / 'raw_echo.py'}]\n"
    )
    assert not (cli.cwd / ".patchbay").exists()
    tools = cli("--json", "tools", "fast")  # the user layer is read by default
    assert tools.code == 0, tools.err
    assert {t["name"] for t in tools.json["tools"]} == {"mcp__fast__echo", "mcp__fast__pid"}

    mcp_json = cli.cwd / ".mcp.json"
    mcp_json.write_text('{\n  "mcpServers": {\n    "a": {"command": "x"}\n  }\n}\n')
    added = cli(
        "--json", "-c", str(mcp_json), "add-json", "b", '{"type": "http", "url": "https://example.com/mcp"}'
    )
    assert added.json == {"action": "added", "server": "b", "file": str(mcp_json)}
    assert cli("-c", str(mcp_json), "disable", "a").code == 0
    assert json.loads(mcp_json.read_text()) == {
        "mcpServers": {
            "a": {"command": "x", "disabled": True},
            "b": {"type": "http", "url": "https://example.com/mcp"},
        }
    }
    assert cli("-c", str(mcp_json), "--scope", "user", "remove", "a").code == 1


# ------------------------------------------------------------------------------------------ import


def test_import_from_every_host(cli: Cli) -> None:
    home, cwd = cli.home, cli.cwd
    _write_json(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        {
            "mcpServers": {
                "time": {"command": "uvx", "args": ["mcp-server-time"]},
                "brave search": {"command": "npx", "args": ["-y", "brave"], "env": {"KEY": "${BRAVE_KEY}"}},
                "broken": {"args": ["no command"]},
            },
            "globalShortcut": "Ctrl+Space",
        },
    )
    _write_json(
        home / ".claude.json",
        {
            "mcpServers": {"remote": {"type": "http", "url": "https://example.com/mcp"}},
            "projects": {str(cwd): {"mcpServers": {"proj": {"command": "proj-server"}}}},
        },
    )
    _write_json(
        cwd / ".mcp.json", {"mcpServers": {"shared": {"type": "sse", "url": "https://example.com/events"}}}
    )
    _write_json(home / ".cursor" / "mcp.json", {"mcpServers": {"time": {"command": "other"}}})
    (cwd / ".vscode").mkdir()
    (cwd / ".vscode" / "mcp.json").write_text(
        """{
  // VS Code allows comments
  "inputs": [{"type": "promptString", "id": "api-key", "password": true}],
  "servers": {
    "gh": {"type": "http", "url": "https://api.example.com/mcp",
           "headers": {"Authorization": "Bearer ${input:api-key}"}},
    "local": {"type": "stdio", "command": "python", "args": ["${workspaceFolder}/server.py"]},
    "picky": {"command": "x", "args": ["${command:pickFile}"]},
  }
}
"""
    )
    run = cli("--json", "import")
    assert run.code == 0, run.err
    report = run.json
    imported = {row["name"]: row for row in report["imported"]}
    skipped = {row["name"]: row["reason"] for row in report["skipped"]}
    assert list(imported) == ["time", "brave-search", "remote", "proj", "shared", "gh", "local"]
    assert "renamed from 'brave search'" in imported["brave-search"]["notes"][0]
    assert any("${input:api-key} became ${API_KEY}" in note for note in imported["gh"]["notes"])
    assert skipped["broken"] == "neither a command nor a url"
    assert skipped["time"].startswith("already imported from claude-desktop")
    assert "${command:pickFile}" in skipped["picky"]

    written = (cwd / ".patchbay" / "mcp.yaml").read_text()
    assert 'KEY: "${BRAVE_KEY}"' in written
    assert 'Authorization: "Bearer ${API_KEY}"' in written
    assert f"args: [{cwd}/server.py]" in written
    again = cli("import", "claude-desktop")
    assert "already configured" in again.out
    missing = cli("import", "cursor", HOME=str(cli.cwd / "nowhere"))
    assert missing.code == 2  # a host named explicitly whose files do not exist
    assert "no cursor configuration found" in missing.err
    file_import = cli("--json", "import", str(cwd / ".mcp.json"), "--dry-run", "--scope", "user")
    assert file_import.json["skipped"] == []
    assert not cli.user_file.exists()


# ------------------------------------------------------------------------------------------ doctor


def test_list_and_doctor_show_what_a_crashed_python_server_said(cli: Cli) -> None:
    """A traceback's first line is "Traceback ..." and its last ones carets: the reason is its
    exception line, and `doctor` prints the whole tail, escaped."""
    crash = {
        "command": PY,
        "args": [str(SERVERS / "crash.py"), "--traceback", "--message", "ansi \x1b[2Kline"],
    }
    fleet = cli.fleet(broken=crash)
    reason = "AttributeError: '_Server' object has no attribute 'list_resources'"
    listed = cli("-c", fleet, "list")
    assert re.search(rf"^broken\s+stdio\s+✘ failed: .*stderr: {re.escape(reason)}", listed.out, re.MULTILINE)
    assert "Traceback" not in listed.out

    doctor = cli("-c", fleet, "doctor")
    assert doctor.code == 4
    lines = doctor.out.splitlines()
    assert lines[1].strip().endswith(f"stderr: {reason}")
    tail = [line.strip().removeprefix("│ ") for line in lines[2:] if line.strip().startswith("│")]
    assert "Traceback (most recent call last):" in tail
    assert any(line.strip() == "^" * 21 for line in tail)
    assert tail[-1] == reason
    assert "\x1b" not in doctor.out
    assert "ansi \\x1b[2Kline" in tail


def test_doctor_phases_leave_out_the_hosts_own_sdk_import(cli: Cli, http_server: Any) -> None:
    """The first connect of a process imports the SDK (most of a second): no server's phase is
    charged for it, an HTTP server's "spawn" (where nothing is spawned) least of all."""
    probe = "import time; t = time.perf_counter(); import mcp; print(time.perf_counter() - t)"
    import_ms = 1000 * float(
        subprocess.run([PY, "-c", probe], capture_output=True, text=True, check=True).stdout
    )
    server = http_server("echo.py")
    run = cli("--json", "-c", cli.fleet(remote={"url": server.url()}, local=raw()), "doctor")
    assert run.code == 0, run.err
    rows = {row["name"]: row for row in run.json["servers"]}
    for name in ("remote", "local"):
        phases = rows[name]["phases"]
        assert set(phases) == {"spawn_ms", "handshake_ms", "listing_ms"}
        assert phases["spawn_ms"] < import_ms / 2, (name, phases, import_ms)
        assert sum(phases.values()) < import_ms, (name, phases, import_ms)


def test_doctor_times_phases_and_explains_failures(cli: Cli) -> None:
    fleet = cli.fleet(
        echo=echo(),
        noisy={"command": "sh", "args": ["-c", f"echo hello-not-json; exec {PY} {SERVERS / 'echo.py'}"]},
        crash={"command": PY, "args": [str(SERVERS / "crash.py")]},
        missing={"command": "no-such-command-xyz"},
        unset={"command": "x", "env": {"KEY": "${PATCHBAY_TEST_UNSET_VAR}"}},
        refused={"url": "http://127.0.0.1:9/mcp"},
        off={**echo(), "enabled": False},
    )
    run = cli("--json", "-c", fleet, "doctor")
    assert run.code == 4
    report = run.json
    assert report["ok"] is False
    rows = {row["name"]: row for row in report["servers"]}
    assert rows["echo"]["state"] == "ready"
    assert set(rows["echo"]["phases"]) == {"spawn_ms", "handshake_ms", "listing_ms"}
    assert all(value >= 0 for value in rows["echo"]["phases"].values())
    assert rows["noisy"]["state"] == "ready"
    assert rows["noisy"]["stdout_noise"] == ["hello-not-json"]
    assert "must log to stderr" in rows["noisy"]["hints"][0]
    assert "boom: missing API key" in rows["crash"]["error"]
    assert "exited" in rows["crash"]["hints"][0]
    assert rows["missing"]["error"] == "command not found: no-such-command-xyz"
    assert "PATH" in rows["missing"]["hints"][0]
    assert "export PATCHBAY_TEST_UNSET_VAR=" in rows["unset"]["hints"][0]
    assert "nothing is listening at 127.0.0.1:9" in rows["refused"]["hints"][0]
    assert rows["off"]["state"] == "disabled"

    healthy = cli("-c", cli.fleet("fast.yaml", echo=raw()), "doctor")
    assert healthy.code == 0
    assert re.search(
        r"^echo\s+✔ ready\s+spawn \d+ ms · handshake [\d.]+ m?s · listing \d+ ms", healthy.out, re.M
    )


# ------------------------------------------------------------------------------------------ helpers


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _in_pty(cli: Cli, args: list[str], timeout: float = 60, **env: str) -> str:
    """Run patchbay with stdout and stderr on a pseudo-terminal; everything it wrote, decoded."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(PATCHBAY), *args],
        cwd=cli.cwd,
        env={**cli.env, "TERM": "xterm-256color", "COLUMNS": "120", **env},
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.wait(timeout=10)
    return b"".join(chunks).decode("utf-8", "replace")
