"""The host's environment stays in the host: what a real stdio server process can see.

Each test asks tests/servers/echo.py's ``env`` tool for variables inside the running server.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from patchbay import MCPManager

from .conftest import fleet, stdio

pytestmark = pytest.mark.anyio

SECRET = "AKIA-host-only-secret-value"


async def seen_by(server: dict[str, Any], *names: str) -> dict[str, str]:
    """The values the server process has for ``names`` ('<unset>' when absent)."""
    async with MCPManager(fleet(probe=server)) as manager:
        assert manager.status()["probe"]["state"] == "ready", manager.status()["probe"]["error"]
        return {name: (await manager.call_tool("mcp__probe__env", {"name": name})).text for name in names}


@pytest.fixture
def host_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-host-only")
    monkeypatch.setenv("PATCHBAY_TEST_PLAIN", "plain")


@pytest.mark.usefixtures("host_secrets")
async def test_host_secrets_do_not_reach_a_server_that_did_not_ask() -> None:
    seen = await seen_by(stdio("echo.py"), "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PATCHBAY_TEST_PLAIN")
    assert seen == {
        "AWS_SECRET_ACCESS_KEY": "<unset>",
        "GITHUB_TOKEN": "<unset>",
        "PATCHBAY_TEST_PLAIN": "<unset>",
    }


@pytest.mark.usefixtures("host_secrets")
async def test_the_safe_base_is_passed() -> None:
    seen = await seen_by(stdio("echo.py"), "HOME", "PATH")
    assert seen == {"HOME": os.environ["HOME"], "PATH": os.environ["PATH"]}


@pytest.mark.usefixtures("host_secrets")
async def test_env_passthrough_passes_only_the_names_given() -> None:
    seen = await seen_by(
        stdio("echo.py", env_passthrough=["GITHUB_TOKEN", "NOT_SET_ANYWHERE"]),
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "NOT_SET_ANYWHERE",
    )
    assert seen == {
        "GITHUB_TOKEN": "ghp-host-only",
        "AWS_SECRET_ACCESS_KEY": "<unset>",
        "NOT_SET_ANYWHERE": "<unset>",
    }


@pytest.mark.usefixtures("host_secrets")
async def test_config_env_sets_values_and_references_pass_only_what_they_name() -> None:
    server = stdio("echo.py", env={"AWS_SECRET_ACCESS_KEY": "${AWS_SECRET_ACCESS_KEY}", "MODE": "test"})
    seen = await seen_by(server, "AWS_SECRET_ACCESS_KEY", "MODE", "GITHUB_TOKEN")
    assert seen == {"AWS_SECRET_ACCESS_KEY": SECRET, "MODE": "test", "GITHUB_TOKEN": "<unset>"}


@pytest.mark.usefixtures("host_secrets")
async def test_config_env_overrides_the_base_and_passthrough() -> None:
    server = stdio("echo.py", env={"HOME": "/nonexistent-home", "GITHUB_TOKEN": "from-config"})
    server["env_passthrough"] = ["GITHUB_TOKEN"]
    seen = await seen_by(server, "HOME", "GITHUB_TOKEN")
    assert seen == {"HOME": "/nonexistent-home", "GITHUB_TOKEN": "from-config"}


@pytest.mark.usefixtures("host_secrets")
async def test_inherit_env_is_the_explicit_opt_in_for_everything() -> None:
    seen = await seen_by(stdio("echo.py", inherit_env=True), "AWS_SECRET_ACCESS_KEY", "PATCHBAY_TEST_PLAIN")
    assert seen == {"AWS_SECRET_ACCESS_KEY": SECRET, "PATCHBAY_TEST_PLAIN": "plain"}


async def test_exported_shell_functions_are_not_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bash-exported function in a safe name (Shellshock-style value) is dropped, not passed."""
    monkeypatch.setenv("TERM", "() { :; }; echo pwned")
    seen = await seen_by(stdio("echo.py"), "TERM")
    assert seen == {"TERM": "<unset>"}
