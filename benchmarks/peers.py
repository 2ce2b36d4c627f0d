"""Each client under test behind one small interface: open a fleet, call a tool, close.

Every driver uses its library's normal, documented API with default settings (timeouts,
retries, keep-alive), because the benchmark compares what a user gets. Imports happen inside
the drivers: this module is loaded in both bench venvs (SDK 2.x and SDK 1.x) and each venv has
only some of the libraries.

A server spec is ``{"name": ..., "command": ..., "args": [...]}`` (stdio) or
``{"name": ..., "url": ...}`` (Streamable HTTP).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

Spec = dict[str, Any]


def _text(blocks: Any) -> str:
    """The text of a result, whatever shape the library hands back."""
    if isinstance(blocks, str):
        return blocks
    if isinstance(blocks, tuple):  # langchain: (content, artifact)
        return _text(blocks[0])
    content = getattr(blocks, "content", blocks)
    if isinstance(content, str):
        return content
    parts = []
    for block in content or ():
        if isinstance(block, dict):
            parts.append(str(block.get("text", "")))
        else:
            parts.append(str(getattr(block, "text", "")))
    return "\n".join(parts)


class Driver:
    """The interface the harness drives. ``open`` returns every listed tool name."""

    name = "?"
    venv = "sdk2"
    persistent = True
    """Whether a session stays open between calls (scenarios 4, 5 and 7 need one)."""

    async def open(self, servers: list[Spec]) -> list[str]:
        raise NotImplementedError

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class Patchbay(Driver):
    """``MCPManager`` with default settings: concurrent connect, one supervisor per server."""

    name = "patchbay"

    def __init__(self, protocol: str | None = None) -> None:
        self.protocol = protocol
        if protocol:
            self.name = f"patchbay-{protocol}"

    async def open(self, servers: list[Spec]) -> list[str]:
        from patchbay import MCPManager

        entries = {}
        for s in servers:
            entry = {"url": s["url"]} if "url" in s else {"command": s["command"], "args": s["args"]}
            if self.protocol:
                entry["protocol"] = self.protocol
            entries[s["name"]] = entry
        self.manager = MCPManager({"mcpServers": entries})
        await self.manager.start()
        bad = {n: st["error"] for n, st in self.manager.status().items() if st["state"] != "ready"}
        if bad:
            raise RuntimeError(f"servers not ready: {bad}")
        tools = self.manager.tools()
        self.names = {(t.server, t.original_name): t.name for t in tools}
        return [t.name for t in tools]

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        result = await self.manager.call_tool(self.names[(server, tool)], args)
        return result.text

    async def close(self) -> None:
        await self.manager.aclose()

    def status(self, server: str) -> dict[str, Any]:
        return self.manager.status()[server]


class SdkSession(Driver):
    """The SDK used directly: one ``ClientSession`` per server, each held open by its own task.

    This is the floor for anything built on the SDK, written the way the anyio rules require:
    the task that enters a server's contexts also exits them, so servers connect concurrently.
    """

    name = "sdk-session"

    async def open(self, servers: list[Spec]) -> list[str]:
        import anyio

        self.sessions: dict[str, Any] = {}
        self.stop = anyio.Event()
        self.tg = anyio.create_task_group()
        await self.tg.__aenter__()
        names: list[str] = []

        async def start(spec: Spec) -> None:
            names.extend(await self.tg.start(self._serve, spec))

        async with anyio.create_task_group() as starters:
            for spec in servers:
                starters.start_soon(start, spec)
        return names

    async def _serve(self, spec: Spec, *, task_status: Any) -> None:
        from mcp import ClientSession

        async with _sdk2_transport(spec) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
            self.sessions[spec["name"]] = session
            task_status.started([f"{spec['name']}/{t.name}" for t in listed.tools])
            await self.stop.wait()

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        result = await self.sessions[server].call_tool(tool, args)
        return _text(result)

    async def close(self) -> None:
        self.stop.set()
        await self.tg.__aexit__(None, None, None)


def _sdk2_transport(spec: Spec) -> Any:
    if "url" in spec:
        from mcp.client.streamable_http import streamable_http_client

        return streamable_http_client(spec["url"])
    from mcp import StdioServerParameters, stdio_client

    return stdio_client(StdioServerParameters(command=spec["command"], args=spec["args"]))


class SdkGroup(Driver):
    """The SDK's ``ClientSessionGroup``: servers join one after another (its only way)."""

    name = "sdk-group"

    async def open(self, servers: list[Spec]) -> list[str]:
        from mcp import StdioServerParameters
        from mcp.client.session_group import ClientSessionGroup, StreamableHttpParameters

        # Tool names would collide across servers without a hook; the hook sees serverInfo.name.
        self.group = ClientSessionGroup(component_name_hook=lambda name, info: f"{info.name}__{name}")
        await self.group.__aenter__()
        for spec in servers:
            params: Any
            if "url" in spec:
                params = StreamableHttpParameters(url=spec["url"])
            else:
                params = StdioServerParameters(command=spec["command"], args=spec["args"])
            await self.group.connect_to_server(params)
        return list(self.group.tools)

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        return _text(await self.group.call_tool(f"{server}__{tool}", args))

    async def close(self) -> None:
        await self.group.__aexit__(None, None, None)


class FastMCP(Driver):
    """``fastmcp.Client`` on a multi-server ``mcpServers`` config (a composite proxy when N > 1)."""

    name = "fastmcp"

    async def open(self, servers: list[Spec]) -> list[str]:
        from fastmcp import Client

        entries = {}
        for s in servers:
            entries[s["name"]] = (
                {"url": s["url"], "transport": "http"}
                if "url" in s
                else {"command": s["command"], "args": s["args"]}
            )
        self.prefixed = len(servers) > 1
        self.client = Client({"mcpServers": entries})
        await self.client.__aenter__()
        return [t.name for t in await self.client.list_tools()]

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        name = f"{server}_{tool}" if self.prefixed else tool
        return _text(await self.client.call_tool(name, args))

    async def close(self) -> None:
        # Leaving `async with` keeps stdio servers running (keep_alive defaults to True);
        # close() is what actually ends them.
        await self.client.__aexit__(None, None, None)
        await self.client.close()


def _lc_connections(servers: list[Spec]) -> dict[str, Any]:
    return {
        s["name"]: (
            {"transport": "streamable_http", "url": s["url"]}
            if "url" in s
            else {"transport": "stdio", "command": s["command"], "args": s["args"]}
        )
        for s in servers
    }


class LangchainStateless(Driver):
    """langchain-mcp-adapters' default path: ``get_tools()`` then ``ainvoke`` (a new session per call)."""

    name = "lc-stateless"
    venv = "sdk1"
    persistent = False

    async def open(self, servers: list[Spec]) -> list[str]:
        from langchain_mcp_adapters.client import MultiServerMCPClient

        # The prefix keeps same-named tools of different servers apart (the default does not).
        self.client = MultiServerMCPClient(_lc_connections(servers), tool_name_prefix=True)
        tools = await self.client.get_tools()
        self.tools = {t.name: t for t in tools}
        return list(self.tools)

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        return _text(await self.tools[f"{server}_{tool}"].ainvoke(args))

    async def close(self) -> None:
        return None


class LangchainSession(Driver):
    """langchain-mcp-adapters' persistent path: ``client.session(name)`` + ``load_mcp_tools``.

    Sessions are entered one after another on an exit stack, as user code has to.
    """

    name = "lc-session"
    venv = "sdk1"

    async def open(self, servers: list[Spec]) -> list[str]:
        from langchain_mcp_adapters.client import MultiServerMCPClient
        from langchain_mcp_adapters.tools import load_mcp_tools

        self.client = MultiServerMCPClient(_lc_connections(servers))
        self.stack = contextlib.AsyncExitStack()
        await self.stack.__aenter__()
        self.tools: dict[tuple[str, str], Any] = {}
        for spec in servers:
            session = await self.stack.enter_async_context(self.client.session(spec["name"]))
            for t in await load_mcp_tools(session):
                self.tools[(spec["name"], t.name)] = t
        return [f"{s}/{t}" for s, t in self.tools]

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        return _text(await self.tools[(server, tool)].ainvoke(args))

    async def close(self) -> None:
        await self.stack.__aexit__(None, None, None)


class McpUse(Driver):
    """mcp-use's ``MCPClient``: ``create_all_sessions()`` then each session's ``call_tool``."""

    name = "mcp-use"
    venv = "sdk1"

    async def open(self, servers: list[Spec]) -> list[str]:
        from mcp_use import MCPClient

        entries = {
            s["name"]: {"url": s["url"]} if "url" in s else {"command": s["command"], "args": s["args"]}
            for s in servers
        }
        self.client = MCPClient(config={"mcpServers": entries})
        await self.client.create_all_sessions()
        names = []
        for server, session in self.client.get_all_active_sessions().items():
            names += [f"{server}/{t.name}" for t in await session.list_tools()]
        return names

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> str:
        return _text(await self.client.get_session(server).call_tool(tool, args))

    async def close(self) -> None:
        await self.client.close_all_sessions()


DRIVERS: dict[str, Callable[[], Driver]] = {
    "patchbay": Patchbay,
    "patchbay-legacy": lambda: Patchbay("legacy"),
    "sdk-session": SdkSession,
    "sdk-group": SdkGroup,
    "fastmcp": FastMCP,
    "lc-stateless": LangchainStateless,
    "lc-session": LangchainSession,
    "mcp-use": McpUse,
}
VENV = {name: factory().venv for name, factory in DRIVERS.items()}
PERSISTENT = {name: factory().persistent for name, factory in DRIVERS.items()}
