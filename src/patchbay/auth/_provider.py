"""The SDK's ``OAuthClientProvider`` with what a long-running host needs added around it.

Early refresh and a stored expiry, a configured (fixed) client, registrations the authorization
server forgot, the 2025-03-26 same-origin issuer and a refresh after a 401 (the package docstring
says why each). This module imports the SDK at import time: ``build_auth`` imports it only when a
server with ``auth:`` connects, so ``import patchbay`` stays free of the SDK.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.oauth2 import OAuthContext
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    union_scopes,
)
from mcp.shared.auth import OAuthClientInformationFull

from ._errors import ClientRejected
from ._store import REFRESH_MARGIN, TokenStore

__all__ = ["PatchbayProvider", "origin"]

logger = logging.getLogger("patchbay")


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _margin(lifetime: int | None) -> float:
    """Refresh a minute early, or at a tenth of a short lifetime."""
    if not lifetime:
        return REFRESH_MARGIN
    return min(REFRESH_MARGIN, lifetime / 10)


class _EarlyRefreshContext(OAuthContext):
    """Tokens count as expired a margin early; a secret with no stated method is still sent."""

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


class PatchbayProvider(OAuthClientProvider):
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

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
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
                if not refreshed and self._refreshable(response, outgoing, request):
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
                elif self._discovery_failed(prm_urls, outgoing, response):
                    prm_urls = []
                    answer = yield self._legacy_metadata_request()
                    self._legacy_issuer = await _same_origin_issuer(answer, self.context.server_url)
                try:
                    outgoing = await flow.asend(response)
                except _ClientRejected as rejected:
                    self._check_redo(rejected, redone, started_with)
                    redone = True
                    flow = await self._register_again(flow, request)
                    outgoing = await flow.__anext__()
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()

    def _refreshable(
        self, response: httpx2.Response, outgoing: httpx2.Request, request: httpx2.Request
    ) -> bool:
        """A 401 for the request itself while a refresh token is held."""
        return response.status_code == 401 and outgoing is request and self.context.can_refresh_token()

    def _discovery_failed(
        self, prm_urls: list[str], outgoing: httpx2.Request, response: httpx2.Response
    ) -> bool:
        """The last protected-resource-metadata URL failed and no authorization server is known yet."""
        return (
            bool(prm_urls)
            and str(outgoing.url) == prm_urls[-1]
            and response.status_code != 200
            and self.context.auth_server_url is None
        )

    def _legacy_metadata_request(self) -> httpx2.Request:
        """The 2025-03-26 place of the authorization-server metadata: the MCP server's own origin."""
        return httpx2.Request(
            "GET", f"{origin(self.context.server_url)}/.well-known/oauth-authorization-server"
        )

    def _check_redo(
        self, rejected: _ClientRejected, redone: bool, started_with: OAuthClientInformationFull | None
    ) -> None:
        """Raise ``ClientRejected`` unless this is a stored registration seen rejected for the first time.

        The token endpoint refused the client itself (``invalid_client``). A stored registration
        the server has forgotten is dropped and redone once; a configured client, or one
        registered moments ago, is not.
        """
        current = self.context.client_info
        if redone or current is not started_with or not self._registered_client():
            raise ClientRejected(self._rejected_message(rejected, redone)) from None

    async def _register_again(
        self, flow: AsyncGenerator[httpx2.Request, httpx2.Response], request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Forget the rejected client and start the SDK's flow over (it registers first)."""
        logger.info("%s: the authorization server rejected the stored client; registering again", self._name)
        await self._forget_client()
        request.headers.pop("Authorization", None)  # the forgotten client's token
        await flow.aclose()
        return super()._auth_flow(request)

    def _rejected_message(self, rejected: _ClientRejected, redone: bool) -> str:
        from .._redaction import redact

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


class _ClientRejected(Exception):
    """The token endpoint answered ``invalid_client``; the message is the server's error and description."""


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


async def _same_origin_issuer(response: Any, server_url: str) -> str | None:
    """The issuer of a legacy root metadata document, if it names a path on the server's own origin."""
    if response.status_code != 200:
        return None
    try:
        await response.aread()
        issuer = str(json.loads(response.text).get("issuer") or "")
    except (ValueError, AttributeError):
        return None
    if not issuer or origin(issuer) != origin(server_url) or issuer.rstrip("/") == origin(server_url):
        return None
    return issuer
