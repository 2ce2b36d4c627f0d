"""Small CLI edges: flag help, plurals, `prompt SERVER NAME`, `remove` and approvals, the .mcp.json hint."""

from __future__ import annotations

import json
import re

from .conftest import PY, SERVERS
from .test_cli import Cli, cli, echo, raw

__all__ = ["cli"]  # the fixture, imported for the tests below

COMMANDS = [
    "list",
    "get",
    "tools",
    "resources",
    "templates",
    "prompts",
    "call",
    "read",
    "prompt",
    "add",
    "add-json",
    "remove",
    "enable",
    "disable",
    "import",
    "doctor",
    "trust",
    "untrust",
    "login",
    "logout",
]


def test_help_shows_no_type_beside_flags(cli: Cli) -> None:
    top = cli("--help", COLUMNS="200")
    assert "--json" in top.out
    assert "<bool>" not in top.out
    for command in COMMANDS:
        run = cli(command, "--help", COLUMNS="200")
        assert run.code == 0, (command, run.err)
        assert "<bool>" not in run.out, command
    # An option that takes a value still says what it takes.
    assert re.search(r"--connect-timeout\s+SECONDS", cli("tools", "--help", COLUMNS="200").out)


def test_get_counts_are_singular_or_plural(cli: Cli) -> None:
    run = cli("-c", cli.fleet(echo=echo()), "get", "echo")
    assert run.code == 0, run.err
    assert re.search(r"offers\s+\d+ tools, 1 resource, 1 template, 1 prompt\n", run.out)


def test_prompt_takes_server_then_name_like_call(cli: Cli) -> None:
    fleet = cli.fleet(echo=echo())
    run = cli("-c", fleet, "prompt", "echo", "greet", "name=Ada")
    assert (run.code, run.out) == (0, "user:\nHello, Ada!\n")
    as_json = cli("--json", "-c", fleet, "prompt", "echo", "greet", "name=Bo")
    assert as_json.json["server"] == "echo"


def test_remove_drops_the_approval_too(cli: Cli) -> None:
    assert cli("add", "fast", "--", PY, str(SERVERS / "raw_echo.py")).code == 0  # added, so approved
    project = cli.cwd / ".patchbay" / "mcp.yaml"
    written = project.read_text()
    assert {r["name"]: r["state"] for r in cli("--json", "list").json["servers"]} == {"fast": "ready"}
    removed = cli("remove", "fast")
    assert removed.code == 0, removed.err
    assert "dropped the approval of fast" in removed.err
    # The same name comes back in the file (a `git pull`): it is a new entry, not approved.
    project.write_text(written)
    assert {r["name"]: r["state"] for r in cli("--json", "list").json["servers"]} == {"fast": "untrusted"}
    approvals = json.loads((cli.home / ".local" / "share" / "patchbay" / "trust.json").read_text())
    assert "fast" not in json.dumps(approvals)


def test_list_suggests_the_claude_code_file(cli: Cli) -> None:
    (cli.cwd / ".mcp.json").write_text(json.dumps({"mcpServers": {"fast": raw()}}))
    run = cli("list")
    assert run.code == 0
    assert "use it as it is with `patchbay -c .mcp.json list`" in run.err
    assert "`patchbay import claude-code`" in run.err
    used = cli("-c", ".mcp.json", "list")
    assert re.search(r"^fast\s+stdio\s+✔ ready", used.out, re.MULTILINE)
    assert ".mcp.json" not in used.err  # the file is in use: no suggestion


def test_json_listings_keep_the_servers_meta_and_icons(cli: Cli) -> None:
    """``_meta`` (MCP Apps' ``ui.resourceUri``, vendor keys) and icons reach ``tools --json``."""
    fleet = cli.fleet(probe={"command": PY, "args": [str(SERVERS / "probe.py")]})
    tools = {t["original_name"]: t for t in cli("--json", "-c", fleet, "tools").json["tools"]}
    widget = tools["widget"]
    assert widget["meta"] == {"ui": {"resourceUri": "ui://probe/widget"}, "example.com/flag": "probe"}
    assert widget["icons"]
    assert widget["icons"][0]["src"]
    assert widget["annotations"]["readOnlyHint"] is True
    resources = {r["uri"]: r for r in cli("--json", "-c", fleet, "resources").json["resources"]}
    assert set(resources["ui://probe/widget"]) >= {"meta", "icons", "annotations"}
