"""`patchbay serve` reloading its config while hosts stay connected: SIGHUP and `--watch`.

A real `patchbay serve` process, real upstreams (tests/servers/probe.py, echo.py) and the SDK's
`Client` downstream. The config file is rewritten under the running gateway; the downstream
session must survive, see a `list_changed`, and get the documented outcome for a call that was
running on a server the reload removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client

from .conftest import free_port, wait_for_port
from .test_serve import Fleet, ToolChanges, _text, fleet, http_client, wait_until

pytestmark = pytest.mark.anyio
__all__ = ["fleet"]  # the fixture, imported to be found here


@contextmanager
def gateway(fleet: Fleet, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    """`patchbay serve --http` with its stderr kept in a file (what an operator would read)."""
    port = free_port()
    log = fleet.root / "serve.stderr"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            fleet.argv("--http", f"127.0.0.1:{port}", *extra),
            env={**os.environ, **fleet.env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_for_port(port, proc)
        yield proc, log, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _save(fleet: Fleet) -> None:
    """Rewrite the config file in place (a new file renamed over the old, as editors do)."""
    path = Path(fleet.write())
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps({"servers": fleet.servers}))
    staged.replace(path)


async def test_sighup_applies_the_new_config_and_a_removed_servers_call_fails_cleanly(fleet: Fleet) -> None:
    fleet.probe("p", "one").echo("echo")
    with gateway(fleet) as (proc, log, port):
        changes = ToolChanges()
        url = f"http://127.0.0.1:{port}/mcp"
        async with http_client(url, "legacy", message_handler=changes.on_message) as client:
            assert "mcp__p__widget" in {t.name for t in (await client.list_tools()).tools}
            started = anyio.Event()
            outcome: list[object] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                started.set()

            async def call_the_doomed_server() -> None:
                outcome.append(
                    await client.call_tool("mcp__p__wait_cancel", {"key": "k"}, progress_callback=on_progress)
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(call_the_doomed_server)
                with anyio.fail_after(20):
                    await started.wait()  # the call is running on p
                del fleet.servers["p"]
                fleet.probe("q", "two")
                _save(fleet)
                os.kill(proc.pid, signal.SIGHUP)
                names = await changes.until_listed(client, "mcp__q__widget")
            assert "mcp__p__widget" not in names
            (result,) = outcome
            assert result.is_error  # type: ignore[attr-defined]
            # A readable tool error that says what happened, not a dropped session.
            assert (
                _text(result)
                == "p: connection lost during tool 'wait_cancel': the server was removed from the config"
            )
            assert _text(await client.call_tool("mcp__q__widget", {"text": "x"})) == "two: x"
            assert _text(await client.call_tool("mcp__echo__echo", {"text": "kept"})) == "kept"
            wait_until(
                lambda: "config reloaded: added q; removed p" in log.read_text(), what="the reload line"
            )

            # A config that does not load changes nothing, and says where it is wrong.
            fleet.servers["bad"] = {"command": 5}
            _save(fleet)
            os.kill(proc.pid, signal.SIGHUP)
            wait_until(lambda: "config not reloaded" in log.read_text(), what="the refusal")
            refusal = log.read_text().split("config not reloaded", 1)[1]
            assert "fleet.json" in refusal
            assert "bad" in refusal
            assert _text(await client.call_tool("mcp__q__widget", {"text": "y"})) == "two: y"
        assert proc.poll() is None  # neither reload took the gateway down


async def test_watch_reloads_on_save_with_stdio_hosts_connected(fleet: Fleet) -> None:
    fleet.echo("echo")
    changes = ToolChanges()
    params = fleet.stdio("--watch")
    async with Client(params, mode="legacy", message_handler=changes.on_message) as client:  # type: ignore[arg-type]
        await client.list_tools()
        fleet.probe("p", "one")
        _save(fleet)
        await changes.until_listed(client, "mcp__p__widget")
        assert _text(await client.call_tool("mcp__p__widget", {"text": "new"})) == "one: new"
        assert _text(await client.call_tool("mcp__echo__echo", {"text": "kept"})) == "kept"


def test_watch_needs_config_files() -> None:
    """An in-code fleet has no files to watch: a clear error, before anything starts."""
    from patchbay.gateway import GatewayError, serve

    with pytest.raises(GatewayError, match="--watch needs a config read from files"):
        anyio.run(lambda: serve({"servers": {}}, watch=True))
