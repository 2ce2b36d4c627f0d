"""The CLI on real fleets: a server that never answers, printing structured results, `prompt SERVER NAME`.

The hung server is a real process, `sleep 1000`: it is spawned, reads nothing and never answers
the handshake, the way a wedged server does.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import PY, SERVERS
from .test_cli import Cli, cli, echo, raw

__all__ = ["cli"]  # the fixture, imported for the tests below

HUNG: dict[str, Any] = {"command": "sleep", "args": ["1000"], "connect_timeout": 60}


def structured() -> dict[str, Any]:
    return {"command": PY, "args": [str(SERVERS / "structured.py")]}


# ---------------------------------------------------------------------------------- a hung server


@pytest.mark.timeout(240)
def test_one_server_commands_do_not_wait_for_a_hung_server(cli: Cli) -> None:
    fleet = cli.fleet(good=echo(), hung=HUNG)
    for args in (
        ["tools", "good"],
        ["call", "mcp__good__echo", "text=hi"],
        ["call", "good", "add", "a=1", "b=2"],
        ["read", "echo://static", "--server", "good"],
        ["prompt", "good", "greet", "name=Ada"],
        ["prompts", "good"],
        ["get", "good"],
    ):
        started = time.monotonic()
        run = cli("-c", fleet, *args, timeout=45)
        assert run.code == 0, (args, run.err)
        assert time.monotonic() - started < 30, args  # waiting for hung would take its 60 s
        assert "hung" not in run.err, args


@pytest.mark.timeout(120)
def test_fleet_listings_report_the_hung_server_after_connect_timeout(cli: Cli) -> None:
    fleet = cli.fleet(good=raw(), hung=HUNG)
    started = time.monotonic()
    run = cli("-c", fleet, "tools", "--connect-timeout", "2", timeout=30)
    assert time.monotonic() - started < 20
    assert run.code == 0, run.err
    assert "mcp__good__echo" in run.out
    assert "warning: hung did not answer within 2 s" in run.err
    as_json = cli("--json", "-c", fleet, "prompts", "--connect-timeout", "2.5", timeout=30)
    assert {"server": "hung", "state": "connecting", "error": "did not answer within 2.5 s"} in (
        as_json.json["errors"]
    )
    listed = cli("--json", "-c", fleet, "list", "--connect-timeout", "2", timeout=30)
    rows = {row["name"]: row for row in listed.json["servers"]}
    assert rows["hung"]["error"] == "did not answer within 2 s"
    for kind in ("resources", "templates"):
        other = cli("-c", fleet, kind, "--connect-timeout", "2", timeout=30)
        assert other.code == 0
        assert "hung did not answer within 2 s" in other.err


@pytest.mark.timeout(120)
def test_a_fleet_wide_wait_is_not_silent(cli: Cli) -> None:
    fleet = cli.fleet(good=raw(), hung=HUNG)
    run = cli("-c", fleet, "tools", "--connect-timeout", "4", timeout=30)
    # Before the wait runs out, stderr names the server it is waiting for and how to wait less.
    assert "waiting for hung (up to 4 s; --connect-timeout N waits less)" in run.err
    assert run.err.index("waiting for hung") < run.err.index("did not answer")


def test_one_named_server_that_does_not_answer_in_time_is_an_error(cli: Cli) -> None:
    fleet = cli.fleet(hung=HUNG)
    run = cli("-c", fleet, "tools", "hung", "--connect-timeout", "2", timeout=30)
    assert run.code == 4  # unreachable or timed out
    assert run.err == "error: hung: did not answer within 2 s\n"


# ----------------------------------------------------------------------------- structured output


def test_call_prints_structured_content_only_when_it_adds_to_the_text(cli: Cli) -> None:
    fleet = cli.fleet(s=structured())
    # `-> list[str]`: one text block per item; the structured {"result": [...]} repeats them.
    assert cli("-c", fleet, "call", "s", "names").out == "ada\ngrace\nlinus\n"
    point = cli("-c", fleet, "call", "s", "point")
    assert point.out.count('"x": 1') == 1  # the JSON text once, not again as structured content
    assert cli("-c", fleet, "call", "s", "count").out == "7\n"
    # Structured content that says more than the text is printed after it.
    search = cli("-c", fleet, "call", "s", "search", "query=cat")
    assert search.out.startswith("2 matches\n{\n")
    assert '"title": "cat two"' in search.out
