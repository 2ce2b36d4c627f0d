"""A server's listing: every page of tools, prompts, resources and templates, kept up to date.

Pagination is bounded (pages and items) so a server handing out endless cursors cannot fill the
host's memory; ``list_changed`` notifications, from either era, are batched into one re-read per
kind at a time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from .._sdk_errors import CONNECTION_CLOSED, describe_exception
from ..catalogue import ServerListing, filter_tools
from ..config import ServerConfig, Settings

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["ALL_KINDS", "Lister"]

MAX_PAGES = 1000
ALL_KINDS = frozenset({"tools", "prompts", "resources"})


class Lister:
    """Reads one server's listing and re-reads what ``list_changed`` says changed.

    ``config`` and ``settings`` are the connection's (it updates them on reload).
    """

    def __init__(self, config: ServerConfig, settings: Settings, log: logging.Logger) -> None:
        self.config = config
        self.settings = settings
        self._log = log
        self.truncated: dict[str, str] = {}
        """Lists cut short by the page or item cap: list name -> why (``status()["truncated"]``)."""
        self._refresh = anyio.Event()
        self._refresh_kinds: set[str] = set()

    async def list_all(
        self, client: Client, old: ServerListing, kinds: set[str] | None = None
    ) -> ServerListing:
        """A new listing: ``kinds`` (default all) read afresh, the rest copied from ``old``."""
        caps = client.session.server_capabilities
        listing = ServerListing(
            tools=list(old.tools),
            prompts=list(old.prompts),
            resources=list(old.resources),
            templates=list(old.templates),
        )
        wanted = kinds or ALL_KINDS

        async def tools() -> None:
            items = await self._pages(lambda c: client.list_tools(cursor=c), "tools")
            listing.tools = filter_tools(items, self.config.include_tools, self.config.exclude_tools)

        async def prompts() -> None:
            listing.prompts = await self._pages(lambda c: client.list_prompts(cursor=c), "prompts")

        async def resources() -> None:
            listing.resources = await self._pages(lambda c: client.list_resources(cursor=c), "resources")

        async def templates() -> None:
            listing.templates = await self._pages(
                lambda c: client.list_resource_templates(cursor=c), "resource_templates"
            )

        async with anyio.create_task_group() as tg:
            if caps is None or caps.tools is not None:
                if "tools" in wanted:
                    tg.start_soon(tools)
            else:
                listing.tools = []
            if caps is None or caps.prompts is not None:
                if "prompts" in wanted:
                    tg.start_soon(prompts)
            else:
                listing.prompts = []
            if caps is None or caps.resources is not None:
                if "resources" in wanted:
                    tg.start_soon(resources)
                    tg.start_soon(templates)
            else:
                listing.resources, listing.templates = [], []
        return listing

    async def _pages(self, fetch: Callable[[str | None], Awaitable[Any]], field: str) -> list[Any]:
        """Every item of a paginated list, following ``nextCursor`` to the end.

        Bounded by pages and by items (``settings.max_list_items``): a server that hands out
        endless distinct cursors would otherwise fill the host's memory and the catalogue. A list
        cut short is logged and shown in ``status()["truncated"]``.
        """
        from mcp import MCPError

        limit = self.settings.max_list_items or math.inf
        self.truncated.pop(field, None)
        items: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            try:
                page = await fetch(cursor)
            except MCPError as exc:
                if exc.code == CONNECTION_CLOSED:
                    raise
                self._log.warning("listing %s failed: %s (code %s)", field, exc.message, exc.code)
                return items
            items.extend(getattr(page, field))
            cursor = page.next_cursor
            if len(items) > limit or (len(items) == limit and cursor):
                del items[int(limit) :]
                return self._cut(field, items, f"stopped at {len(items)} items (settings.max_list_items)")
            if not cursor:
                return items
            if cursor in seen:
                self._log.warning("server repeated a %s cursor; stopping at %d items", field, len(items))
                return items
            seen.add(cursor)
        return self._cut(field, items, f"stopped after {MAX_PAGES} pages ({len(items)} items)")

    def _cut(self, field: str, items: list[Any], reason: str) -> list[Any]:
        self.truncated[field] = reason
        self._log.warning("listing %s %s; the server offers more", field, reason)
        return items

    def request_refresh(self, *kinds: str) -> None:
        """Ask the refresh loop to re-read ``kinds`` (default all) soon; requests batch up."""
        self._refresh_kinds.update(kinds or ALL_KINDS)
        self._refresh.set()

    async def refresh_loop(
        self,
        client: Client,
        current: Callable[[], ServerListing],
        timeout: Callable[[], float],
        on_listed: Callable[[ServerListing, frozenset[str]], None],
    ) -> None:
        """Re-read what a ``list_changed`` notification said changed (all pages), one batch at a time."""
        while True:
            await self._refresh.wait()
            self._refresh = anyio.Event()
            kinds, self._refresh_kinds = self._refresh_kinds, set()
            try:
                with anyio.fail_after(timeout()):
                    listing = await self.list_all(client, current(), kinds)
            except Exception as exc:
                self._log.warning(
                    "refreshing %s failed: %s", ", ".join(sorted(kinds)), describe_exception(exc)
                )
                continue
            on_listed(listing, frozenset(kinds))

    async def listen_for_changes(self, client: Client) -> bool:
        """On 2026-07-28 sessions change notifications come through ``subscriptions/listen``.

        Returns when the stream ends (often because the server went away: then ``True``), or at
        once with ``False`` when the server announces no list changes.
        """
        from mcp.client.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

        caps = client.session.server_capabilities
        want_tools = bool(caps and caps.tools and caps.tools.list_changed)
        want_prompts = bool(caps and caps.prompts and caps.prompts.list_changed)
        want_resources = bool(caps and caps.resources and caps.resources.list_changed)
        if not (want_tools or want_prompts or want_resources):
            return False
        kinds = (
            (ToolsListChanged, "tools"),
            (PromptsListChanged, "prompts"),
            (ResourcesListChanged, "resources"),
        )
        try:
            async with client.listen(
                tools_list_changed=want_tools,
                prompts_list_changed=want_prompts,
                resources_list_changed=want_resources,
            ) as subscription:
                async for event in subscription:
                    for kind_of, kind in kinds:
                        if isinstance(event, kind_of):
                            self.request_refresh(kind)
                            break
        except Exception as exc:
            self._log.debug("change subscription ended: %s", describe_exception(exc))
        return True
