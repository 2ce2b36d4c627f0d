"""The client-credentials grant (``auth: {type: client_credentials}``): no person, no browser.

The SDK's two providers (a client secret, or a signed JWT assertion), each held to one token
endpoint origin: the configured issuer's, else the server's own. Without that, a resource's
metadata would choose where the client's credentials go. Imports the SDK at import time, so
``build_auth`` imports it only for such a server.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)

from ..config import ServerConfig
from ._errors import UntrustedTokenEndpoint
from ._provider import origin
from ._store import TokenStore

__all__ = ["client_credentials"]


def client_credentials(server: ServerConfig, storage: TokenStore, scope: str | None) -> httpx2.Auth:
    """The provider for a server whose ``auth:`` is the client-credentials grant."""
    auth = server.auth
    assert auth is not None
    assert auth.client_id is not None
    assert server.url is not None
    allowed = origin(auth.issuer or server.url)
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
            provider: httpx2.Auth = _GuardedPrivateKeyJWT(
                server.url,
                storage,
                auth.client_id,
                signer.create_assertion_provider(),
                scope=scope,
                issuer=auth.issuer,
                guard=(server, allowed),
            )
            return provider
        assert auth.client_secret is not None
        provider = _GuardedClientCredentials(
            server.url,
            storage,
            auth.client_id,
            auth.client_secret,
            scope=scope,
            issuer=auth.issuer,
            guard=(server, allowed),
        )
        return provider


class _TokenEndpointGuard(OAuthClientProvider):
    """Builds no token request (it carries the client's credentials) for another origin.

    Mixed in before one of the SDK's client-credentials providers; ``guard`` is the server and
    the one origin its token requests may go to.
    """

    def __init__(self, *args: Any, guard: tuple[ServerConfig, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard

    async def _exchange_token_client_credentials(self) -> httpx2.Request:
        # Defined by each provider this is mixed into, not by OAuthClientProvider.
        request: httpx2.Request = await super()._exchange_token_client_credentials()  # type: ignore[misc]
        _check_token_endpoint(*self._guard, str(request.url))
        return request

    async def _refresh_token(self) -> httpx2.Request:
        request: httpx2.Request = await super()._refresh_token()
        _check_token_endpoint(*self._guard, str(request.url))
        return request


class _GuardedClientCredentials(_TokenEndpointGuard, ClientCredentialsOAuthProvider):
    """The client-secret provider, held to one token endpoint origin."""


class _GuardedPrivateKeyJWT(_TokenEndpointGuard, PrivateKeyJWTOAuthProvider):
    """The signed-assertion provider, held to one token endpoint origin."""


def _origin_key(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL, with the scheme's default port spelled out."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("", url, None)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme))


def _check_token_endpoint(server: ServerConfig, allowed: str, url: str) -> None:
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
