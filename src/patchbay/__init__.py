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
    InvalidToolCall,
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
    TrustStoreError,
)
from .events import CatalogueChanged, Event, EventStream, LogMessage, ResourceUpdated, ServerStateChanged
from .handlers import ElicitationRequest, ElicitationResponse, Handlers, Root, SamplingRequest
from .manager import MCPManager, ProgressCallback, get_manager
from .results import Completion, PromptResult, ResourceResult, ToolResult

__version__ = "0.1.0"

__all__ = [
    "AuthRequired",
    "CatalogueChanged",
    "Completion",
    "Config",
    "ConfigError",
    "ConnectError",
    "ConnectionLost",
    "ElicitationRequest",
    "ElicitationResponse",
    "Event",
    "EventStream",
    "Handlers",
    "InvalidToolCall",
    "LogMessage",
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
    "ResourceUpdated",
    "Root",
    "SamplingRequest",
    "ServerConfig",
    "ServerError",
    "ServerNotFound",
    "ServerStateChanged",
    "ServerUnavailable",
    "Settings",
    "Tool",
    "ToolNotFound",
    "ToolResult",
    "ToolTimeout",
    "TrustStoreError",
    "__version__",
    "get_manager",
    "load_config",
]
