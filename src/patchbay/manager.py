"""Many servers behind one object: ``MCPManager``.

The manager owns one task group; every server's supervisor task lives in it, so nothing outlives
the manager. Connecting is concurrent (start-up costs the slowest server, not the sum), failures
are values in ``status()`` at the fleet level and typed exceptions at the call level, and closing
is parallel (ten stubborn servers cost one grace period, not ten).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.abc

from . import _lookup, errors
from ._version import __version__
from .catalogue import Catalogue, Prompt, Resource, ResourceTemplate, Tool
from .config import Config, ServerConfig, diff_servers, files_to_watch, load_config
from .connection import LOG_LEVELS, Connection, ProgressCallback, State
from .events import DEFAULT_BUFFER, EventCallback, EventHub, EventStream
from .handlers import Handlers, RootsSource, ServerCallbacks
from .results import Completion, PromptResult, ResourceResult, ToolResult
from .transports import install_sigterm_cleanup
from .trust import TrustStore, decide, needs_trust, trust_from_env

__all__ = ["MCPManager", "ProgressCallback", "get_manager"]

ConfigSource = Config | Mapping[str, Any] | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None

_IN_CODE: Any = object()
"""``_config_paths`` of a manager built from a ``Config`` or a mapping: there are no files to re-read."""


class MCPManager:
    """Connects one program to many MCP servers and presents them as one catalogue.

    Use it as an async context manager::

        async with MCPManager.from_config() as manager:
            result = await manager.call_tool("mcp__time__get_current_time", {"timezone": "UTC"})

    ``wait=False`` returns from ``__aenter__`` at once and connects in the background.
    Public methods may be called from any task; the SDK contexts are only ever entered and
    exited by each server's own supervisor task.
    """

    def __init__(
        self,
        config: ConfigSource = None,
        *,
        wait: bool = True,
        client_name: str = "patchbay",
        client_options: Mapping[str, Any] | None = None,
        trust_project: bool = False,
        handlers: Handlers | None = None,
        http_auth: Mapping[str, Any] | None = None,
        watch: bool = False,
    ) -> None:
        self._config_paths: Any = _IN_CODE
        # Project-file servers start only when approved (patchbay.trust), or when the program or
        # $PATCHBAY_TRUST_PROJECT says to trust them all.
        self._trust_project = trust_project or trust_from_env()
        self._config = self._coerce(config)
        self._wait = wait
        self._client_name = client_name
        self._client_options = dict(client_options or {})
        self._connections: dict[str, Connection] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._catalogue: Catalogue | None = None
        self._closed = False
        # Server-initiated traffic (handlers.py, events.py): host callbacks, roots set at runtime,
        # per-server httpx2.Auth overrides (any auth flow patchbay.auth does not configure).
        self._handlers = handlers or Handlers()
        self._http_auth = dict(http_auth or {})
        self._roots: dict[str | None, RootsSource] = {}
        self._events = EventHub()
        # watch=True: a task in the task group reloads on config-file changes (patchbay._watch).
        if watch and self._config_paths is _IN_CODE:
            raise errors.ConfigError(
                "watch=True needs a config read from files: pass paths (or None for the default layers)"
            )
        self._watch = watch
        self._watch_stop: anyio.Event | None = None
        self._reload_lock: anyio.Lock | None = None

    def _coerce(self, config: ConfigSource) -> Config:
        if isinstance(config, Config):
            return config
        if isinstance(config, Mapping):
            return Config.from_dict(config)
        self._config_paths = config
        return load_config(config)

    @classmethod
    def from_config(
        cls, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None, **kwargs: Any
    ) -> MCPManager:
        """Build a manager from config files (``None``: the user, project and ``PATCHBAY_CONFIG`` layers).

        Servers from the project file are not started until the user approves them
        (``patchbay trust``); ``trust_project=True`` or ``PATCHBAY_TRUST_PROJECT=1`` trusts them all.
        """
        return cls(paths, **kwargs)

    @property
    def config(self) -> Config:
        return self._config

    # ----------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> MCPManager:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Open the manager's task group and connect the auto-connect servers.

        ``aclose()`` must later be awaited by the same task (``async with`` does both).
        """
        if self._tg is not None:
            return
        if self._closed:
            raise RuntimeError("this MCPManager was closed; create a new one")
        install_sigterm_cleanup()
        stack = AsyncExitStack()
        self._tg = await stack.enter_async_context(anyio.create_task_group())
        self._stack = stack
        self._reload_lock = anyio.Lock()
        for server in self._config.servers.values():
            self._connections[server.name] = self._new_connection(server)
        if self._watch:
            from ._watch import watch_config_files

            def watched() -> list[str]:
                return files_to_watch(self._config.sources, default_layers=self._config_paths is None)

            self._watch_stop = anyio.Event()
            self._tg.start_soon(watch_config_files, watched, self.reload, self._watch_stop)
        if self._wait:
            await self.connect_all()
        else:
            self._start_auto()

    def _new_connection(self, server: Any) -> Connection:
        name = server.name
        callbacks = ServerCallbacks(name, self._handlers, lambda: self._roots_for(name))

        def options() -> dict[str, Any]:
            from mcp.types import Implementation

            built: dict[str, Any] = {
                "client_info": Implementation(name=self._client_name, version=__version__)
            }
            built.update(callbacks.client_options())
            built.update(self._client_options)
            return built

        return Connection(
            server,
            self._config.settings,
            on_listing_changed=self._listing_changed,
            client_options=options,
            on_event=self._events.publish,
            auth_factory=self._auth_for,
        )

    def _auth_for(self, server: ServerConfig) -> Any:
        if server.name in self._http_auth:
            return self._http_auth[server.name]
        from .auth import build_auth

        authorize = self._handlers.authorize
        if authorize is None:
            return build_auth(server)

        async def bound(url: str) -> str:
            assert authorize is not None
            return await authorize(server.name, url)

        return build_auth(server, authorize=bound)

    def _roots_for(self, name: str) -> RootsSource | None:
        """Runtime ``set_roots`` for the server, then for all, then its config, ``Handlers``, settings."""
        if name in self._roots:
            return self._roots[name]
        if None in self._roots:
            return self._roots[None]
        server = self._config.servers.get(name)
        if server is not None and server.roots is not None:
            return server.roots
        if self._handlers.roots is not None:
            return self._handlers.roots
        held = self._config.project_settings
        if held is not None and held.roots is not None and self._project_settings_trusted(held):
            return held.roots
        return self._config.settings.roots

    def _project_settings_trusted(self, held: Any) -> bool:
        """Whether a project file's held settings (e.g. its ``roots``) may apply: approved with
        ``patchbay trust``, or every project file trusted. Read at each use, like server approvals."""
        if self._trust_project:
            return True
        try:
            return TrustStore().settings_trusted(held)
        except errors.TrustStoreError:
            return False

    def _start_auto(self) -> list[Connection]:
        started = []
        assert self._tg is not None
        self._apply_trust(self._connections.values())
        for conn in self._connections.values():
            auto = conn.config.resolved_auto_connect(self._config.settings)
            if conn.config.enabled and auto and not conn.running and conn.state != State.READY:
                conn.start(self._tg)
                started.append(conn)
        return started

    async def connect_all(self) -> dict[str, dict[str, Any]]:
        """Connect every enabled auto-connect server concurrently; never raises for a server.

        Returns when each has settled (ready or failed, each bounded by its ``connect_timeout``);
        the outcome of each is in the returned status.
        """
        self._require_open()
        started = self._start_auto()
        async with anyio.create_task_group() as tg:
            for conn in started:
                tg.start_soon(conn.wait_settled)
        return self.status()

    async def connect(self, name: str) -> None:
        """Connect one server (also one with ``auto_connect: false``); raises ``ConnectError`` on failure."""
        self._require_open()
        conn = self._get(name)
        if not conn.config.enabled:
            raise errors.ServerUnavailable(name, State.DISABLED.value, "server is disabled in the config")
        self._apply_trust([conn])
        if conn.state == State.UNTRUSTED:
            raise errors.ServerUnavailable(name, State.UNTRUSTED.value, conn.error)
        assert self._tg is not None
        if not conn.running:
            conn.start(self._tg)
        await conn.wait_settled()
        if conn.state == State.NEEDS_AUTH:
            raise errors.AuthRequired(name, f"{conn.error}; run `patchbay login {name}`")
        if conn.state != State.READY:
            raise errors.ConnectError(name, conn.error or f"server is {conn.state.value}")

    async def disconnect(self, name: str) -> None:
        """End this server now; its whole process group is gone when this returns."""
        await self._get(name).stop("disconnected by the host")

    async def reconnect(self, name: str) -> None:
        """Close and reconnect one server (also one that ``failed``); raises ``ConnectError`` on failure."""
        await self.disconnect(name)
        await self.connect(name)

    def _apply_trust(self, connections: Iterable[Connection]) -> None:
        """Hold back project-file servers the user has not approved; release ones approved since.

        The approvals file is read on every connect, so ``patchbay trust`` in another shell
        takes effect at the next ``connect``/``connect_all``/``reload`` without a restart.
        """
        pending = [c for c in connections if needs_trust(c.config) and not c.running]
        if not pending:
            return
        if self._trust_project:
            for conn in pending:
                conn.set_trusted(True)
            return
        store = TrustStore()
        for conn in pending:
            trusted, message = decide(conn.config, store)
            conn.set_trusted(trusted, None if trusted else message)

    def is_reconnecting(self, name: str) -> bool:
        return self._get(name).state == State.RECONNECTING

    async def aclose(self) -> None:
        """Close every server in parallel, then the manager. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._watch_stop is not None:
            self._watch_stop.set()
        try:
            async with anyio.create_task_group() as tg:
                for conn in self._connections.values():
                    tg.start_soon(conn.stop)
        finally:
            self._events.close()
            stack, self._stack, self._tg = self._stack, None, None
            if stack is not None:
                await stack.aclose()

    async def reload(self, config: ConfigSource = None) -> dict[str, list[str]]:
        """Apply a new config: removed or changed servers are closed, new or changed ones connected.

        Untouched servers keep their live sessions. With no argument the same files are read
        again (``ConfigError`` for a manager built from an in-memory config, which has none; an
        invalid file raises ``ConfigError`` and changes nothing). Reloads run one at a time.
        Returns the names ``added``, ``removed``, ``changed`` and ``unchanged``.
        """
        self._require_open()
        assert self._reload_lock is not None
        async with self._reload_lock:
            return await self._reload(config)

    async def _reload(self, config: ConfigSource) -> dict[str, list[str]]:
        if config is None and self._config_paths is _IN_CODE:
            raise errors.ConfigError(
                "this manager's config was built in code, so there are no files to re-read: "
                "pass the new config to reload(), or build the manager from files"
            )
        new = load_config(self._config_paths) if config is None else self._coerce(config)
        changes = diff_servers(self._config, new)
        async with anyio.create_task_group() as tg:
            for name in changes.removed:
                tg.start_soon(self._connections[name].stop, "the server was removed from the config")
            for name in changes.changed:
                tg.start_soon(self._connections[name].stop, "the server is restarting: its config changed")
        old_settings_roots = (self._config.settings.roots, self._config.project_settings)
        self._config = new
        connections: dict[str, Connection] = {}
        for name, server in new.servers.items():
            if name in changes.unchanged:
                conn = self._connections[name]
                conn.reconfigure(server, new.settings)
            else:
                conn = self._new_connection(server)
            connections[name] = conn
        self._connections = connections
        self._listing_changed(None)
        if old_settings_roots != (
            new.settings.roots,
            new.project_settings,
        ):  # untouched sessions are told their roots changed
            async with anyio.create_task_group() as tg:
                for name in changes.unchanged:
                    if connections[name].state == State.READY:
                        tg.start_soon(connections[name].send_roots_changed)
        if self._wait:
            await self.connect_all()
        else:
            self._start_auto()
        return changes.as_dict()

    def _require_open(self) -> None:
        if self._tg is None:
            raise RuntimeError(
                "MCPManager is not started: use `async with MCPManager(...)` or `await start()`"
            )

    def _get(self, name: str) -> Connection:
        try:
            return self._connections[name]
        except KeyError:
            raise errors.ServerNotFound(name, list(self._config.servers)) from None

    # -------------------------------------------------------------------------------- status

    def status(self) -> dict[str, dict[str, Any]]:
        """A JSON-serialisable snapshot of every configured server, in config order."""
        if not self._connections:
            return {
                name: {
                    "name": name,
                    "state": "disabled" if not s.enabled else "closed",
                    "transport": s.transport,
                }
                for name, s in self._config.servers.items()
            }
        return {name: conn.status() for name, conn in self._connections.items()}

    @property
    def servers(self) -> list[str]:
        return list(self._config.servers)

    # ----------------------------------------------------------------------------- catalogue

    def _listing_changed(self, _conn: object) -> None:
        self._catalogue = None

    @property
    def catalogue(self) -> Catalogue:
        """The current catalogue (rebuilt lazily after any server's listing changed)."""
        if self._catalogue is None:
            listings = [
                (name, conn.listing)
                for name, conn in self._connections.items()
                if conn.state in (State.READY, State.RECONNECTING)
            ]
            self._catalogue = Catalogue(listings)
        return self._catalogue

    def tools(self, server: str | None = None) -> list[Tool]:
        return [t for t in self.catalogue.tools.values() if server is None or t.server == server]

    def prompts(self, server: str | None = None) -> list[Prompt]:
        return [p for p in self.catalogue.prompts.values() if server is None or p.server == server]

    def resources(self, server: str | None = None) -> list[Resource]:
        return [r for r in self.catalogue.resources if server is None or r.server == server]

    def resource_templates(self, server: str | None = None) -> list[ResourceTemplate]:
        return [t for t in self.catalogue.templates if server is None or t.server == server]

    def get_tool(self, name: str, server: str | None = None) -> Tool:
        """The tool under this exposed name (or original name, when unique or ``server`` is given)."""
        if server is not None:
            self._get(server)
        tool = self.catalogue.find_tool(name, server)
        if tool is None:
            raise self._lookup_error("tool", name, server)
        return tool

    async def _resolve(self, kind: str, name: str, server: str | None, timeout: float | None) -> Any:
        if server is not None:
            self._get(server)
        return await _lookup.resolve(
            lambda: self.catalogue,
            self._connections.values(),
            kind,
            name=name,
            server=server,
            timeout=timeout,
        )

    def _lookup_error(self, kind: str, name: str, server: str | None) -> errors.PatchbayError:
        owner = _lookup.owner_not_up(self._connections.values(), name, server)
        return _lookup.lookup_error(self.catalogue, kind, name, server, owner)

    # ------------------------------------------------------------------------------ requests

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
        reset_timeout_on_progress: bool | None = None,
        max_total_timeout: float | None = None,
        server: str | None = None,
    ) -> ToolResult:
        """Call a tool by its exposed name and return its result.

        A tool that runs and fails gives ``ToolResult(is_error=True)``; problems reaching it raise
        (``ToolNotFound``, ``ServerUnavailable``, ``ToolTimeout``, ``ConnectionLost`` ...).
        With ``reset_timeout_on_progress`` (default: the server's config option) each progress
        notification restarts the deadline, but never beyond ``max_total_timeout`` from the start.
        """
        # The common case, an exposed name of a ready server, costs one dict lookup.
        tool: Tool | None = self.catalogue.tools.get(name) if server is None else None
        if tool is None:
            tool = await self._resolve("tool", name, server, timeout)
        return await self._get(tool.server).call_tool(
            tool.original_name,
            dict(arguments or {}),
            timeout=timeout,
            progress=progress,
            reset_timeout_on_progress=reset_timeout_on_progress,
            max_total_timeout=max_total_timeout,
        )

    async def get_prompt(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        server: str | None = None,
    ) -> PromptResult:
        """Render a prompt by its exposed name; argument values are sent as strings, as MCP requires."""
        prompt: Prompt = await self._resolve("prompt", name, server, timeout)
        conn = self._get(prompt.server)
        args = {
            k: v if isinstance(v, str) else _lookup.prompt_argument(v) for k, v in (arguments or {}).items()
        }
        _lookup.check_prompt_arguments(prompt, args)
        return await conn.get_prompt(prompt.name, prompt.original_name, args, timeout=timeout)

    async def read_resource(
        self, uri: str, server: str | None = None, *, timeout: float | None = None
    ) -> ResourceResult:
        """Read a resource; the server is found from the catalogue when the URI is unique to one."""
        server = _lookup.server_for_uri(self.catalogue, uri, server)
        return await self._get(server).read_resource(uri, timeout=timeout)

    # -------------------------------------------- server-initiated traffic (events.py, handlers.py)

    def subscribe(self, callback: EventCallback, *, maxsize: int = DEFAULT_BUFFER) -> Callable[[], None]:
        """Call ``callback(event)`` (sync or async) for every fleet event; returns ``unsubscribe``.

        Delivery runs in the manager's task group, one event at a time and in order, never in a
        connection's receive path; a callback that falls ``maxsize`` events behind loses the oldest.
        """
        self._require_open()
        assert self._tg is not None
        stream = self._events.stream(maxsize)
        self._tg.start_soon(self._events.run_callback, stream, callback)
        return stream.close

    def events(self, *, maxsize: int = DEFAULT_BUFFER) -> EventStream:
        """An async iterator of fleet events (use ``async with``; closing it unsubscribes)."""
        return self._events.stream(maxsize)

    async def set_log_level(self, name: str, level: str) -> None:
        """Ask server ``name`` for log messages at ``level`` and above (``debug`` ... ``emergency``).

        2025 sessions get ``logging/setLevel`` (again after every reconnect); 2026-07-28 sessions
        carry the level on every later request, which is how that revision opts in to logs.
        """
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LOG_LEVELS)}")
        await self._get(name).set_log_level(level)

    async def subscribe_resource(self, uri: str, server: str | None = None) -> None:
        """Get ``ResourceUpdated`` events for ``uri`` (kept across reconnects) once this returns."""
        await self._get(_lookup.server_for_uri(self.catalogue, uri, server)).set_subscribed(uri, True)

    async def unsubscribe_resource(self, uri: str, server: str | None = None) -> None:
        await self._get(_lookup.server_for_uri(self.catalogue, uri, server)).set_subscribed(uri, False)

    async def complete(
        self,
        ref: Prompt | ResourceTemplate | str,
        argument: tuple[str, str] | Mapping[str, str],
        context: Mapping[str, str] | None = None,
        *,
        server: str | None = None,
        timeout: float | None = None,
    ) -> Completion:
        """Completions for one argument of a prompt or resource template (``completion/complete``).

        ``ref`` is a catalogue ``Prompt`` or ``ResourceTemplate``, or a prompt's exposed name, or a
        template's URI template; ``argument`` is ``(name, partial value)``; ``context`` holds the
        values of arguments already chosen.
        """
        from mcp.types import PromptReference, ResourceTemplateReference

        if isinstance(ref, str):
            prompt = self.catalogue.find_prompt(ref, server)
            templates = [t for t in self.resource_templates(server) if t.uri_template == ref]
            if prompt is not None:
                ref = prompt
            elif templates:
                ref = templates[0]
            else:
                raise errors.NotFoundError(f"no prompt or resource template {ref!r} in the catalogue")
        if isinstance(ref, Prompt):
            sdk_ref: Any = PromptReference(name=ref.original_name)
        else:
            sdk_ref = ResourceTemplateReference(uri=ref.uri_template)
        conn = self._get(ref.server)
        name, value = (argument["name"], argument["value"]) if isinstance(argument, Mapping) else argument
        return await conn.complete(sdk_ref, (name, value), context, timeout=timeout)

    async def set_roots(self, roots: RootsSource | None, server: str | None = None) -> None:
        """Replace the roots offered to ``server`` (or to every server) and tell the servers.

        ``None`` removes the override. Ready 2025-era servers get ``notifications/roots/list_changed``
        (2026-07-28 servers ask for roots afresh with each request that needs them). Only servers
        that were offered roots when their connection was created (roots in the config, settings
        or ``Handlers``) declared the roots capability; the others never ask.
        """
        if server is not None:
            self._get(server)
        if roots is None:
            self._roots.pop(server, None)
        else:
            self._roots[server] = roots
        targets = [c for c in self._connections.values() if server is None or c.name == server]
        async with anyio.create_task_group() as tg:
            for conn in targets:
                if conn.state == State.READY:
                    tg.start_soon(conn.send_roots_changed)

    # ------------------------------------------------------------------- agents (formats.py, search.py)

    def search_tools(self, query: str, limit: int = 10, servers: Sequence[str] | None = None) -> list[Tool]:
        """The ``limit`` tools that best match ``query`` (BM25 over names, descriptions, arguments)."""
        from .search import index_for

        scope = self._config.require_servers(servers)
        return [tool for tool, _ in index_for(self.catalogue).search(query, limit, scope)]

    def tool_schemas(
        self,
        format: Literal["openai", "openai-responses", "anthropic"] = "openai",
        servers: Sequence[str] | None = None,
        *,
        mode: Literal["all", "search"] = "all",
        query: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The catalogue as OpenAI (Chat Completions / Responses) or Anthropic tool definitions.

        ``mode="search"``: only the ``patchbay_search_tools`` and ``patchbay_call_tool`` meta-tools;
        ``query=``: the top ``limit`` tools for that query. See ``patchbay.formats``.
        """
        from .formats import tool_schemas

        return tool_schemas(self, format, servers, mode=mode, query=query, limit=limit)

    async def execute(
        self, tool_call: Any, *, servers: Sequence[str] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run a tool call as OpenAI or Anthropic returned it; returns the matching tool-result message.

        Bad arguments or an unknown tool come back as an error result for the model to read.
        """
        from .formats import execute

        return await execute(self, tool_call, servers=servers, timeout=timeout)

    async def execute_all(
        self, tool_calls: Iterable[Any], *, servers: Sequence[str] | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Run one turn's tool calls concurrently; returns the messages to append to the conversation."""
        from .formats import execute_all

        return await execute_all(self, tool_calls, servers=servers, timeout=timeout)


_default_manager: MCPManager | None = None


def get_manager(**kwargs: Any) -> MCPManager:
    """The process-wide default manager, built on first use from the default config layers.

    For applications that want one shared fleet; enter it once (``async with get_manager():``)
    or ``await get_manager().start()`` at start-up.
    """
    global _default_manager
    if _default_manager is None or _default_manager._closed:
        _default_manager = MCPManager.from_config(None, **kwargs)
    return _default_manager
