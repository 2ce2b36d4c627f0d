"""`patchbay import` on real host files: secrets stay out of the project file, trust, editor shapes.

HOME and XDG_CONFIG_HOME point into tmp_path (see test_cli.Cli), so the host files below are
written where Claude Desktop, Cursor and VS Code keep them on Linux, and nothing real is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import PY, SERVERS
from .test_cli import Cli, cli

__all__ = ["cli"]  # the fixture, imported for the tests below

SECRET = "sk-live-0123456789abcdef"
TOKEN = "tok-abcdef987654"


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _raw_echo() -> dict[str, Any]:
    return {"command": PY, "args": [str(SERVERS / "raw_echo.py")]}


def _desktop(cli: Cli) -> Path:
    return cli.home / ".config" / "Claude" / "claude_desktop_config.json"


def _project(cli: Cli) -> Path:
    return cli.cwd / ".patchbay" / "mcp.yaml"


def test_user_level_secrets_go_to_the_user_file_not_the_project_file(cli: Cli) -> None:
    _write(
        _desktop(cli),
        {
            "mcpServers": {
                "keyed": {**_raw_echo(), "env": {"API_KEY": SECRET, "REGION": "${REGION:-eu}"}},
                "plain": _raw_echo(),
            }
        },
    )
    _write(
        cli.home / ".claude.json",
        {
            "mcpServers": {
                "remote": {
                    "type": "http",
                    "url": "https://x.test/mcp",
                    "headers": {"Authorization": f"Bearer {TOKEN}"},
                }
            }
        },
    )
    run = cli("--json", "import")
    assert run.code == 0, run.err
    rows = {row["name"]: row for row in run.json["imported"]}
    project, user = str(_project(cli)), str(cli.user_file)
    assert (rows["keyed"]["file"], rows["remote"]["file"], rows["plain"]["file"]) == (user, user, project)
    assert "holds secret values (env API_KEY): written to the user file" in rows["keyed"]["notes"][0]
    assert "headers Authorization" in rows["remote"]["notes"][0]
    committed = _project(cli).read_text()
    assert SECRET not in committed
    assert TOKEN not in committed
    private = cli.user_file.read_text()
    assert SECRET in private
    assert TOKEN in private
    # The server from the user's own Claude Desktop file is trusted in the project file: it starts.
    assert rows["plain"]["trusted"] is True
    listed = {row["name"]: row for row in cli("--json", "list").json["servers"]}
    assert listed["plain"]["state"] == "ready"
    assert listed["keyed"]["state"] == "ready"  # from the user file, with its key


def test_a_chosen_project_file_gets_references_and_the_variables_to_set(cli: Cli) -> None:
    _write(_desktop(cli), {"mcpServers": {"keyed": {**_raw_echo(), "env": {"API_KEY": SECRET}}}})
    _write(
        cli.home / ".cursor" / "mcp.json",
        {
            "mcpServers": {
                "gh": {
                    "url": f"https://x.test/mcp?key={TOKEN}",
                    "headers": {"Authorization": f"Bearer {TOKEN}"},
                }
            }
        },
    )
    run = cli("import", "--scope", "project")
    assert run.code == 0, run.err
    committed = _project(cli).read_text()
    assert SECRET not in committed
    assert TOKEN not in committed
    assert 'API_KEY: "${API_KEY}"' in committed
    assert 'Authorization: "Bearer ${GH_AUTHORIZATION}"' in committed
    assert 'url: "${GH_URL}"' in committed
    assert "set API_KEY in the environment" in run.out
    assert "set GH_AUTHORIZATION, GH_URL in the environment" in run.out
    assert not cli.user_file.exists()
    # With the variable set, the imported server runs (and was trusted: it is the user's own).
    listed = cli("--json", "list", API_KEY="from-the-shell")
    assert {r["name"]: r["state"] for r in listed.json["servers"]}["keyed"] == "ready"


def test_servers_from_a_repository_file_are_not_trusted_and_the_output_says_so(cli: Cli) -> None:
    _write(cli.cwd / ".mcp.json", {"mcpServers": {"repo": {**_raw_echo(), "env": {"MODE": "fast"}}}})
    run = cli("import", "claude-code")
    assert run.code == 0, run.err
    assert "not trusted yet: review it, then run `patchbay trust repo`" in run.out
    assert "MODE: fast" in _project(cli).read_text()  # a project file's own values stay where they were
    listed = {row["name"]: row for row in cli("--json", "list").json["servers"]}
    assert listed["repo"]["state"] == "untrusted"


def test_cursor_workspace_folder_is_converted_like_vscode(cli: Cli) -> None:
    _write(
        cli.home / ".cursor" / "mcp.json",
        {
            "mcpServers": {
                "local": {"command": "python", "args": ["${workspaceFolder}/server.py", "${env:MODE}"]}
            }
        },
    )
    _write(
        cli.cwd / ".cursor" / "mcp.json",
        {"mcpServers": {"here": {"command": "node", "args": ["${workspaceFolder}/index.js"]}}},
    )
    run = cli("--json", "import", "cursor")
    assert run.code == 0, run.err
    written = _project(cli).read_text()
    assert f"{cli.cwd}/server.py" in written
    assert "${MODE}" in written
    assert f"{cli.cwd}/index.js" in written
    assert "workspaceFolder" not in written


def test_vscode_settings_shape_and_user_level_files_are_read(cli: Cli) -> None:
    user_dir = cli.home / ".config" / "Code" / "User"
    _write(user_dir / "mcp.json", {"servers": {"from-user-mcp": {"command": "a"}}})
    (user_dir / "settings.json").write_text(
        """{
  // settings.json is JSONC
  "editor.fontSize": 14,
  "mcp": {"servers": {"from-user-settings": {"type": "stdio", "command": "b", "args": ["${userHome}/x"]}}},
}
"""
    )
    _write(cli.cwd / ".vscode" / "settings.json", {"mcp": {"servers": {"from-workspace": {"command": "c"}}}})
    run = cli("--json", "import", "vscode")
    assert run.code == 0, run.err
    names = [row["name"] for row in run.json["imported"]]
    assert names == ["from-user-mcp", "from-user-settings", "from-workspace"]
    assert f"{cli.home}/x" in _project(cli).read_text()
    pasted = cli.cwd / "readme-snippet.json"
    _write(pasted, {"mcp": {"servers": {"pasted": {"command": "d", "args": ["${workspaceFolder}"]}}}})
    from_file = cli("--json", "import", str(pasted), "--dry-run")
    assert [row["name"] for row in from_file.json["imported"]] == ["pasted"]
