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

The process-group half (environment, child set-up, registry, signalling) is ``_groups``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._import_clock import importing
from . import _groups
from ._base import ManagedTransport

__all__ = ["MAX_LINE_BYTES", "StdioTransport"]

# A line longer than this is a broken server, not a message: the connection is dropped.
MAX_LINE_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 256 * 1024
_STDERR_TAIL_LINES = 40
_STDERR_LINE_CHARS = 500
_EXIT_WATCH_INTERVAL = 0.25

_Parse = Callable[[bytes | bytearray], Any]


class StdioTransport(ManagedTransport):
    """An SDK ``Transport`` (async context manager yielding the two streams) for one child process.

    One instance is one process lifetime; a reconnect builds a new one. Entered and exited by the
    connection's owner task only. While open, four tasks serve the child: one reads its stdout
    into messages, one writes messages to its stdin, one drains its stderr, one watches it exit.
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
        super().__init__()
        self.command = command
        self.args = list(args)
        self.env = dict(env)
        self.cwd = cwd
        self.shutdown_grace = shutdown_grace
        self.stall_timeout = stall_timeout
        """Seconds the server may leave a backlog on its stdin unread before it counts as hung."""
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._log = logging.getLogger(f"patchbay.server.{log_name}")
        self._redact = redact
        """Masks secrets in a whole stderr line before it is cut: a cut secret would not match."""
        self._spoke = False

    def stderr_tail(self, lines: int = 10) -> str:
        """The last lines the server wrote to stderr, for error messages."""
        return "\n".join(list(self._stderr_tail)[-lines:])

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
            preexec_fn=_groups.child_setup(),
        )

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[tuple[Any, Any]]:
        process = await self._spawn()
        pid = self.pid = process.pid
        _groups.register_group(pid)
        parse = _line_parser(self._log)  # after the spawn: the server starts while the SDK's types load
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None

        read_send, read_recv = anyio.create_memory_object_stream[Any](0)
        write_send, write_recv = anyio.create_memory_object_stream[Any](0)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read_stdout, process.stdout, read_send, parse, pid)
                tg.start_soon(self._write_stdin, process.stdin, write_recv, read_send)
                tg.start_soon(self._read_stderr, process.stderr)
                tg.start_soon(self._watch_exit, process)
                try:
                    yield read_recv, write_send
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._stop(process)
                    tg.cancel_scope.cancel()
        finally:
            _groups.forget_group(pid)
            self.ended.set()
            _close_transport(process)

    async def _read_stdout(
        self, stdout: asyncio.StreamReader, send: MemoryObjectSendStream[Any], parse: _Parse, pid: int
    ) -> None:
        """Lines of stdout become messages; end of file, or a line too long, ends the connection."""
        # A bytearray grows in place: ``bytes +=`` copies the whole line per chunk, which made
        # one 50 MB line cost 2-3 s of copying before it could even be parsed (long_line.py).
        buffer = bytearray()
        try:
            async with send:
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
                                _groups.note_started(pid)  # in case the host is killed from now on
                            await send.send(parse(line))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        except (ConnectionError, OSError) as exc:
            self.end_reason = f"stdout failed: {exc}"
        finally:
            self.ended.set()

    async def _write_stdin(
        self,
        stdin: asyncio.StreamWriter,
        messages: MemoryObjectReceiveStream[Any],
        read_send: MemoryObjectSendStream[Any],
    ) -> None:
        """Messages become lines on stdin; a server that stops reading them ends the connection."""
        pipe = stdin.transport
        self.writer_idle = True
        try:
            async with messages:
                async for message in messages:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    stdin.write(data.encode() + b"\n")
                    # Usually the pipe took it all at once; only a backlog needs waiting for.
                    if pipe.get_write_buffer_size() or pipe.is_closing():
                        self.writer_idle = False
                        if not await self._drain(stdin):
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

    async def _drain(self, stdin: asyncio.StreamWriter) -> bool:
        """Wait for the pipe to take our bytes; False once it took none for ``stall_timeout``.

        A server that stops reading its stdin would otherwise park the writer, and every
        request queued behind it, for good: requests are only on the clock once written.
        """
        pipe = stdin.transport
        left = pipe.get_write_buffer_size()
        while True:
            with anyio.move_on_after(self.stall_timeout):
                await stdin.drain()
                return True
            now = pipe.get_write_buffer_size()
            if now >= left:
                return False
            left = now  # slow, but reading: keep going

    async def _read_stderr(self, stderr: asyncio.StreamReader) -> None:
        """Every stderr line, masked and cut, into the tail and the server's logger."""
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

    async def _watch_exit(self, process: asyncio.subprocess.Process) -> None:
        """End the connection when the leader exits, even if a grandchild holds stdout open."""
        # A grandchild holding our stdout open would hide the leader's death from the reader.
        # asyncio offers no exit event short of wait(), which also waits for those pipes.
        while process.returncode is None:  # noqa: ASYNC110
            await anyio.sleep(_EXIT_WATCH_INTERVAL)
        self.end_reason = self.end_reason or f"exited with code {process.returncode}"
        self.ended.set()

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """stdin EOF, then SIGTERM to the group, then SIGKILL, all within ``shutdown_grace``."""
        pgid = process.pid
        grace = max(self.shutdown_grace, 0.05)
        start = anyio.current_time()
        # Found before anything exits: once its parent is gone, a member that left the group
        # (``setsid()``) is reparented away and no longer traceable to this server.
        # Only while the leader is unreaped: its pid cannot have been reused by then.
        escaped = _groups.escaped_members(pgid) if process.returncode is None else {}
        if process.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                process.stdin.close()
        # Half the grace for a polite exit on EOF; the server's children are signalled either way.
        # A server that never said a word (hung or still starting when connecting timed out) has
        # nothing to finish, and someone is waiting for the failure: straight to SIGTERM.
        if self._spoke:
            await _wait_exit(process, start + grace / 2)
        _groups.signal_group(pgid, signal.SIGTERM)
        _groups.signal_members(escaped, signal.SIGTERM)
        await _wait_group(process, pgid, start + grace, escaped)
        if _groups.group_alive(pgid) or _groups.signal_members(escaped, 0):
            _groups.signal_group(pgid, signal.SIGKILL)
            _groups.signal_members(escaped, signal.SIGKILL)
            await _wait_group(process, pgid, anyio.current_time() + 1.0, escaped)
        # The group is gone, but our own child may still be a zombie the event loop's child
        # watcher has yet to reap (milliseconds); leaving now could leave that to a closed loop.
        await _wait_exit(process, anyio.current_time() + 1.0)


def _line_parser(log: logging.Logger) -> _Parse:
    """One stdout line -> a ``SessionMessage``, or the ``ValueError`` (the dispatcher reports and skips it).

    Built once per process, so the SDK's types are imported once rather than per line.
    """
    with importing():  # the first one imports the whole SDK: the host's time, not the server's
        from mcp.shared.message import SessionMessage
        from mcp_types import jsonrpc_message_adapter

    def parse(line: bytes | bytearray) -> Any:
        try:
            return SessionMessage(jsonrpc_message_adapter.validate_json(line, by_name=False))
        except ValueError as exc:
            snippet = line[:200].decode("utf-8", "replace")
            log.warning("ignored a non-JSON-RPC line on stdout: %r", snippet)
            return exc

    return parse


async def _wait_exit(process: asyncio.subprocess.Process, deadline: float) -> bool:
    """Poll ``returncode`` (``wait()`` also waits for pipes a grandchild may hold open)."""
    while process.returncode is None:
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(_groups.POLL)
    return True


async def _wait_group(
    process: asyncio.subprocess.Process, pgid: int, deadline: float, escaped: Mapping[int, bytes] = {}
) -> bool:
    while _groups.group_alive(pgid) or _groups.signal_members(escaped, 0):
        _ = process.returncode
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(_groups.POLL)
    return True


def _close_transport(process: asyncio.subprocess.Process) -> None:
    transport = getattr(process, "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()
