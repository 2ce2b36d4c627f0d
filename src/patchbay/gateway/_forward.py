"""An upstream's questions (sampling, elicitation, roots), asked of the downstream client behind them.

An upstream server asks its client (the gateway) something while it serves a request the gateway
forwarded. The one to ask is the downstream client that sent that request, so the gateway records,
per upstream server, the downstream requests in flight to it (``Forwarder.calling``):

* a question that arrives in the caller's own task (2026-07-28 upstreams: the SDK resolves their
  ``input_required`` rounds inside the call) goes to exactly that caller (a context variable);
* otherwise (2025 upstreams ask on their session's own reader task, and do not say for which
  request) it goes to the downstream session whose requests are in flight to that server, sent as
  related to the latest of them, so that on Streamable HTTP it travels on that request's response
  stream; when requests of several downstream sessions are in flight it is refused, never guessed
  (a guess could show one user's prompt to another);
* with nothing in flight (a server asking for roots right after connecting) roots come from the
  single downstream session if there is exactly one (a stdio host), else from the config; sampling
  and elicitation are refused with an error the upstream can read.

A downstream client that did not declare the capability is never asked: the upstream gets an error
saying so. A 2026-07-28 downstream has no back-channel for server-to-client requests: its questions
go through the caller's parked call (``_rounds``) as ``input_required`` rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..handlers import ElicitationRequest, ElicitationResponse, Handlers, Root, SamplingRequest
from ._rounds import Parked

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.session import ServerSession
    from mcp.types import CreateMessageResult, CreateMessageResultWithTools, RequestId

__all__ = ["DownstreamCannotAnswer", "Forwarder", "connection_id"]

T = TypeVar("T")


class DownstreamCannotAnswer(Exception):
    """No downstream client can answer this upstream question (its name is what the upstream sees)."""


@dataclass(frozen=True)
class _Caller:
    session: ServerSession
    request_id: RequestId | None
    modern: bool
    parked: Parked | None = None
    """A 2026-07-28 caller's parked call: its questions become ``input_required`` rounds."""


def connection_id(session: ServerSession) -> int:
    """One downstream connection's identity: the SDK makes a ``ServerSession`` per request, over
    one ``Connection`` per client (not public API, so read defensively)."""
    return id(getattr(session, "_connection", session))


_current: ContextVar[_Caller | None] = ContextVar("patchbay_gateway_caller", default=None)


class Forwarder:
    """Routes each upstream question to a downstream client; ``handlers()`` goes to the manager.

    ``sessions`` returns the live 2025-era downstream sessions (the gateway tracks them);
    ``fallback_roots`` the roots of the config, for when no downstream client can be asked.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, list[_Caller]] = {}
        self.sessions: Callable[[], list[ServerSession]] = list
        self.fallback_roots: Callable[[], Sequence[Any]] = tuple

    def handlers(self) -> Handlers:
        """Every capability is declared upstream: whether a downstream can answer is known per question."""
        return Handlers(sampling=self.sampling, elicitation=self.elicitation, roots=self.roots)

    @contextmanager
    def calling(
        self, server: str, ctx: ServerRequestContext[Any], parked: Parked | None = None
    ) -> Iterator[None]:
        """While a downstream request to ``server`` is in flight, questions from it go to its sender."""
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        caller = _Caller(ctx.session, ctx.request_id, modern, parked)
        stack = self._inflight.setdefault(server, [])
        stack.append(caller)
        token = _current.set(caller)
        try:
            yield
        finally:
            _current.reset(token)
            stack.remove(caller)
            if not stack:
                self._inflight.pop(server, None)

    def callers_of(self, server: str) -> list[_Caller]:
        """The 2025-era downstream requests in flight to ``server``, one (the latest) per session."""
        latest: dict[int, _Caller] = {}
        for caller in self._inflight.get(server) or []:
            if not caller.modern:
                latest[connection_id(caller.session)] = caller
        return list(latest.values())

    def _caller(self, server: str) -> _Caller | None:
        """The downstream request behind a question of ``server``, when that can be known.

        Known exactly in the caller's own task. Otherwise only when every request in flight to
        ``server`` comes from one downstream session: a 2025 server does not say which request
        it asks for, and a guess could show one user's question to another.
        """
        current = _current.get()
        if current is not None:
            return current
        stack = self._inflight.get(server) or []
        if len({connection_id(c.session) for c in stack}) != 1:
            return None
        return stack[-1]

    def _ask(self, server: str, what: str, capability: Any) -> _Caller:
        caller = self._caller(server)
        if caller is None:
            several = len({connection_id(c.session) for c in self._inflight.get(server) or []}) > 1
            raise DownstreamCannotAnswer(
                f"{what} from {server}: requests of several downstream clients are in flight and the "
                "server does not say which one it asks for"
                if several
                else f"{server} asked for {what} outside any downstream request"
            )
        if caller.modern and caller.parked is None:
            raise DownstreamCannotAnswer(f"{what} from {server}: the downstream client speaks 2026-07-28")
        if not caller.session.check_client_capability(capability):
            raise DownstreamCannotAnswer(f"{what} from {server}: the downstream client does not offer it")
        return caller

    async def sampling(self, request: SamplingRequest) -> CreateMessageResult | CreateMessageResultWithTools:
        from mcp.server.validation import validate_sampling_tools, wants_sampling_tools
        from mcp.shared.message import ServerMessageMetadata
        from mcp.types import (
            ClientCapabilities,
            CreateMessageRequest,
            CreateMessageResult,
            CreateMessageResultWithTools,
            SamplingCapability,
        )

        caller = self._ask(request.server, "sampling", ClientCapabilities(sampling=SamplingCapability()))
        session = caller.session
        p = request.params
        validate_sampling_tools(session.client_capabilities, p.tools, p.tool_choice)  # an MCPError if not
        metadata = ServerMessageMetadata(related_request_id=caller.request_id)
        sent = CreateMessageRequest(params=p)  # every field as the upstream wrote it
        wanted: type[CreateMessageResult | CreateMessageResultWithTools] = (
            CreateMessageResultWithTools
            if wants_sampling_tools(p.tools, p.tool_choice)
            else CreateMessageResult
        )
        if caller.parked is not None:
            return _as(wanted, await caller.parked.ask(sent))
        if wanted is CreateMessageResultWithTools:
            return await session.send_request(sent, CreateMessageResultWithTools, metadata=metadata)
        return await session.send_request(sent, CreateMessageResult, metadata=metadata)

    async def elicitation(self, request: ElicitationRequest) -> ElicitationResponse:
        from mcp.types import ClientCapabilities, ElicitationCapability, ElicitResult

        wanted = ClientCapabilities(elicitation=ElicitationCapability())
        caller = self._ask(request.server, "elicitation", wanted)
        session = caller.session
        if caller.parked is not None:
            result = _as(ElicitResult, await caller.parked.ask(_elicit_request(request)))
        elif request.mode == "url":
            result = await session.elicit_url(
                request.message, request.url or "", request.elicitation_id or "", caller.request_id
            )
        else:
            result = await session.elicit_form(request.message, request.schema or {}, caller.request_id)
        return ElicitationResponse(result.action, dict(result.content) if result.content else None)

    async def roots(self, server: str) -> list[Root]:
        """The downstream client's roots when one can be asked, else the config's."""
        from mcp.types import ClientCapabilities, ListRootsRequest, ListRootsResult, RootsCapability

        caller = self._caller(server)
        wanted = ClientCapabilities(roots=RootsCapability())
        parked = caller.parked if caller is not None else None
        if parked is not None and caller is not None and caller.session.check_client_capability(wanted):
            listed = _as(ListRootsResult, await parked.ask(ListRootsRequest()))
            return [Root(str(root.uri), root.name) for root in listed.roots]
        session = caller.session if caller is not None and not caller.modern else None
        if session is None:
            live = self.sessions()
            session = live[0] if len(live) == 1 else None
        if session is not None and session.check_client_capability(wanted):
            listed = await session.list_roots()
            return [Root(str(root.uri), root.name) for root in listed.roots]
        from ..handlers import as_root

        return [as_root(item) for item in self.fallback_roots()]


def _as(kind: type[T], answer: Any) -> T:
    """A downstream's answer as the type the upstream asked for (the SDK parses a union)."""
    if isinstance(answer, kind):
        return answer
    data = answer.model_dump(by_alias=True, exclude_none=True) if hasattr(answer, "model_dump") else answer
    return kind.model_validate(data)  # type: ignore[attr-defined, no-any-return]


def _elicit_request(request: ElicitationRequest) -> Any:
    from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitRequestURLParams

    if request.mode == "url":
        params: Any = ElicitRequestURLParams(
            message=request.message, url=request.url or "", elicitation_id=request.elicitation_id or ""
        )
    else:
        params = ElicitRequestFormParams(message=request.message, requested_schema=request.schema or {})
    return ElicitRequest(params=params)
