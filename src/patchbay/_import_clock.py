"""Seconds this process has spent importing the SDK.

The first connect of a process imports the SDK (about half a second, longer on a loaded machine)
while the event loop stands still. Whoever triggers that import — the stdio transport for its
message types, the connection for ``Client`` — does it under :func:`importing`, so
``patchbay doctor`` can leave the host's own import out of every server's phase times.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

_blocked = [0.0]


def blocked_seconds() -> float:
    """The running total; a phase subtracts the growth over its own span."""
    return _blocked[0]


@contextmanager
def importing() -> Iterator[None]:
    """Count the time of the imports inside as the host's, not a server's."""
    started = time.perf_counter()
    try:
        yield
    finally:
        _blocked[0] += time.perf_counter() - started
