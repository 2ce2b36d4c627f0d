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
  on that legacy path only (``_PatchbayProvider``), which is what the 2025-03-26 spec allowed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
import webbrowser
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio

from .config import ServerConfig

if TYPE_CHECKING:
    import httpx2
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

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

logger = logging.getLogger("patchbay")

REFRESH_MARGIN = 60.0
"""Seconds before its expiry that an access token is refreshed."""
DEFAULT_CALLBACK_PORT = 33418
"""Loopback port of the redirect URI when neither ``callback_port`` nor a login chose one."""
CLIENT_NAME = "patchbay"

Authorizer = Callable[[str], Awaitable[str]]
"""Takes the authorization URL, returns the URL the browser was redirected to (with ``code``, ``state``)."""


class LoginRequired(Exception):
    """Raised inside the OAuth flow when it would need a person and none is available."""


# --------------------------------------------------------------------------------------- storage


def token_dir() -> Path:
    """``oauth/`` in the user data directory (``$XDG_DATA_HOME/patchbay/oauth`` on Linux)."""
    import platformdirs

    return platformdirs.user_data_path("patchbay") / "oauth"


def _file_name(server: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", server).lstrip(".")
    if safe != server or not safe:
        safe = f"{safe}-{hashlib.sha256(server.encode()).hexdigest()[:8]}"
    return f"{safe}.json"


class TokenStore:
    """The SDK's ``TokenStorage`` over one 0600 JSON file per server.

    The file holds ``server_url``, ``tokens``, ``expires_at`` (epoch seconds) and ``client_info``.
    It is read on every call, so ``patchbay login`` in another process is picked up at the next
    connect. A file that cannot be parsed is treated as empty and replaced on the next write.
    """

    def __init__(self, server: str, url: str, directory: Path | None = None) -> None:
        self.server = server
        self.url = url
        self.path = (directory or token_dir()) / _file_name(server)
        self._held: list[str] = []

    def _hold(self, tokens: OAuthToken) -> None:
        """Tokens that pass through here are masked in logs and errors, like header values.

        A server or authorization server that echoes its access token (an error quoting the
        ``Authorization`` header) would otherwise show it in ``status()`` and ``-v`` logs.
        """
        from ._redaction import register_secrets

        for value in (tokens.access_token, tokens.refresh_token):
            if value and value not in self._held:
                self._held.append(value)
        register_secrets(self, self._held)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("%s: ignoring unreadable token file %s: %s", self.server, self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("server_url") != self.url:
            return {}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {**data, "server_url": self.url}
        # A fresh name made with O_EXCL | O_NOFOLLOW (mode 0600): a predictable one
        # (``.<name>.json.<pid>.tmp``) could be a symlink planted to have the tokens written elsewhere.
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get_metadata(self) -> Any:
        """The authorization server's metadata as last used (for its token endpoint), or ``None``."""
        from mcp.shared.auth import OAuthMetadata

        raw = self._read().get("auth_server_metadata")
        return OAuthMetadata.model_validate(raw) if raw else None

    def set_metadata(self, metadata: Any) -> None:
        data = self._read()
        data["auth_server_metadata"] = metadata.model_dump(mode="json", exclude_none=True)
        self._write(data)

    def expires_at(self) -> float | None:
        value = self._read().get("expires_at")
        return float(value) if isinstance(value, (int, float)) else None

    def clear(self) -> bool:
        """Forget tokens and registration; ``True`` if there was anything to forget."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    async def get_tokens(self) -> OAuthToken | None:
        from mcp.shared.auth import OAuthToken

        raw = self._read().get("tokens")
        if not raw:
            return None
        tokens = OAuthToken.model_validate(raw)
        self._hold(tokens)
        return tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._hold(tokens)
        data = self._read()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        data["expires_at"] = time.time() + tokens.expires_in if tokens.expires_in else None
        self._write(data)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        from mcp.shared.auth import OAuthClientInformationFull

        raw = self._read().get("client_info")
        if not raw:
            return None
        client_info = OAuthClientInformationFull.model_validate(raw)
        self._hold_secret(client_info.client_secret)
        return client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._hold_secret(client_info.client_secret)
        data = self._read()
        data["client_info"] = client_info.model_dump(mode="json", exclude_none=True)
        self._write(data)

    def forget_client_info(self) -> None:
        """Drop the client registration and the tokens issued to it (the server forgot the client)."""
        data = self._read()
        if not data:
            return
        for key in ("client_info", "tokens", "expires_at"):
            data.pop(key, None)
        self._write(data)

    def _hold_secret(self, secret: str | None) -> None:
        """A client secret is masked in logs and errors like a token."""
        from ._redaction import register_secrets

        if secret and secret not in self._held:
            self._held.append(secret)
            register_secrets(self, self._held)


# -------------------------------------------------------------------------------------- provider


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _provider_class() -> type[OAuthClientProvider]:
    """The provider subclass, built on first use so importing patchbay does not import the SDK."""
    global _PROVIDER
    if _PROVIDER is not None:
        return _PROVIDER
    import httpx2
    from mcp.client.auth import OAuthClientProvider
    from mcp.client.auth.oauth2 import OAuthContext
    from mcp.client.auth.utils import (
        build_protected_resource_metadata_discovery_urls,
        extract_resource_metadata_from_www_auth,
        union_scopes,
    )

    class _EarlyRefreshContext(OAuthContext):
        def update_token_expiry(self, token: Any) -> None:
            super().update_token_expiry(token)
            if self.token_expiry_time is not None:
                self.token_expiry_time -= _margin(token.expires_in)

        def prepare_token_auth(
            self, data: dict[str, str], headers: dict[str, str] | None = None
        ) -> tuple[dict[str, str], dict[str, str]]:
            # A registration with a secret but no `token_endpoint_auth_method` (the TypeScript
            # SDK's authorization server answers so): the SDK would send no secret at all.
            info = self.client_info
            if info is None or not info.client_secret or info.token_endpoint_auth_method:
                return super().prepare_token_auth(data, headers)
            method = _default_auth_method(self.oauth_metadata)
            self.client_info = info.model_copy(update={"token_endpoint_auth_method": method})
            try:
                return super().prepare_token_auth(data, headers)
            finally:
                self.client_info = info

    class _PatchbayProvider(OAuthClientProvider):
        """The SDK's provider plus early refresh, stored expiry, fixed clients and the 2025-03-26 issuer."""

        def __init__(
            self,
            *args: Any,
            fixed_client: Any = None,
            extra_scope: str | None = None,
            name: str = "server",
            **kwargs: Any,
        ) -> None:
            super().__init__(*args, **kwargs)
            c = self.context
            self.context = _EarlyRefreshContext(
                server_url=c.server_url,
                client_metadata=c.client_metadata,
                storage=c.storage,
                redirect_handler=c.redirect_handler,
                callback_handler=c.callback_handler,
                client_metadata_url=c.client_metadata_url,
            )
            self._fixed_client = fixed_client
            self._extra_scope = extra_scope
            self._name = name
            self._legacy_issuer: str | None = None

        async def _initialize(self) -> None:
            await super()._initialize()
            if self._fixed_client is not None and self.context.client_info is None:
                self.context.client_info = self._fixed_client
            storage = self.context.storage
            if not isinstance(storage, TokenStore):
                return
            expires_at = storage.expires_at()
            if expires_at is not None and self.context.current_tokens is not None:
                lifetime = self.context.current_tokens.expires_in
                self.context.token_expiry_time = expires_at - _margin(lifetime)
            if self.context.oauth_metadata is None:
                # Where to refresh: without it the SDK would try <server origin>/token.
                self.context.oauth_metadata = storage.get_metadata()

        async def _remember_metadata(self) -> None:
            storage = self.context.storage
            if isinstance(storage, TokenStore) and self.context.oauth_metadata is not None:
                storage.set_metadata(self.context.oauth_metadata)

        async def _handle_token_response(self, response: httpx2.Response) -> None:
            rejected = await _client_rejection(response)
            if rejected is not None:
                raise _ClientRejected(rejected)
            await super()._handle_token_response(response)
            await self._remember_metadata()

        async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
            if await _client_rejection(response) is not None and self._registered_client():
                # The authorization server no longer knows this client (it was restarted, or
                # expired the registration): register anew instead of presenting it forever.
                # The flow goes on to the SDK's full authorization, which registers first.
                logger.info(
                    "%s: the authorization server rejected the stored client; registering again", self._name
                )
                await self._forget_client()
            return await super()._handle_refresh_response(response)

        def _registered_client(self) -> bool:
            """Whether the client in use came from dynamic registration (not configured, not a URL)."""
            info = self.context.client_info
            if info is None:
                return False
            if self._fixed_client is not None and info.client_id == self._fixed_client.client_id:
                return False
            return info.client_id != self.context.client_metadata_url

        async def _forget_client(self) -> None:
            self.context.client_info = None
            self.context.clear_tokens()
            storage = self.context.storage
            if isinstance(storage, TokenStore):
                storage.forget_client_info()

        async def _perform_authorization_code_grant(self) -> tuple[str, str]:
            # The SDK replaces the requested scope with what the server challenges; configured
            # scopes are asked for as well, never instead (the server's own stay requested).
            metadata = self.context.client_metadata
            metadata.scope = union_scopes(metadata.scope, self._extra_scope)
            return await super()._perform_authorization_code_grant()

        def _expected_issuer(self) -> str:
            if self.context.auth_server_url is None and self._legacy_issuer is not None:
                return self._legacy_issuer
            return super()._expected_issuer()

        async def _auth_flow(
            self, request: httpx2.Request
        ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            """The SDK's flow, with two steps added from outside it.

            * A 401 for the request while a refresh token is held: refresh and resend once, before
              the SDK's answer to any 401 (a whole new authorization, which needs a person).
            * When the last protected-resource-metadata URL has failed (the flow is about to take
              the 2025-03-26 path), fetch the root authorization-server metadata once; if its issuer
              is on the MCP server's own origin, that issuer is the expected one.
            """
            flow = super()._auth_flow(request)
            prm_urls: list[str] = []
            refreshed = False
            redone = False
            try:
                outgoing = await flow.__anext__()
                # Loaded by the first step (under the flow's lock): the client this flow started with.
                started_with = self.context.client_info
                while True:
                    response = yield outgoing
                    if (
                        response.status_code == 401
                        and outgoing is request
                        and not refreshed
                        and self.context.can_refresh_token()
                    ):
                        # The server no longer takes the access token (revoked, or expired early):
                        # the refresh token may still be good, and it needs no person.
                        refreshed = True
                        refresh = await self._refresh_token()
                        if await self._handle_refresh_response((yield refresh)):
                            await self._remember_metadata()
                            self._add_auth_header(request)
                            response = yield request
                    if response.status_code == 401 and outgoing is request:
                        prm_urls = build_protected_resource_metadata_discovery_urls(
                            extract_resource_metadata_from_www_auth(response), self.context.server_url
                        )
                    elif (
                        prm_urls
                        and str(outgoing.url) == prm_urls[-1]
                        and response.status_code != 200
                        and self.context.auth_server_url is None
                    ):
                        prm_urls = []
                        legacy = httpx2.Request(
                            "GET",
                            f"{_origin(self.context.server_url)}/.well-known/oauth-authorization-server",
                        )
                        answer = yield legacy
                        self._legacy_issuer = await _same_origin_issuer(answer, self.context.server_url)
                    try:
                        outgoing = await flow.asend(response)
                    except _ClientRejected as rejected:
                        # The token endpoint refused the client itself (`invalid_client`). A stored
                        # registration the server has forgotten is dropped and redone once; a
                        # configured client, or one registered moments ago, is not.
                        current = self.context.client_info
                        if redone or current is not started_with or not self._registered_client():
                            raise ClientRejected(self._rejected_message(rejected, redone)) from None
                        redone = True
                        logger.info(
                            "%s: the authorization server rejected the stored client; registering again",
                            self._name,
                        )
                        await self._forget_client()
                        request.headers.pop("Authorization", None)  # the forgotten client's token
                        await flow.aclose()
                        flow = super()._auth_flow(request)
                        outgoing = await flow.__anext__()
            except StopAsyncIteration:
                return
            finally:
                await flow.aclose()

        def _rejected_message(self, rejected: _ClientRejected, redone: bool) -> str:
            from ._redaction import redact

            where = f"servers.{self._name}.auth"
            if not self._registered_client():
                configured = "client_id and client_secret" if self._fixed_client else "client_metadata_url"
                hint = f"check {configured} under {where}"
            elif redone:
                hint = "it rejected a new registration as well"
            else:
                hint = "it rejected the client it had just registered"
            # The server's own words, minus any secret it might echo (the client secret is held).
            return redact(f"the authorization server rejected the client ({rejected}): {hint}")

    _PROVIDER = _PatchbayProvider
    return _PROVIDER


_PROVIDER: type[OAuthClientProvider] | None = None


class _ClientRejected(Exception):
    """The token endpoint answered ``invalid_client``; the message is the server's error and description."""


class ClientRejected(LoginRequired):
    """The token endpoint rejected the client, and registering again did not help (or could not)."""


async def _client_rejection(response: Any) -> str | None:
    """``invalid_client: <description>`` when a token endpoint answer rejects the client itself."""
    if response.status_code not in (400, 401):
        return None
    try:
        await response.aread()
        body = json.loads(response.text)
    except (ValueError, AttributeError):
        return None
    if not isinstance(body, dict) or body.get("error") != "invalid_client":
        return None
    description = body.get("error_description")
    if isinstance(description, str) and description:
        return f"invalid_client: {description[:200]}"
    return "invalid_client"


def _default_auth_method(metadata: Any) -> str:
    """How to send a client secret when the registration did not say.

    RFC 7591 §2: an omitted ``token_endpoint_auth_method`` means ``client_secret_basic``. An
    authorization server whose metadata lists methods without it but with ``client_secret_post``
    (the TypeScript SDK's: ``client_secret_post``, ``none``) gets the secret in the form instead.
    """
    supported = getattr(metadata, "token_endpoint_auth_methods_supported", None) or []
    if supported and "client_secret_basic" not in supported and "client_secret_post" in supported:
        return "client_secret_post"
    return "client_secret_basic"


def _margin(lifetime: int | None) -> float:
    """Refresh a minute early, or at a tenth of a short lifetime."""
    if not lifetime:
        return REFRESH_MARGIN
    return min(REFRESH_MARGIN, lifetime / 10)


async def _same_origin_issuer(response: Any, server_url: str) -> str | None:
    """The issuer of a legacy root metadata document, if it names a path on the server's own origin."""
    if response.status_code != 200:
        return None
    try:
        await response.aread()
        issuer = str(json.loads(response.text).get("issuer") or "")
    except (ValueError, AttributeError):
        return None
    if not issuer or _origin(issuer) != _origin(server_url) or issuer.rstrip("/") == _origin(server_url):
        return None
    return issuer


def _parse_redirect(url: str) -> AuthorizationCodeResult:
    from mcp.shared.auth import AuthorizationCodeResult

    query = parse_qs(urlsplit(url).query)

    def first(key: str) -> str | None:
        values = query.get(key)
        return values[0] if values else None

    error = first("error")
    if error:
        description = first("error_description")
        raise LoginRequired(
            f"authorization was refused: {error}" + (f" ({description})" if description else "")
        )
    code = first("code")
    if not code:
        raise LoginRequired("the authorization redirect carried no code")
    return AuthorizationCodeResult(code=code, state=first("state"), iss=first("iss"))


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
        return _client_credentials(server, storage, scope)

    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata

    port = auth.callback_port or DEFAULT_CALLBACK_PORT
    redirect = redirect_uri or f"http://127.0.0.1:{port}/callback"
    metadata = OAuthClientMetadata(
        client_name=CLIENT_NAME,
        redirect_uris=[redirect],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=scope,
    )
    fixed = None
    if auth.client_id:
        fixed = OAuthClientInformationFull(
            client_id=auth.client_id,
            client_secret=auth.client_secret,
            redirect_uris=[redirect],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            # With a secret, the method follows the server's metadata (`_default_auth_method`).
            token_endpoint_auth_method=None if auth.client_secret else "none",
            scope=scope,
        )
    landed: list[str] = []

    async def on_redirect(url: str) -> None:
        if authorize is None:
            raise LoginRequired(f"authorization needed: run `patchbay login {server.name}`")
        landed.append(await authorize(url))

    async def on_callback() -> AuthorizationCodeResult:
        if not landed:
            raise LoginRequired("no authorization redirect was received")
        return _parse_redirect(landed.pop())

    provider_class: Any = _provider_class()
    provider: httpx2.Auth = provider_class(
        server.url,
        metadata,
        storage,
        redirect_handler=on_redirect,
        callback_handler=on_callback,
        client_metadata_url=auth.client_metadata_url,
        fixed_client=fixed,
        extra_scope=scope,
        name=server.name,
    )
    return provider


def _client_credentials(server: ServerConfig, storage: TokenStore, scope: str | None) -> httpx2.Auth:
    import warnings

    from mcp.client.auth.extensions.client_credentials import (
        ClientCredentialsOAuthProvider,
        PrivateKeyJWTOAuthProvider,
        SignedJWTParameters,
    )

    auth = server.auth
    assert auth is not None
    assert auth.client_id is not None
    assert server.url is not None
    allowed = _origin(auth.issuer or server.url)

    def guarded(base: type[Any]) -> type[Any]:
        class Guarded(base):  # type: ignore[misc]
            """Builds no token request (it carries the client's credentials) for another origin."""

            async def _exchange_token_client_credentials(self) -> httpx2.Request:
                request: httpx2.Request = await super()._exchange_token_client_credentials()
                _check_token_endpoint(server, str(request.url), allowed)
                return request

            async def _refresh_token(self) -> httpx2.Request:
                request: httpx2.Request = await super()._refresh_token()
                _check_token_endpoint(server, str(request.url), allowed)
                return request

        return Guarded

    with warnings.catch_warnings():
        # Omitting `issuer` is deprecated in the SDK because any token endpoint the resource's
        # metadata names would get the credentials; here it is held to the resource's own origin.
        warnings.simplefilter("ignore")
        if auth.private_key:
            signer = SignedJWTParameters(
                issuer=auth.client_id,
                subject=auth.client_id,
                signing_key=auth.private_key,
                signing_algorithm=auth.signing_algorithm,
            )
            provider: httpx2.Auth = guarded(PrivateKeyJWTOAuthProvider)(
                server.url,
                storage,
                auth.client_id,
                signer.create_assertion_provider(),
                scope=scope,
                issuer=auth.issuer,
            )
            return provider
        assert auth.client_secret is not None
        provider = guarded(ClientCredentialsOAuthProvider)(
            server.url, storage, auth.client_id, auth.client_secret, scope=scope, issuer=auth.issuer
        )
        return provider


def _origin_key(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL, with the scheme's default port spelled out."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("", url, None)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme))


class UntrustedTokenEndpoint(LoginRequired):
    """The discovered token endpoint is not where this server's client credentials may go."""


def _check_token_endpoint(server: ServerConfig, url: str, allowed: str) -> None:
    """Refuse a token endpoint off ``allowed``: the configured issuer's origin, else the server's own.

    Without it, a resource's metadata chooses where the client secret (or signed assertion) goes.
    """
    if _origin_key(url) == _origin_key(allowed):
        return
    assert server.auth is not None
    where = "the configured issuer's origin" if server.auth.issuer else "the server's own origin"
    raise UntrustedTokenEndpoint(
        f"refused to send the client credentials to the token endpoint {url}: it is not on {where}"
        f" ({allowed}). If that authorization server is the right one, pin it with"
        f" `issuer: <its issuer URL>` under servers.{server.name}.auth"
    )


# ----------------------------------------------------------------------------------- login/logout


class _LoopbackReceiver:
    """Receives one OAuth redirect on 127.0.0.1 and answers the browser with a short page."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._result: str | None = None
        self._got = anyio.Event()
        self._listener: Any = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def open(self) -> None:
        from anyio.abc import SocketAttribute

        self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self.port)
        self.port = self._listener.extra(SocketAttribute.local_port)

    async def serve(self) -> None:
        assert self._listener is not None
        await self._listener.serve(self._handle)

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()

    async def _handle(self, stream: Any) -> None:
        async with stream:
            data = b""
            with anyio.move_on_after(10):
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = await stream.receive()
                    if not chunk:
                        break
                    data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            target = parts[1] if len(parts) >= 2 else "/"
            if urlsplit(target).path != "/callback":
                await stream.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = (
                b"<html><body><p>patchbay: authorization received. You can close this tab.</p></body></html>"
            )
            await stream.send(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            if self._result is None:
                self._result = f"{self.redirect_uri}?{urlsplit(target).query}"
                self._got.set()

    async def wait(self) -> str:
        """The next redirect (a client registered again needs a second authorization)."""
        await self._got.wait()
        assert self._result is not None
        result, self._result = self._result, None
        self._got = anyio.Event()
        return result


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

    from . import errors
    from ._sdk_logs import route_sdk_logs
    from .transports import build_transport

    route_sdk_logs()
    if server.auth is None:
        raise errors.ConfigError(
            f"server {server.name!r} has no `auth:` in its config", path=f"servers.{server.name}"
        )
    assert server.url is not None
    port = server.auth.callback_port
    if port is None:
        stored = await TokenStore(server.name, server.url, directory).get_client_info()
        if stored is not None and stored.redirect_uris:
            port = urlsplit(str(stored.redirect_uris[0])).port
    receiver = _LoopbackReceiver(port or 0)
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
                from ._sdk_errors import describe_exception

                raise errors.AuthRequired(server.name, f"login failed: {describe_exception(exc)}") from None
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the receiver's task group wraps what the login raised
        raise errors._unwrap_group(group) from None
    finally:
        await receiver.aclose()


def logout(server: ServerConfig, *, directory: Path | None = None) -> bool:
    """Forget a server's tokens and client registration; ``True`` if any were stored."""
    return TokenStore(server.name, server.url or "", directory).clear()
