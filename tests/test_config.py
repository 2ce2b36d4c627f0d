"""Config files: both shapes, layering, ${VAR} expansion, errors that point at the spot, no leaked secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

import patchbay
from patchbay import config as config_module
from patchbay.config import (
    Config,
    ConfigWarning,
    ReconnectSettings,
    ServerConfig,
    Settings,
    _discover,
    _expand,
    default_config_paths,
    diff_servers,
    find_project_config,
    load_config,
    user_config_path,
)
from patchbay.errors import ConfigError

SECRET = "s3cr3t-Value-42"
NO_ENV: dict[str, str] = {}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_json(directory: Path, name: str, data: Any) -> Path:
    return write(directory, name, json.dumps(data, indent=2))


def load_quietly(*paths: Path, env: dict[str, str] | None = None) -> Config:
    """Load and fail the test on any ConfigWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        return load_config(list(paths), env=NO_ENV if env is None else env)


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=NO_ENV if env is None else env)
    return caught.value


def assert_points_at(error: ConfigError, file: Path, key_path: str | None, reason: str) -> None:
    """The message names the file, the key path and a human reason."""
    message = str(error)
    assert error.file == str(file)
    assert error.path == key_path
    assert str(file) in message
    if key_path is not None:
        assert key_path in message
    assert reason in message


# --------------------------------------------------------------------------------------------------
# The two shapes, YAML and JSON


def test_patchbay_shape_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mcp.yaml",
        """
        # my servers
        servers:
          git:
            command: uvx
            args: [mcp-server-git, --repository, /repo]
            env: {GIT_AUTHOR: me}
            timeout: 12
          remote:
            url: https://example.com/mcp
            headers: {X-Team: blue}
        settings:
          timeout: 20
          auto_connect: false
        """,
    )
    cfg = load_quietly(path)
    assert list(cfg.servers) == ["git", "remote"]
    git, remote = cfg.servers["git"], cfg.servers["remote"]
    assert git.transport == "stdio"
    assert git.command == "uvx"
    assert git.args == ("mcp-server-git", "--repository", "/repo")
    assert git.env == {"GIT_AUTHOR": "me"}
    assert git.timeout == 12.0
    assert remote.transport == "http"
    assert remote.url == "https://example.com/mcp"
    assert remote.headers == {"X-Team": "blue"}
    assert cfg.settings.timeout == 20.0
    assert cfg.settings.auto_connect is False
    assert cfg.sources == (str(path),)
    assert git.source == str(path)
    assert git.layer == "explicit"
    assert git.error is None


def test_patchbay_shape_json(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        "patchbay.json",
        {"servers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}, "settings": {"timeout": 5}},
    )
    cfg = load_quietly(path)
    assert cfg.servers["time"].transport == "stdio"
    assert cfg.servers["time"].args == ("mcp-server-time",)
    assert cfg.settings.timeout == 5.0


def test_mcpservers_shape_json_like_claude_desktop(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        "claude_desktop_config.json",
        {
            "globalShortcut": "Ctrl+Space",  # Claude Desktop's own key: not ours, not warned about
            "mcpServers": {
                "filesystem": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                    "env": {"DEBUG": "1"},
                },
                "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-A": "b"}},
            },
        },
    )
    cfg = load_quietly(path)
    fs = cfg.servers["filesystem"]
    assert fs.transport == "stdio"
    assert fs.args == ("-y", "@modelcontextprotocol/server-filesystem", "/tmp")
    assert fs.env == {"DEBUG": "1"}
    assert cfg.servers["remote"].transport == "http"
    assert cfg.servers["remote"].headers == {"X-A": "b"}


def test_mcpservers_shape_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mcp.yaml",
        """
        mcpServers:
          git: {command: uvx, args: [mcp-server-git]}
        """,
    )
    assert load_quietly(path).servers["git"].command == "uvx"


def test_format_is_detected_from_content_not_extension(tmp_path: Path) -> None:
    json_in_yaml = write_json(tmp_path, "a.yaml", {"mcpServers": {"a": {"command": "x"}}})
    yaml_in_json = write(tmp_path, "b.json", "servers:\n  b: {command: y}\n")
    cfg = load_quietly(json_in_yaml, yaml_in_json)
    assert [s.command for s in cfg.servers.values()] == ["x", "y"]


def test_yaml_flow_mapping_starting_with_brace_is_read_as_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "flow.yaml", "{servers: {a: {command: x}}}\n")
    assert load_quietly(path).servers["a"].command == "x"


def test_json_with_trailing_comma_is_accepted_through_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "trailing.json", '{"mcpServers": {"a": {"command": "x"},}}\n')
    assert load_quietly(path).servers["a"].command == "x"


def test_json_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"mcpServers": {"a": {"command": "x"}}}).encode())
    assert load_quietly(path).servers["a"].command == "x"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# another\n", "   \n"])
def test_empty_or_comment_only_file_is_an_empty_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mcp.yaml"
    path.write_text(text)
    cfg = load_quietly(path)
    assert cfg.servers == {}
    assert cfg.settings == Settings()
    assert cfg.sources == (str(path),)


def test_null_servers_and_settings_blocks_are_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "mcp.yaml", "servers:\nsettings:\n")
    assert load_quietly(path) == Config(sources=(str(path),))


def test_servers_and_mcpservers_in_one_file_are_merged_mcpservers_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed.yaml",
        """
        servers:
          ours: {command: a}
        mcpServers:
          theirs: {command: b}
        """,
    )
    assert list(load_quietly(path).servers) == ["theirs", "ours"]


def test_same_name_under_servers_and_mcpservers_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed.yaml",
        """
        mcpServers:
          git: {command: a}
        servers:
          git: {command: b}
        """,
    )
    assert_points_at(config_error(path), path, "servers.git", "also defined under mcpServers")


# --------------------------------------------------------------------------------------------------
# Transport inference and aliases


@pytest.mark.parametrize(
    ("entry", "transport"),
    [
        ({"command": "x"}, "stdio"),
        ({"url": "https://h/mcp"}, "http"),
        ({"url": "https://h/sse"}, "sse"),
        ({"url": "https://h/v1/sse/"}, "sse"),
        ({"url": "https://h/sse?key=1"}, "sse"),
        ({"url": "https://h/ssex"}, "http"),
        ({"url": "https://sse.example.com/mcp"}, "http"),
    ],
)
def test_transport_is_inferred(entry: dict[str, Any], transport: str) -> None:
    cfg = Config.from_dict({"mcpServers": {"s": entry}}, env=NO_ENV)
    assert cfg.servers["s"].transport == transport


@pytest.mark.parametrize(
    ("key", "value", "transport"),
    [
        ("type", "http", "http"),
        ("type", "streamable-http", "http"),
        ("type", "streamable_http", "http"),
        ("type", "streamableHttp", "http"),
        ("type", "shttp", "http"),
        ("type", "HTTP", "http"),
        ("type", "sse", "sse"),
        ("transport", "sse", "sse"),
        ("transport", "streamable-http", "http"),
        ("transportType", "sse", "sse"),
    ],
)
def test_transport_aliases(key: str, value: str, transport: str) -> None:
    cfg = Config.from_dict({"servers": {"s": {key: value, "url": "https://h/mcp"}}}, env=NO_ENV)
    assert cfg.servers["s"].transport == transport


def test_explicit_transport_beats_sse_url_inference() -> None:
    cfg = Config.from_dict({"servers": {"s": {"type": "http", "url": "https://h/sse"}}}, env=NO_ENV)
    assert cfg.servers["s"].transport == "http"


def test_type_and_transport_must_agree(tmp_path: Path) -> None:
    path = write_json(
        tmp_path, "c.json", {"servers": {"s": {"type": "sse", "transport": "http", "url": "https://h"}}}
    )
    assert_points_at(config_error(path), path, "servers.s", "disagree")


def test_type_and_transport_may_repeat_the_same_value() -> None:
    entry = {"type": "streamable-http", "transport": "http", "url": "https://h/mcp"}
    assert Config.from_dict({"servers": {"s": entry}}, env=NO_ENV).servers["s"].transport == "http"


def test_command_and_url_without_transport_is_ambiguous(tmp_path: Path) -> None:
    path = write_json(tmp_path, "c.json", {"servers": {"s": {"command": "x", "url": "https://h"}}})
    assert_points_at(config_error(path), path, "servers.s", "set transport")


def test_entry_with_neither_command_nor_url(tmp_path: Path) -> None:
    path = write_json(tmp_path, "c.json", {"mcpServers": {"s": {"args": ["x"]}}})
    assert_points_at(config_error(path), path, "mcpServers.s", "needs a command")


def test_url_on_a_stdio_server_warns(tmp_path: Path) -> None:
    path = write_json(
        tmp_path, "c.json", {"servers": {"s": {"type": "stdio", "command": "x", "url": "https://h"}}}
    )
    with pytest.warns(ConfigWarning, match=r"servers\.s\.url: ignored for a stdio server"):
        load_config(path, env=NO_ENV)


# --------------------------------------------------------------------------------------------------
# Per-server keys


def test_all_server_options_are_read() -> None:
    entry = {
        "command": "x",
        "cwd": "/srv",
        "enabled": False,
        "auto_connect": False,
        "timeout": 5,
        "connect_timeout": 7,
        "shutdown_grace": 0,
        "health_interval": 15,
        "reconnect": {"attempts": 0, "base_delay": 0.5, "max_delay": 4},
        "include_tools": ["read_*", "list_*"],
        "exclude_tools": ["delete_*"],
        "protocol": "legacy",
        "max_output_chars": 1000,
        "env_passthrough": ["PATH", "LANG"],
        "inherit_env": True,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        server = Config.from_dict({"servers": {"s": entry}}, env=NO_ENV).servers["s"]
    assert server.cwd == "/srv"
    assert server.enabled is False
    assert server.auto_connect is False
    assert (server.timeout, server.connect_timeout, server.shutdown_grace) == (5.0, 7.0, 0.0)
    assert server.health_interval == 15.0
    assert server.reconnect == ReconnectSettings(attempts=0, base_delay=0.5, max_delay=4.0)
    assert server.include_tools == ("read_*", "list_*")
    assert server.exclude_tools == ("delete_*",)
    assert server.protocol == "legacy"
    assert server.max_output_chars == 1000
    assert server.env_passthrough == ("PATH", "LANG")
    assert server.inherit_env is True


def test_defaults_of_an_entry() -> None:
    server = Config.from_dict({"servers": {"s": {"command": "x"}}}, env=NO_ENV).servers["s"]
    assert server.include_tools is None
    assert server.exclude_tools == ()
    assert server.reconnect is None
    assert server.timeout is None
    assert server.protocol == "auto"
    assert server.enabled is True
    assert server.layer == "code"
    assert server.source is None


def test_yaml_numbers_and_booleans_in_args_and_env_become_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mcp.yaml",
        """
        servers:
          s:
            command: serve
            args: [--port, 8080, --ratio, 1.5, --verbose, true]
            env: {PORT: 8080, DEBUG: false, SINCE: 2024-01-02}
            headers: {X-Retries: 3}
            url: https://h
            transport: stdio
        """,
    )
    with pytest.warns(ConfigWarning):  # url on a stdio server
        server = load_config(path, env=NO_ENV).servers["s"]
    assert server.args == ("--port", "8080", "--ratio", "1.5", "--verbose", "true")
    assert server.env == {"PORT": "8080", "DEBUG": "false", "SINCE": "2024-01-02"}
    assert server.headers == {"X-Retries": "3"}


def test_unquoted_protocol_date_in_yaml_is_understood(tmp_path: Path) -> None:
    path = write(tmp_path, "mcp.yaml", "servers:\n  s: {command: x, protocol: 2026-07-28}\n")
    assert load_quietly(path).servers["s"].protocol == "2026-07-28"


def test_claude_disabled_flag_means_not_enabled() -> None:
    cfg = Config.from_dict(
        {"mcpServers": {"on": {"command": "a"}, "off": {"command": "b", "disabled": True}}}, env=NO_ENV
    )
    assert cfg.servers["off"].enabled is False
    assert [s.name for s in cfg.enabled_servers()] == ["on"]


def test_disabled_and_enabled_contradicting_is_an_error(tmp_path: Path) -> None:
    path = write_json(
        tmp_path, "c.json", {"servers": {"s": {"command": "a", "enabled": True, "disabled": True}}}
    )
    assert_points_at(config_error(path), path, "servers.s.disabled", "contradicts enabled")


def test_disabled_tools_from_roo_code_are_excluded() -> None:
    entry = {"command": "a", "exclude_tools": ["x"], "disabledTools": ["y", "x"]}
    server = Config.from_dict({"servers": {"s": entry}}, env=NO_ENV).servers["s"]
    assert server.exclude_tools == ("x", "y")


def test_client_approval_keys_are_ignored_without_warning() -> None:
    entry = {"command": "a", "alwaysAllow": ["t"], "autoApprove": ["t"], "watchPaths": ["/x"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        server = Config.from_dict({"mcpServers": {"s": entry}}, env=NO_ENV).servers["s"]
    assert server.command == "a"
    assert server.raw["alwaysAllow"] == ["t"]  # still in raw for round-trips


def test_null_value_means_not_set() -> None:
    entry = {"command": "a", "timeout": None, "include_tools": None, "reconnect": None}
    server = Config.from_dict({"servers": {"s": entry}}, env=NO_ENV).servers["s"]
    assert (server.timeout, server.include_tools, server.reconnect) == (None, None, None)


@pytest.mark.parametrize("name", ["my.server", "Server With Spaces", "ünïcode", "a:b", "1"])
def test_unusual_server_names_are_accepted(name: str) -> None:
    cfg = Config.from_dict({"mcpServers": {name: {"command": "x"}}}, env=NO_ENV)
    assert cfg.servers[name].name == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("  ", "must not be empty"),
        ("a/b", "must not contain '/'"),
        ("a\nb", "control characters"),
        ("a\x00b", "control characters"),
    ],
)
def test_bad_server_names_are_rejected(tmp_path: Path, name: str, reason: str) -> None:
    path = write_json(tmp_path, "c.json", {"servers": {name: {"command": "x"}}})
    error = config_error(path)
    assert error.file == str(path)
    assert error.path is not None
    assert error.path.startswith("servers[")
    assert reason in str(error)
    assert "\n" not in str(error)  # the control character is escaped, not printed


def test_server_names_must_be_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "servers:\n  123: {command: x}\n")
    assert_points_at(config_error(path), path, "servers", "server names must be strings")


# --------------------------------------------------------------------------------------------------
# Layering


def test_later_file_overrides_a_setting_even_with_the_default_value(tmp_path: Path) -> None:
    user = write(tmp_path, "user.yaml", "settings:\n  timeout: 99\n  connect_timeout: 7\n")
    project = write(tmp_path, "project.yaml", "settings:\n  timeout: 30\n")
    cfg = load_quietly(user, project)
    assert cfg.settings.timeout == 30.0  # 30 is the default, and still wins
    assert cfg.settings.connect_timeout == 7.0  # not set by the later file: kept
    assert cfg.sources == (str(user), str(project))


def test_reconnect_settings_merge_key_by_key(tmp_path: Path) -> None:
    user = write(tmp_path, "user.yaml", "settings:\n  reconnect: {attempts: 9, max_delay: 300}\n")
    # base_delay 120 exceeds the default max_delay (60) but not the merged one (300): accepted.
    project = write(tmp_path, "project.yaml", "settings:\n  reconnect_delay: 120\n")
    cfg = load_quietly(user, project)
    assert cfg.settings.reconnect == ReconnectSettings(attempts=9, base_delay=120.0, max_delay=300.0)


def test_health_interval_can_be_switched_back_off_with_null(tmp_path: Path) -> None:
    user = write(tmp_path, "user.yaml", "settings:\n  health_interval: 30\n")
    project = write(tmp_path, "project.yaml", "settings:\n  health_interval: null\n  timeout: null\n")
    cfg = load_quietly(user, project)
    assert cfg.settings.health_interval is None
    assert cfg.settings.timeout == 30.0  # null for a non-nullable setting means "not set"


def test_server_in_later_file_replaces_the_earlier_definition_whole(tmp_path: Path) -> None:
    user = write(
        tmp_path,
        "user.yaml",
        """
        servers:
          git: {command: uvx, args: [old], env: {A: "1"}, timeout: 5}
          time: {command: uvx, args: [mcp-server-time]}
        """,
    )
    project = write(
        tmp_path,
        "project.yaml",
        """
        servers:
          new: {url: "https://h/mcp"}
          git: {command: docker}
        """,
    )
    cfg = load_quietly(user, project)
    assert list(cfg.servers) == ["git", "time", "new"]  # redefinition keeps its place; new ones appended
    git = cfg.servers["git"]
    assert git.command == "docker"
    assert git.args == ()
    assert git.env == {}
    assert git.timeout is None
    assert git.source == str(project)
    assert cfg.servers["time"].source == str(user)


def test_server_reconnect_overrides_the_merged_settings_not_the_defaults(tmp_path: Path) -> None:
    user = write(tmp_path, "user.yaml", "servers:\n  s:\n    command: x\n    reconnect_attempts: 2\n")
    project = write(tmp_path, "project.yaml", "settings:\n  reconnect: {base_delay: 3, max_delay: 9}\n")
    server = load_quietly(user, project).servers["s"]
    assert server.reconnect == ReconnectSettings(attempts=2, base_delay=3.0, max_delay=9.0)


def test_explicit_paths_accept_a_single_path_a_pathlike_and_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", "servers:\n  a: {command: x}\n")
    by_str = load_config(str(tmp_path / "one.yaml"), env=NO_ENV)
    by_path = load_config(tmp_path / "one.yaml", env=NO_ENV)
    relative = load_config("one.yaml", env=NO_ENV, cwd=tmp_path)
    assert by_str == by_path == relative
    assert relative.sources == (str(tmp_path / "one.yaml"),)


def test_explicit_empty_list_reads_nothing(tmp_path: Path) -> None:
    assert load_config([], env={"PATCHBAY_CONFIG": str(tmp_path / "missing.yaml")}, cwd=tmp_path) == Config()


# --------------------------------------------------------------------------------------------------
# Default layers


@pytest.fixture
def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config-home" / "patchbay" / "mcp.yaml"
    monkeypatch.setattr(_discover, "user_config_path", lambda: path)
    return path


def test_default_layers_in_order(tmp_path: Path, user_file: Path) -> None:
    write(user_file.parent, user_file.name, "servers:\n  u: {command: u}\n  shared: {command: from-user}\n")
    repo = tmp_path / "repo"
    project = write(
        repo, ".patchbay/mcp.yaml", "servers:\n  p: {command: p}\n  shared: {command: from-project}\n"
    )
    named = write(tmp_path, "elsewhere/env.json", json.dumps({"mcpServers": {"e": {"command": "e"}}}))
    nested = repo / "src" / "pkg"
    nested.mkdir(parents=True)

    env = {"PATCHBAY_CONFIG": str(named)}
    assert default_config_paths(env=env, cwd=nested) == [
        (user_file, "user"),
        (project, "project"),
        (named, "env"),
    ]
    cfg = load_config(env=env, cwd=nested)
    assert list(cfg.servers) == ["u", "shared", "p", "e"]
    assert {name: s.layer for name, s in cfg.servers.items()} == {
        "u": "user",
        "shared": "project",
        "p": "project",
        "e": "env",
    }
    assert cfg.servers["shared"].command == "from-project"
    assert cfg.sources == (str(user_file), str(project), str(named))


def test_no_config_files_at_all_is_an_empty_config(tmp_path: Path, user_file: Path) -> None:
    assert load_config(env=NO_ENV, cwd=tmp_path) == Config()


def test_missing_patchbay_config_file_is_an_error(tmp_path: Path, user_file: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(env={"PATCHBAY_CONFIG": str(missing)}, cwd=tmp_path)
    assert caught.value.file == str(missing)
    assert "PATCHBAY_CONFIG" in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_relative_patchbay_config_is_relative_to_cwd(tmp_path: Path, user_file: Path) -> None:
    named = write(tmp_path, "cfg/extra.yaml", "servers:\n  e: {command: e}\n")
    with pytest.warns(ConfigWarning, match=r"PATCHBAY_CONFIG is a relative path, read as .*extra\.yaml"):
        cfg = load_config(env={"PATCHBAY_CONFIG": "cfg/extra.yaml"}, cwd=tmp_path)
    assert cfg.sources == (str(named),)


def test_explicit_paths_skip_the_default_layers(tmp_path: Path, user_file: Path) -> None:
    write(user_file.parent, user_file.name, "servers:\n  u: {command: u}\n")
    only = write(tmp_path, "only.yaml", "servers:\n  o: {command: o}\n")
    cfg = load_config(only, env={"PATCHBAY_CONFIG": str(tmp_path / "missing")}, cwd=tmp_path)
    assert list(cfg.servers) == ["o"]


def test_a_file_reached_by_two_layers_is_read_once(tmp_path: Path, user_file: Path) -> None:
    project = write(tmp_path, ".patchbay/mcp.yaml", "servers:\n  p: {command: p}\n")
    paths = default_config_paths(env={"PATCHBAY_CONFIG": str(project)}, cwd=tmp_path)
    assert paths == [(project, "env")]  # read once; named by PATCHBAY_CONFIG, so trusted


def test_find_project_config_walks_up(tmp_path: Path) -> None:
    project = write(tmp_path, ".patchbay/mcp.yaml", "")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_project_config(deep) == project
    assert find_project_config(tmp_path) == project


def test_find_project_config_ignores_other_names(tmp_path: Path) -> None:
    write(tmp_path, ".patchbay/other.yaml", "")
    write(tmp_path, "mcp.yaml", "")
    found = find_project_config(tmp_path)
    assert found is None or not found.is_relative_to(tmp_path)


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CONFIG_HOME is how platformdirs works on Linux")
def test_user_config_path_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_path() == tmp_path / "xdg" / "patchbay" / "mcp.yaml"
    write(tmp_path, "xdg/patchbay/mcp.yaml", "servers:\n  u: {command: u}\n")
    cfg = load_config(env=NO_ENV, cwd=tmp_path / "xdg")
    assert cfg.servers["u"].layer == "user"


# --------------------------------------------------------------------------------------------------
# ${VAR} expansion


def expand_args(*args: str, env: dict[str, str]) -> tuple[str, ...]:
    cfg = Config.from_dict({"servers": {"s": {"command": "x", "args": list(args)}}}, env=env)
    assert cfg.servers["s"].error is None
    return cfg.servers["s"].args


@pytest.mark.parametrize(
    ("written", "expanded"),
    [
        ("${A}", "alpha"),
        ("pre-${A}-post", "pre-alpha-post"),
        ("${A}${A}", "alphaalpha"),
        ("${UNSET:-fallback}", "fallback"),
        ("${A:-fallback}", "alpha"),
        ("${EMPTY:-fallback}", "fallback"),  # like the shell, :- also covers an empty value
        ("${EMPTY}", ""),
        ("${UNSET:-}", ""),
        ("${UNSET:-localhost:8080/x y}", "localhost:8080/x y"),
        ("$$", "$"),
        ("$${A}", "${A}"),
        ("$$$${A}", "$${A}"),
        ("$$${A}", "$alpha"),
        ("cost: $5", "cost: $5"),
        ("trailing $", "trailing $"),
        ("$A", "$A"),
        ("no vars", "no vars"),
    ],
)
def test_expansion(written: str, expanded: str) -> None:
    assert expand_args(written, env={"A": "alpha", "EMPTY": ""}) == (expanded,)


def test_expansion_in_every_allowed_field(tmp_path: Path) -> None:
    env = {"BIN": "/opt/bin", "DIR": "/work", "TOKEN": SECRET, "HOST": "h.example", "V": "v"}
    cfg = Config.from_dict(
        {
            "servers": {
                "stdio": {
                    "command": "${BIN}/server",
                    "args": ["--dir", "${DIR}"],
                    "env": {"TOKEN": "${TOKEN}"},
                    "cwd": "${DIR}/sub",
                },
                "remote": {"url": "https://${HOST}/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
            }
        },
        env=env,
    )
    stdio, remote = cfg.servers["stdio"], cfg.servers["remote"]
    assert stdio.command == "/opt/bin/server"
    assert stdio.args == ("--dir", "/work")
    assert stdio.env == {"TOKEN": SECRET}
    assert stdio.cwd == "/work/sub"
    assert remote.url == "https://h.example/mcp"
    assert remote.headers == {"Authorization": f"Bearer {SECRET}"}


def test_expansion_happens_nowhere_else() -> None:
    entry = {
        "command": "x",
        "include_tools": ["${V}"],
        "exclude_tools": ["${V}_*"],
        "env_passthrough": ["${V}"],
        "env": {"${V}": "${V}"},
    }
    server = Config.from_dict({"servers": {"${V}": entry}}, env={"V": "v"}).servers["${V}"]
    assert server.include_tools == ("${V}",)
    assert server.exclude_tools == ("${V}_*",)
    assert server.env_passthrough == ("${V}",)
    assert server.env == {"${V}": "v"}  # names are not expanded, values are


def test_unset_variable_fails_only_its_server(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mcp.yaml",
        """
        servers:
          api:
            url: https://api.example.com/mcp
            headers: {Authorization: "Bearer ${API_TOKEN}"}
          git:
            command: uvx
            args: [mcp-server-git]
        """,
    )
    cfg = load_quietly(path, env={"OTHER": "x"})
    api = cfg.servers["api"]
    assert api.error == "servers.api.headers.Authorization: environment variable API_TOKEN is not set"
    assert api.headers == {"Authorization": "Bearer ${API_TOKEN}"}  # kept as written
    assert cfg.servers["git"].error is None
    assert [s.name for s in cfg.enabled_servers()] == ["api", "git"]  # still configured


def test_every_unset_variable_of_a_server_is_reported() -> None:
    entry = {"command": "${CMD}", "args": ["ok", "${ARG}"], "env": {"K": "${KEY}"}}
    server = Config.from_dict({"mcpServers": {"s": entry}}, env=NO_ENV).servers["s"]
    assert server.error is not None
    assert "mcpServers.s.command: environment variable CMD is not set" in server.error
    assert "mcpServers.s.args[1]: environment variable ARG is not set" in server.error
    assert "mcpServers.s.env.K: environment variable KEY is not set" in server.error


@pytest.mark.parametrize("written", ["${A B}", "${A", "${A:-${B}}", "${}", "${1A}", "${A-x}"])
def test_malformed_reference_fails_the_server(written: str) -> None:
    server = Config.from_dict(
        {"servers": {"s": {"command": "x", "args": [written]}}}, env={"A": "a"}
    ).servers["s"]
    assert server.error is not None
    assert server.error.startswith("servers.s.args[0]: ")
    assert "$$" in server.error  # tells how to write a literal $


@pytest.mark.parametrize(
    ("written", "every", "required"),
    [
        ("${A}", ["A"], ["A"]),
        ("pre-${A}-post ${B}", ["A", "B"], ["A", "B"]),
        ("${B}${A}${B}", ["B", "A"], ["B", "A"]),  # each once, in the order first written
        ("${A:-x} ${B}", ["A", "B"], ["B"]),
        ("${A:-} ${A}", ["A"], ["A"]),  # needed once without a default: needed
        ("$${A}", [], []),  # a literal ${A}
        ("$$${A}", ["A"], ["A"]),  # a literal $, then ${A}
        ("$$$${A}", [], []),
        ("$A $ ${", [], []),
        ("${A B} ${B}", ["B"], ["B"]),  # a malformed reference is skipped, the rest still counts
        ("${A:-${B}}", [], []),  # defaults are literal: no nested references
        ("${1A}", [], []),
        ("${A", [], []),
        ("no vars", [], []),
    ],
)
def test_references_are_what_expansion_looks_up(written: str, every: list[str], required: list[str]) -> None:
    assert config_module.references(written) == every
    assert config_module.references(written, defaulted=False) == required

    class EverySet(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            looked_up.append(key)
            return "value"

    looked_up: list[str] = []
    try:
        _expand.expand(written, EverySet())
    except _expand.ExpansionError:  # malformed: expansion stops there, the scanner goes on
        assert list(dict.fromkeys(looked_up)) == every[: len(set(looked_up))]
    else:
        assert list(dict.fromkeys(looked_up)) == every


def test_patchbay_python_is_the_running_interpreter_unless_the_environment_says_otherwise() -> None:
    entry = {"command": "${PATCHBAY_PYTHON}", "args": ["${PATCHBAY_PYTHON:-python3}", "server.py"]}
    unset = Config.from_dict({"servers": {"s": entry}}, env={}).servers["s"]
    assert unset.error is None
    assert unset.command == sys.executable
    assert unset.args[0] == sys.executable  # always set, so a written default never applies
    empty = Config.from_dict({"servers": {"s": entry}}, env={"PATCHBAY_PYTHON": ""}).servers["s"]
    assert empty.command == sys.executable
    told = Config.from_dict({"servers": {"s": entry}}, env={"PATCHBAY_PYTHON": "/opt/py/bin/python"})
    assert told.servers["s"].command == "/opt/py/bin/python"
    # It can never be missing, so `patchbay add` does not warn that it is unset.
    assert config_module.references("${PATCHBAY_PYTHON} ${TOKEN}", defaulted=False) == ["TOKEN"]
    assert config_module.references("${PATCHBAY_PYTHON}") == ["PATCHBAY_PYTHON"]


def test_url_that_does_not_parse_is_a_config_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match="not a valid URL") as caught:
        Config.from_dict({"servers": {"r": {"url": "http://[::1/mcp?key=s3cret"}}})
    assert caught.value.path == "servers.r.url"
    assert "s3cret" not in str(caught.value)
    expanded = Config.from_dict({"servers": {"r": {"url": "http://${HOST}/mcp"}}}, env={"HOST": "[::1"})
    assert expanded.servers["r"].error == (
        "servers.r.url: not a valid URL (check the host part, e.g. the brackets of an IPv6 address)"
        " (after expanding variables)"
    )


def test_url_that_is_not_http_after_expansion_fails_only_the_server() -> None:
    cfg = Config.from_dict(
        {"servers": {"r": {"type": "http", "url": "${REMOTE_URL}"}, "ok": {"command": "x"}}},
        env={"REMOTE_URL": "ftp://h/x"},
    )
    assert cfg.servers["r"].error == (
        "servers.r.url: expected an http:// or https:// URL (after expanding variables)"
    )
    assert cfg.servers["ok"].error is None


def test_tilde_is_expanded_in_command_and_cwd_only(tmp_path: Path) -> None:
    entry = {"command": "~/bin/server", "cwd": "~/work", "args": ["~/data"], "env": {"P": "~/x"}}
    server = Config.from_dict({"servers": {"s": entry}}, env={"HOME": "/home/me"}).servers["s"]
    assert server.command == "/home/me/bin/server"
    assert server.cwd == "/home/me/work"
    assert server.args == ("~/data",)
    assert server.env == {"P": "~/x"}


def test_relative_cwd_is_resolved_against_the_file_directory(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "conf/mcp.yaml",
        """
        servers:
          rel: {command: x, cwd: ../project}
          dot: {command: x, cwd: .}
          abs: {command: x, cwd: /opt/srv}
        """,
    )
    cfg = load_config(path, env=NO_ENV, cwd=tmp_path / "conf")
    assert cfg.servers["rel"].cwd == str(tmp_path / "project")
    assert cfg.servers["dot"].cwd == str(tmp_path / "conf")
    assert cfg.servers["abs"].cwd == "/opt/srv"


def test_relative_cwd_without_a_file_stays_relative() -> None:
    server = Config.from_dict({"servers": {"s": {"command": "x", "cwd": "sub"}}}, env=NO_ENV).servers["s"]
    assert server.cwd == "sub"


def test_from_dict_with_source_resolves_cwd_and_names_the_file(tmp_path: Path) -> None:
    source = tmp_path / "virtual.yaml"
    cfg = Config.from_dict({"servers": {"s": {"command": "x", "cwd": "sub"}}}, source=source, env=NO_ENV)
    assert cfg.servers["s"].cwd == str(tmp_path / "sub")
    assert cfg.servers["s"].source == str(source)
    assert cfg.servers["s"].layer == "explicit"
    assert cfg.sources == (str(source),)


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHBAY_TEST_VALUE", "from-os")
    cfg = Config.from_dict({"servers": {"s": {"command": "x", "args": ["${PATCHBAY_TEST_VALUE}"]}}})
    assert cfg.servers["s"].args == ("from-os",)


# --------------------------------------------------------------------------------------------------
# raw and fingerprint


def test_raw_is_the_entry_as_written_and_a_deep_copy(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mcp.yaml",
        """
        defaults: &defaults
          env: {TOKEN: "${TOKEN}"}
        servers:
          s:
            <<: *defaults
            type: stdio
            command: ~/bin/x
            args: [--port, 8080]
        """,
    )
    with pytest.warns(ConfigWarning, match="defaults"):  # the anchor holder is an unknown top-level key
        cfg = load_config(path, env={"TOKEN": SECRET})
    raw = cfg.servers["s"].raw
    assert raw == {
        "env": {"TOKEN": "${TOKEN}"},
        "type": "stdio",
        "command": "~/bin/x",
        "args": ["--port", 8080],
    }
    assert type(raw) is dict
    assert type(raw["args"]) is list


def test_raw_does_not_change_when_the_input_does() -> None:
    args = ["a"]
    cfg = Config.from_dict({"servers": {"s": {"command": "x", "args": args}}}, env=NO_ENV)
    args.append("b")
    assert cfg.servers["s"].raw == {"command": "x", "args": ["a"]}


def test_fingerprint_ignores_provenance_and_key_order(tmp_path: Path) -> None:
    first = write_json(
        tmp_path,
        "a.json",
        {"mcpServers": {"s": {"command": "x", "args": ["1"], "env": {"A": "1", "B": "2"}}}},
    )
    second = write(
        tmp_path,
        "b.yaml",
        """
        servers:
          s:
            env: {B: "2", A: "1"}
            args: [1]
            transport: stdio
            command: x
        """,
    )
    a = load_config(first, env=NO_ENV).servers["s"]
    b = load_config(second, env=NO_ENV).servers["s"]
    assert a.source != b.source
    assert a.raw != b.raw
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    int(a.fingerprint(), 16)


@pytest.mark.parametrize(
    "change",
    [
        {"args": ["2"]},
        {"env": {"A": "other", "B": "2"}},
        {"timeout": 9},
        {"include_tools": ["x"]},
        {"cwd": "/elsewhere"},
        {"enabled": False},
    ],
)
def test_fingerprint_changes_with_the_meaning(change: dict[str, Any]) -> None:
    entry = {"command": "x", "args": ["1"], "env": {"A": "1", "B": "2"}}
    before = Config.from_dict({"servers": {"s": entry}}, env=NO_ENV).servers["s"]
    after = Config.from_dict({"servers": {"s": {**entry, **change}}}, env=NO_ENV).servers["s"]
    assert before.fingerprint() != after.fingerprint()


def test_fingerprint_sees_expanded_values() -> None:
    entry = {"url": "https://h/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
    old = Config.from_dict({"servers": {"s": entry}}, env={"TOKEN": "one"}).servers["s"]
    new = Config.from_dict({"servers": {"s": entry}}, env={"TOKEN": "two"}).servers["s"]
    assert old.raw == new.raw
    assert old.fingerprint() != new.fingerprint()


def test_diff_servers_is_what_reload_applies(tmp_path: Path) -> None:
    written = {"gone": {"command": "g"}, "same": {"command": "s"}, "edited": {"command": "e"}}
    old = load_config([write_json(tmp_path, "old.json", {"servers": written})], env=NO_ENV)
    # The same entry from another file, in the other shape, is no change: only its meaning counts.
    moved = {"fresh": {"command": "f"}, "edited": {"command": "E"}, "same": {"command": "s"}}
    new = load_config([write_json(tmp_path, "other.json", {"mcpServers": moved})], env=NO_ENV)
    changes = diff_servers(old, new)
    assert changes.as_dict() == {
        "added": ["fresh"],
        "removed": ["gone"],
        "changed": ["edited"],
        "unchanged": ["same"],
    }
    assert diff_servers(new, new).unchanged == ["fresh", "edited", "same"]


# --------------------------------------------------------------------------------------------------
# Errors: file, key path and reason


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "servers:\n  git:\n    args: [a, b\n    command: x\n")
    error = config_error(path)
    assert_points_at(error, path, None, "invalid YAML at line ")
    assert "column" in str(error)


def test_json_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.json", '{\n  "mcpServers": {\n    "git": {"command": "x" "args": []}\n  }\n}\n'
    )
    error = config_error(path)
    assert_points_at(error, path, None, "invalid JSON at line 3, column")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "[1, 2]\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "c.yaml", text)
    assert_points_at(config_error(path), path, None, "the top level must be a mapping")


def test_servers_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "servers: [git]\n")
    assert_points_at(config_error(path), path, "servers", "expected a mapping of server names")


def test_entry_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "mcpServers:\n  git: uvx mcp-server-git\n")
    assert_points_at(config_error(path), path, "mcpServers.git", "expected a mapping")


def test_unknown_transport(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "servers:\n  s: {type: websocket, url: 'wss://h'}\n")
    assert_points_at(config_error(path), path, "servers.s.type", "unknown transport 'websocket'")


def test_stdio_without_command(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "servers:\n  s: {transport: stdio, args: [x]}\n")
    assert_points_at(config_error(path), path, "servers.s.command", "required for a stdio server")


def test_empty_command(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "servers:\n  s: {command: ''}\n")
    assert_points_at(config_error(path), path, "servers.s.command", "must not be empty")


@pytest.mark.parametrize("transport", ["http", "sse", "streamable-http"])
def test_http_without_url(tmp_path: Path, transport: str) -> None:
    path = write(tmp_path, "c.yaml", f"servers:\n  s: {{type: {transport}}}\n")
    assert_points_at(config_error(path), path, "servers.s.url", "required for an")


@pytest.mark.parametrize("url", ["ftp://h/mcp", "localhost:8080/mcp", "/mcp", "https://"])
def test_url_must_be_http(tmp_path: Path, url: str) -> None:
    path = write_json(tmp_path, "c.json", {"mcpServers": {"r": {"type": "http", "url": url}}})
    assert_points_at(config_error(path), path, "mcpServers.r.url", "expected an http:// or https:// URL")


@pytest.mark.parametrize(
    ("entry", "key_path", "reason"),
    [
        ({"command": "x", "args": "x"}, "servers.git.args", "expected a list of strings"),
        ({"command": "x", "args": ["a", {"b": 1}]}, "servers.git.args[1]", "expected a string"),
        ({"command": ["x"]}, "servers.git.command", "expected a string"),
        ({"command": "x", "env": ["A=1"]}, "servers.git.env", "expected a mapping"),
        ({"command": "x", "env": {"A": ["1"]}}, "servers.git.env.A", "expected a string value"),
        (
            {"command": "x", "env": {"A=B": "1"}},
            'servers.git.env["A=B"]',
            "invalid environment variable name",
        ),
        (
            {"url": "https://h", "headers": {"Bad Name": "1"}},
            'servers.git.headers["Bad Name"]',
            "invalid header name",
        ),
        ({"command": "x", "cwd": 3}, "servers.git.cwd", "expected a string"),
        ({"command": "x", "timeout": -1}, "servers.git.timeout", "must be greater than 0"),
        ({"command": "x", "timeout": 0}, "servers.git.timeout", "must be greater than 0"),
        ({"command": "x", "timeout": "soon"}, "servers.git.timeout", "expected a number"),
        ({"command": "x", "timeout": True}, "servers.git.timeout", "expected a number"),
        ({"command": "x", "connect_timeout": float("inf")}, "servers.git.connect_timeout", "finite"),
        ({"command": "x", "shutdown_grace": -0.5}, "servers.git.shutdown_grace", "at least 0"),
        ({"command": "x", "enabled": "maybe"}, "servers.git.enabled", "expected true or false"),
        ({"command": "x", "disabled": "yes"}, "servers.git.disabled", "expected true or false"),
        ({"command": "x", "protocol": "2025-06-18"}, "servers.git.protocol", "expected one of"),
        ({"command": "x", "include_tools": "read_*"}, "servers.git.include_tools", "expected a list"),
        ({"command": "x", "exclude_tools": [1]}, "servers.git.exclude_tools[0]", "expected a string"),
        ({"command": "x", "max_output_chars": 2.5}, "servers.git.max_output_chars", "whole number"),
        ({"command": "x", "reconnect": 3}, "servers.git.reconnect", "expected a mapping"),
        ({"command": "x", "reconnect": {"attempts": -1}}, "servers.git.reconnect.attempts", "at least 0"),
        ({"command": "x", "reconnect_attempts": "many"}, "servers.git.reconnect_attempts", "whole number"),
        ({"command": "x", "reconnect_delay": 0}, "servers.git.reconnect_delay", "greater than 0"),
        (
            {"command": "x", "reconnect": {"base_delay": 10, "max_delay": 5}},
            "servers.git.reconnect",
            "max_delay (5) must be at least base_delay (10)",
        ),
        (
            {"command": "x", "reconnect": {"attempts": 1}, "reconnect_attempts": 2},
            "servers.git.reconnect_attempts",
            "given twice",
        ),
    ],
)
def test_wrong_values_in_an_entry(tmp_path: Path, entry: dict[str, Any], key_path: str, reason: str) -> None:
    path = write_json(tmp_path, "c.json", {"servers": {"git": entry}})
    assert_points_at(config_error(path), path, key_path, reason)


def test_key_path_uses_the_shape_the_file_used(tmp_path: Path) -> None:
    path = write_json(tmp_path, "claude.json", {"mcpServers": {"git": {"command": "x", "args": "x"}}})
    assert_points_at(config_error(path), path, "mcpServers.git.args", "expected a list of strings")


def test_key_path_quotes_unusual_names(tmp_path: Path) -> None:
    path = write_json(tmp_path, "c.json", {"mcpServers": {"my.server": {"command": "x", "timeout": "soon"}}})
    assert_points_at(config_error(path), path, 'mcpServers["my.server"].timeout', "expected a number")


@pytest.mark.parametrize(
    ("settings", "key_path", "reason"),
    [
        ({"timeout": "soon"}, "settings.timeout", "expected a number"),
        ({"timeout": -3}, "settings.timeout", "must be greater than 0"),
        ({"connect_timeout": [1]}, "settings.connect_timeout", "expected a number"),
        ({"auto_connect": "perhaps"}, "settings.auto_connect", "expected true or false"),
        ({"max_output_chars": -1}, "settings.max_output_chars", "at least 0"),
        ({"reconnect": {"attempts": "x"}}, "settings.reconnect.attempts", "whole number"),
        ({"reconnect_attempts": "x"}, "settings.reconnect_attempts", "whole number"),
        ({"reconnect_max_delay": -1}, "settings.reconnect_max_delay", "greater than 0"),
        ({"reconnect": "fast"}, "settings.reconnect", "expected a mapping"),
        (
            {"reconnect": {"base_delay": 10, "max_delay": 5}},
            "settings.reconnect.max_delay",
            "must be at least",
        ),
    ],
)
def test_wrong_values_in_settings(
    tmp_path: Path, settings: dict[str, Any], key_path: str, reason: str
) -> None:
    path = write_json(tmp_path, "c.json", {"settings": settings})
    assert_points_at(config_error(path), path, key_path, reason)


def test_settings_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "settings: fast\n")
    assert_points_at(config_error(path), path, "settings", "expected a mapping")


def test_inconsistent_merged_reconnect_names_the_file_that_made_it_so(tmp_path: Path) -> None:
    user = write(tmp_path, "user.yaml", "settings:\n  reconnect: {max_delay: 5}\n")
    project = write(tmp_path, "project.yaml", "settings:\n  reconnect_delay: 10\n")
    with pytest.raises(ConfigError) as caught:
        load_config([user, project], env=NO_ENV)
    assert_points_at(caught.value, project, "settings.reconnect_delay", "max_delay (5) must be at least")


def test_server_reconnect_inconsistent_with_merged_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        settings:
          reconnect: {max_delay: 5}
        servers:
          s: {command: x, reconnect_delay: 10}
        """,
    )
    assert_points_at(config_error(path), path, "servers.s.reconnect_delay", "max_delay (5) must be at least")


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mcp.yaml"
    assert_points_at(config_error(missing), missing, None, "config file not found")


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    assert_points_at(config_error(tmp_path), tmp_path, None, "is a directory")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("servers:\n  caf\xe9: {command: x}\n".encode("latin-1"))
    assert_points_at(config_error(path), path, None, "not UTF-8")


def test_duplicate_json_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.json", '{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}')
    assert_points_at(config_error(path), path, None, 'duplicate key "a"')


def test_later_file_error_is_reported_even_after_good_files(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", "servers:\n  a: {command: x}\n")
    bad = write(tmp_path, "bad.yaml", "servers:\n  a: {command: x, timeout: soon}\n")
    with pytest.raises(ConfigError) as caught:
        load_config([good, bad], env=NO_ENV)
    assert caught.value.file == str(bad)


def test_code_built_models_validate_too() -> None:
    with pytest.raises(ValueError, match="needs a command"):
        ServerConfig(name="s", transport="stdio")
    with pytest.raises(ValueError, match="needs a url"):
        ServerConfig(name="s", transport="http")
    with pytest.raises(ValueError, match="must not contain"):
        ServerConfig(name="a/b", transport="stdio", command="x")
    with pytest.raises(ValueError, match="must be at least base_delay"):
        ReconnectSettings(base_delay=10, max_delay=5)
    with pytest.raises(ValueError, match="named"):
        Config(servers={"a": ServerConfig(name="b", transport="stdio", command="x")})


def test_from_dict_rejects_a_non_mapping() -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        Config.from_dict(["not", "a", "mapping"], env=NO_ENV)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Unknown keys


def test_unknown_keys_warn_with_file_and_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        servers:
          git:
            comand: uvx
            command: uvx
            reconnect: {attempts: 1, jitter: true}
        settings:
          timout: 3
        extras: 1
        """,
    )
    with pytest.warns(ConfigWarning) as record:
        cfg = load_config(path, env=NO_ENV)
    messages = [str(w.message) for w in record]
    assert all(message.startswith(f"{path}: ") for message in messages)
    assert any("servers.git.comand: unknown key (did you mean 'command'?)" in m for m in messages)
    assert any("servers.git.reconnect.jitter: unknown key" in m for m in messages)
    assert any("settings.timout: unknown key (did you mean 'timeout'?)" in m for m in messages)
    assert any(": extras: unknown key" in m for m in messages)
    assert len(messages) == 4
    assert cfg.servers["git"].command == "uvx"  # the rest still loads
    assert cfg.settings.timeout == 30.0


def test_warning_is_attributed_to_the_caller(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "servers:\n  s: {command: x, envFile: .env}\n")
    with pytest.warns(ConfigWarning, match=r"servers\.s\.envFile: unknown key") as record:
        load_config(path, env=NO_ENV)
    assert record[0].filename == __file__


def test_schema_key_and_foreign_top_level_keys_are_quiet(tmp_path: Path) -> None:
    ours = write_json(tmp_path, "ours.json", {"$schema": "https://x/schema.json", "servers": {}})
    theirs = write_json(tmp_path, "theirs.json", {"mcpServers": {}, "preferences": {"x": 1}})
    assert load_quietly(ours, theirs).servers == {}


# --------------------------------------------------------------------------------------------------
# Secrets never appear in messages or reprs


def _all_text(error: BaseException) -> str:
    """Everything a traceback could show: the error and its whole cause/context chain."""
    parts = []
    current: BaseException | None = error
    while current is not None:
        parts.append(str(current))
        parts.append(repr(current))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.mark.parametrize(
    "text",
    [
        # a wrong option next to secret values
        f"servers:\n  s:\n    url: https://h\n"
        f'    headers: {{Authorization: "Bearer {SECRET}"}}\n    timeout: x\n',
        f"servers:\n  s:\n    command: x\n    env: {{TOKEN: {SECRET}}}\n    args: nope\n",
        # a YAML syntax error on the line that holds the secret
        f"servers:\n  s:\n    command: x\n    env: {{TOKEN: {SECRET}\n",
        f'servers:\n  s:\n    command: x\n    env:\n      TOKEN: "{SECRET}\n',
        # a duplicate key whose values are secrets (ruamel quotes both values in its own message)
        f"servers:\n  s:\n    command: x\n    env:\n      TOKEN: {SECRET}\n      TOKEN: {SECRET}2\n",
        # a JSON syntax error right after a secret
        f'{{"mcpServers": {{"s": {{"command": "x", "env": {{"TOKEN": "{SECRET}" "B": 1}}}}}}}}',
        # a literal URL with a secret in it
        f"servers:\n  s: {{type: http, url: 'ftp://user:{SECRET}@h/'}}\n",
    ],
)
def test_secrets_never_appear_in_errors(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "c.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=NO_ENV)
    assert SECRET not in _all_text(caught.value)


def test_secrets_never_appear_in_server_errors_warnings_or_reprs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        servers:
          s:
            type: http
            url: "${URL}"
            headers: {Authorization: "Bearer ${TOKEN}", X-Other: "${MISSING}"}
            env: {TOKEN: "${TOKEN}"}
            unknown_key: "${TOKEN}"
        """,
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cfg = load_config(path, env={"TOKEN": SECRET, "URL": f"ftp://{SECRET}@h/"})
    assert record  # the unknown key and the ignored env did warn ...
    assert all(SECRET not in str(w.message) for w in record)  # ... without the secret
    server = cfg.servers["s"]
    assert server.error is not None
    assert "MISSING" in server.error
    assert "url" in server.error
    assert SECRET not in server.error
    assert SECRET not in repr(server)
    assert SECRET not in repr(cfg)
    assert SECRET not in str(server)


def test_secrets_never_appear_in_code_validation_errors() -> None:
    with pytest.raises(ValueError, match="needs a command") as caught:
        ServerConfig(name="s", transport="stdio", env={"TOKEN": SECRET})
    assert SECRET not in _all_text(caught.value)


# --------------------------------------------------------------------------------------------------
# Settings and resolution


def test_settings_accept_flat_reconnect_spellings() -> None:
    settings = Settings.model_validate(
        {"reconnect_attempts": 2, "reconnect_delay": 0.5, "reconnect_max_delay": 8}
    )
    assert settings.reconnect == ReconnectSettings(attempts=2, base_delay=0.5, max_delay=8)
    with pytest.raises(ValueError, match="both given"):
        Settings.model_validate({"reconnect_attempts": 2, "reconnect": {"attempts": 3}})


def test_resolved_values_fall_back_to_settings() -> None:
    settings = Settings(
        timeout=11,
        connect_timeout=12,
        shutdown_grace=3,
        health_interval=60,
        max_output_chars=500,
        auto_connect=False,
    )
    plain = ServerConfig(name="a", transport="stdio", command="x")
    tuned = ServerConfig(
        name="b",
        transport="stdio",
        command="x",
        timeout=1,
        connect_timeout=2,
        shutdown_grace=0,
        health_interval=0,  # 0 switches health checks off for this server
        max_output_chars=0,  # 0 means no limit for this server
        auto_connect=True,
        reconnect=ReconnectSettings(attempts=1),
    )
    assert plain.effective(settings) == config_module.EffectiveServer(
        name="a",
        auto_connect=False,
        timeout=11,
        connect_timeout=12,
        reconnect=settings.reconnect,
        shutdown_grace=3,
        health_interval=60,
        max_output_chars=500,
    )
    assert tuned.resolved_timeout(settings) == 1
    assert tuned.resolved_connect_timeout(settings) == 2
    assert tuned.resolved_shutdown_grace(settings) == 0
    assert tuned.resolved_health_interval(settings) is None
    assert tuned.resolved_max_output_chars(settings) is None
    assert tuned.resolved_auto_connect(settings) is True
    assert tuned.resolved_reconnect(settings) == ReconnectSettings(attempts=1)


def test_models_are_frozen() -> None:
    server = ServerConfig(name="a", transport="stdio", command="x")
    with pytest.raises(ValueError, match="frozen"):
        server.command = "y"  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        Settings().timeout = 1  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# Import cost


def test_importing_config_does_not_import_the_sdk_or_yaml(tmp_path: Path) -> None:
    path = write_json(tmp_path, "c.json", {"mcpServers": {"a": {"command": "x"}}})
    code = (
        "import sys, patchbay.config as c\n"
        "assert 'mcp' not in sys.modules, 'mcp imported'\n"
        "assert 'ruamel.yaml' not in sys.modules, 'ruamel imported at import time'\n"
        f"c.load_config({str(path)!r}, env={{}})\n"
        "assert 'ruamel.yaml' not in sys.modules, 'ruamel imported for a JSON file'\n"
    )
    src = str(Path(patchbay.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
