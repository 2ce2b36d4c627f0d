"""A watchdog process that ends the host's server groups when the host dies without doing it itself.

A SIGKILLed host runs no cleanup, and ``PR_SET_PDEATHSIG`` reaches only each server's own process:
whatever that server started (``npx``'s ``node``, worker processes, helpers) would live on, and a
server that ignores SIGTERM as well as stdin EOF would too. So the first stdio server a host starts
also starts one small reaper process (plain ``python -c``, no imports beyond the standard library).
The host tells it, over a pipe only the two of them hold, each process group it starts (``+pgid``)
and ends (``-pgid``). When that pipe reaches end-of-file (the host is gone, however it died) the
reaper SIGTERMs every group still registered, SIGKILLs what is left after a short grace, and exits.
On a normal exit the host has already closed its groups, so the reaper just exits.

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

_CODE = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the host's to handle
grace = float(sys.argv[1])
groups = set()
for line in sys.stdin:
    try:
        pgid = int(line[1:])
    except ValueError:
        continue
    if line.startswith("+"):
        groups.add(pgid)
    else:
        groups.discard(pgid)

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

deadline = time.monotonic() + grace
if signal_all(signal.SIGTERM):
    while signal_all(0) and time.monotonic() < deadline:
        time.sleep(0.02)
    signal_all(signal.SIGKILL)
"""

_lock = threading.Lock()
_pipe: IO[bytes] | None = None
_owner_pid: int | None = None
_process: subprocess.Popen[bytes] | None = None  # kept: dropping a live Popen warns


def _start() -> IO[bytes] | None:
    global _process
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", _CODE, str(_GRACE)],  # -I: no site, no PYTHON* variables
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


def notify(pgid: int, alive: bool) -> None:
    """Tell the reaper a group was started (``alive``) or has ended. Never raises."""
    global _pipe, _owner_pid
    if not hasattr(os, "killpg"):
        return
    line = f"{'+' if alive else '-'}{pgid}\n".encode()
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
