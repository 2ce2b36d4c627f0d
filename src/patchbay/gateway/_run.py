"""Running the gateway: the fleet's manager, then the SDK's stdio or Streamable HTTP transport.

Everything lives in one task group under the manager: when the downstream side ends (stdin closed,
SIGTERM, Ctrl-C on HTTP) the group is cancelled and the manager closes every upstream, process
groups and all.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from .. import errors

__all__ = ["GatewayError", "HttpOptions", "check", "is_loopback", "parse_address", "serve"]

logger = logging.getLogger("patchbay.gateway")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class GatewayError(errors.PatchbayError):
    """``patchbay serve`` cannot start as asked (bad address, no token beyond loopback, a name collision)."""


@dataclass
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    path: str = "/mcp"
    tokens: Sequence[str] = field(default_factory=tuple)
    sse: bool = False
    """The legacy HTTP+SSE transport (``GET /sse`` + ``POST /messages/``) instead of Streamable HTTP."""
    allowed_origins: Sequence[str] = field(default_factory=tuple)
    on_listening: Callable[[str], None] | None = None


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``PORT`` (loopback)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise GatewayError(f"address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765") from None
    if not 0 <= port <= 65535:
        raise GatewayError(f"address {text!r}: port must be 0-65535")
    return host, port


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_http_security(options: HttpOptions) -> None:
    if not is_loopback(options.host) and not options.tokens:
        raise GatewayError(
            f"refusing to serve on {options.host}: beyond loopback a bearer token is required "
            "(set PATCHBAY_SERVE_TOKEN, or pass --token-file FILE or --token TOKEN)"
        )


async def serve(
    config: Any,
    *,
    http: HttpOptions | None = None,
    prefix: bool = True,
    mode: str = "all",
    trust_project: bool = False,
    watch: bool = False,
) -> None:
    """Serve the fleet of ``config`` until the downstream side ends; closes every upstream.

    A fleet read from files (paths, or ``None`` for the default layers) reloads them on
    ``SIGHUP``, and with ``watch=True`` on every save (``gateway._reload``).
    """
    from ..manager import MCPManager
    from ._forward import Forwarder
    from ._reload import reload_on_hangup, watch_and_reload
    from ._server import Gateway

    if http is not None:
        check_http_security(http)
    from_files = config is None or isinstance(config, (str, os.PathLike, list, tuple))
    if watch and not from_files:
        raise GatewayError("--watch needs a config read from files")
    stop_watching = anyio.Event()
    try:
        forwarder = Forwarder()
        async with MCPManager(
            config, wait=False, trust_project=trust_project, handlers=forwarder.handlers()
        ) as manager:
            gateway = Gateway(manager, prefix=prefix, mode=mode, forwarder=forwarder)
            if not prefix:  # a name clash is a start-up error, so the fleet must be up first
                await gateway.settle()
                collisions = gateway.collisions()
                if collisions:
                    raise GatewayError("--prefix none: " + "; ".join(collisions))
            async with anyio.create_task_group() as tg:
                await tg.start(gateway.parked.run)
                tg.start_soon(gateway.forward_events)
                tg.start_soon(gateway.settle)
                if from_files and threading.current_thread() is threading.main_thread():
                    await tg.start(reload_on_hangup, manager)
                if watch:
                    tg.start_soon(
                        functools.partial(
                            watch_and_reload, manager, default_layers=config is None, stop=stop_watching
                        )
                    )
                try:
                    if http is None:
                        await _serve_stdio(gateway)
                    else:
                        await _serve_http(gateway, http)
                finally:
                    stop_watching.set()  # the watcher's thread ends within a step, not its timeout
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        leaf = _single_leaf(group)
        if isinstance(leaf, errors.PatchbayError):
            raise leaf from None
        raise


async def check(
    config: Any, *, prefix: bool = True, mode: str = "all", trust_project: bool = False
) -> dict[str, Any]:
    """Start the fleet as ``serve`` would, wait until it has settled, and say what a host would get.

    For supervisors of a stdio gateway (``patchbay serve --check``): ``ok`` is true when every
    enabled server is ready and, with ``prefix=False``, no two servers share a name.
    """
    from ..manager import MCPManager
    from ._server import Gateway

    async with MCPManager(config, wait=False, trust_project=trust_project) as manager:
        gateway = Gateway(manager, prefix=prefix, mode=mode)
        await gateway.settle()
        names = gateway.names()
        status = manager.status()
        problems = [
            {"server": name, "state": s["state"], "error": s.get("error")}
            for name, s in status.items()
            if s["state"] not in ("ready", "disabled")
        ]
        return {
            "ok": not problems and not names.collisions,
            "servers": {name: s["state"] for name, s in status.items()},
            "tools": 2 if mode == "search" else len(names.tools),
            "prompts": len(names.prompts),
            "resources": len(names.resources),
            "problems": problems,
            "collisions": list(names.collisions),
        }


def _single_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return None


async def _serve_stdio(gateway: Any) -> None:
    from mcp.server.stdio import stdio_server

    server = gateway.server
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def _serve_http(gateway: Any, options: HttpOptions) -> None:
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        ready, body = readiness(gateway)
        return JSONResponse(body, status_code=200 if ready else 503)

    security = None
    if is_loopback(options.host):
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=[
                "http://127.0.0.1:*",
                "http://localhost:*",
                "http://[::1]:*",
                *options.allowed_origins,
            ],
        )
    if options.sse:
        app = _sse_app(gateway, security, Route("/healthz", healthz), Route("/readyz", readyz))
    else:
        app = gateway.server.streamable_http_app(
            streamable_http_path=options.path,
            host=options.host,
            transport_security=security,
            custom_starlette_routes=[Route("/healthz", healthz), Route("/readyz", readyz)],
        )
    if options.tokens:
        app = _BearerAuth(app, options.tokens, open_paths={"/healthz"})
    config = uvicorn.Config(
        app, host=options.host, port=options.port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            if server.should_exit:
                break
            await anyio.sleep(0.02)
        if server.started:
            port = options.port
            for listener in server.servers:
                for sock in listener.sockets:
                    port = sock.getsockname()[1]
            host = f"[{options.host}]" if ":" in options.host else options.host
            url = f"http://{host}:{port}{'/sse' if options.sse else options.path}"
            if options.on_listening is not None:
                options.on_listening(url)
    if not server.started:
        raise GatewayError(f"could not listen on {options.host}:{options.port} (see the log above)")


def readiness(gateway: Any) -> tuple[bool, dict[str, Any]]:
    """Whether every enabled server has settled (its first connection attempt is over), and the
    per-server states: names and states only, nothing of the servers' configuration or errors."""
    states = {
        name: entry["state"] for name, entry in gateway.manager.status().items() if entry.get("enabled", True)
    }
    settled = gateway.settled and all(state != "connecting" for state in states.values())
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    body = {"status": "ready" if settled else "starting", "states": counts, "servers": states}
    return settled, body


def _sse_app(gateway: Any, security: Any, *routes: Any) -> ASGIApp:
    """The SDK's legacy SSE server transport, one ``Server.run`` per SSE connection."""
    from mcp.server.sse import SseServerTransport
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    sse = SseServerTransport("/messages/", security_settings=security)
    server = gateway.server

    async def handle_sse(scope: Scope, receive: Receive, send: Send) -> None:
        async with sse.connect_sse(scope, receive, send) as (read, write):
            await server.run(read, write, server.create_initialization_options())

    class _Endpoint:  # a plain ASGI endpoint (a Route would wrap a function as a request handler)
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await handle_sse(scope, receive, send)

    return Starlette(
        routes=[
            Route("/sse", endpoint=_Endpoint(), methods=["GET"]),
            Mount("/messages/", app=sse.handle_post_message),
            *routes,
        ]
    )


class _BearerAuth:
    """ASGI middleware: every request but ``open_paths`` needs ``Authorization: Bearer <token>``.

    Tokens are compared in constant time and never logged; a refusal says nothing of the fleet.
    """

    def __init__(self, app: ASGIApp, tokens: Sequence[str], open_paths: set[str]) -> None:
        self._app = app
        self._tokens = [t.encode() for t in tokens]
        self._open = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._open:
            await self._app(scope, receive, send)
            return
        header = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value
                break
        scheme, _, presented = header.partition(b" ")
        ok = False
        if scheme.lower() == b"bearer" and presented:
            for token in self._tokens:  # every token compared, so timing says nothing of which
                ok = hmac.compare_digest(presented.strip(), token) or ok
        if ok:
            await self._app(scope, receive, send)
            return
        body = b'{"error": "unauthorized", "error_description": "a valid bearer token is required"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="patchbay"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
