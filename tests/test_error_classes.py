"""Errors in the right class: a server's ordinary refusal is not a protocol break.

A missing resource is ``ResourceNotFound``, bad prompt arguments are ``InvalidArguments`` (checked
against the listing before sending), a capability the server does not advertise is
``NotSupported`` (refused locally), a bare name two servers offer names both; the CLI says
``--server``, exits 5 for refused arguments and warns about argument names a tool does not declare.
Servers: tests/servers/echo.py (SDK, 2026-07-28), npm ``server-pdf`` (2025, resources without
``subscribe``) and a fastmcp 4.x server over stdio (2026-07-28, ``subscribe: false``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbay import (
    InvalidArguments,
    MCPManager,
    NotFoundError,
    NotSupported,
    PromptNotFound,
    ProtocolError,
    ResourceNotFound,
    ServerError,
    ToolNotFound,
)

from .conftest import FASTMCP_APP, PY, fleet, published_server, stdio
from .test_cli import Cli, cli, echo

__all__ = ["cli"]  # the fixture, imported for the CLI tests below

pytestmark = pytest.mark.anyio


async def test_a_resource_the_server_lacks_is_resource_not_found_naming_the_server() -> None:
    config = fleet(echo=stdio("echo.py"), fastmcp={"command": PY, "args": [str(FASTMCP_APP)]})
    async with MCPManager(config) as manager:
        for server, uri in (("echo", "echo://nope"), ("fastmcp", "fastmcp://nope")):
            with pytest.raises(ResourceNotFound) as caught:
                await manager.read_resource(uri, server=server)
            assert not isinstance(caught.value, ProtocolError)
            assert caught.value.server == server
            assert uri in str(caught.value)
        # The connection is fine afterwards: a refusal is not a broken server.
        assert manager.status()["echo"]["state"] == "ready"
        assert (await manager.read_resource("echo://static")).server == "echo"


async def test_prompt_arguments_are_checked_against_the_listing_before_sending() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        missing = r"missing required argument name \(it takes: name\)"
        with pytest.raises(InvalidArguments, match=missing) as caught:
            await manager.get_prompt("mcp__echo__greet", {})
        assert caught.value.server == "echo"
        assert isinstance(caught.value, ServerError)
        assert isinstance(caught.value, ValueError)
        with pytest.raises(InvalidArguments, match=r"unknown argument nmae \(it takes: name\)"):
            await manager.get_prompt("mcp__echo__greet", {"name": "Ada", "nmae": "Ada"})
        assert "Ada" in (await manager.get_prompt("mcp__echo__greet", {"name": "Ada"})).text


async def test_subscribing_where_the_server_offers_none_is_refused_locally(tmp_path: Path) -> None:
    pdf = tmp_path / "empty"
    pdf.mkdir()
    config = fleet(
        pdf=published_server("pdf", "--stdio", str(pdf)),
        fastmcp={"command": PY, "args": [str(FASTMCP_APP)]},
    )
    async with MCPManager(config) as manager:
        for server, uri in (("pdf", "ui://pdf-viewer/mcp-app.html"), ("fastmcp", "fastmcp://motto")):
            with pytest.raises(NotSupported, match="does not offer resource subscriptions") as caught:
                await manager.subscribe_resource(uri, server=server)
            assert caught.value.server == server
            await manager.unsubscribe_resource(uri, server=server)  # nothing was subscribed: a no-op
            assert manager.status()[server]["state"] == "ready"


async def test_a_bare_name_two_servers_offer_names_both_and_how_to_choose() -> None:
    async with MCPManager(fleet(inventory=stdio("echo.py"), backup=stdio("echo.py"))) as manager:
        with pytest.raises(ToolNotFound) as tool:
            await manager.call_tool("echo", {"text": "x"})
        assert str(tool.value) == (
            "tool 'echo' is offered by inventory and backup: use mcp__inventory__echo or pass server="
        )
        assert tool.value.candidates == ("inventory", "backup")
        with pytest.raises(PromptNotFound, match="offered by inventory and backup"):
            await manager.get_prompt("greet", {"name": "Ada"})
        with pytest.raises(NotFoundError, match=r"several servers \(inventory, backup\); pass server= to"):
            await manager.read_resource("echo://static")
        # Named, it works; a name nobody offers still gets the did-you-mean answer.
        assert (await manager.call_tool("echo", {"text": "x"}, server="backup")).server == "backup"
        with pytest.raises(ToolNotFound, match="no ready server offers a tool named 'ech'"):
            await manager.call_tool("ech", {"text": "x"})


def test_cli_speaks_of_the_server_option_and_lists_the_candidates(cli: Cli) -> None:
    fleet_file = cli.fleet(inventory=echo(), backup=echo())
    run = cli("-c", fleet_file, "call", "echo", "text=x")
    assert run.code == 1, run.err
    assert "offered by inventory and backup: use mcp__inventory__echo or pass --server" in run.err
    assert "server=" not in run.err
    as_json = cli("--json", "-c", fleet_file, "read", "echo://static")
    assert as_json.json["error"]["candidates"] == ["inventory", "backup"]
    assert "pass --server to choose" in as_json.json["error"]["message"]


def test_cli_refused_prompt_arguments_exit_5(cli: Cli) -> None:
    fleet_file = cli.fleet(echo=echo())
    run = cli("-c", fleet_file, "prompt", "mcp__echo__greet")
    assert run.code == 5, run.err
    assert "error: echo: prompt 'greet': missing required argument name (it takes: name)" in run.err
    assert "Traceback" not in run.err
    missing = cli("-c", fleet_file, "read", "--server", "echo", "echo://nope")
    assert missing.code == 1, missing.err
    assert "Unknown resource: echo://nope" in missing.err


def test_cli_call_warns_about_arguments_the_tool_does_not_declare(cli: Cli) -> None:
    fleet_file = cli.fleet(echo=echo())
    run = cli("-c", fleet_file, "call", "mcp__echo__add", "a=1", "b=2", "c=3")
    assert "warning: add does not declare the argument c; sent anyway (it takes: a, b)" in run.err
    assert run.out.strip() == "3"
    clean = cli("-c", fleet_file, "call", "mcp__echo__add", "a=1", "b=2")
    assert (clean.code, clean.err) == (0, "")
