"""Run a few awaitables at once and get their results in order, with plain (ungrouped) errors.

An anyio task group reports failures as an ``ExceptionGroup``; callers of patchbay expect its
typed errors. Here the first ``PatchbayError`` cancels the remaining work and is raised as itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

from .errors import PatchbayError

__all__ = ["gather"]

T = TypeVar("T")


async def gather(jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Await every job concurrently; results come back in the order of ``jobs``."""
    results: dict[int, T] = {}
    failures: list[PatchbayError] = []

    async def run(index: int, job: Callable[[], Awaitable[T]], scope: anyio.CancelScope) -> None:
        try:
            results[index] = await job()
        except PatchbayError as exc:
            failures.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tg:
        for index, job in enumerate(jobs):
            tg.start_soon(run, index, job, tg.cancel_scope)
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(jobs))]
