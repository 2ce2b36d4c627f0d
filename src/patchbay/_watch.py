"""``MCPManager(watch=True)``: reload when a config file changes, or appears.

One task in the manager's task group watches the *directories* of the config files (editors save
by writing a temporary file and renaming it over the old one, which a watch on the file itself
would lose) and keeps only events for those files. A file that does not exist yet (the user or
project file of the default layers) is watched from its nearest existing directory, so creating
it, folders included, is a change too. ``watchfiles`` does the watching natively (inotify on
Linux) and debounces bursts of writes into one change. A failed reload (a half-written or invalid
file) is logged and the running config stays; the watcher never takes the manager down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet

import anyio

__all__ = ["watch_config_files"]

logger = logging.getLogger("patchbay")


def _resolved(paths: Sequence[str]) -> frozenset[str]:
    """Real paths: a symlinked config file (dotfile managers) changes at its target."""
    return frozenset(os.path.realpath(path) for path in paths)


def _nearest_directory(path: str) -> str:
    """The file's directory, or its nearest ancestor that exists (where creating it shows)."""
    directory = os.path.dirname(path)
    while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    return directory


def _present(targets: frozenset[str]) -> frozenset[str]:
    return frozenset(path for path in targets if os.path.isfile(path))


def _touches(changes: AbstractSet[tuple[object, str]], targets: frozenset[str]) -> bool:
    """Whether a burst of changes concerns a config file itself (not just a folder on the way)."""
    return any(os.path.realpath(path) in targets for _, path in changes)


async def watch_config_files(
    files: Callable[[], Sequence[str]],
    on_change: Callable[[], Awaitable[object]],
    stop: anyio.Event,
) -> None:
    """Call ``on_change()`` after each burst of changes to ``files()`` until ``stop`` is set.

    ``files`` is asked again after every change, so a reload that reads a different set of files
    moves the watch, and so does a folder created on the way to a file that does not exist yet.
    Setting ``stop`` ends the watch within one ``watchfiles`` step (50 ms); a plain cancel would
    wait for the watcher thread's own timeout.
    """
    from watchfiles import awatch

    from .errors import PatchbayError

    async def apply() -> None:
        try:
            await on_change()
        except PatchbayError as exc:
            logger.warning("config change not applied, the running config stays: %s", exc)

    present: frozenset[str] | None = None
    try:
        while not stop.is_set():
            targets = _resolved(files())
            if not targets:
                logger.warning("watch=True, but the config was not read from any file: nothing to watch")
                await stop.wait()
                return
            directories = frozenset(_nearest_directory(path) for path in targets)
            before, present = present, _present(targets)
            if before is not None and present != before:
                await apply()  # a file appeared or went while the watch was being moved
                continue
            armed = present

            def relevant(
                _change: object,
                path: str,
                targets: frozenset[str] = targets,
                dirs: frozenset[str] = directories,
            ) -> bool:
                real = os.path.realpath(path)
                # The file itself, a watched folder, or a folder on the way to a missing file.
                return (
                    real in targets
                    or real in dirs
                    or (os.path.dirname(real) in dirs and any(t.startswith(real + os.sep) for t in targets))
                )

            # A file created while the watch was being moved to its new folder raised no event
            # here: while some file is missing, look for it every second too.
            missing = present != targets
            async for changes in awatch(
                *sorted(directories),
                watch_filter=relevant,
                stop_event=stop,
                recursive=False,
                rust_timeout=1_000 if missing else None,
                yield_on_timeout=missing,
            ):
                # Noted before the reload reads them: a file that appears during it is news next time.
                before, present = present, _present(targets)
                if _touches(changes, targets) or present != before:
                    await apply()
                moved = frozenset(_nearest_directory(path) for path in targets) != directories
                if moved or present != armed or _resolved(files()) != targets:
                    break  # watch again from where the files are now
            else:
                return  # stop was set
    except Exception as exc:
        logger.error("stopped watching the config files: %s", exc)
        await stop.wait()
