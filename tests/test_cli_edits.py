"""Config edits as files: parallel edits, the home directory, aliases, line endings, links, JSON.

`patchbay add/remove/enable/disable` run as real subprocesses (with an isolated HOME) where the
process matters (parallel runs, the working directory); the ConfigFile engine in-process for the
text of an edit. Every test reads the real file back.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from patchbay.cli import _configfile
from patchbay.cli._configfile import ConfigFile
from patchbay.config import load_config
from patchbay.errors import ConfigError

from .conftest import BIN

PATCHBAY = BIN / "patchbay"


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "LANG": "C.UTF-8",
    }


def patchbay(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PATCHBAY), *args],
        cwd=cwd,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _yaml(path: Path) -> dict[str, object]:
    loaded = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8-sig"))
    assert isinstance(loaded, dict)
    return loaded


# ----------------------------------------------------------------------------------- concurrency


def test_twenty_parallel_adds_keep_all_twenty_entries(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    config = work / "fleet.yaml"
    config.write_text("servers:\n  first:\n    command: x\n")
    procs = [
        subprocess.Popen(
            [str(PATCHBAY), "-c", str(config), "add", f"s{i}", "--", "uvx", f"server-{i}"],
            cwd=work,
            env=_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(20)
    ]
    results = [(proc.wait(timeout=180), *proc.communicate()) for proc in procs]
    assert [code for code, _, _ in results] == [0] * 20, [err for _, _, err in results]
    servers = _yaml(config)["servers"]
    assert isinstance(servers, dict)
    assert set(servers) == {"first", *(f"s{i}" for i in range(20))}
    assert servers["s7"] == {"command": "uvx", "args": ["server-7"]}
    assert sorted(p.name for p in work.iterdir()) == ["fleet.yaml"], "no temp or lock file is left behind"


def test_an_edit_that_cannot_take_the_lock_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchbay.cli.app import run

    config = tmp_path / "fleet.yaml"
    config.write_text("servers:\n  a:\n    command: x\n")
    monkeypatch.setattr(_configfile, "LOCK_TIMEOUT", 0.3)
    monkeypatch.setenv("HOME", str(tmp_path))
    lock = tmp_path / ".fleet.yaml.lock"
    held = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)  # another patchbay, mid-edit
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        with CliRunner().isolation() as (out, err, _):
            code = run(["-c", str(config), "add", "b", "--", "y"])
            sys.stderr.flush()
        message = err.getvalue().decode()
    finally:
        os.close(held)
    assert code == 2
    assert "another patchbay is editing this file" in message
    assert "fleet.yaml" in message
    assert "added" not in out.getvalue().decode()
    assert config.read_text() == "servers:\n  a:\n    command: x\n"


def test_a_planted_lock_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    config = tmp_path / "fleet.yaml"
    config.write_text("servers: {}\n")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / ".fleet.yaml.lock").symlink_to(victim)
    with pytest.raises(ConfigError, match="symlink"), ConfigFile.editing(config):
        pass
    assert victim.read_text() == "precious"


# ---------------------------------------------------------------------------------- home directory


def test_add_in_home_never_creates_a_project_file_there(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run = patchbay(home, home, "add", "helper", "--", "sh", "tools/helper.sh")
    assert run.returncode == 1
    assert "home directory" in run.stderr
    assert "--scope user" in run.stderr
    assert not (home / ".patchbay").exists()

    below = home / "src" / "repo"  # inside a project below home: the project file is created there
    below.mkdir(parents=True)
    assert patchbay(below, home, "add", "helper", "--", "sh", "tools/helper.sh").returncode == 0
    assert (below / ".patchbay" / "mcp.yaml").is_file()

    user = patchbay(home, home, "add", "helper", "--scope", "user", "--", "uvx", "helper")
    assert user.returncode == 0, user.stderr
    assert "helper" in _yaml(home / ".config" / "patchbay" / "mcp.yaml")["servers"]  # type: ignore[operator]
    assert not (home / ".patchbay").exists()


# ------------------------------------------------------------------------------------- the text

ALIASED = """\
servers:
  beta: &b
    command: uvx
    args: [beta-server]
  gamma: *b
  delta: {command: x}
"""


def _enabled(text: str) -> dict[str, bool]:
    loaded = YAML(typ="safe", pure=True).load(text)
    return {name: entry.get("enabled", True) for name, entry in loaded["servers"].items()}


def test_disabling_an_anchored_entry_leaves_its_alias_alone() -> None:
    file = ConfigFile(Path("mcp.yaml"), ALIASED, exists=True)
    assert file.set_enabled("beta", False)
    assert _enabled(file.text) == {"beta": False, "gamma": True, "delta": True}
    assert YAML(typ="safe", pure=True).load(file.text)["servers"]["gamma"] == {
        "command": "uvx",
        "args": ["beta-server"],
    }
    assert file.text.count("\n") == ALIASED.count("\n") + 1, "one line added, gamma on its own line"

    alias = ConfigFile(Path("mcp.yaml"), ALIASED, exists=True)
    assert alias.set_enabled("gamma", False)  # the alias itself: only it changes
    assert _enabled(alias.text) == {"beta": True, "gamma": False, "delta": True}

    removed = ConfigFile(Path("mcp.yaml"), ALIASED, exists=True)
    removed.remove("beta")  # the anchor goes; gamma keeps its entry
    loaded = YAML(typ="safe", pure=True).load(removed.text)["servers"]
    assert loaded == {"gamma": {"command": "uvx", "args": ["beta-server"]}, "delta": {"command": "x"}}


def test_crlf_and_bom_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "mcp.yaml"
    original = "\ufeff# team\r\nservers:\r\n  a:\r\n    command: x\r\n"
    path.write_bytes(original.encode())
    with ConfigFile.editing(path) as file:
        file.add("b", {"command": "y", "args": ["1"]})
        file.set_enabled("a", False)
        file.save()
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf# team\r\n")
    assert data.count(b"\n") == data.count(b"\r\n"), "no bare LF"
    assert data.decode("utf-8-sig").replace("\r\n", "\n") == (
        '# team\nservers:\n  a:\n    command: x\n    enabled: false\n  b:\n    command: y\n    args: ["1"]\n'
    )
    json_path = tmp_path / "mcp.json"
    json_path.write_bytes(b'\xef\xbb\xbf{\r\n  "mcpServers": {\r\n    "a": {"command": "x"}\r\n  }\r\n}\r\n')
    with ConfigFile.editing(json_path) as file:
        file.remove("a")
        file.save()
    assert json_path.read_bytes() == b'\xef\xbb\xbf{\r\n  "mcpServers": {}\r\n}\r\n'


def test_a_read_only_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / "fleet.yaml"
    path.write_text("servers:\n  a:\n    command: x\n")
    path.chmod(0o444)
    run = patchbay(tmp_path, home, "-c", str(path), "disable", "a")
    assert run.returncode == 2
    assert "read-only" in run.stderr
    assert path.read_text() == "servers:\n  a:\n    command: x\n"
    assert path.stat().st_mode & 0o777 == 0o444


def test_a_symlinked_config_is_edited_through_the_link(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    real = tmp_path / "dotfiles" / "mcp.yaml"
    real.parent.mkdir()
    real.write_text("servers:\n  a:\n    command: x\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    run = patchbay(tmp_path, home, "-c", str(link), "add", "b", "--", "y")
    assert run.returncode == 0, run.stderr
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_text() == "servers:\n  a:\n    command: x\n  b:\n    command: y\n"
    assert sorted(p.name for p in real.parent.iterdir()) == ["mcp.yaml"]


def test_a_json_file_with_duplicate_keys_is_refused_not_rewritten(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / ".mcp.json"
    text = '{"mcpServers": {"a": {"command": "x"}, "a": {"command": "evil"}}}\n'
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_config([path])  # the loader refuses it ...
    run = patchbay(tmp_path, home, "-c", str(path), "add", "b", "--", "y")
    assert run.returncode == 2  # ... and so does the editor
    assert "appears twice" in run.stderr
    assert path.read_text() == text


MCP_JSON = """\
{
  "mcpServers": {
    "memory": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"],
      "env": {"MEMORY_FILE_PATH": "${HOME}/memory.json"}
    },
    "fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},
    "think": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-sequential-thinking"]
    }
  }
}
"""


def test_editing_an_mcp_json_changes_only_the_edited_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / ".mcp.json"
    path.write_text(MCP_JSON)
    c = ("-c", str(path))
    assert patchbay(tmp_path, home, *c, "disable", "fetch").returncode == 0
    assert path.read_text() == MCP_JSON.replace(
        '"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},',
        '"fetch": {"command": "uvx", "args": ["mcp-server-fetch"], "disabled": true},',
    )
    assert patchbay(tmp_path, home, *c, "disable", "think").returncode == 0
    assert '      "args": ["-y", "@modelcontextprotocol/server-sequential-thinking"],\n' in path.read_text()
    assert '      "disabled": true\n    }\n  }\n}\n' in path.read_text()
    assert patchbay(tmp_path, home, *c, "enable", "think").returncode == 0
    assert patchbay(tmp_path, home, *c, "enable", "fetch").returncode == 0
    assert path.read_text() == MCP_JSON
    assert patchbay(tmp_path, home, *c, "remove", "memory").returncode == 0
    assert path.read_text() == MCP_JSON.replace(
        MCP_JSON[MCP_JSON.index('    "memory"') : MCP_JSON.index('    "fetch"')], ""
    )


def test_add_url_writes_the_type_claude_code_needs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / ".mcp.json"
    path.write_text(MCP_JSON)
    c = ("-c", str(path))
    assert patchbay(tmp_path, home, *c, "add", "remote", "--url", "https://h.example/mcp").returncode == 0
    assert patchbay(tmp_path, home, *c, "add", "legacy", "--url", "https://h.example/sse").returncode == 0
    forced = patchbay(tmp_path, home, *c, "add", "forced", "--url", "https://h.example/x", "-t", "sse")
    assert forced.returncode == 0
    servers = json.loads(path.read_text())["mcpServers"]
    assert servers["remote"] == {"type": "http", "url": "https://h.example/mcp"}
    assert servers["legacy"] == {"type": "sse", "url": "https://h.example/sse"}
    assert servers["forced"] == {"type": "sse", "url": "https://h.example/x"}
    assert path.read_text().startswith(MCP_JSON.removesuffix("    }\n  }\n}\n"))  # the rest as it was
    config = load_config([path])
    assert [config.servers[n].transport for n in ("remote", "legacy", "forced")] == ["http", "sse", "sse"]
