"""The fleet as one MCP server: the SDK's low-level ``Server`` with handlers over ``MCPManager``.

The protocol is the SDK's (its dispatcher, both eras, the stdio and Streamable HTTP transports);
this module only answers each request from the manager's public API and turns the manager's
events into downstream notifications:

* lists come from the current catalogue (``Names`` maps exposed names and URIs back);
* ``tools/call`` runs ``manager.call_tool`` in the request's own task, so a downstream
  ``notifications/cancelled`` cancels it, which cancels the upstream request; upstream progress is
  re-sent against the caller's progress token;
* a failure of one upstream is a tool error (``isError``) or a JSON-RPC error for that request,
  never the end of the downstream session;
* ``CatalogueChanged`` / ``ServerStateChanged`` events that change what a list shows become
  ``notifications/*/list_changed`` on 2025 sessions and ``subscriptions/listen`` events on
  2026-07-28 ones; ``ResourceUpdated`` events reach the sessions that subscribed to that URI.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .. import _invoke, errors
from ..catalogue import Tool
from ..events import CatalogueChanged, LogMessage, ServerStateChanged
from ..events import ResourceUpdated as FleetResourceUpdated
from ._forward import Forwarder, connection_id
from ._names import Names
from ._rounds import STATE_PREFIX, Abandoned, Parked, ParkedCalls

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
    from mcp.server.session import ServerSession

    from ..manager import MCPManager

__all__ = ["Gateway"]

R = TypeVar("R")

logger = logging.getLogger("patchbay.gateway")

_INVALID_PARAMS = -32602
_INTERNAL_ERROR = -32603
_NOTIFY_TIMEOUT = 5.0
_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_SETTLING_STATES = frozenset({"connecting"})


class _GatewayServer(Server[Any]):
    """The low-level server, advertising ``listChanged`` on handshake sessions of every transport.

    (The Streamable HTTP session manager asks ``create_initialization_options()`` with no
    arguments; the gateway always forwards list changes, so the default says so.)
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(True, True, True),
            experimental_capabilities,
            extensions,
        )


class Gateway:
    """Serves one started ``MCPManager`` as one MCP server (``.server``).

    ``prefix=False`` shows the servers' own tool and prompt names (``--prefix none``); a name two
    servers share is then shown for the first in config order and listed in ``collisions()``.
    """

    def __init__(
        self,
        manager: MCPManager,
        *,
        prefix: bool = True,
        mode: str = "all",
        name: str = "patchbay",
        forwarder: Forwarder | None = None,
    ) -> None:
        from .._version import __version__

        if mode not in ("all", "search"):
            raise ValueError(f"mode must be 'all' or 'search', not {mode!r}")
        self.manager = manager
        self.prefix = prefix
        self.mode = mode
        self._names: Names | None = None
        self._bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self._bus)
        # 2025-era downstream connections, by transport session (stdio has one), newest
        # ServerSession of each: its standalone channel carries list_changed and resource updates.
        self._sessions: dict[str, ServerSession] = {}
        self._subscribed: dict[str, set[str]] = {}  # shown URI -> session keys
        self._settled = anyio.Event()
        # Upstream questions go to the downstream client behind them (the manager was built with
        # ``forwarder.handlers()``; without it the upstreams were never offered those capabilities).
        self.forwarder = forwarder or Forwarder()
        self._log_levels: dict[int, str] = {}  # downstream connection -> its logging/setLevel
        self.parked = ParkedCalls()  # 2026-07-28 callers' rounds; ``serve`` runs it (``parked.run``)
        self.forwarder.sessions = lambda: list(self._sessions.values())
        self.forwarder.fallback_roots = lambda: manager.config.settings.roots or ()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated as of 2026-07-28, still the 2025 way
            self.server = self._build_server(name, __version__)
        self.server.middleware.append(self._track_session)

    def _build_server(self, name: str, version: str) -> _GatewayServer:
        prefix = self.prefix
        return _GatewayServer(
            name,
            version=version,
            instructions=(
                "patchbay: the tools, prompts and resources of a supervised fleet of MCP servers. "
                "Tool names are mcp__<server>__<tool>."
                if prefix
                else "patchbay: the tools, prompts and resources of a supervised fleet of MCP servers."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=self._subscriptions_listen,
            on_completion=self._complete,
            on_roots_list_changed=self._roots_changed,
            on_set_logging_level=self._set_level,
        )

    # ------------------------------------------------------------------------------ the catalogue

    def names(self) -> Names:
        """The downstream view of the manager's current catalogue (rebuilt when it changes)."""
        catalogue = self.manager.catalogue
        if self._names is None or self._names.catalogue is not catalogue:
            self._names = Names.build(catalogue, self.manager.servers, prefix=self.prefix)
        return self._names

    def collisions(self) -> list[str]:
        return list(self.names().collisions)

    async def settle(self) -> None:
        """Wait until no server is still making its first connection attempt (each is bounded
        by its ``connect_timeout``); list requests wait for this, so a host's first listing
        is the whole fleet and not whichever servers happened to be up."""
        async with self.manager.events() as events:
            while any(s["state"] in _SETTLING_STATES for s in self.manager.status().values()):
                await events.get()
        self._settled.set()

    @property
    def settled(self) -> bool:
        return self._settled.is_set()

    async def wait_settled(self) -> None:
        await self._settled.wait()

    async def _current(self) -> Names:
        await self._settled.wait()
        return self.names()

    # ------------------------------------------------------------------------------- the handlers

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if self.mode == "search":  # the two meta-tools, whatever the fleet offers
            return types.ListToolsResult(tools=[types.Tool.model_validate(w) for w in _search_wire()])
        names = await self._current()
        return types.ListToolsResult(tools=[types.Tool.model_validate(w) for w in names.wire_tools()])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        names = await self._current()
        name, arguments = params.name, params.arguments or {}
        if self.mode == "search" and name in (_invoke.SEARCH_TOOL, _invoke.CALL_TOOL):
            if name == _invoke.SEARCH_TOOL:
                return _search(names, arguments)
            problems = _invoke.validate_arguments(_invoke.CALL_SPEC.input_schema, arguments)
            if problems:
                return _tool_error(_invoke.argument_error(name, _invoke.CALL_SPEC.input_schema, problems))
            name, arguments = str(arguments["name"]), arguments.get("arguments") or {}
            if not isinstance(arguments, dict):
                return _tool_error(f"'arguments' for {name!r} must be a JSON object")
        tool = names.tools.get(name)
        if tool is None:
            hint = f"; use {_invoke.SEARCH_TOOL} to find the right name" if self.mode == "search" else ""
            return _tool_error(_unknown("tool", name, list(names.tools)) + hint)
        return await self._call(ctx, params, tool, arguments)

    async def _answer(
        self, ctx: ServerRequestContext[Any], server: str, params: Any, run: Callable[[], Awaitable[R]]
    ) -> R | types.InputRequiredResult:
        """Run one upstream request for a downstream one, the upstream's questions forwarded.

        A 2025 caller is asked directly (server-to-client requests). A 2026-07-28 caller's request
        becomes a parked call whose questions end the round with ``input_required``; its retry
        (``requestState`` naming the parked call) brings the answers and waits for the next round.
        """
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            with self.forwarder.calling(server, ctx):
                return await run()
        state = getattr(params, "request_state", None)
        parked = self.parked.find(state)
        if parked is None and state is not None and state.startswith(STATE_PREFIX):
            raise MCPError(
                _INVALID_PARAMS, "requestState is unknown or expired: send the request again without it"
            )
        if parked is None:

            async def call(parked: Parked) -> R:
                with self.forwarder.calling(server, ctx, parked):
                    return await run()

            parked = self.parked.start(call)
        else:
            parked.answer(getattr(params, "input_responses", None))
        finished, value = await parked.next_round()
        if finished:
            self.parked.drop(parked)
            return cast("R", value)
        return types.InputRequiredResult(input_requests=value, request_state=self.parked.state_of(parked))

    async def _call(
        self,
        ctx: ServerRequestContext[Any],
        params: types.CallToolRequestParams,
        tool: Tool,
        arguments: dict[str, Any],
    ) -> types.CallToolResult | types.InputRequiredResult:
        progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None
        if params.meta is not None and params.meta.get("progress_token") is not None:
            session = ctx.session

            async def progress(value: float, total: float | None, message: str | None) -> None:
                try:
                    await session.report_progress(value, total, message)
                except Exception as exc:  # that request already ended (an input_required round)
                    logger.debug("progress not forwarded: %s", exc)

        try:
            result = await self._answer(
                ctx,
                tool.server,
                params,
                lambda: self.manager.call_tool(tool.name, arguments, progress=progress),
            )
        except (errors.PatchbayError, Abandoned) as exc:
            return _tool_error(str(exc))
        if isinstance(result, types.InputRequiredResult):
            return result
        return types.CallToolResult(
            content=result.content,
            structured_content=result.structured,
            is_error=result.is_error,
            _meta=result.meta,
        )

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        names = await self._current()
        return types.ListPromptsResult(prompts=[types.Prompt.model_validate(w) for w in names.wire_prompts()])

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        names = await self._current()
        prompt = names.prompts.get(params.name)
        if prompt is None:
            raise MCPError(_INVALID_PARAMS, _unknown("prompt", params.name, list(names.prompts)))
        arguments = params.arguments or {}
        try:
            result = await self._answer(
                ctx,
                prompt.server,
                params,
                lambda: self.manager.get_prompt(prompt.name, arguments, server=prompt.server),
            )
        except (errors.PatchbayError, Abandoned) as exc:
            raise _mcp_error(exc) from None
        if isinstance(result, types.InputRequiredResult):
            return result
        return types.GetPromptResult(description=result.description, messages=result.messages)

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        names = await self._current()
        return types.ListResourcesResult(
            resources=[types.Resource.model_validate(w) for w in names.wire_resources()]
        )

    async def _list_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        names = await self._current()
        return types.ListResourceTemplatesResult(
            resource_templates=[types.ResourceTemplate.model_validate(w) for w in names.wire_templates()]
        )

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        names = await self._current()
        route = names.route(params.uri)
        if route is None:
            raise MCPError(
                _INVALID_PARAMS, f"Resource not found: no server of the fleet offers {params.uri!r}"
            )
        server, original = route
        try:
            result = await self._answer(
                ctx, server, params, lambda: self.manager.read_resource(original, server)
            )
        except (errors.PatchbayError, Abandoned) as exc:
            raise _mcp_error(exc) from None
        if isinstance(result, types.InputRequiredResult):
            return result
        contents = [
            item.model_copy(update={"uri": params.uri})
            if params.uri != original and str(item.uri) == original
            else item
            for item in result.contents
        ]
        return types.ReadResourceResult(contents=contents)

    async def _subscribe(
        self, ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        return await self._set_subscribed(ctx, params.uri, True)

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        return await self._set_subscribed(ctx, params.uri, False)

    async def _set_subscribed(self, ctx: ServerRequestContext[Any], uri: str, on: bool) -> types.EmptyResult:
        names = await self._current()
        route = names.route(uri)
        if route is None:
            raise MCPError(_INVALID_PARAMS, f"Resource not found: no server of the fleet offers {uri!r}")
        key = _session_key(ctx) or "modern"
        server, original = route
        if on:
            self._subscribed.setdefault(uri, set()).add(key)
        else:
            self._subscribed.get(uri, set()).discard(key)
            if any(keys and names.route(shown) == route for shown, keys in self._subscribed.items()):
                return types.EmptyResult()  # another downstream session still wants it
        try:
            if on:
                await self.manager.subscribe_resource(original, server)
            else:
                await self.manager.unsubscribe_resource(original, server)
        except errors.PatchbayError as exc:
            raise _mcp_error(exc) from None
        return types.EmptyResult()

    async def _subscriptions_listen(
        self, ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """A 2026-07-28 listen stream: the SDK's handler, plus upstream subscriptions for its URIs."""
        uris = list(params.notifications.resource_subscriptions or ())
        key = f"listen:{ctx.request_id}"
        names = await self._current() if uris else self.names()
        subscribed: list[tuple[str, str, str]] = []
        try:
            for uri in uris:
                route = names.route(uri)
                if route is None:
                    continue
                self._subscribed.setdefault(uri, set()).add(key)
                subscribed.append((uri, *route))
                try:
                    await self.manager.subscribe_resource(route[1], route[0])
                except errors.PatchbayError as exc:
                    logger.info("cannot subscribe to %s upstream: %s", uri, exc)
            return await self._listen(ctx, params)
        finally:
            for uri, _server, _original in subscribed:
                self._subscribed.get(uri, set()).discard(key)

    async def _complete(
        self, ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        names = await self._current()
        ref = params.ref
        target: Any
        if isinstance(ref, types.PromptReference):
            target = names.prompts.get(ref.name)
            if target is None:
                raise MCPError(_INVALID_PARAMS, _unknown("prompt", ref.name, list(names.prompts)))
        else:
            target = names.template(ref.uri)
            if target is None:
                raise MCPError(_INVALID_PARAMS, f"no resource template {ref.uri!r} in the fleet")
        context = params.context.arguments if params.context is not None else None
        try:
            done = await self.manager.complete(target, (params.argument.name, params.argument.value), context)
        except errors.PatchbayError as exc:
            raise _mcp_error(exc) from None
        return types.CompleteResult(
            completion=types.Completion(
                values=done.values[:100], total=done.total, has_more=done.has_more or None
            )
        )

    async def _roots_changed(
        self, ctx: ServerRequestContext[Any], params: types.NotificationParams | None
    ) -> None:
        """A downstream client's roots changed: tell the upstreams, which ask again (and get them)."""
        await self.manager.set_roots(None)

    # --------------------------------------------------------------------- downstream notifications

    async def _track_session(self, ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        """Middleware: remember each 2025-era downstream connection for notifications."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            key = _session_key(ctx)
            if key is not None:
                self._sessions[key] = ctx.session
        return await call_next(ctx)

    def _snapshot(self) -> dict[str, Any]:
        names = self.names()
        return {
            "tools": names.wire_tools() if self.mode == "all" else None,  # search: always the two
            "prompts": names.wire_prompts(),
            "resources": (names.wire_resources(), names.wire_templates()),
        }

    async def forward_events(self) -> None:
        """Turn fleet events into downstream notifications until cancelled."""
        async with self.manager.events() as events:
            announced = self._snapshot()
            async for event in events:
                if isinstance(event, FleetResourceUpdated):
                    await self._resource_updated(event.server, event.uri)
                    continue
                if isinstance(event, LogMessage):
                    await self._log(event)
                    continue
                if not isinstance(event, (CatalogueChanged, ServerStateChanged)):
                    continue
                if events.pending():  # a burst: compare once, after its last event
                    continue
                now = self._snapshot()
                for kind in ("tools", "prompts", "resources"):
                    if now[kind] != announced[kind]:
                        await self._list_changed(kind)
                announced = now

    async def _list_changed(self, kind: str) -> None:
        modern: dict[str, ServerEvent] = {
            "tools": ToolsListChanged(),
            "prompts": PromptsListChanged(),
            "resources": ResourcesListChanged(),
        }
        await self._bus.publish(modern[kind])
        for key, session in list(self._sessions.items()):
            send = {
                "tools": session.send_tool_list_changed,
                "prompts": session.send_prompt_list_changed,
                "resources": session.send_resource_list_changed,
            }[kind]
            await self._send(key, send)

    async def _log(self, event: LogMessage) -> None:
        """An upstream's log message goes to the hosts whose requests it is serving (2025 sessions,
        at or above the level each set; 2026-07-28 hosts get none: logging left that revision).
        The event may be handled after its request ended; then only a lone (stdio) host gets it."""
        rank = _LEVELS.index(event.level) if event.level in _LEVELS else len(_LEVELS) - 1
        targets = [(c.session, c.request_id) for c in self.forwarder.callers_of(event.server)]
        if not targets and len(self._sessions) == 1:  # the request already ended: a stdio host
            targets = [(next(iter(self._sessions.values())), None)]
        for session, request_id in targets:
            if rank < _LEVELS.index(self._log_levels.get(connection_id(session), "debug")):
                continue
            send = functools.partial(
                session.send_log_message,
                level=event.level,  # type: ignore[arg-type]
                data=event.data,
                logger=f"{event.server}/{event.logger}" if event.logger else event.server,
                related_request_id=request_id,
            )
            try:
                with anyio.fail_after(_NOTIFY_TIMEOUT):
                    await send()
            except Exception as exc:  # that request or connection is gone: the log line is dropped
                logger.debug("log message not forwarded: %s", exc)

    async def _set_level(
        self, ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        self._log_levels[connection_id(ctx.session)] = str(params.level)
        return types.EmptyResult()

    async def _resource_updated(self, server: str, uri: str) -> None:
        names = self.names()
        for shown, keys in list(self._subscribed.items()):
            if names.route(shown) != (server, uri):
                continue
            await self._bus.publish(ResourceUpdated(uri=shown))
            for key in list(keys):
                if key.startswith("listen:"):
                    continue  # a 2026 listen stream: the bus event above reaches it
                session = self._sessions.get(key)
                if session is None:
                    keys.discard(key)
                    continue
                await self._send(key, functools.partial(session.send_resource_updated, shown))

    async def _send(self, key: str, send: Callable[[], Awaitable[None]]) -> None:
        try:
            with anyio.fail_after(_NOTIFY_TIMEOUT):
                await send()
        except Exception as exc:  # that downstream connection is gone or stuck: forget it
            logger.debug("dropping downstream session %s: %s", key, exc)
            self._sessions.pop(key, None)


def _session_key(ctx: ServerRequestContext[Any]) -> str | None:
    """One key per downstream connection: its ``Mcp-Session-Id`` on HTTP, ``stdio`` otherwise."""
    request = ctx.request
    if request is None:
        return "stdio"
    headers = getattr(request, "headers", None)
    session_id = headers.get("mcp-session-id") if headers is not None else None
    if session_id:
        return f"http:{session_id}"
    query = getattr(request, "query_params", None)
    sse_session = query.get("session_id") if query is not None else None  # the legacy SSE transport
    return f"sse:{sse_session}" if sse_session else None


def _search_wire() -> list[dict[str, Any]]:
    """``--mode search``: the library's two meta-tools, as wire ``Tool`` objects."""
    read_only = {"readOnlyHint": True, "openWorldHint": False}
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "inputSchema": spec.input_schema,
            **({"annotations": read_only} if spec is _invoke.SEARCH_SPEC else {}),
        }
        for spec in (_invoke.SEARCH_SPEC, _invoke.CALL_SPEC)
    ]


def _search(names: Names, arguments: dict[str, Any]) -> types.CallToolResult:
    """``patchbay_search_tools`` over the fleet, answered with the names this gateway shows."""
    from ..search import describe, index_for

    spec = _invoke.SEARCH_SPEC
    problems = _invoke.validate_arguments(spec.input_schema, arguments)
    if problems:
        return _tool_error(_invoke.argument_error(spec.name, spec.input_schema, problems))
    limit = int(arguments.get("limit", _invoke.DEFAULT_SEARCH_LIMIT))
    shown = {(tool.server, tool.original_name): name for name, tool in names.tools.items()}
    found: list[dict[str, Any]] = []
    for tool, _score in index_for(names.catalogue).search(str(arguments["query"]), len(shown), None):
        name = shown.get((tool.server, tool.original_name))
        if name is not None:  # --prefix none: a tool that lost a name clash is not reachable
            found.append({**describe(tool), "name": name})
        if len(found) == limit:
            break
    text = _invoke.search_answer(found)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def _tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _unknown(kind: str, name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"no {kind} named {name!r} in the fleet{hint}"


def _mcp_error(exc: errors.PatchbayError | Abandoned) -> MCPError:
    if isinstance(exc, errors.ProtocolError):
        return MCPError(exc.code, str(exc), exc.data)
    if isinstance(exc, errors.NotFoundError):
        return MCPError(_INVALID_PARAMS, str(exc))
    return MCPError(_INTERNAL_ERROR, str(exc))
