"""Reloading the config while serving: ``SIGHUP``, and ``--watch`` on every save of a config file.

Both apply the diff through ``MCPManager.reload``: untouched servers keep their live sessions,
downstream sessions stay up, and the tools of added or removed servers reach the hosts as a
``list_changed``. A config that does not load changes nothing and says why on stderr (the only
place a stdio gateway can speak); the gateway never goes down over it.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskStatus

from .. import errors
from .._watch import watch_config_files
from ..config import files_to_watch
from ._log import log_to_stderr

if TYPE_CHECKING:
    from ..manager import MCPManager

__all__ = ["reload_fleet", "reload_on_hangup", "watch_and_reload"]


async def reload_fleet(manager: MCPManager) -> dict[str, list[str]] | None:
    """Re-read the config files and apply them; ``None`` when they do not load (nothing changed)."""
    try:
        changes = await manager.reload()
    except errors.PatchbayError as exc:
        log_to_stderr(f"config not reloaded, the running fleet stays: {exc}")
        return None
    log_to_stderr("config reloaded: " + _summary(changes))
    return changes


def _summary(changes: dict[str, list[str]]) -> str:
    parts = [
        f"{label} {', '.join(changes[key])}"
        for key, label in (("added", "added"), ("removed", "removed"), ("changed", "restarted"))
        if changes[key]
    ]
    return "; ".join(parts) or "no server changed"


async def reload_on_hangup(
    manager: MCPManager, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Reload on every ``SIGHUP`` (the daemon convention) until cancelled; one reload at a time."""
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        task_status.started()
        async for _ in signals:
            await reload_fleet(manager)


async def watch_and_reload(manager: MCPManager, *, default_layers: bool, stop: anyio.Event) -> None:
    """Reload after each burst of saves of the config files until ``stop`` is set.

    With the default layers (no ``--config``) the user and project files are watched even before
    they exist, so creating one adds its servers.
    """

    def files() -> list[str]:
        return files_to_watch(manager.config.sources, default_layers=default_layers)

    await watch_config_files(files, lambda: reload_fleet(manager), stop)
