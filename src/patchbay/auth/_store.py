"""Where OAuth tokens live: one 0600 JSON file per server in the user data directory.

No SDK at import time (the SDK's models are imported where a file's content is turned into them),
so ``patchbay login``'s other half and the tests can use the store without the flow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

__all__ = ["REFRESH_MARGIN", "TokenStore", "token_dir"]

logger = logging.getLogger("patchbay")

REFRESH_MARGIN = 60.0
"""Seconds before its expiry that an access token is refreshed."""


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
        from .._redaction import register_secrets

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
        from .._redaction import register_secrets

        if secret and secret not in self._held:
            self._held.append(secret)
            register_secrets(self, self._held)
