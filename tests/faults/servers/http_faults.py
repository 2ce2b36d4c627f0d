"""A streamable-HTTP MCP server (MCPServer behind a fault-injecting ASGI layer), on 127.0.0.1 only.

    python tests/faults/servers/http_faults.py --port N [--fail-status 500] [--unknown-session-status 400]

Tools: `echo {text}` and `pid`. Endpoint: http://127.0.0.1:N/mcp. Faults:

* `--fail-status S`: answer every MCP request with HTTP `S` from the start (e.g. 500).
* `POST /fault/status/S` at runtime: from now on answer every MCP request with HTTP `S`;
  `POST /fault/status/0` goes back to serving.
* `POST /fault/forget-sessions`: from now on reject every session opened so far, as a server that
  restarted on the same port does (the TCP listener never goes away, so only the rejection shows).
* `--unknown-session-status 400`: reject unknown sessions with HTTP 400 and the body older SDK
  servers send (`-32000 "Bad Request: No valid session ID provided"`) instead of the SDK's 404.
  Applies to forgotten sessions and, after a real restart, to every old session id.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer

Scope = dict[str, Any]


class Faults:
    """The ASGI layer: watches session ids go by and answers with the injected fault instead."""

    def __init__(self, app: Any, fail_status: int, unknown_session_status: int) -> None:
        self.app = app
        self.fail_status = fail_status
        self.unknown_session_status = unknown_session_status
        self.sessions: set[str] = set()
        self.forgotten: set[str] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/fault/"):
            await self.control(path, send)
            return
        if self.fail_status:
            await respond(send, self.fail_status, b"injected failure", "text/plain")
            return
        headers = dict(scope.get("headers") or [])
        session = headers.get(b"mcp-session-id", b"").decode()
        if session and session in self.forgotten:
            await self.reject(send)
            return
        if session and session not in self.sessions and self.unknown_session_status == 400:
            await self.reject(send)  # a real restart: every old id is unknown
            return

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", []):
                    if name.lower() == b"mcp-session-id":
                        self.sessions.add(value.decode())
            await send(message)

        await self.app(scope, receive, watch)

    async def reject(self, send: Any) -> None:
        if self.unknown_session_status == 400:
            error = {"code": -32000, "message": "Bad Request: No valid session ID provided"}
            body = {"jsonrpc": "2.0", "id": "server-error", "error": error}
            await respond(send, 400, json.dumps(body).encode(), "application/json")
        else:
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Session not found"}}
            await respond(send, 404, json.dumps(body).encode(), "application/json")

    async def control(self, path: str, send: Any) -> None:
        if path == "/fault/forget-sessions":
            self.forgotten |= self.sessions
        elif path.startswith("/fault/status/"):
            self.fail_status = int(path.rsplit("/", 1)[1])
        else:
            await respond(send, 404, b"unknown fault", "text/plain")
            return
        await respond(send, 200, b"ok", "text/plain")


async def respond(send: Any, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail-status", type=int, default=0)
    parser.add_argument("--unknown-session-status", type=int, choices=[400, 404], default=404)
    parser.add_argument("--tag", default="")
    options = parser.parse_args()

    mcp = MCPServer("http-faults")

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    app = Faults(mcp.streamable_http_app(), options.fail_status, options.unknown_session_status)
    uvicorn.run(app, host="127.0.0.1", port=options.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
