"""An upstream's questions to a 2026-07-28 downstream, as ``input_required`` rounds.

A 2026-07-28 client cannot be sent requests: a server that needs something from it answers the
client's request with an ``InputRequiredResult`` (the questions, plus an opaque ``requestState``),
and the client retries the request with the answers. The gateway's upstream call, though, is one
call that waits inside the upstream's question. So for a 2026-07-28 downstream the gateway runs the
upstream call as a *parked call*, owned by the gateway's task group: each downstream round waits
until the parked call either finishes (its result is the answer) or asks something (the round ends
with an ``InputRequiredResult`` whose ``requestState`` names the parked call). The retry hands the
answers in and waits again. The downstream never sees the upstream's own state.

Bounds: a parked call ends at its own request deadline (the upstream call's timeout), a finished
one nobody came back for is dropped after ``_KEEP_FINISHED`` seconds, and at most ``_MAX_PARKED``
are kept. A downstream cancellation during a round cancels the upstream call.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

__all__ = ["STATE_PREFIX", "Abandoned", "Parked", "ParkedCalls"]

STATE_PREFIX = "patchbay-round:"
_KEEP_FINISHED = 120.0
_MAX_PARKED = 1000


class Abandoned(Exception):
    """A parked call that was cancelled before it finished."""


class Parked:
    """One upstream call waiting on a downstream client across requests."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.scope = anyio.CancelScope()
        self.done = False
        self.finished_at: float | None = None
        self._result: Any = None
        self._error: BaseException | None = None
        self._pending: dict[str, tuple[Any, anyio.Event]] = {}
        self._sent: set[str] = set()
        self._answers: dict[str, Any] = {}
        self._changed = anyio.Event()
        self._count = 0

    async def ask(self, request: Any) -> Any:
        """Called from the upstream call: wait for the downstream's answer to ``request``."""
        self._count += 1
        key = f"q{self._count}"
        answered = anyio.Event()
        self._pending[key] = (request, answered)
        self._changed.set()
        try:
            await answered.wait()
            return self._answers.pop(key)
        finally:
            self._pending.pop(key, None)
            self._sent.discard(key)

    def answer(self, responses: dict[str, Any] | None) -> None:
        """A retry's ``inputResponses``; a question it leaves unanswered is asked again."""
        for key, response in (responses or {}).items():
            pending = self._pending.get(key)
            if pending is not None and not pending[1].is_set():
                self._answers[key] = response
                pending[1].set()
        self._sent.clear()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self._result, self._error = result, error
        self.done = True
        self.finished_at = time.monotonic()
        self._changed.set()

    async def next_round(self) -> tuple[bool, Any]:
        """``(True, result)`` when the call finished (raises its error), else ``(False, questions)``."""
        try:
            while True:
                if self.done:
                    if self._error is not None:
                        raise self._error
                    return True, self._result
                unsent = {k: request for k, (request, ev) in self._pending.items() if k not in self._sent}
                if unsent:
                    self._sent.update(unsent)
                    return False, unsent
                self._changed = anyio.Event()
                await self._changed.wait()
        except anyio.get_cancelled_exc_class():
            self.scope.cancel()  # the downstream gave up on this request: so does the upstream call
            raise


class ParkedCalls:
    """The gateway's parked calls, run in its task group (``bind``) and found by ``requestState``."""

    def __init__(self) -> None:
        self._calls: dict[str, Parked] = {}
        self._tg: TaskGroup | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Own the parked calls until cancelled (started by ``serve`` beside the transports)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await anyio.sleep_forever()

    def find(self, state: str | None) -> Parked | None:
        if state is None or not state.startswith(STATE_PREFIX):
            return None
        return self._calls.get(state[len(STATE_PREFIX) :])

    def start(self, call: Callable[[Parked], Awaitable[Any]]) -> Parked:
        """Run ``call(parked)`` as a new parked call; its questions go through ``parked.ask``."""
        if self._tg is None:
            raise RuntimeError("ParkedCalls.run() is not running")
        self._purge()
        parked = Parked(secrets.token_urlsafe(18))
        self._calls[parked.key] = parked

        async def run() -> None:
            with parked.scope:
                try:
                    parked.finish(await call(parked))
                except Exception as exc:
                    parked.finish(error=exc)
            if not parked.done:  # cancelled: the downstream went away, or the gateway is closing
                parked.finish(error=Abandoned("the request was cancelled"))

        self._tg.start_soon(run)
        return parked

    def drop(self, parked: Parked) -> None:
        self._calls.pop(parked.key, None)

    def state_of(self, parked: Parked) -> str:
        return STATE_PREFIX + parked.key

    def _purge(self) -> None:
        now = time.monotonic()
        for key, parked in list(self._calls.items()):
            if parked.finished_at is not None and now - parked.finished_at > _KEEP_FINISHED:
                del self._calls[key]
        while len(self._calls) >= _MAX_PARKED:  # the oldest first (dicts keep insertion order)
            key, oldest = next(iter(self._calls.items()))
            oldest.scope.cancel()
            del self._calls[key]
