"""Where the SDK client's own log records go: ``patchbay.sdk`` at debug level, never stderr.

Used by every place that opens an SDK session (the connection, and ``auth.login``'s one-off one).
"""

from __future__ import annotations

import logging
import os
import sys

from ._redaction import guard_loggers

__all__ = ["route_sdk_logs"]

_SDK_LOGGERS = ("mcp.client", "mcp.shared", "mcp.os")
"""The SDK's client-side loggers (``logging.getLogger(__name__)``); ``mcp.server`` is not ours."""
_SDK_SESSION_LOGGER = "client"
"""``mcp.client.session`` logs under this bare name; records from elsewhere in it are left alone."""
_sdk_log = logging.getLogger("patchbay.sdk")


def _from_sdk(record: logging.LogRecord) -> bool:
    sdk = sys.modules.get("mcp")
    where = getattr(sdk, "__file__", None)
    return where is not None and record.pathname.startswith(os.path.dirname(where) + os.sep)


class _SdkToDebug(logging.Handler):
    """Re-logs an SDK record on ``patchbay.sdk`` at debug level, traceback and all.

    Without a handler of its own, a warning or ``logger.exception`` the SDK logs when an HTTP or
    SSE server goes away ("Error in sse_reader", "Session termination failed") reaches Python's
    last-resort handler, which prints it to the host program's stderr. What it says is already in
    the connection's state and in the errors raised: a library does not print.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if _sdk_log.isEnabledFor(logging.DEBUG):
            _sdk_log.debug("%s: %s", record.name, record.getMessage(), exc_info=record.exc_info)


def _take_sdk_records(record: logging.LogRecord) -> bool:
    """The bare ``client`` logger's filter: the SDK's records go to debug, the rest pass on."""
    if not _from_sdk(record):
        return True
    _SDK_ROUTE.emit(record)
    return False


_SDK_ROUTE = _SdkToDebug()


def route_sdk_logs() -> None:
    """Send the SDK client's log records to ``patchbay.sdk`` (debug) instead of stderr (idempotent).

    Only the SDK's own client-side loggers change (a handler, ``propagate = False``); the bare
    ``client`` logger gets a filter that takes only records logged from inside the SDK.
    """
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if _SDK_ROUTE not in logger.handlers:
            logger.addHandler(_SDK_ROUTE)
            logger.propagate = False
    session_logger = logging.getLogger(_SDK_SESSION_LOGGER)
    if _take_sdk_records not in session_logger.filters:
        session_logger.addFilter(_take_sdk_records)
    guard_loggers(_sdk_log.name)
