"""The browser half of a login: a loopback receiver for the redirect, and reading what it carried.

``login`` opens a ``LoopbackReceiver`` on 127.0.0.1 (its port is the redirect URI's); the URL the
browser lands on is handed to the SDK's flow, which ``parse_redirect`` turns into a code or a
``LoginRequired`` that says why there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio

from ._errors import LoginRequired

if TYPE_CHECKING:
    from mcp.shared.auth import AuthorizationCodeResult

__all__ = ["LoopbackReceiver", "parse_redirect"]


def parse_redirect(url: str) -> AuthorizationCodeResult:
    """The code (with ``state``, ``iss``) the browser was redirected with; a refusal: ``LoginRequired``."""
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


class LoopbackReceiver:
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
