"""Exit codes, and the one place that maps an exception to one.

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      ok
1      usage error: bad arguments, an unknown server/tool/prompt/resource name,
       an invalid or duplicate server name in a config edit
2      config error: a config file cannot be read or is invalid
3      authorisation required (``AuthRequired``, a server in state ``needs_auth``)
4      a server is unreachable, failed, timed out or broke the protocol
5      the tool ran and returned an error (``isError``), or the server or its listing
       refused the arguments (``InvalidArguments``)
130    interrupted (Ctrl-C)
=====  ==========================================================================

Engineers adding commands that raise new patchbay exceptions add a row to ``_BY_TYPE`` (most
specific type first) and nothing else.
"""

from __future__ import annotations

from typing import Any

from .. import errors

OK = 0
USAGE = 1
CONFIG = 2
AUTH = 3
SERVER = 4
TOOL_ERROR = 5
INTERRUPTED = 130


class UsageError(Exception):
    """The command line itself is wrong (bad ``key=value``, unknown or invalid name): exit 1.

    A CLI-internal signal like ``typer.Exit``, not part of the library's error tree.
    """


# Checked in order: the first matching type wins, so subclasses come before their bases.
_BY_TYPE: tuple[tuple[type[BaseException], int], ...] = (
    (UsageError, USAGE),
    (errors.ConfigError, CONFIG),
    (errors.TrustStoreError, CONFIG),  # the approvals file cannot be read or written
    (errors.AuthRequired, AUTH),
    (errors.ServerNotFound, USAGE),
    (errors.NotFoundError, USAGE),
    (errors.InvalidArguments, TOOL_ERROR),  # the server (or its listing) said no to these arguments
    (errors.ServerError, SERVER),
    (errors.PatchbayError, SERVER),
)

# Connection states that mean "authorisation required" rather than "failed".
AUTH_STATES = frozenset({"needs_auth"})


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that ends a command."""
    if isinstance(exc, errors.ServerUnavailable) and exc.state in AUTH_STATES:
        return AUTH
    for kind, code in _BY_TYPE:
        if isinstance(exc, kind):
            return code
    return SERVER


def message_for(exc: BaseException) -> str:
    """The error's message in CLI terms: advice to pass ``--server``, not the library's ``server=``."""
    if isinstance(exc, errors.NotFoundError):
        return exc.advice("--server")
    return str(exc)


def error_object(exc: BaseException, code: int) -> dict[str, Any]:
    """The ``--json`` form of an error: ``{"error": {...}}`` (documented in docs/cli.md)."""
    body: dict[str, Any] = {"type": type(exc).__name__, "message": message_for(exc), "exit_code": code}
    candidates = getattr(exc, "candidates", ())
    if candidates:
        body["candidates"] = list(candidates)
    server = getattr(exc, "server", None)
    if isinstance(server, str):
        body["server"] = server
    state = getattr(exc, "state", None)
    if isinstance(state, str):
        body["state"] = state
    for attr in ("file", "path"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            body[attr] = value
    return {"error": body}
