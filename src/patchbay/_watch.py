"""``MCPManager(watch=True)``: reload when a config file changes.

One task in the manager's task group watches the *directories* of the files the config was read
from (editors save by writing a temporary file and renaming it over the old one, which a watch on
the file itself would lose) and keeps only events for those files. ``watchfiles`` does the
watching natively (inotify on Linux) and debounces bursts of writes into one change. A failed
reload (a half-written or invalid file) is logged and the running config stays; the watcher never
takes the manager down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence

import anyio

__all__ = ["watch_config_files"]

logger = logging.getLogger("patchbay")


def _resolved(paths: Sequence[str]) -> set[str]:
    """Real paths: a symlinked config file (dotfile managers) changes at its target."""
    return {os.path.realpath(path) for path in paths}


async def watch_config_files(
    files: Callable[[], Sequence[str]],
    on_change: Callable[[], Awaitable[object]],
    stop: anyio.Event,
) -> None:
    """Call ``on_change()`` after each burst of changes to ``files()`` until ``stop`` is set.

    ``files`` is asked again after every reload, so a reload that reads a different set of files
    moves the watch. Setting ``stop`` ends the watch within one ``watchfiles`` step (50 ms); a plain
    cancel would wait for the watcher thread's own timeout.
    """
    from watchfiles import awatch

    from .errors import PatchbayError

    while not stop.is_set():
        watched = _resolved(files())
        if not watched:
            logger.warning("watch=True, but the config was not read from any file: nothing to watch")
            await stop.wait()
            return
        directories = sorted({os.path.dirname(path) for path in watched})

        def relevant(_change: object, path: str, watched: set[str] = watched) -> bool:
            return os.path.realpath(path) in watched

        try:
            async for _changes in awatch(
                *directories, watch_filter=relevant, stop_event=stop, recursive=False
            ):
                try:
                    await on_change()
                except PatchbayError as exc:
                    logger.warning("config change not applied, the running config stays: %s", exc)
                if _resolved(files()) != watched:
                    break
            else:
                return  # stop was set
        except Exception as exc:
            logger.error("stopped watching the config files: %s", exc)
            await stop.wait()
            return
