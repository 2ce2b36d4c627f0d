"""The client under test for the official MCP conformance suite, built on ``MCPManager``.

The harness (``@modelcontextprotocol/conformance client --command ...``) runs this script with the
scenario's server URL as the last argument, the scenario name in ``MCP_CONFORMANCE_SCENARIO`` and,
for some auth scenarios, credentials as JSON in ``MCP_CONFORMANCE_CONTEXT``. Everything goes through
patchbay's public API: the server becomes one config entry (``auth:`` as a user would write it),
host callbacks come from ``Handlers``, and the authorization step is a ``Handlers.authorize``
callback that follows the harness's immediate redirect headlessly instead of opening a browser.
Only cross-app access (SEP-990) needs a hand-built ``httpx2.Auth`` (``http_auth=``): its first leg,
a token exchange at the enterprise identity provider, is not something a config entry can describe.

Exit code 0 when the session was established and a tool call answered; 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2

from patchbay import MCPManager, PatchbayError
from patchbay.handlers import ElicitationRequest, ElicitationResponse, Handlers, SamplingRequest

CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
SERVER = "conformance"
# Which tool each scenario expects to be called; otherwise the first listed tool.
TOOL_FOR = {
    "tools_call": "add_numbers",
    "elicitation-sep1034-client-defaults": "test_client_elicitation_defaults",
    "sse-retry": "test_reconnection",
}


async def follow_redirect(_server: str, url: str) -> str:
    """Stand-in for the user's browser: the harness's /authorize redirects at once."""
    async with httpx2.AsyncClient(follow_redirects=False, timeout=10) as client:
        response = await client.get(url)
    location = response.headers.get("location")
    if not location:
        raise RuntimeError(f"the authorization endpoint answered {response.status_code} without a redirect")
    return str(location)


async def accept_with_defaults(request: ElicitationRequest) -> ElicitationResponse:
    """Accept without changing anything: patchbay fills in the schema's defaults."""
    return ElicitationResponse.accept()


async def canned_sampling(request: SamplingRequest) -> dict[str, Any]:
    return {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "conformance"}


def pinned_issuer(url: str) -> str:
    """The authorization server a user would pin with ``issuer:`` for client credentials.

    patchbay sends client credentials only to the pinned issuer (or the server's own origin); the
    scenarios run their authorization server on another port, so the user's step of looking it up
    is done here, from the resource's protected-resource metadata (RFC 9728).
    """
    parsed = urlsplit(url)
    prm = f"{parsed.scheme}://{parsed.netloc}/.well-known/oauth-protected-resource{parsed.path}"
    servers: list[str] = httpx2.get(prm, timeout=10).json()["authorization_servers"]
    return servers[0]


def server_entry(url: str, scenario: str, context: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": url, "transport": "http", "reconnect": {"attempts": 0}}
    if not scenario.startswith("auth/") or scenario == "auth/cross-app-access-complete-flow":
        return entry
    if scenario == "auth/client-credentials-basic":
        entry["auth"] = {
            "type": "client_credentials",
            "client_id": context["client_id"],
            "client_secret": context["client_secret"],
            "issuer": pinned_issuer(url),
        }
    elif scenario == "auth/client-credentials-jwt":
        entry["auth"] = {
            "type": "client_credentials",
            "client_id": context["client_id"],
            "private_key": context["private_key_pem"],
            "signing_algorithm": context.get("signing_algorithm", "ES256"),
            "issuer": pinned_issuer(url),
        }
    elif "client_id" in context:  # pre-registration
        entry["auth"] = {"client_id": context["client_id"], "client_secret": context.get("client_secret")}
    else:
        entry["auth"] = {"type": "oauth", "client_metadata_url": CLIENT_METADATA_URL}
    return entry


def cross_app_auth(url: str, context: dict[str, Any], token_dir: str) -> httpx2.Auth:
    """SEP-990: exchange the IdP's ID token for an ID-JAG (RFC 8693), then the SDK's jwt-bearer leg."""
    from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider

    from patchbay.auth import TokenStore

    async def id_jag(audience: str, resource: str) -> str:
        async with httpx2.AsyncClient(timeout=10) as client:
            response = await client.post(
                context["idp_token_endpoint"],
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                    "subject_token": context["idp_id_token"],
                    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                    "audience": audience,
                    "resource": resource,
                    "client_id": context.get("idp_client_id", context["client_id"]),
                },
            )
        response.raise_for_status()
        return str(response.json()["access_token"])

    return IdentityAssertionOAuthProvider(
        url,
        TokenStore(SERVER, url, directory=Path(token_dir) / "patchbay" / "oauth"),
        client_id=context["client_id"],
        client_secret=context["client_secret"],
        issuer=context["issuer"],
        assertion_provider=id_jag,
        token_endpoint_auth_method="client_secret_basic",
    )


async def authorization_server(url: str) -> str:
    """The AS the resource names in its protected-resource metadata (cross-app access needs it)."""
    async with httpx2.AsyncClient(timeout=10) as client:
        probe = await client.post(url, json={})
        header = probe.headers.get("www-authenticate", "")
        metadata_url = (
            header.split('resource_metadata="', 1)[1].split('"', 1)[0]
            if "resource_metadata" in header
            else None
        )
        if metadata_url is None:
            base = httpx2.URL(url)
            metadata_url = (
                f"{base.scheme}://{base.netloc.decode()}/.well-known/oauth-protected-resource{base.path}"
            )
        prm = (await client.get(metadata_url)).json()
    return str(prm["authorization_servers"][0])


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        values[name] = {"number": 1, "integer": 1, "boolean": True, "string": "test"}.get(str(kind), "test")
    return values


async def run(url: str, scenario: str, context: dict[str, Any]) -> int:
    with tempfile.TemporaryDirectory(prefix="patchbay-conformance-") as data:
        os.environ["XDG_DATA_HOME"] = data  # tokens of this run only
        entry = server_entry(url, scenario, context)
        http_auth = {}
        if scenario == "auth/cross-app-access-complete-flow":
            context.setdefault("issuer", await authorization_server(url))
            http_auth[SERVER] = cross_app_auth(url, context, data)
        handlers = Handlers(
            sampling=canned_sampling, elicitation=accept_with_defaults, authorize=follow_redirect
        )
        config = {"servers": {SERVER: entry}, "settings": {"connect_timeout": 20, "timeout": 20}}
        async with MCPManager(config, handlers=handlers, http_auth=http_auth, wait=False) as manager:
            try:
                await manager.connect(SERVER)
                tools = manager.tools(SERVER)
                wanted = TOOL_FOR.get(scenario)
                tool = next((t for t in tools if t.original_name == wanted), tools[0] if tools else None)
                if tool is not None:
                    result = await manager.call_tool(tool.name, arguments_for(tool.input_schema))
                    print(f"{tool.original_name}: {'error ' if result.is_error else ''}{result.text[:200]}")
            except PatchbayError as exc:
                print(f"patchbay: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    return 0


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    url = sys.argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    sys.exit(anyio.run(run, url, scenario, context))


if __name__ == "__main__":
    main()
