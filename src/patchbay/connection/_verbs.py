"""What each verb sends to a server and how its answer becomes a patchbay result.

The connection runs these on whichever session is live (``Connection.request``); the SDK's
types stay on this side, the caller gets ``ToolResult``, ``PromptResult``, ``ResourceResult`` or
``Completion``, and a server's refusal becomes the patchbay error that names it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import anyio

from .. import errors
from .._sdk_errors import INVALID_PARAMS, RESOURCE_NOT_FOUND
from ..results import Completion, PromptResult, ResourceResult, ToolResult

if TYPE_CHECKING:
    from mcp import Client
    from mcp.shared.dispatcher import ProgressFnT
    from mcp.types import CallToolResult

__all__ = [
    "ProgressCallback",
    "ProgressWatch",
    "complete",
    "get_prompt",
    "progress_watch",
    "prompt_refused",
    "read_resource",
    "resource_refused",
    "tool_result",
]

ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None] | None]
"""Called with ``(progress, total, message)`` for each progress notification of a call."""

ProgressWatch = Callable[[anyio.CancelScope], "ProgressFnT"]
"""Given a call's deadline scope, the SDK progress callback for it (which may move the deadline)."""


def progress_watch(
    limit: float,
    progress: ProgressCallback | None,
    reset_timeout_on_progress: bool,
    max_total_timeout: float | None,
) -> ProgressWatch | None:
    """The progress rule of a tool call, or ``None`` when there is nothing to watch.

    With ``reset_timeout_on_progress`` each notification restarts the deadline (``limit`` from
    now), never beyond ``max_total_timeout`` from the start; ``progress`` is told every one.
    """
    if progress is None and not reset_timeout_on_progress:
        return None
    started = anyio.current_time()

    def watch(scope: anyio.CancelScope) -> ProgressFnT:
        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            if reset_timeout_on_progress:
                deadline = anyio.current_time() + limit
                if max_total_timeout is not None:
                    deadline = min(deadline, started + max_total_timeout)
                scope.deadline = deadline
            if progress is not None:
                outcome = progress(value, total, message)
                if inspect.isawaitable(outcome):
                    await outcome

        return cast("ProgressFnT", on_progress)

    return watch


def tool_result(server: str, tool: str, result: CallToolResult) -> ToolResult:
    return ToolResult(
        server=server,
        tool=tool,
        is_error=bool(result.is_error),
        content=list(result.content),
        structured=result.structured_content,
        meta=result.meta,
    )


async def get_prompt(
    client: Client, *, server: str, exposed: str, original: str, args: Mapping[str, str], meta: Any
) -> PromptResult:
    result = await client.get_prompt(original, dict(args), meta=meta)
    return PromptResult(
        server=server, name=exposed, description=result.description, messages=list(result.messages)
    )


async def read_resource(client: Client, server: str, uri: str, meta: Any) -> ResourceResult:
    result = await client.read_resource(uri, meta=meta)
    return ResourceResult(server=server, uri=uri, contents=list(result.contents))


async def complete(
    client: Client,
    ref: Any,
    name: str,
    value: str,
    context: Mapping[str, str] | None,
) -> Completion:
    chosen = dict(context or {}) or None
    result = await client.complete(ref, {"name": name, "value": value}, chosen)
    done = result.completion
    return Completion(values=list(done.values), total=done.total, has_more=bool(done.has_more))


def _reason(exc: errors.ProtocolError) -> str:
    """A server's refusal without the server name and code the ``ProtocolError`` message adds."""
    return str(exc).removeprefix(f"{exc.server}: ").removesuffix(f" (code {exc.code})")


def prompt_refused(exc: errors.ProtocolError, server: str) -> errors.PatchbayError:
    """A server's error answer to ``prompts/get``: bad arguments, or the error itself."""
    if exc.code == INVALID_PARAMS:
        return errors.InvalidArguments(server, _reason(exc))
    return exc


def resource_refused(exc: errors.ProtocolError, server: str) -> errors.PatchbayError:
    """A server's error answer to ``resources/read``: no such resource, or the error itself."""
    if exc.code in (INVALID_PARAMS, RESOURCE_NOT_FOUND):  # the server has no such resource
        return errors.ResourceNotFound(f"{server}: {_reason(exc)}", server=server)
    return exc
