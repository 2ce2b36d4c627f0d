"""Project-file trust: unapproved project servers never start; approvals are exact and survive nothing else.

Every test runs with its own user data and config directories (XDG_*) and a fresh project
directory as the working directory, so the real user's approvals and files are never touched.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from patchbay import MCPManager, ServerUnavailable, load_config
from patchbay.config import Config, ServerConfig
from patchbay.errors import TrustStoreError
from patchbay.trust import TrustStore, describe_server, entry_digest, trust_store_path

from .conftest import PY, SERVERS

pytestmark = pytest.mark.anyio

ECHO = str(SERVERS / "raw_echo.py")  # SDK-free: starts in ~20 ms


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the working directory, with private user dirs and no overrides."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("PATCHBAY_CONFIG", "PATCHBAY_TRUST_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "repo"
    (root / ".patchbay").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def marker_server(marker: Path, **extra: Any) -> dict[str, Any]:
    """A real echo server that first creates ``marker``: the file exists iff the entry was started."""
    return {"command": "sh", "args": ["-c", f'touch "{marker}" && exec "{PY}" "{ECHO}"'], **extra}


def write_project(root: Path, servers: dict[str, Any]) -> Path:
    path = root / ".patchbay" / "mcp.yaml"
    path.write_text(json.dumps({"servers": servers}))
    return path


def project_server(name: str) -> ServerConfig:
    return load_config().servers[name]


# ------------------------------------------------------------------------------ the library rule


async def test_project_server_is_not_started_until_trusted_and_again_after_a_change(project: Path) -> None:
    marker = project / "started"
    write_project(project, {"proj": marker_server(marker)})

    async with MCPManager.from_config() as manager:
        status = manager.status()["proj"]
        assert status["state"] == "untrusted"
        assert "patchbay trust proj" in status["error"]
        assert str(project / ".patchbay" / "mcp.yaml") in status["error"]
        assert status["pid"] is None
        assert manager.tools() == []
        with pytest.raises(ServerUnavailable) as caught:
            await manager.call_tool("mcp__proj__echo", {"text": "x"})
        assert caught.value.state == "untrusted"
        with pytest.raises(ServerUnavailable) as refused:
            await manager.connect("proj")
        assert refused.value.state == "untrusted"
    assert not marker.exists()

    TrustStore().approve(project_server("proj"))
    async with MCPManager.from_config() as manager:
        assert manager.status()["proj"]["state"] == "ready"
        assert (await manager.call_tool("mcp__proj__echo", {"text": "hi"})).text == "hi"
    assert marker.exists()

    other = project / "started-changed"
    write_project(project, {"proj": marker_server(other)})
    async with MCPManager.from_config() as manager:
        status = manager.status()["proj"]
        assert status["state"] == "untrusted"
        assert "changed since it was approved" in status["error"]
    assert not other.exists()


async def test_other_layers_and_explicit_files_are_trusted(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_marker, env_marker, explicit_marker = (tmp_path / n for n in ("user", "env", "explicit"))
    user_file = tmp_path / "config" / "patchbay" / "mcp.yaml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(json.dumps({"servers": {"mine": marker_server(user_marker)}}))
    env_file = tmp_path / "env.yaml"
    env_file.write_text(json.dumps({"servers": {"named": marker_server(env_marker)}}))
    explicit_file = tmp_path / "explicit.json"
    explicit_file.write_text(json.dumps({"mcpServers": {"chosen": marker_server(explicit_marker)}}))
    write_project(project, {"proj": marker_server(project / "started")})

    monkeypatch.setenv("PATCHBAY_CONFIG", str(env_file))
    async with MCPManager.from_config() as manager:
        states = {name: s["state"] for name, s in manager.status().items()}
    assert states == {"mine": "ready", "proj": "untrusted", "named": "ready"}
    assert user_marker.exists()
    assert env_marker.exists()
    assert not (project / "started").exists()

    # A file the program names is the program's choice, even when it is the project file itself.
    async with MCPManager.from_config([explicit_file, project / ".patchbay" / "mcp.yaml"]) as manager:
        assert {s["state"] for s in manager.status().values()} == {"ready"}
    assert explicit_marker.exists()
    assert (project / "started").exists()


async def test_a_project_file_cannot_hijack_a_user_server(project: Path, tmp_path: Path) -> None:
    """Redefining a user-level server in the project file makes it a project server, so untrusted."""
    user_file = tmp_path / "config" / "patchbay" / "mcp.yaml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(json.dumps({"servers": {"git": {"command": PY, "args": [ECHO]}}}))
    write_project(project, {"git": marker_server(project / "started")})
    async with MCPManager.from_config() as manager:
        assert manager.status()["git"]["state"] == "untrusted"
    assert not (project / "started").exists()


@pytest.mark.parametrize("how", ["argument", "environment"])
async def test_programs_can_trust_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    marker = project / "started"
    write_project(project, {"proj": marker_server(marker)})
    if how == "environment":
        monkeypatch.setenv("PATCHBAY_TRUST_PROJECT", "1")
    manager = MCPManager.from_config(trust_project=how == "argument")
    async with manager:
        assert manager.status()["proj"]["state"] == "ready"
    assert marker.exists()
    assert not trust_store_path().exists(), "trusting by flag must not record approvals"


async def test_trust_project_env_needs_a_true_value(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(project, {"proj": marker_server(project / "started")})
    monkeypatch.setenv("PATCHBAY_TRUST_PROJECT", "0")
    async with MCPManager.from_config() as manager:
        assert manager.status()["proj"]["state"] == "untrusted"


async def test_approval_in_another_process_takes_effect_on_connect(project: Path) -> None:
    marker = project / "started"
    write_project(
        project, {"proj": marker_server(marker), "off": marker_server(project / "x", enabled=False)}
    )
    async with MCPManager.from_config() as manager:
        assert manager.status()["proj"]["state"] == "untrusted"
        assert manager.status()["off"]["state"] == "disabled"
        TrustStore().approve(project_server("proj"))  # as `patchbay trust` in another shell would
        await manager.connect("proj")
        assert manager.status()["proj"]["state"] == "ready"
        assert marker.exists()

        # A revoked approval does not kill a running server; it applies at the next connect.
        TrustStore().revoke(project_server("proj"))
        assert manager.status()["proj"]["state"] == "ready"
        await manager.disconnect("proj")
        with pytest.raises(ServerUnavailable, match="patchbay trust proj"):
            await manager.connect("proj")
        assert manager.status()["proj"]["state"] == "untrusted"


async def test_reload_releases_newly_trusted_and_holds_changed_servers(project: Path) -> None:
    first, second = project / "first", project / "second"
    write_project(project, {"proj": marker_server(first)})
    async with MCPManager.from_config() as manager:
        assert manager.status()["proj"]["state"] == "untrusted"
        TrustStore().approve(project_server("proj"))
        await manager.reload()
        assert manager.status()["proj"]["state"] == "ready"
        assert first.exists()

        write_project(project, {"proj": marker_server(second)})
        outcome = await manager.reload()
        assert outcome["changed"] == ["proj"]
        assert manager.status()["proj"]["state"] == "untrusted"
        assert not second.exists()


async def test_unreadable_store_means_untrusted_and_is_not_overwritten(project: Path) -> None:
    write_project(project, {"proj": marker_server(project / "started")})
    path = trust_store_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    async with MCPManager.from_config() as manager:
        status = manager.status()["proj"]
    assert status["state"] == "untrusted"
    assert "not valid JSON" in status["error"]
    with pytest.raises(TrustStoreError, match="not valid JSON"):
        TrustStore().approve(project_server("proj"))
    assert path.read_text() == "{not json"
    assert not (project / "started").exists()


# ----------------------------------------------------------------------------- the trust store


def test_digest_covers_what_runs_and_ignores_tuning(project: Path) -> None:
    base = {"command": "node", "args": ["server.js"], "env": {"TOKEN": "${TOKEN}"}}

    def digest(entry: dict[str, Any]) -> str:
        return entry_digest(Config.from_dict({"servers": {"s": entry}}).servers["s"])

    reference = digest(base)
    for changed in (
        {**base, "command": "python"},
        {**base, "args": ["server.js", "--evil"]},
        {**base, "env": {"TOKEN": "${OTHER}"}},
        {**base, "env": {**base["env"], "EXTRA": "1"}},
        {**base, "cwd": "/tmp"},
        {**base, "env_passthrough": ["AWS_SECRET_ACCESS_KEY"]},
        {**base, "inherit_env": True},
    ):
        assert digest(changed) != reference, changed
    for tuned in (
        {**base, "timeout": 5},
        {**base, "enabled": False},
        {**base, "exclude_tools": ["x"]},
        {**base, "reconnect": {"attempts": 1}},
        {**base, "protocol": "legacy"},
    ):
        assert digest(tuned) == reference, tuned
    assert digest({"args": ["server.js"], "env": {"TOKEN": "${TOKEN}"}, "command": "node"}) == reference


def test_digest_is_of_the_entry_as_written_not_of_secrets(project: Path) -> None:
    """A rotated token keeps the approval, and no digest of the token's value is stored."""
    entry = {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
    one = Config.from_dict({"servers": {"s": entry}}, env={"TOKEN": "first-secret"}).servers["s"]
    two = Config.from_dict({"servers": {"s": entry}}, env={"TOKEN": "second-secret"}).servers["s"]
    assert entry_digest(one) == entry_digest(two)


def test_store_file_is_private_and_keyed_by_file_and_name(project: Path) -> None:
    path = write_project(project, {"a": {"command": "true"}, "b": {"command": "true"}})
    store = TrustStore()
    store.approve(project_server("a"))
    assert store.is_trusted(project_server("a"))
    assert not store.is_trusted(project_server("b")), "an approval is for one server, not the file"
    mode = stat.S_IMODE(trust_store_path().stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(trust_store_path().parent.stat().st_mode) == 0o700
    data = json.loads(trust_store_path().read_text())
    assert list(data["projects"]) == [os.path.realpath(path)]
    assert set(data["projects"][os.path.realpath(path)]) == {"a"}

    # The same entry in another project's file is a different approval.
    elsewhere = project / "sub" / "other"
    (elsewhere / ".patchbay").mkdir(parents=True)
    write_project(elsewhere, {"a": {"command": "true"}})
    assert not store.is_trusted(load_config(cwd=elsewhere).servers["a"])

    assert store.revoke(project_server("a"))
    assert not store.revoke(project_server("a"))
    assert not store.is_trusted(project_server("a"))
    assert store.approvals() == []


def test_describe_shows_what_runs_but_never_values(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "tok-very-secret-1234")
    write_project(
        project,
        {
            "local": {
                "command": "npx",
                "args": ["-y", "some-server", "--token", "${MY_TOKEN}"],
                "cwd": "..",
                "env": {"API_KEY": "${MY_TOKEN}", "LITERAL": "literal-secret-5678"},
                "env_passthrough": ["AWS_PROFILE"],
            },
            "remote": {
                "url": "https://user:pw-secret@example.com/mcp?key=query-secret-9",
                "headers": {"Authorization": "Bearer ${MY_TOKEN}"},
            },
            "greedy": {"command": "x", "inherit_env": True},
        },
    )
    config = load_config()
    local = dict(describe_server(config.servers["local"]))
    assert local["command"] == "npx"
    assert local["args"] == "-y some-server --token ${MY_TOKEN}"
    assert local["cwd"] == str(project)
    assert local["env"] == "API_KEY (from $MY_TOKEN), LITERAL"
    assert local["env_passthrough"] == "AWS_PROFILE"
    assert local["host variables"] == "MY_TOKEN"
    remote = dict(describe_server(config.servers["remote"]))
    assert remote["url"] == "https://user:***@example.com/mcp?key=***"
    assert remote["headers"] == "Authorization (from $MY_TOKEN)"
    assert "WHOLE host environment" in dict(describe_server(config.servers["greedy"]))["inherit_env"]
    shown = repr([describe_server(s) for s in config.servers.values()])
    for secret in ("tok-very-secret-1234", "literal-secret-5678", "pw-secret", "query-secret-9"):
        assert secret not in shown


async def test_patchbay_config_naming_the_project_file_is_trusted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = project / "started"
    path = write_project(project, {"proj": marker_server(marker)})
    monkeypatch.setenv("PATCHBAY_CONFIG", str(path))
    assert load_config().servers["proj"].layer == "env"
    async with MCPManager.from_config() as manager:
        assert manager.status()["proj"]["state"] == "ready"
    assert marker.exists()


def test_an_approval_follows_the_real_path(project: Path, tmp_path: Path) -> None:
    write_project(project, {"a": {"command": "true"}})
    TrustStore().approve(project_server("a"))
    link = tmp_path / "link-to-repo"
    link.symlink_to(project, target_is_directory=True)
    via_link = load_config(cwd=link).servers["a"]
    assert via_link.source is not None
    assert str(link) in via_link.source
    assert TrustStore().is_trusted(via_link)


def test_concurrent_approvals_are_all_kept(project: Path) -> None:
    """Read-modify-write under a lock: parallel `patchbay trust` runs never drop each other's approval."""
    names = [f"s{i}" for i in range(16)]
    write_project(project, {name: {"command": "true"} for name in names})
    servers = load_config().servers
    threads = [threading.Thread(target=TrustStore().approve, args=(servers[n],)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.server for a in TrustStore().approvals()} == set(names)
    assert not list(trust_store_path().parent.glob(".trust-*")), "no temporary files left behind"
