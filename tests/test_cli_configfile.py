"""Round-trip config edits (the engine behind `patchbay add/remove/enable/disable/import`), in-process.

Every test checks the exact text: what the edit is about changes, and nothing else does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from patchbay.cli._configfile import ConfigFile, emit_entry
from patchbay.config import Config, ConfigError

COMMENTED = """\
# Team servers.  Keep this comment.
settings:
    timeout: 20   # seconds, oddly aligned

servers:
    # the git server
    git:
        command: uvx
        args: [mcp-server-git, "--repository", '.']   # flow list, mixed quotes
        env: {TOKEN: "${GH_TOKEN}"}
        # a comment inside git
    # time server, keep me
    time:
        command: ${PY:-python3}
        args:
        - -m
        - mcp_server_time
    last: {url: "https://x.example/mcp"}   # flow entry
# trailing comment
"""


def edited(text: str, path: str = "mcp.yaml") -> ConfigFile:
    return ConfigFile(Path(path), text, exists=True)


def test_add_appends_after_the_last_entry_and_keeps_everything_else() -> None:
    file = edited(COMMENTED)
    file.add("fs", {"command": "npx", "args": ["-y", "@scope/server", "${HOME}/x"], "env": {"N": "1"}})
    expected = COMMENTED.replace(
        '    last: {url: "https://x.example/mcp"}   # flow entry\n',
        '    last: {url: "https://x.example/mcp"}   # flow entry\n'
        "    fs:\n"
        "        command: npx\n"
        '        args: [-y, "@scope/server", "${HOME}/x"]\n'
        "        env:\n"
        '            N: "1"\n',
    )
    assert file.text == expected
    data = Config.from_dict(_load(file.text), env={"HOME": "/h", "GH_TOKEN": "t"})
    assert data.servers["fs"].args == ("-y", "@scope/server", "/h/x")
    assert data.servers["fs"].env == {"N": "1"}  # "1" stayed a string


def test_remove_takes_the_entry_and_its_own_comment_only() -> None:
    file = edited(COMMENTED)
    file.remove("git")
    assert file.text == COMMENTED.replace(
        "    # the git server\n"
        "    git:\n"
        "        command: uvx\n"
        "        args: [mcp-server-git, \"--repository\", '.']   # flow list, mixed quotes\n"
        '        env: {TOKEN: "${GH_TOKEN}"}\n'
        "        # a comment inside git\n",
        "",
    )
    assert "# time server, keep me" in file.text


def test_remove_a_middle_block_entry_keeps_the_next_entry_comment() -> None:
    file = edited(COMMENTED)
    file.remove("time")
    assert "    # time server, keep me\n" not in file.text
    assert "# a comment inside git" in file.text
    assert '    last: {url: "https://x.example/mcp"}   # flow entry\n' in file.text
    assert list(file.servers()) == ["git", "last"]


def test_disable_and_enable_touch_one_line() -> None:
    file = edited(COMMENTED)
    assert file.set_enabled("time", False)
    assert file.text == COMMENTED.replace(
        "        - mcp_server_time\n", "        - mcp_server_time\n        enabled: false\n"
    )
    assert not file.set_enabled("time", False)  # already disabled: nothing to do
    assert file.set_enabled("time", True)
    assert file.text == COMMENTED


def test_toggle_inside_a_flow_entry() -> None:
    file = edited(COMMENTED)
    file.set_enabled("last", False)
    assert '    last: {url: "https://x.example/mcp", enabled: false}   # flow entry\n' in file.text
    file.set_enabled("last", True)
    assert file.text == COMMENTED


def test_existing_disabled_key_is_reused() -> None:
    text = "mcpServers:\n  a:\n    command: x\n    disabled: false\n"
    file = edited(text)
    file.set_enabled("a", False)
    assert file.text == "mcpServers:\n  a:\n    command: x\n    disabled: true\n"
    file.set_enabled("a", True)
    assert file.text == "mcpServers:\n  a:\n    command: x\n"


def test_new_file_and_empty_block() -> None:
    file = ConfigFile(Path("new.yaml"), "", exists=False)
    file.add("a", {"url": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}})
    assert file.text == (
        "servers:\n  a:\n    url: http://127.0.0.1:1/mcp\n"
        '    headers:\n      Authorization: "Bearer ${TOKEN}"\n'
    )
    empty = edited("# nothing yet\nservers: {}  # fill me\n")
    empty.add("b", {"command": "x"})
    assert empty.text == "# nothing yet\nservers:  # fill me\n  b:\n    command: x\n"
    only_settings = edited("settings:\n    timeout: 5\n")
    only_settings.add("c", {"command": "x"})
    assert only_settings.text == "settings:\n    timeout: 5\nservers:\n    c:\n        command: x\n"


def test_json_files_keep_key_order_and_indent() -> None:
    text = '{\n    "mcpServers": {\n        "a": {"command": "x", "args": ["${HOME}"]}\n    },\n'
    text += '    "other": 1\n}\n'
    file = edited(text, "mcp.json")
    assert file.kind == "json"
    file.add("b", {"type": "http", "url": "http://h/mcp"})
    file.set_enabled("a", False)
    data = json.loads(file.text)
    assert list(data) == ["mcpServers", "other"]
    assert list(data["mcpServers"]) == ["a", "b"]
    assert data["mcpServers"]["a"] == {"command": "x", "args": ["${HOME}"], "disabled": True}
    assert file.text.startswith('{\n    "mcpServers"')
    assert file.text.endswith("}\n")
    file.remove("a")
    assert list(json.loads(file.text)["mcpServers"]) == ["b"]


def test_duplicates_and_unknown_names() -> None:
    file = edited(COMMENTED)
    with pytest.raises(ValueError, match="already exists"):
        file.add("git", {"command": "x"})
    with pytest.raises(KeyError):
        file.remove("nope")
    assert file.text == COMMENTED


def test_flow_style_servers_block_is_refused_not_mangled() -> None:
    file = edited("servers: {a: {command: x}}\n")
    with pytest.raises(ConfigError, match="flow style"):
        file.add("b", {"command": "y"})
    assert file.text == "servers: {a: {command: x}}\n"


def test_scalars_that_would_change_meaning_are_quoted() -> None:
    text = emit_entry(
        "s", {"command": "x", "args": ["true", "3", "null", "a: b", "#c", "-y", "${V}", "yes"]}, 0, 2
    )
    loaded = _load("servers:\n" + "\n".join("  " + line for line in text.splitlines()) + "\n")
    assert loaded["servers"]["s"]["args"] == ["true", "3", "null", "a: b", "#c", "-y", "${V}", "yes"]


def test_save_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "mcp.yaml"
    path.write_text(COMMENTED)
    path.chmod(0o600)
    file = ConfigFile.open(path)
    file.add("z", {"command": "x"})
    file.save()
    assert path.read_text() == file.text
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["mcp.yaml"]
    assert os.access(path, os.R_OK)


def _load(text: str) -> dict[str, object]:
    from ruamel.yaml import YAML

    loaded = YAML(typ="safe", pure=True).load(text)
    assert isinstance(loaded, dict)
    return loaded
