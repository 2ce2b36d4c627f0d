"""The stdio transport: a server process in its own process group, and nothing left behind.

The SDK's ``stdio_client`` hides the child's pid, sends stderr to a file, and signals the process
group only when the direct child outlives its grace period, so a server that exits promptly
orphans its own children. This transport is the same wire protocol (newline-delimited JSON-RPC)
with the supervision a host needs:

* the child runs in a new session (its own process group) and, on Linux, gets SIGTERM when the
  host dies (``PR_SET_PDEATHSIG``);
* stderr is drained continuously into a bounded tail (for error messages) and a logger;
* closing is ``stdin EOF -> SIGTERM to the group -> SIGKILL to the group`` within one grace
  period, and the group is signalled even when the leader already exited, so grandchildren
  (``npx -> sh -> node``) go too;
* every live group is registered so an exiting host can kill what is still running.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import anyio

from . import _reaper

__all__ = ["ServerExited", "StdioTransport", "kill_all_groups", "minimal_environment"]

logger = logging.getLogger("patchbay.stdio")

# What a stdio server inherits from the host unless asked for more (the SDK's safe default).
_SAFE_ENV_NAMES = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR")

# A line longer than this is a broken server, not a message: the connection is dropped.
MAX_LINE_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 256 * 1024
_STDERR_TAIL_LINES = 40
_STDERR_LINE_CHARS = 500
_POLL = 0.01
_EXIT_WATCH_INTERVAL = 0.25
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
            k: v for k in _SAFE_ENV_NAMES if (v := os.environ.get(k)) is not None and not v.startswith("()")
        }
        for name in passthrough:
            if (value := os.environ.get(name)) is not None:
                env[name] = value
    env.update(extra or {})
    return env


def _child_setup(host_pid: int) -> None:  # pragma: no cover - runs in the forked child
    """Ask the kernel to SIGTERM the child when the host dies (Linux only).

    The signal follows the host *thread* that forked, i.e. the event loop's thread. A host that
    died between ``fork()`` and ``prctl()`` sends nothing, so the child checks for that itself.
    """
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != host_pid:
            os.kill(os.getpid(), signal.SIGTERM)


# pgid -> members last seen running: lets a poll read one /proc entry instead of scanning them all.
_members: dict[int, list[int]] = {}


def _running_in_group(pid: int, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return int(fields[2]) == pgid and fields[0] not in (b"Z", b"X")


def _group_alive(pgid: int) -> bool:
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


def _escaped_members(pgid: int) -> dict[int, bytes]:
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


def _signal_members(members: Mapping[int, bytes], sig: int) -> bool:
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


def _signal_group(pgid: int, sig: int) -> None:
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
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = [g for g in groups if _group_alive(g)]
        if groups:
            time.sleep(_POLL)
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)
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


class ServerExited(Exception):
    """The server process ended or closed its stdout; carries the exit code and stderr tail."""

    def __init__(self, returncode: int | None, stderr_tail: str) -> None:
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        detail = f"exit code {returncode}" if returncode is not None else "closed its stdout"
        super().__init__(f"server process ended ({detail})")


class StdioTransport:
    """An SDK ``Transport`` (async context manager yielding the two streams) for one child process.

    One instance is one process lifetime; a reconnect builds a new one. Entered and exited by the
    connection's owner task only.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        shutdown_grace: float = 2.0,
        stall_timeout: float = 30.0,
        log_name: str = "server",
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.command = command
        self.args = list(args)
        self.env = dict(env)
        self.cwd = cwd
        self.shutdown_grace = shutdown_grace
        self.stall_timeout = stall_timeout
        """Seconds the server may leave a backlog on its stdin unread before it counts as hung."""
        self.writer_idle = False
        """Whether a message handed to the transport now goes to the pipe at once (no backlog)."""
        self.pid: int | None = None
        self.returncode: int | None = None
        self.ended = anyio.Event()
        """Set when the server's stdout closes (it exited or is about to): the connection is dead."""
        self.end_reason: str | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._log = logging.getLogger(f"patchbay.server.{log_name}")
        self._redact = redact
        """Masks secrets in a whole stderr line before it is cut: a cut secret would not match."""
        self._cm: Any = None
        self._spoke = False

    def stderr_tail(self, lines: int = 10) -> str:
        """The last lines the server wrote to stderr, for error messages."""
        return "\n".join(list(self._stderr_tail)[-lines:])

    async def __aenter__(self) -> Any:
        self._cm = self._run()
        return await self._cm.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        cm, self._cm = self._cm, None
        result: bool | None = await cm.__aexit__(exc_type, exc, tb)
        return result

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.command,
            *self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=functools.partial(_child_setup, os.getpid()) if _libc is not None else None,
        )

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[tuple[Any, Any]]:
        process = await self._spawn()
        pid = self.pid = process.pid
        with _live_lock:
            _live_groups[pid] = pid
        _reaper.notify(pid, alive=True)
        # Imported after the spawn, so the server starts while the SDK's types load.
        from mcp.shared.message import SessionMessage
        from mcp_types import jsonrpc_message_adapter

        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        stdin, stdout, stderr = process.stdin, process.stdout, process.stderr

        read_send, read_recv = anyio.create_memory_object_stream[Any](0)
        write_send, write_recv = anyio.create_memory_object_stream[Any](0)

        def parse(line: bytes | bytearray) -> Any:
            try:
                return SessionMessage(jsonrpc_message_adapter.validate_json(line, by_name=False))
            except ValueError as exc:
                snippet = line[:200].decode("utf-8", "replace")
                self._log.warning("ignored a non-JSON-RPC line on stdout: %r", snippet)
                return exc

        async def read_stdout() -> None:
            # A bytearray grows in place: ``bytes +=`` copies the whole line per chunk, which made
            # one 50 MB line cost 2-3 s of copying before it could even be parsed (long_line.py).
            buffer = bytearray()
            try:
                async with read_send:
                    while True:
                        chunk = await stdout.read(_READ_CHUNK)
                        if not chunk:
                            self.end_reason = self.end_reason or "closed its stdout"
                            return
                        buffer += chunk
                        if b"\n" not in chunk:
                            if len(buffer) > MAX_LINE_BYTES:
                                self.end_reason = f"wrote a line longer than {MAX_LINE_BYTES} bytes"
                                self._log.error("server %s; dropping the connection", self.end_reason)
                                return
                            continue
                        *lines, buffer = buffer.split(b"\n")
                        for line in lines:
                            if line.strip():
                                if not self._spoke:
                                    self._spoke = True
                                    # Started: helpers it spawned first exist now. Let the reaper
                                    # note any that left the group, in case the host is killed.
                                    _reaper.notify(pid, alive=None)
                                await read_send.send(parse(line))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass
            except (ConnectionError, OSError) as exc:
                self.end_reason = f"stdout failed: {exc}"
            finally:
                self.ended.set()

        pipe = stdin.transport

        async def drain() -> bool:
            """Wait for the pipe to take our bytes; False once it took none for ``stall_timeout``.

            A server that stops reading its stdin would otherwise park this writer, and every
            request queued behind it, for good: requests are only on the clock once written.
            """
            left = pipe.get_write_buffer_size()
            while True:
                with anyio.move_on_after(self.stall_timeout):
                    await stdin.drain()
                    return True
                now = pipe.get_write_buffer_size()
                if now >= left:
                    return False
                left = now  # slow, but reading: keep going

        async def write_stdin() -> None:
            self.writer_idle = True
            try:
                async with write_recv:
                    async for message in write_recv:
                        data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                        stdin.write(data.encode() + b"\n")
                        # Usually the pipe took it all at once; only a backlog needs waiting for.
                        if pipe.get_write_buffer_size() or pipe.is_closing():
                            self.writer_idle = False
                            if not await drain():
                                self.end_reason = f"stopped reading its stdin for {self.stall_timeout:g}s"
                                self._log.error("server %s; dropping the connection", self.end_reason)
                                break
                            self.writer_idle = True
                    else:
                        self.writer_idle = False
                        return  # the session closed its side: a normal end
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError, OSError):
                pass
            # The server stopped reading: end the session instead of leaving requests waiting.
            self.writer_idle = False
            await read_send.aclose()
            self.ended.set()

        async def read_stderr() -> None:
            with contextlib.suppress(ConnectionError, OSError, ValueError):
                while True:
                    raw = await stderr.readline()
                    if not raw:
                        return
                    text = raw.decode("utf-8", "replace").rstrip()
                    if self._redact is not None:
                        text = self._redact(text)
                    text = text[:_STDERR_LINE_CHARS]
                    self._stderr_tail.append(text)
                    self._log.debug("%s", text)

        async def watch_exit() -> None:
            # A grandchild holding our stdout open would hide the leader's death from the reader.
            # asyncio offers no exit event short of wait(), which also waits for those pipes.
            while process.returncode is None:  # noqa: ASYNC110
                await anyio.sleep(_EXIT_WATCH_INTERVAL)
            self.end_reason = self.end_reason or f"exited with code {process.returncode}"
            self.ended.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(read_stdout)
                tg.start_soon(write_stdin)
                tg.start_soon(read_stderr)
                tg.start_soon(watch_exit)
                try:
                    yield read_recv, write_send
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._stop(process)
                    tg.cancel_scope.cancel()
        finally:
            with _live_lock:
                _live_groups.pop(pid, None)
            _reaper.notify(pid, alive=False)
            self.returncode = process.returncode
            self.ended.set()
            _close_transport(process)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """stdin EOF, then SIGTERM to the group, then SIGKILL, all within ``shutdown_grace``."""
        pgid = process.pid
        grace = max(self.shutdown_grace, 0.05)
        start = anyio.current_time()
        # Found before anything exits: once its parent is gone, a member that left the group
        # (``setsid()``) is reparented away and no longer traceable to this server.
        # Only while the leader is unreaped: its pid cannot have been reused by then.
        escaped = _escaped_members(pgid) if process.returncode is None else {}
        if process.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                process.stdin.close()
        # Half the grace for a polite exit on EOF; the server's children are signalled either way.
        # A server that never said a word (hung or still starting when connecting timed out) has
        # nothing to finish, and someone is waiting for the failure: straight to SIGTERM.
        if self._spoke:
            await _wait_exit(process, start + grace / 2)
        _signal_group(pgid, signal.SIGTERM)
        _signal_members(escaped, signal.SIGTERM)
        await _wait_group(process, pgid, start + grace, escaped)
        if _group_alive(pgid) or _signal_members(escaped, 0):
            _signal_group(pgid, signal.SIGKILL)
            _signal_members(escaped, signal.SIGKILL)
            await _wait_group(process, pgid, anyio.current_time() + 1.0, escaped)
        # The group is gone, but our own child may still be a zombie the event loop's child
        # watcher has yet to reap (milliseconds); leaving now could leave that to a closed loop.
        await _wait_exit(process, anyio.current_time() + 1.0)
        self.returncode = process.returncode


async def _wait_exit(process: asyncio.subprocess.Process, deadline: float) -> bool:
    """Poll ``returncode`` (``wait()`` also waits for pipes a grandchild may hold open)."""
    while process.returncode is None:
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(_POLL)
    return True


async def _wait_group(
    process: asyncio.subprocess.Process, pgid: int, deadline: float, escaped: Mapping[int, bytes] = {}
) -> bool:
    while _group_alive(pgid) or _signal_members(escaped, 0):
        _ = process.returncode
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(_POLL)
    return True


def _close_transport(process: asyncio.subprocess.Process) -> None:
    transport = getattr(process, "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()
