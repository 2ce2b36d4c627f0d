"""What the host answers when a server asks: sampling, elicitation and roots.

A server may ask its client to run an LLM completion (``sampling/createMessage``), to ask the user
something (``elicitation/create``, as a form or by sending them to a URL) or for the directories it
may work in (``roots/list``). The host supplies one ``Handlers`` value for the whole fleet::

    async def ask_user(request: ElicitationRequest) -> ElicitationResponse:
        return ElicitationResponse.accept({"name": input(request.message)})

    MCPManager(config, handlers=Handlers(elicitation=ask_user, roots=["~/src/project"]))

A capability is advertised only when its handler is given, so a server never asks for what the
host cannot do. Each callback learns which server is asking. The same callbacks serve both protocol
eras: on 2025 handshake sessions these arrive as server-to-client requests, on 2026-07-28 sessions
as ``input_required`` results that the SDK's ``Client`` resolves through the very same callbacks.

Form elicitation gets the schema's defaults filled in: when the user accepts without answering a
field that has a default, the default is sent (the SDK leaves that to the client; the conformance
suite checks it). A handler that raises is answered to the server as a JSON-RPC error naming only the
exception type (the message, which may hold anything, goes to the host's log); it never takes the
connection down.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from mcp.client.session import ClientRequestContext
    from mcp.types import (
        CreateMessageRequestParams,
        CreateMessageResult,
        CreateMessageResultWithTools,
        ElicitRequestFormParams,
        ElicitRequestURLParams,
        ElicitResult,
        ErrorData,
        ListRootsResult,
    )

__all__ = [
    "ElicitationHandler",
    "ElicitationRequest",
    "ElicitationResponse",
    "Handlers",
    "Root",
    "RootsSource",
    "SamplingHandler",
    "SamplingRequest",
    "root_uri",
    "schema_defaults",
]

logger = logging.getLogger("patchbay")

_INTERNAL_ERROR = -32603


@dataclass(frozen=True)
class Root:
    """A directory a server may work in; ``uri`` is always a ``file://`` URI."""

    uri: str
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name}


def root_uri(value: str | Path) -> str:
    """A path (``~`` expanded, made absolute) or a ``file://`` URI as a ``file://`` URI."""
    text = str(value)
    if "://" in text:
        if not text.startswith("file://"):
            raise ValueError(f"a root must be a file:// URI or a path, not {text!r}")
        return text
    return Path(text).expanduser().resolve().as_uri()


def as_root(value: Any) -> Root:
    """Accept a ``Root``, a path or URI string, or a mapping with ``uri`` (or ``path``) and ``name``."""
    if isinstance(value, Root):
        return value
    if isinstance(value, Mapping):
        target = value.get("uri") or value.get("path")
        if not target:
            raise ValueError("a root mapping needs a uri (or path)")
        return Root(root_uri(target), value.get("name"))
    uri = getattr(value, "uri", None)  # an SDK Root or a config RootEntry
    if uri is not None:
        return Root(root_uri(str(uri)), getattr(value, "name", None))
    return Root(root_uri(value))


@dataclass(frozen=True)
class SamplingRequest:
    """A server asks the host's model for a completion.

    ``params`` is the SDK's ``CreateMessageRequestParams``: ``messages``, ``system_prompt``,
    ``max_tokens``, ``temperature``, ``stop_sequences``, ``model_preferences`` and, when the server
    offers the model tools, ``tools`` and ``tool_choice``.
    """

    server: str
    params: CreateMessageRequestParams


SamplingAnswer: TypeAlias = "CreateMessageResult | CreateMessageResultWithTools | Mapping[str, Any]"
SamplingHandler: TypeAlias = Callable[[SamplingRequest], Awaitable[SamplingAnswer]]
"""Returns the SDK's ``CreateMessageResult`` (or ``...WithTools``), or the same as a plain mapping."""


@dataclass(frozen=True)
class ElicitationRequest:
    """A server asks the user something.

    ``mode == "form"``: answer the fields of ``schema`` (a flat JSON schema); ``defaults`` holds the
    schema's default values, which are filled in for fields the accepted answer leaves out.
    ``mode == "url"``: send the user to ``url`` (for an out-of-band step such as a payment or a
    third-party login); accepting means the user agreed to go there.
    """

    server: str
    mode: Literal["form", "url"]
    message: str
    schema: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    elicitation_id: str | None = None


@dataclass(frozen=True)
class ElicitationResponse:
    """The user's answer: ``accept`` (with form content), ``decline`` or ``cancel``."""

    action: Literal["accept", "decline", "cancel"]
    content: dict[str, Any] | None = None

    @classmethod
    def accept(cls, content: Mapping[str, Any] | None = None) -> ElicitationResponse:
        return cls("accept", dict(content or {}))

    @classmethod
    def decline(cls) -> ElicitationResponse:
        return cls("decline")

    @classmethod
    def cancel(cls) -> ElicitationResponse:
        return cls("cancel")


ElicitationHandler: TypeAlias = Callable[[ElicitationRequest], Awaitable[ElicitationResponse]]
RootsSource: TypeAlias = Sequence[Any] | Callable[[str], Awaitable[Sequence[Any]] | Sequence[Any]]
"""Roots (each a ``Root``, a path, a ``file://`` URI or a ``{uri, name}`` mapping), or a callback
``(server) -> roots`` asked each time a server lists them."""


@dataclass(frozen=True)
class Handlers:
    """The host's answers to server-initiated requests; leave one out and it is not advertised.

    ``sampling_tools`` advertises that the sampling handler understands ``tools``/``tool_choice``
    (the ``sampling.tools`` capability). Roots are looked up in this order: ``manager.set_roots()``,
    the server's ``roots:`` in the config, ``Handlers.roots``, the ``roots:`` in the settings.
    """

    sampling: SamplingHandler | None = None
    sampling_tools: bool = True
    elicitation: ElicitationHandler | None = None
    roots: RootsSource | None = None
    authorize: Callable[[str, str], Awaitable[str]] | None = None
    """OAuth: ``(server, authorization_url) -> the URL the user's browser was redirected to``.

    Without it a server that needs a new login goes to ``needs_auth`` (``patchbay login NAME``)."""


def schema_defaults(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``default`` of each top-level property of a form schema."""
    properties = (schema or {}).get("properties") or {}
    return {
        name: spec["default"]
        for name, spec in properties.items()
        if isinstance(spec, Mapping) and "default" in spec
    }


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _error(server: str, what: str, exc: BaseException) -> ErrorData:
    from mcp.types import ErrorData

    # The details stay in the host's log: an exception's text is no business of a third-party server.
    logger.warning("%s: the host's %s handler failed: %s", server, what, exc, exc_info=exc)
    return ErrorData(
        code=_INTERNAL_ERROR, message=f"the client's {what} handler failed ({type(exc).__name__})"
    )


class ServerCallbacks:
    """The SDK callbacks of one connection, bound to its server name and the manager's handlers.

    ``roots`` is read at call time so ``set_roots`` and config reloads take effect on the next
    ``roots/list`` without reconnecting.
    """

    def __init__(self, server: str, handlers: Handlers, roots: Callable[[], RootsSource | None]) -> None:
        self.server = server
        self.handlers = handlers
        self._roots = roots

    def has_roots(self) -> bool:
        return self._roots() is not None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``mcp.Client``: only the callbacks the host can serve."""
        options: dict[str, Any] = {}
        if self.handlers.sampling is not None:
            from mcp.types import SamplingCapability, SamplingToolsCapability

            options["sampling_callback"] = self.sampling
            options["sampling_capabilities"] = SamplingCapability(
                tools=SamplingToolsCapability() if self.handlers.sampling_tools else None
            )
        if self.handlers.elicitation is not None:
            options["elicitation_callback"] = self.elicitation
        if self.has_roots():
            options["list_roots_callback"] = self.list_roots
        return options

    async def sampling(
        self, context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult | CreateMessageResultWithTools | ErrorData:
        from mcp.types import CreateMessageResult, CreateMessageResultWithTools

        handler = self.handlers.sampling
        assert handler is not None
        try:
            answer = await handler(SamplingRequest(self.server, params))
            if isinstance(answer, (CreateMessageResult, CreateMessageResultWithTools)):
                return answer
            if params.tools:
                return CreateMessageResultWithTools.model_validate(answer)
            return CreateMessageResult.model_validate(answer)
        except Exception as exc:
            return _error(self.server, "sampling", exc)

    async def elicitation(
        self, context: ClientRequestContext, params: ElicitRequestFormParams | ElicitRequestURLParams
    ) -> ElicitResult | ErrorData:
        from mcp.types import ElicitResult

        handler = self.handlers.elicitation
        assert handler is not None
        if params.mode == "url":
            request = ElicitationRequest(
                self.server, "url", params.message, url=params.url, elicitation_id=params.elicitation_id
            )
        else:
            schema = dict(params.requested_schema)
            request = ElicitationRequest(
                self.server, "form", params.message, schema=schema, defaults=schema_defaults(schema)
            )
        try:
            answer = await handler(request)
            if answer.action != "accept":
                return ElicitResult(action=answer.action)
            if request.mode == "url":
                return ElicitResult(action="accept")
            return ElicitResult(action="accept", content={**request.defaults, **(answer.content or {})})
        except Exception as exc:
            return _error(self.server, "elicitation", exc)

    async def current_roots(self) -> list[Root]:
        source: Any = self._roots() or ()
        if callable(source):
            source = await _maybe_await(source(self.server))
        return [as_root(item) for item in source]

    async def list_roots(self, context: ClientRequestContext) -> ListRootsResult | ErrorData:
        from mcp.types import ListRootsResult
        from mcp.types import Root as SdkRoot

        try:
            roots = await self.current_roots()
            return ListRootsResult(roots=[SdkRoot(uri=r.uri, name=r.name) for r in roots])  # type: ignore[arg-type]
        except Exception as exc:
            return _error(self.server, "roots/list", exc)
