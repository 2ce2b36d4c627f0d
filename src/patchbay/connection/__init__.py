"""One server's connection: its supervisor task, live session, listing and requests.

``Connection`` (``_connection``: the request path) on ``Supervisor`` (``_supervisor``: the task
that owns the session); the modules beside them each do one job for them.
"""

from ..events import LOG_LEVELS
from ._connection import Connection
from ._stderr import stderr_reason
from ._supervisor import State
from ._verbs import ProgressCallback

__all__ = ["LOG_LEVELS", "Connection", "ProgressCallback", "State", "stderr_reason"]
