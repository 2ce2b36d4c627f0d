"""patchbay: connect one agent to every MCP server it needs.

The public API is what this module exports; everything in modules starting with ``_`` is private.
Names are imported on first use (PEP 562), so ``import patchbay`` costs almost nothing and the
CLI's ``--help`` never pays for pydantic models or the MCP SDK; the SDK itself is imported only
when the first server connects.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalogue import Prompt, PromptArgument, Resource, ResourceTemplate, Tool
    from .config import Config, ReconnectSettings, ServerConfig, Settings, load_config
    from .errors import (
        AuthRequired,
        ConfigError,
        ConnectError,
        ConnectionLost,
        InvalidArguments,
        InvalidToolCall,
        NotFoundError,
        NotSupported,
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

from ._version import __version__

# A library logs, the application decides where it goes: without its own logging set-up, nothing
# reaches stderr (failures are in status() and in the exceptions calls raise).
logging.getLogger("patchbay").addHandler(logging.NullHandler())

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
    "InvalidArguments",
    "InvalidToolCall",
    "LogMessage",
    "MCPManager",
    "NotFoundError",
    "NotSupported",
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


# Public name -> the module (in this package) that defines it.
_LAZY: dict[str, str] = {
    "AuthRequired": "errors",
    "CatalogueChanged": "events",
    "Completion": "results",
    "Config": "config",
    "ConfigError": "errors",
    "ConnectError": "errors",
    "ConnectionLost": "errors",
    "ElicitationRequest": "handlers",
    "ElicitationResponse": "handlers",
    "Event": "events",
    "EventStream": "events",
    "Handlers": "handlers",
    "InvalidArguments": "errors",
    "InvalidToolCall": "errors",
    "LogMessage": "events",
    "MCPManager": "manager",
    "NotFoundError": "errors",
    "NotSupported": "errors",
    "PatchbayError": "errors",
    "ProgressCallback": "manager",
    "Prompt": "catalogue",
    "PromptArgument": "catalogue",
    "PromptNotFound": "errors",
    "PromptResult": "results",
    "ProtocolError": "errors",
    "ReconnectSettings": "config",
    "RequestTimeout": "errors",
    "Resource": "catalogue",
    "ResourceNotFound": "errors",
    "ResourceResult": "results",
    "ResourceTemplate": "catalogue",
    "ResourceUpdated": "events",
    "Root": "handlers",
    "SamplingRequest": "handlers",
    "ServerConfig": "config",
    "ServerError": "errors",
    "ServerNotFound": "errors",
    "ServerStateChanged": "events",
    "ServerUnavailable": "errors",
    "Settings": "config",
    "Tool": "catalogue",
    "ToolNotFound": "errors",
    "ToolResult": "results",
    "ToolTimeout": "errors",
    "TrustStoreError": "errors",
    "get_manager": "manager",
    "load_config": "config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patchbay' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
