"""The process-group half of stdio: what a server inherits, and making sure no group outlives us.

Each stdio server runs in a new session (its own process group) and, on Linux, gets SIGTERM when
the host dies (``PR_SET_PDEATHSIG``). Every live group is registered here, and with the reaper
process (``_reaper``), so that a host exiting normally (``atexit``), on SIGTERM, or killed outright
ends what is still running. Closing signals the whole group even when its leader already exited,
so grandchildren (``npx -> sh -> node``) go too, and members that left the group (``setsid()``)
are found through ``/proc`` and signalled by pid.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _reaper

__all__ = [
    "POLL",
    "SAFE_ENV_NAMES",
    "child_setup",
    "escaped_members",
    "forget_group",
    "group_alive",
    "install_sigterm_cleanup",
    "kill_all_groups",
    "minimal_environment",
    "note_started",
    "register_group",
    "signal_group",
    "signal_members",
]

# What a stdio server inherits from the host unless asked for more (the SDK's safe default).
SAFE_ENV_NAMES = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR")

POLL = 0.01
"""Seconds between two looks at a group that is being closed."""
_HAVE_PROC = os.path.exists("/proc/self/stat")

_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(None, use_errno=True)

# pgid -> pid of every group this process started and has not seen die; read by kill_all_groups.
_live_groups: dict[int, int] = {}
# Re-entrant: the SIGTERM handler (kill_all_groups) runs on the main thread between two bytecodes,
# possibly while that same thread holds the lock; a plain Lock would deadlock the dying host.
_live_lock = threading.RLock()


def minimal_environment(
    extra: Mapping[str, str] | None = None,
    passthrough: Sequence[str] = (),
    inherit: bool = False,
) -> dict[str, str]:
    """The environment a stdio server gets: a safe base, named host variables, then its own ``env``.

    A server never sees the host's secrets (``AWS_SECRET_ACCESS_KEY`` and the like) unless its
    config names them or opts into ``inherit_env``.
    """
    if inherit:
        env = dict(os.environ)
    else:
        env = {
            k: v for k in SAFE_ENV_NAMES if (v := os.environ.get(k)) is not None and not v.startswith("()")
        }
        for name in passthrough:
            if (value := os.environ.get(name)) is not None:
                env[name] = value
    env.update(extra or {})
    return env


def child_setup() -> Callable[[], None] | None:
    """The ``preexec_fn`` for a server child, or None where there is nothing to set up."""
    return functools.partial(_child_setup, os.getpid()) if _libc is not None else None


def _child_setup(host_pid: int) -> None:  # pragma: no cover - runs in the forked child
    """Ask the kernel to SIGTERM the child when the host dies (Linux only).

    The signal follows the host *thread* that forked, i.e. the event loop's thread. A host that
    died between ``fork()`` and ``prctl()`` sends nothing, so the child checks for that itself.
    """
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != host_pid:
            os.kill(os.getpid(), signal.SIGTERM)


def register_group(pgid: int) -> None:
    """A group just started: end it with the host, however the host ends."""
    with _live_lock:
        _live_groups[pgid] = pgid
    _reaper.notify(pgid, alive=True)


def note_started(pgid: int) -> None:
    """The server answered: helpers it spawned first exist now, so the reaper notes any that left."""
    _reaper.notify(pgid, alive=None)


def forget_group(pgid: int) -> None:
    """The group was closed: nobody needs to end it any more."""
    with _live_lock:
        _live_groups.pop(pgid, None)
    _reaper.notify(pgid, alive=False)


# pgid -> members last seen running: lets a poll read one /proc entry instead of scanning them all.
_members: dict[int, list[int]] = {}


def _running_in_group(pid: int, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return int(fields[2]) == pgid and fields[0] not in (b"Z", b"X")


def group_alive(pgid: int) -> bool:
    """Whether any member of the group is still running (zombies awaiting their reaper don't count).

    ``killpg(pgid, 0)`` alone also sees zombies; in containers whose PID 1 reaps slowly that
    would stretch every close by the reaper's delay. A full ``/proc`` scan costs milliseconds and
    closing polls every 10 ms per server, so a member seen running last time is checked first.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        _members.pop(pgid, None)
        return False
    except PermissionError:
        return True
    if not _HAVE_PROC:
        return True
    if any(_running_in_group(pid, pgid) for pid in _members.get(pgid, ())):
        return True
    running = [
        int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _running_in_group(int(entry), pgid)
    ]
    if running:
        _members[pgid] = running
        return True
    _members.pop(pgid, None)
    return False


def _proc_table() -> dict[int, tuple[int, int, int, bytes, bytes]]:
    """pid -> (ppid, pgrp, session, start time, state) of every process, from ``/proc``."""
    table: dict[int, tuple[int, int, int, bytes, bytes]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    f = handle.read().rsplit(b")", 1)[1].split()
                table[int(entry)] = (int(f[1]), int(f[2]), int(f[3]), f[19], f[0])
            except (OSError, IndexError, ValueError):
                continue
    return table


def escaped_members(pgid: int) -> dict[int, bytes]:
    """Descendants of the group's leader (or members of its session) outside the group: pid -> start.

    ``killpg`` misses a child that called ``setsid()`` or ``setpgid()``; these are signalled by pid,
    checked against their start time so a pid the kernel has reused is left alone. Linux only.
    """
    if not _HAVE_PROC:
        return {}
    with contextlib.suppress(OSError):
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, info in table.items():
            children.setdefault(info[0], []).append(pid)
        stack = [pgid, *(pid for pid, info in table.items() if info[2] == pgid)]
        seen: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid not in seen:
                seen.add(pid)
                stack.extend(children.get(pid, ()))
        return {pid: table[pid][3] for pid in seen if pid in table and table[pid][1] != pgid}
    return {}


def signal_members(members: Mapping[int, bytes], sig: int) -> bool:
    """Signal each still-running member (same pid *and* start time); whether any was found."""
    found = False
    for pid, start in members.items():
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[19] != start or fields[0] in (b"Z", b"X"):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            found = True
    return found


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_all_groups(grace: float = 0.5) -> int:
    """SIGTERM every live server group, then SIGKILL what survives ``grace`` seconds.

    Synchronous on purpose: it runs from ``atexit`` and signal handlers, where no event loop can
    be relied on. Returns how many groups were signalled.
    """
    with _live_lock:
        groups = list(_live_groups)
        _live_groups.clear()
    for pgid in groups:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = [g for g in groups if group_alive(g)]
        if groups:
            time.sleep(POLL)
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)
    return len(groups)


atexit.register(kill_all_groups)

_sigterm_installed = False


def install_sigterm_cleanup() -> None:
    """On SIGTERM, kill the server groups before the host dies (only if nobody else handles it).

    Python's default SIGTERM action ends the process without running ``atexit``, which would
    leave every server to notice stdin EOF on its own; servers that ignore EOF would live on.
    """
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current not in (signal.SIG_DFL, None):
        return

    def _on_sigterm(signum: int, frame: Any) -> None:
        kill_all_groups()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _on_sigterm)
    _sigterm_installed = True
