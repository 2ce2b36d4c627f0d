"""The signals of the OAuth flow: a person is needed, or the flow must not go on without one.

A leaf (no SDK), so the connection can tell a login-shaped failure from any other without
importing the flow; each module of the package raises these.
"""

from __future__ import annotations

__all__ = ["ClientRejected", "LoginRequired", "UntrustedTokenEndpoint"]


class LoginRequired(Exception):
    """Raised inside the OAuth flow when it would need a person and none is available."""


class ClientRejected(LoginRequired):
    """The token endpoint rejected the client, and registering again did not help (or could not)."""


class UntrustedTokenEndpoint(LoginRequired):
    """The discovered token endpoint is not where this server's client credentials may go."""
