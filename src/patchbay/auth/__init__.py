"""OAuth for remote (HTTP/SSE) servers: ``auth: oauth`` in the config, ``patchbay login/logout NAME``.

The protocol work is the SDK's ``OAuthClientProvider`` (discovery of protected-resource and
authorization-server metadata, dynamic client registration or a URL-based client id, PKCE, RFC 8707
resource indicators, scope step-up, refresh). patchbay adds what a long-running host needs around it:

* **Persistence.** Tokens and the client registration live in the user data directory, one file per
  server (``oauth/<server>.json``), created with mode 0600 and replaced atomically. A file written
  for another server URL is ignored, so a changed ``url:`` never sends old tokens to a new host.
* **Refresh before expiry, and after a 401.** The SDK forgets a token's expiry (and where the token
  endpoint is) when tokens are loaded from storage; the file keeps both, and a token counts as
  expired ``REFRESH_MARGIN`` seconds early, so the refresh token is used before the server starts
  answering 401. A 401 anyway (a revoked token) is answered with one refresh before anything else.
* **No surprise browser windows.** A manager connecting in the background never starts an
  interactive login: the server goes to state ``needs_auth`` and ``patchbay login NAME`` (or a host
  ``Handlers.authorize`` callback) does it: the authorization URL is printed (and opened), and the
  redirect is received on a loopback port on 127.0.0.1.
* **Registrations the server forgot.** A client registration is stored with the tokens. When the
  token endpoint answers ``invalid_client`` for it (the authorization server restarted, or dropped
  it), it is forgotten and registration is done again, once; a registration omitting
  ``token_endpoint_auth_method`` sends its secret as RFC 7591 §2 says (``client_secret_basic``,
  or ``client_secret_post`` when that is all the server's metadata lists).
* **2025-03-26 servers.** Before protected-resource metadata existed, the authorization server sat
  at the MCP server's origin, and some published an ``issuer`` with a path (``<origin>/oauth``). The
  SDK insists that the issuer equal the origin and gives up; patchbay accepts a same-origin issuer
  on that legacy path only (``_provider.PatchbayProvider``), which is what the 2025-03-26 spec allowed.

The package, one job a module: ``_errors`` (``LoginRequired`` and its kinds, no SDK), ``_store``
(the token files, no SDK), ``_loopback`` (receiving and reading the browser's redirect),
``_provider`` (the SDK provider subclass) and ``_credentials`` (the client-credentials grant). The
last two import the SDK at import time and are imported only inside ``build_auth``, so importing
``patchbay.auth`` (the connection does, for ``LoginRequired``) does not import the SDK.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio

from ..config import ServerConfig
from ._errors import ClientRejected as ClientRejected
from ._errors import LoginRequired
from ._errors import UntrustedTokenEndpoint as UntrustedTokenEndpoint
from ._loopback import LoopbackReceiver, parse_redirect
from ._store import REFRESH_MARGIN, TokenStore, token_dir

if TYPE_CHECKING:
    import httpx2
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata

    from ..config import OAuthConfig

__all__ = [
    "DEFAULT_CALLBACK_PORT",
    "REFRESH_MARGIN",
    "Authorizer",
    "LoginRequired",
    "TokenStore",
    "build_auth",
    "login",
    "logout",
    "token_dir",
]

DEFAULT_CALLBACK_PORT = 33418
"""Loopback port of the redirect URI when neither ``callback_port`` nor a login chose one."""
CLIENT_NAME = "patchbay"

Authorizer = Callable[[str], Awaitable[str]]
"""Takes the authorization URL, returns the URL the browser was redirected to (with ``code``, ``state``)."""


def build_auth(
    server: ServerConfig,
    *,
    authorize: Authorizer | None = None,
    redirect_uri: str | None = None,
    directory: Path | None = None,
) -> httpx2.Auth | None:
    """The ``httpx2.Auth`` for a server with ``auth:``, or ``None`` for one without.

    Without ``authorize`` the flow never involves a person: it uses stored or refreshable tokens,
    or the client-credentials grant, and otherwise raises ``LoginRequired``.
    """
    auth = server.auth
    if auth is None:
        return None
    assert server.url is not None
    storage = TokenStore(server.name, server.url, directory)
    scope = " ".join(auth.scopes) if auth.scopes else None
    if auth.type == "client_credentials":
        from ._credentials import client_credentials

        return client_credentials(server, storage, scope)

    from ._provider import PatchbayProvider

    port = auth.callback_port or DEFAULT_CALLBACK_PORT
    redirect = redirect_uri or f"http://127.0.0.1:{port}/callback"
    landed: list[str] = []

    async def on_redirect(url: str) -> None:
        if authorize is None:
            raise LoginRequired(f"authorization needed: run `patchbay login {server.name}`")
        landed.append(await authorize(url))

    async def on_callback() -> AuthorizationCodeResult:
        if not landed:
            raise LoginRequired("no authorization redirect was received")
        return parse_redirect(landed.pop())

    provider: httpx2.Auth = PatchbayProvider(
        server.url,
        _client_metadata(redirect, scope),
        storage,
        redirect_handler=on_redirect,
        callback_handler=on_callback,
        client_metadata_url=auth.client_metadata_url,
        fixed_client=_fixed_client(auth, redirect, scope),
        extra_scope=scope,
        name=server.name,
    )
    return provider


def _client_metadata(redirect: str, scope: str | None) -> OAuthClientMetadata:
    """What patchbay registers as: an authorization-code client redirected to loopback."""
    from mcp.shared.auth import OAuthClientMetadata

    return OAuthClientMetadata(
        client_name=CLIENT_NAME,
        redirect_uris=[redirect],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=scope,
    )


def _fixed_client(auth: OAuthConfig, redirect: str, scope: str | None) -> OAuthClientInformationFull | None:
    """The configured ``client_id`` (and secret) as a registration, or ``None`` to register."""
    if not auth.client_id:
        return None
    from mcp.shared.auth import OAuthClientInformationFull

    return OAuthClientInformationFull(
        client_id=auth.client_id,
        client_secret=auth.client_secret,
        redirect_uris=[redirect],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        # With a secret, the method follows the server's metadata (`_provider._default_auth_method`).
        token_endpoint_auth_method=None if auth.client_secret else "none",
        scope=scope,
    )


async def login(
    server: ServerConfig,
    *,
    open_browser: bool = True,
    show: Callable[[str], None] = print,
    timeout: float = 300.0,
    directory: Path | None = None,
) -> None:
    """Authorise one server interactively and store its tokens.

    The authorization URL is shown (and opened in a browser when ``open_browser``); the redirect
    is received on 127.0.0.1 at ``callback_port`` (else the port of the stored registration, else
    a free one). Raises ``AuthRequired`` when it does not complete within ``timeout`` seconds.
    """
    from mcp import Client

    from .. import errors
    from .._sdk_errors import describe_exception
    from .._sdk_logs import route_sdk_logs
    from ..transports import build_transport

    route_sdk_logs()
    if server.auth is None:
        raise errors.ConfigError(
            f"server {server.name!r} has no `auth:` in its config", path=f"servers.{server.name}"
        )
    assert server.url is not None
    receiver = LoopbackReceiver(await _callback_port(server, directory) or 0)
    await receiver.open()

    async def authorize(url: str) -> str:
        show(f"Open this URL to authorise {server.name}:\n{url}")
        if open_browser:
            await anyio.to_thread.run_sync(webbrowser.open, url)
        return await receiver.wait()

    auth = build_auth(server, authorize=authorize, redirect_uri=receiver.redirect_uri, directory=directory)
    transport = build_transport(server, connect_timeout=30.0, shutdown_grace=2.0, auth=auth)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(receiver.serve)
            try:
                with anyio.fail_after(timeout):
                    async with Client(transport, mode=server.protocol, cache=None):
                        pass
            except TimeoutError:
                raise errors.AuthRequired(
                    server.name, f"login did not complete within {timeout:g}s"
                ) from None
            except errors.PatchbayError:
                raise
            except Exception as exc:
                raise errors.AuthRequired(server.name, f"login failed: {describe_exception(exc)}") from None
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the receiver's task group wraps what the login raised
        raise errors._unwrap_group(group) from None
    finally:
        await receiver.aclose()


async def _callback_port(server: ServerConfig, directory: Path | None) -> int | None:
    """The configured ``callback_port``, else the port the stored registration was made for."""
    assert server.auth is not None
    assert server.url is not None
    port = server.auth.callback_port
    if port is None:
        stored = await TokenStore(server.name, server.url, directory).get_client_info()
        if stored is not None and stored.redirect_uris:
            port = urlsplit(str(stored.redirect_uris[0])).port
    return port


def logout(server: ServerConfig, *, directory: Path | None = None) -> bool:
    """Forget a server's tokens and client registration; ``True`` if any were stored."""
    return TokenStore(server.name, server.url or "", directory).clear()
