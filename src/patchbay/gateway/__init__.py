"""``patchbay serve``: the whole supervised fleet as one MCP server (docs/serve.md).

Built on the SDK's server side (its low-level ``Server``, stdio and Streamable HTTP transports and
session manager) and on ``MCPManager``'s public API; it never speaks JSON-RPC itself. Importing
this package imports the SDK's server stack: the CLI imports it only inside ``patchbay serve``.
"""

from __future__ import annotations

from ._log import log_to_stderr
from ._names import ALIAS_SCHEME, Names, alias_uri
from ._run import GatewayError, HttpOptions, check, is_loopback, parse_address, serve
from ._server import Gateway

__all__ = [
    "ALIAS_SCHEME",
    "Gateway",
    "GatewayError",
    "HttpOptions",
    "Names",
    "alias_uri",
    "check",
    "is_loopback",
    "log_to_stderr",
    "parse_address",
    "serve",
]
