"""What every command shares: global options, loading config, starting only the servers needed.

Nothing here imports the MCP SDK at module level; it is imported when a manager connects.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import errors
from ._exit import UsageError
from ._output import Output

if TYPE_CHECKING:
    from ..config import Config
    from ..manager import MCPManager


@dataclass
class CliState:
    """The global options, stored on the click context by the app callback."""

    config_files: list[Path] = field(default_factory=list)
    json: bool = False
    verbose: bool = False

    def output(self, json_flag: bool = False) -> Output:
        self.json = self.json or json_flag  # so an error raised later is reported as JSON too
        return Output(json_mode=self.json, verbose=self.verbose)

    def load(self) -> Config:
        """The merged config: the ``--config`` files, else the user/project/env layers."""
        from ..config import load_config

        return load_config(self.config_files or None)


# The state of the command being run, for reporting an error after click's context is gone.
current: CliState | None = None


def state_of(ctx: typer.Context) -> CliState:
    global current
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # a command invoked without the app callback (embedding)
        obj = CliState()
        ctx.find_root().obj = obj
    current = obj
    return obj


def configure_logging(verbose: bool) -> None:
    """``-v`` shows server stderr and protocol logs on stderr; otherwise patchbay's logs stay quiet.

    Failures are reported by the commands themselves, so the connection's own warnings would only
    repeat them.
    """
    for name in ("patchbay", "mcp", "httpx2", "httpx", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = False
        if verbose:
            handler = logging.StreamHandler()
            handler.setFormatter(_VerboseFormatter())
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG if name == "patchbay" else logging.INFO)
        else:
            logger.addHandler(logging.NullHandler())
            logger.setLevel(logging.CRITICAL)


class _VerboseFormatter(logging.Formatter):
    """``[server] line`` for a server's stderr and logs, ``patchbay: ...`` for the rest.

    Every part is escaped (``_display.printable``): a server's stderr and the errors it causes
    are its own text, and a line with ESC or CR in it must not repaint the terminal.
    """

    def format(self, record: logging.LogRecord) -> str:
        from .._display import printable

        prefix = "patchbay.server."
        message = printable(record.getMessage(), multiline=True)
        if record.name.startswith(prefix):
            return f"[{printable(record.name[len(prefix) :])}] {message}"
        return f"{printable(record.name)}: {record.levelname.lower()}: {message}"


def install_warning_printer(output: Output) -> None:
    """Config warnings (a misspelt key) as one ``warning:`` line, not Python's source-quoting format."""

    def show(message: Warning | str, *_args: Any, **_kwargs: Any) -> None:
        output.warn(str(message))

    warnings.showwarning = show


# -------------------------------------------------------------------------------- server selection


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter("must be a number of seconds above 0")
    return value


ConnectTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--connect-timeout",
        help="Wait at most this long for servers to come up; slower ones are reported "
        "(default: each server's connect_timeout).",
        callback=_positive,
        metavar="SECONDS",
    ),
]


def require_server(config: Config, name: str) -> None:
    config.require_servers(name)


def owners_of(config: Config, exposed: str) -> list[str] | None:
    """The servers whose exposed names could include ``exposed`` (by prefix), or None for "any".

    This only narrows which servers to start; the name itself is then resolved by the catalogue,
    never by taking the string apart.
    """
    from ..catalogue import server_prefix

    matches = [name for name in config.servers if exposed.startswith(server_prefix(name))]
    return matches or None


def subset(config: Config, names: Sequence[str] | None) -> Config:
    if names is None:
        return config
    return config.model_copy(update={"servers": {n: config.servers[n] for n in names}})


@asynccontextmanager
async def open_fleet(
    config: Config,
    names: Sequence[str] | None = None,
    *,
    connect_timeout: float | None = None,
    on_settled: Callable[[MCPManager, str], None] | None = None,
    output: Output | None = None,
) -> AsyncIterator[MCPManager]:
    """A started manager holding only ``names`` (default: every server), each enabled one connected.

    Servers with ``auto_connect: false`` are connected too: a command that lists or calls wants
    them. A server that fails is a value in ``status()``, not an exception.

    ``connect_timeout`` bounds the wait for the whole fleet (default: each server's own
    ``connect_timeout``); a server still connecting then is left out and reported by
    ``not_ready`` as not having answered. ``on_settled(manager, name)`` runs as each server
    settles. With ``output`` (human mode), a note on stderr names the servers still being
    waited for once the others have settled, so a hung server is never waited on in silence.
    """
    import anyio

    from ..manager import MCPManager

    selected = subset(config, names)
    enabled = [name for name, server in selected.servers.items() if server.enabled]
    waiting = _Waiting(selected, enabled, connect_timeout, on_settled, output)
    async with MCPManager(selected, wait=False) as manager:
        with anyio.move_on_after(connect_timeout if connect_timeout is not None else math.inf):
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiting.note_stragglers, _NOTE_AFTER)
                for name in enabled:
                    tg.start_soon(waiting.connect, manager, name)
        yield manager


# How long a fleet-wide command waits in silence before saying which servers it is waiting for.
_NOTE_AFTER = 2.0


class _Waiting:
    """Connects each server, reports it as it settles, and says whom it is still waiting for."""

    def __init__(
        self,
        config: Config,
        names: list[str],
        connect_timeout: float | None,
        on_settled: Callable[[MCPManager, str], None] | None,
        output: Output | None,
    ) -> None:
        import anyio

        self._config = config
        self._pending = set(names)
        self._timeout = connect_timeout
        self._on_settled = on_settled
        self._output = output
        self._note_scope = anyio.CancelScope()

    async def connect(self, manager: MCPManager, name: str) -> None:
        with contextlib.suppress(errors.PatchbayError):  # the outcome is recorded in status()
            await manager.connect(name)
        self._pending.discard(name)
        if self._on_settled is not None:
            self._on_settled(manager, name)
        if not self._pending:
            self._note_scope.cancel()

    async def note_stragglers(self, after: float) -> None:
        """After ``after`` seconds, one stderr line naming the servers not settled yet."""
        import anyio

        if self._output is None or self._output.json_mode or not self._pending:
            return
        with self._note_scope:
            await anyio.sleep(after)
            names = sorted(self._pending)
            if self._timeout is not None:
                limit = self._timeout
            else:
                settings = self._config.settings
                limit = max(self._config.servers[n].resolved_connect_timeout(settings) for n in names)
            self._output.note(
                f"waiting for {', '.join(names)} (up to {_seconds(limit)} s; --connect-timeout N waits less)"
            )


def _seconds(value: float) -> str:
    return f"{value:g}"


def ensure_ready(manager: MCPManager, name: str, connect_timeout: float | None = None) -> None:
    """Raise the typed error for a server the command needs and that did not come up."""
    status = manager.status()[name]
    state = status["state"]
    if state == "ready":
        return
    if state == "connecting" and connect_timeout is not None:
        raise errors.ServerUnavailable(name, state, did_not_answer(connect_timeout))
    if state in ("failed", "closed") and status.get("error"):
        raise errors.ConnectError(name, status["error"])
    raise errors.ServerUnavailable(name, state, _unavailable(status))


def _unavailable(status: Mapping[str, Any]) -> str:
    message = f"server is {status['state']}"
    if status.get("error"):
        message += f": {status['error']}"
    return message


def not_ready(manager: MCPManager, connect_timeout: float | None = None) -> list[dict[str, Any]]:
    """``{"server", "state", "error"}`` for each enabled server that is not ready.

    A server still connecting when ``connect_timeout`` ran out gets the error "did not answer
    within N s".
    """
    problems = []
    for name, s in manager.status().items():
        if s["state"] in ("ready", "disabled"):
            continue
        error = s.get("error")
        if s["state"] == "connecting" and connect_timeout is not None and not error:
            error = did_not_answer(connect_timeout)
        problems.append({"server": name, "state": s["state"], "error": error})
    return problems


def did_not_answer(seconds: float) -> str:
    return f"did not answer within {_seconds(seconds)} s"


def report_not_ready(output: Output, problems: list[dict[str, Any]]) -> None:
    for problem in problems:
        error = problem.get("error") or ""
        if error.startswith("did not answer"):
            output.warn(f"{problem['server']} {error}")
            continue
        reason = f": {error}" if error else ""
        output.warn(f"{problem['server']} is {problem['state']}{reason}")


# ------------------------------------------------------------------------------------- arguments


def parse_arguments(
    pairs: Sequence[str], json_text: str | None, schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``--json '{...}'`` merged with ``key=value`` pairs (which win).

    A value is parsed as JSON when it is valid JSON (``n=3`` is a number, ``flag=true`` a
    boolean, ``xs=[1,2]`` a list) and kept as text otherwise; a parameter the tool's schema
    declares as a string always gets the text as typed, so ``zip=01234`` stays ``"01234"``.
    """
    arguments: dict[str, Any] = {}
    if json_text is not None:
        try:
            loaded = json.loads(json_text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--json is not valid JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(loaded, dict):
            raise UsageError("--json must be a JSON object of arguments")
        arguments.update(loaded)
    properties = (schema or {}).get("properties") or {}
    for key, value in split_pairs(pairs):
        arguments[key] = coerce(value, properties.get(key))
    return arguments


def split_pairs(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """``key=value`` arguments as (key, text) pairs; the value may itself hold ``=``."""
    split = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected key=value, got {pair!r}")
        split.append((key, value))
    return split


def coerce(value: str, prop: Mapping[str, Any] | None = None) -> Any:
    if prop is not None and _declares_only_string(prop):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _declares_only_string(prop: Mapping[str, Any]) -> bool:
    kind = prop.get("type")
    if kind == "string":
        return True
    if isinstance(kind, list):
        return "string" in kind and not ({"number", "integer", "boolean", "array", "object"} & set(kind))
    return False
