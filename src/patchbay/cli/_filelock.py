"""One edit at a time per config file: an exclusive ``flock`` on a lock file beside it.

Parallel ``patchbay add``s queue here instead of losing entries. The lock is taken on the file a
path names through its symlinks (``real_path``), which is also where the edit is written.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError

__all__ = ["locked", "real_path"]


def real_path(path: Path) -> Path:
    """The file a path names, through any symlinks: where the edit is written and locked."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def locked(target: Path, timeout: float, *, shown: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.NAME.lock`` beside ``target`` (created if missing).

    The lock file is opened with ``O_NOFOLLOW`` (a planted symlink is refused, not followed) and
    removed by its holder before release; a waiter that then wins the lock on the removed file
    sees the path gone or replaced and starts over on the new one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    deadline = time.monotonic() + timeout
    while True:
        fd = _acquire(lock, deadline, timeout, shown)
        if fd is None:
            continue
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)
        return


def _acquire(lock: Path, deadline: float, timeout: float, shown: Path) -> int | None:
    """An fd holding the lock on the live ``lock`` file, or None when that file went away."""
    import errno
    import fcntl
    import stat

    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(lock, flags, 0o600)
    except OSError as exc:
        why = "it is a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise ConfigError(f"cannot open the lock file {lock}: {why}", file=str(shown)) from None
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode):
            raise ConfigError(f"the lock file {lock} is not a regular file", file=str(shown))
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"another patchbay is editing this file and did not finish within {timeout:g} s "
                        f"(lock: {lock}); nothing was written, try again",
                        file=str(shown),
                    ) from None
                time.sleep(0.01)
        try:
            now = os.stat(lock, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None
