"""Attacks through the transports, against real servers: secrets cut before masking, OAuth tokens
echoed back, endless HTTP bodies, a token endpoint on a third origin, escaped grandchildren,
endless listings and symlinks planted in the token directory (issue 12)."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from patchbay import MCPManager, ProtocolError
from patchbay.auth import TokenStore
from patchbay.config import load_config
from patchbay.errors import TrustStoreError
from patchbay.trust import TrustStore

from .conftest import stdio

pytestmark = pytest.mark.anyio

CUT = 500  # the stderr line length kept (``transports._stdio._STDERR_LINE_CHARS``)


async def test_a_secret_straddling_the_stderr_cut_is_masked_whole(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The line is cut just before the key's last character: cut first, the rest would leak."""
    secret = "sk-cut-8a7b6c5d4e3f"
    monkeypatch.setenv("PB_CUT_SECRET", secret)
    padding = "x" * (CUT - len(secret) + 1)
    entry = stdio("crash.py", "--message", padding + "${PB_CUT_SECRET} tail")
    caplog.set_level(logging.DEBUG, logger="patchbay")
    async with MCPManager({"servers": {"leaky": entry}}) as manager:
        status = manager.status()["leaky"]
    assert status["state"] == "failed"
    assert f"{padding}***" in status["error"], status["error"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{padding}***" in logged, "the -v log has the masked line"
    shown = logged + json.dumps(status)
    for length in range(4, len(secret) + 1):
        assert secret[:length] not in shown, f"{length} characters of the key leaked"


# ------------------------------------------------------------- symlinks planted in private dirs


async def test_a_planted_symlink_at_the_token_temp_name_is_not_written_through(tmp_path: Path) -> None:
    """The old temp name was ``.<name>.json.<pid>.tmp``: predictable, opened without O_NOFOLLOW."""
    from mcp.shared.auth import OAuthToken

    directory = tmp_path / "oauth"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    planted = directory / f".remote.json.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    store = TokenStore("remote", "http://127.0.0.1:9/mcp", directory)
    await store.set_tokens(OAuthToken(access_token="at-planted-0123456789", token_type="Bearer"))
    assert victim.read_text() == "untouched\n", "the tokens were written through the symlink"
    assert planted.is_symlink()
    assert (await store.get_tokens()) is not None
    assert stat.S_IMODE((directory / "remote.json").stat().st_mode) == 0o600


def test_a_planted_symlink_at_the_trust_lock_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trust.json.lock`` was opened with O_CREAT through a symlink: a file created wherever it points."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("PATCHBAY_CONFIG", "PATCHBAY_TRUST_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "repo"
    (root / ".patchbay").mkdir(parents=True)
    (root / ".patchbay" / "mcp.yaml").write_text(json.dumps({"servers": {"proj": {"command": "true"}}}))
    monkeypatch.chdir(root)
    store = TrustStore(tmp_path / "store" / "trust.json")
    store.path.parent.mkdir()
    victim = tmp_path / "created-by-the-lock"
    (store.path.parent / "trust.json.lock").symlink_to(victim)
    with pytest.raises(TrustStoreError, match="symbolic link"):
        store.approve(load_config().servers["proj"])
    assert not victim.exists(), "the lock open followed the symlink"
    assert not store.path.exists()


# ------------------------------------------------------------------- an endless JSON response


async def test_an_endless_json_response_fails_the_call_fast_with_bounded_memory(http_server: Any) -> None:
    """The server answers a call with ``application/json`` that never ends: the body is capped."""
    server = http_server("hostile_http.py", "http")
    config = {
        "settings": {"max_response_bytes": 4 * 1024 * 1024},
        "servers": {"flood": {"url": server.url(), "timeout": 8}},
    }
    process = psutil.Process()
    async with MCPManager(config) as manager:
        assert manager.status()["flood"]["state"] == "ready"
        before = process.memory_info().rss
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="larger than 4194304 bytes") as caught:
            await manager.call_tool("mcp__flood__flood", {})
        took = time.monotonic() - started
        grown = process.memory_info().rss - before
        assert took < 5, f"the call took {took:.1f}s: the cap did not stop the body"
        assert grown < 64 * 1024 * 1024, f"the host grew by {grown / 2**20:.0f} MiB"
        assert "max_response_bytes" in str(caught.value)
        # The session is fine: the next call on it works.
        result = await manager.call_tool("mcp__flood__echo", {"text": "still here"})
        assert result.text == "still here"


# ------------------------------------------------------------ client credentials and tokens

CLIENT_SECRET = "cs-never-elsewhere-7q2w9e"


@pytest.fixture
def oauth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tokens go to a fresh user data directory; the client secret comes from the environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PB_CC_SECRET", CLIENT_SECRET)
    return tmp_path / "data" / "patchbay" / "oauth"


def client_credentials(url: str, **auth: Any) -> dict[str, Any]:
    entry = {"url": url, "timeout": 10, "connect_timeout": 10}
    entry["auth"] = {
        "type": "client_credentials",
        "client_id": "patchbay-test",
        "client_secret": "${PB_CC_SECRET}",
    }
    entry["auth"].update(auth)
    return {"servers": {"remote": entry}}


async def test_a_token_endpoint_on_a_third_origin_never_gets_the_client_secret(
    oauth_home: Path, tmp_path: Path, http_server: Any
) -> None:
    """The resource's authorization-server metadata points its token endpoint at another origin."""
    record = tmp_path / "arrived.jsonl"
    thief = http_server("hostile_http.py", "http", "--record", str(record))
    resource = http_server("hostile_http.py", "http", "--oauth", "--token-endpoint", thief.url("/token"))
    async with MCPManager(client_credentials(resource.url())) as manager:
        status = manager.status()["remote"]
    assert status["state"] in ("failed", "needs_auth"), status
    assert "issuer" in status["error"], status["error"]
    assert thief.url("/token") in status["error"]
    assert not record.exists(), f"the third origin was sent: {record.read_text()}"


async def test_a_token_endpoint_off_the_pinned_issuer_is_refused(
    oauth_home: Path, tmp_path: Path, http_server: Any
) -> None:
    """With ``issuer:`` pinned, the token endpoint must be on the issuer's origin, whatever the
    issuer's metadata says (the SDK checks only that the metadata names that issuer)."""
    record = tmp_path / "arrived.jsonl"
    thief = http_server("hostile_http.py", "http", "--record", str(record))
    resource = http_server("hostile_http.py", "http", "--oauth", "--token-endpoint", thief.url("/token"))
    config = client_credentials(resource.url(), issuer=resource.url("").rstrip("/"))
    async with MCPManager(config) as manager:
        status = manager.status()["remote"]
    assert status["state"] in ("failed", "needs_auth"), status
    assert thief.url("/token") in status["error"]
    assert not record.exists(), f"the third origin was sent: {record.read_text()}"


async def test_an_access_token_the_server_echoes_back_is_masked(
    oauth_home: Path, http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The token endpoint on the resource's own origin is fine; the token it gave is then a secret."""
    resource = http_server("hostile_http.py", "http", "--oauth")
    caplog.set_level(logging.DEBUG)
    async with MCPManager(client_credentials(resource.url())) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]
        stored = json.loads((oauth_home / "remote.json").read_text())
        token = stored["tokens"]["access_token"]
        with pytest.raises(ProtocolError) as caught:
            await manager.call_tool("mcp__remote__whoami", {})
        message = str(caught.value)
        shown = message + json.dumps(manager.status())
    assert "not allowed for Bearer ***" in message, message
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in shown + logged
    assert CLIENT_SECRET not in shown + logged


# ------------------------------------------------------------------------ an endless listing


async def test_endless_distinct_cursors_stop_at_the_item_cap(caplog: pytest.LogCaptureFixture) -> None:
    """Every page brings 50 new tools and a new cursor: the listing stops at 10,000 items, and says so."""
    caplog.set_level(logging.WARNING, logger="patchbay")
    async with MCPManager(
        {"servers": {"endless": stdio("paged.py", "--endless", "--page-size", "50")}}
    ) as manager:
        status = manager.status()["endless"]
        assert status["state"] == "ready", status
        assert status["tools"] == 10_000
        assert len(manager.tools()) == 10_000
        assert status["truncated"] == {"tools": "stopped at 10000 items (settings.max_list_items)"}
    assert "listing tools stopped at 10000 items" in caplog.text


async def test_the_item_cap_is_a_setting() -> None:
    config = {
        "settings": {"max_list_items": 120},
        "servers": {"endless": stdio("paged.py", "--endless", "--page-size", "50")},
    }
    async with MCPManager(config) as manager:
        status = manager.status()["endless"]
        assert status["tools"] == 120
        assert status["truncated"] == {"tools": "stopped at 120 items (settings.max_list_items)"}
    async with MCPManager({"servers": {"paged": stdio("paged.py")}}) as manager:
        assert manager.status()["paged"]["truncated"] is None, "a list that ends is not cut"
