"""patchbay: connect one agent to every MCP server it needs.

The public API is what this module exports; everything in modules starting with ``_`` is private.
Importing patchbay does not import the MCP SDK: that happens when the first server connects.
"""

from __future__ import annotations

from .catalogue import Prompt, PromptArgument, Resource, ResourceTemplate, Tool
from .config import Config, ReconnectSettings, ServerConfig, Settings, load_config
from .errors import (
    AuthRequired,
    ConfigError,
    ConnectError,
    ConnectionLost,
    NotFoundError,
    PatchbayError,
    PromptNotFound,
    ProtocolError,
    RequestTimeout,
    ResourceNotFound,
    ServerError,
    ServerNotFound,
    ServerUnavailable,
    ToolNotFound,
    ToolTimeout,
)
from .manager import MCPManager, ProgressCallback, get_manager
from .results import PromptResult, ResourceResult, ToolResult

__version__ = "0.1.0"

__all__ = [
    "AuthRequired",
    "Config",
    "ConfigError",
    "ConnectError",
    "ConnectionLost",
    "MCPManager",
    "NotFoundError",
    "PatchbayError",
    "ProgressCallback",
    "Prompt",
    "PromptArgument",
    "PromptNotFound",
    "PromptResult",
    "ProtocolError",
    "ReconnectSettings",
    "RequestTimeout",
    "Resource",
    "ResourceNotFound",
    "ResourceResult",
    "ResourceTemplate",
    "ServerConfig",
    "ServerError",
    "ServerNotFound",
    "ServerUnavailable",
    "Settings",
    "Tool",
    "ToolNotFound",
    "ToolResult",
    "ToolTimeout",
    "__version__",
    "get_manager",
    "load_config",
]
