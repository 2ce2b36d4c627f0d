"""An MCP server that is its own OAuth authorization server, built on the SDK's `mcp.server.auth`.

    python tests/servers/oauth_as.py --transport http --port N [--omit-auth-method] [--forget-clients]

Dynamic client registration, PKCE and the token endpoint are the SDK's (its `ClientAuthenticator`
enforces each client's `token_endpoint_auth_method`); clients, codes and tokens live in memory, and
`/authorize` redirects straight back with a code, like a user who clicks "allow". Tool: `whoami`
(the client id the bearer token was issued to).

* `--omit-auth-method`: a registered client must authenticate with HTTP Basic
  (`client_secret_basic`), and the registration answer leaves `token_endpoint_auth_method` out,
  as RFC 7591 §2 allows: the omitted method means `client_secret_basic`.
* `--forget-clients`: a client is forgotten once it has been sent to `/authorize`, so the token
  endpoint answers `invalid_client` to every code exchange (a server that lost its registrations).
"""

from __future__ import annotations

import secrets
import time

from _serve import transport_args
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class MemoryProvider(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    def __init__(self, *, omit_auth_method: bool, forget_clients: bool) -> None:
        self.omit_auth_method = omit_auth_method
        self.forget_clients = forget_clients
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        if self.omit_auth_method:
            # Kept as Basic here; the answer (rendered from `client_info`, None fields left out)
            # then carries no `token_endpoint_auth_method` at all.
            stored = client_info.model_copy(update={"token_endpoint_auth_method": "client_secret_basic"})
            client_info.token_endpoint_auth_method = None
        else:
            stored = client_info.model_copy()
        self.clients[client_info.client_id] = stored

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        if self.forget_clients:
            self.clients.pop(client.client_id, None)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self,
        client: OAuthClientInformationFull,
        refresh_token: RefreshToken,
        scopes: list[str],
        resource: str | None = None,
    ) -> OAuthToken:
        self.refresh.pop(refresh_token.token, None)
        return self._issue(
            client.client_id, scopes or refresh_token.scopes, resource or refresh_token.resource
        )

    async def load_access_token(self, token: str) -> AccessToken | None:
        return self.access.get(token)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = int(time.time()) + 3600
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=expires, resource=resource
        )
        self.refresh[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource
        )
        return OAuthToken(
            access_token=access, expires_in=3600, refresh_token=refresh, scope=" ".join(scopes) or None
        )


def main() -> None:
    parser = transport_args(__doc__)
    parser.add_argument("--omit-auth-method", action="store_true")
    parser.add_argument("--forget-clients", action="store_true")
    args = parser.parse_args()
    if args.transport != "http" or not args.port:
        parser.error("an authorization server needs --transport http and a --port (its issuer URL names it)")

    origin = f"http://127.0.0.1:{args.port}"
    provider = MemoryProvider(omit_auth_method=args.omit_auth_method, forget_clients=args.forget_clients)
    mcp = MCPServer(
        "oauth-as",
        auth_server_provider=provider,
        auth=AuthSettings(
            issuer_url=origin,  # type: ignore[arg-type]
            resource_server_url=f"{origin}/mcp",  # type: ignore[arg-type]
            client_registration_options=ClientRegistrationOptions(enabled=True),
            validate_token_resource=False,
        ),
    )

    @mcp.tool()
    def whoami() -> str:
        """The client id the caller's token was issued to."""
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        return token.client_id if token else "nobody"

    mcp.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
