"""A watchdog process that ends the host's server groups when the host dies without doing it itself.

A SIGKILLed host runs no cleanup, and ``PR_SET_PDEATHSIG`` reaches only each server's own process:
whatever that server started (``npx``'s ``node``, worker processes, helpers) would live on, and a
server that ignores SIGTERM as well as stdin EOF would too. So the first stdio server a host starts
also starts one small reaper process (plain ``python -c``, no imports beyond the standard library).
The host tells it, over a pipe only the two of them hold, each process group it starts (``+pgid``)
and ends (``-pgid``). When that pipe reaches end-of-file (the host is gone, however it died) the
reaper SIGTERMs every group still registered, SIGKILLs what is left after a short grace, and exits.
On a normal exit the host has already closed its groups, so the reaper just exits.

A member that leaves its group (a daemon that calls ``setsid()``) is out of reach of ``killpg``. On
Linux the reaper therefore looks at ``/proc`` every ``_TRACK_INTERVAL`` seconds, when a group starts
and when the host says a server started answering (``?pgid``), and remembers each descendant of a
group's leader that is outside the group (by pid and start time, so a reused pid is never hit).
Those are ended with their group: when the host reports it closed (``-pgid``) and when the host dies.
A descendant that escapes *and* loses its parent between two looks is reparented to init and not
found; elsewhere than Linux escaped members are not found at all (see README, Security).

POSIX only (process groups); elsewhere ``notify`` does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from typing import IO

__all__ = ["notify"]

logger = logging.getLogger("patchbay.stdio")

_GRACE = 0.5
# How often the reaper looks for members that left their group (a ``setsid()`` daemon).
_TRACK_INTERVAL = 0.5

_CODE = r"""
import os, select, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the host's to handle
grace = float(sys.argv[1])
interval = float(sys.argv[2])
groups = set()
escaped = {}  # pgid -> {pid: start time} of members that left the group (setsid, setpgid)
leaders = {}  # pgid -> the leader's start time: a reused pid is not walked from

def table():
    # pid -> (ppid, pgrp, session, start time, state), from /proc (Linux); {} elsewhere.
    procs = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return procs
    for entry in entries:
        if entry.isdigit():
            try:
                with open("/proc/" + entry + "/stat", "rb") as handle:
                    f = handle.read().rsplit(b")", 1)[1].split()
                procs[int(entry)] = (int(f[1]), int(f[2]), int(f[3]), f[19], f[0])
            except (OSError, IndexError, ValueError):
                pass
    return procs

def track():
    # Remember every descendant of each group's leader that is outside the group: killpg misses it.
    if not groups:
        return
    procs = table()
    children = {}
    for pid, info in procs.items():
        children.setdefault(info[0], []).append(pid)
    for pgid in groups:
        leader = procs.get(pgid)
        if leader is not None and leaders.setdefault(pgid, leader[3]) != leader[3]:
            leader = None
        stack = [pgid] if leader is not None else []
        stack += [pid for pid, info in procs.items() if info[2] == pgid]
        seen = set()
        while stack:
            pid = stack.pop()
            if pid not in seen:
                seen.add(pid)
                stack.extend(children.get(pid, ()))
        for pid in seen:
            info = procs.get(pid)
            if info is not None and info[1] != pgid and pid != pgid:
                escaped.setdefault(pgid, {})[pid] = info[3]

def signal_escaped(pgids, sig):
    procs = table()
    found = []
    for pgid in pgids:
        for pid, start in escaped.get(pgid, {}).items():
            info = procs.get(pid)
            if info is not None and info[3] == start and info[4] not in (b"Z", b"X"):
                try:
                    os.kill(pid, sig)
                    found.append(pid)
                except (ProcessLookupError, PermissionError):
                    pass
    return found

def end_escaped(pgids):
    deadline = time.monotonic() + grace
    if signal_escaped(pgids, signal.SIGTERM):
        while signal_escaped(pgids, 0) and time.monotonic() < deadline:
            time.sleep(0.02)
        signal_escaped(pgids, signal.SIGKILL)
    for pgid in pgids:
        escaped.pop(pgid, None)

buffer = b""
while True:
    ready, _, _ = select.select([0], [], [], interval)
    if not ready:
        track()
        continue
    chunk = os.read(0, 4096)
    if not chunk:
        break
    buffer += chunk
    *lines, buffer = buffer.split(b"\n")
    for line in lines:
        try:
            pgid = int(line[1:])
        except ValueError:
            continue
        if line.startswith(b"+"):
            groups.add(pgid)
            track()
        elif line.startswith(b"?"):
            track()
        else:
            groups.discard(pgid)
            leaders.pop(pgid, None)
            end_escaped([pgid])

def signal_all(sig):
    # Signal every registered group; returns those that still exist (zombies count: harmless).
    found = []
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
            found.append(pgid)
        except (ProcessLookupError, PermissionError):
            pass
    return found

track()  # the host is gone; whatever has not yet exited is still in the table
deadline = time.monotonic() + grace
if signal_all(signal.SIGTERM) + signal_escaped(list(escaped), signal.SIGTERM):
    while (signal_all(0) or signal_escaped(list(escaped), 0)) and time.monotonic() < deadline:
        time.sleep(0.02)
    signal_all(signal.SIGKILL)
    signal_escaped(list(escaped), signal.SIGKILL)
"""

_lock = threading.Lock()
_pipe: IO[bytes] | None = None
_owner_pid: int | None = None
_process: subprocess.Popen[bytes] | None = None  # kept: dropping a live Popen warns


def _start() -> IO[bytes] | None:
    global _process
    try:
        process = subprocess.Popen(
            # -I: no site, no PYTHON* variables
            [sys.executable, "-I", "-c", _CODE, str(_GRACE), str(_TRACK_INTERVAL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of the terminal's process group: Ctrl-C does not reach it
        )
    except OSError as exc:
        logger.warning("could not start the process reaper: %s", exc)
        return None
    _process = process
    return process.stdin


def notify(pgid: int, alive: bool | None) -> None:
    """Tell the reaper a group was started (``alive``), has ended (``False``), or (``None``) that it
    should look for the group's escaped members now (the server just started answering). Never raises."""
    global _pipe, _owner_pid
    if not hasattr(os, "killpg"):
        return
    line = f"{'+' if alive else '?' if alive is None else '-'}{pgid}\n".encode()
    with _lock:
        if _owner_pid != os.getpid():  # not started yet, or inherited through fork(): start our own
            if not alive:
                return
            _pipe, _owner_pid = _start(), os.getpid()
        if _pipe is None:
            return
        try:
            _pipe.write(line)
            _pipe.flush()
        except (BrokenPipeError, OSError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                _pipe.close()
            _pipe = None
            logger.warning("the process reaper has gone; servers may outlive a killed host")
