"""The typer app: global options, command registration, and turning exceptions into exit codes.

Command modules are listed in ``COMMAND_MODULES``; each has a ``register(app)`` function that
adds its commands. Importing a command module must not import the MCP SDK (``--help`` and
``--version`` stay fast); commands import what they need when they run.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import errors as _errors
from . import _exit, _fleet
from ._fleet import CliState, configure_logging, install_warning_printer

# One line per module; the order is the order of commands in --help within each panel.
COMMAND_MODULES: tuple[str, ...] = (
    "patchbay.cli.servers",  # list, get
    "patchbay.cli.listings",  # tools, resources, templates, prompts
    "patchbay.cli.invoke",  # call, read, prompt
    "patchbay.cli.edit",  # add, add-json, remove, enable, disable
    "patchbay.cli.importer",  # import
    "patchbay.cli.doctor",  # doctor
    "patchbay.cli.trust",  # trust, untrust
    "patchbay.cli.auth_cmd",  # login, logout
    "patchbay.cli.serve",  # serve
)


def _hide_flag_types() -> None:
    """No ``<bool>`` beside ``--json``, ``--dry-run``, ``--help`` ... in ``--help``: a flag takes no value.

    typer's rich help prints every option's type, flags included; a flag's is hidden here. Only
    typer versions that have the hook are touched; others print flags without a type already.
    """
    from typer import core

    option = getattr(core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if option is None or shown is None or getattr(shown, "_hides_flags", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        result: str | None = shown(self, ctx)
        return result

    display_type_rich._hides_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_hide_flag_types()

app = typer.Typer(
    name="patchbay",
    help="Manage, inspect and call a fleet of MCP servers.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"patchbay {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file to use instead of the user/project files (repeatable; later files win).",
            metavar="FILE",
        ),
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON output (documented in docs/cli.md).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show server stderr and protocol logs.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    state = CliState(config_files=list(config or []), json=json_, verbose=verbose)
    ctx.obj = state
    _fleet.current = state
    configure_logging(verbose)
    install_warning_printer(state.output())


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code; every error becomes one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    json_mode = "--json" in args[: _first_command_index(args)]
    _fleet.current = None  # run() may be called more than once in a process (tests, embedding)
    try:
        result = app(args=args, prog_name="patchbay", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _exit.INTERRUPTED
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `patchbay`: the help was printed
            return _exit.USAGE
        # click-style usage errors (unknown option, missing argument): the usage line, then why.
        ctx = getattr(exc, "ctx", None)
        if ctx is not None and not json_mode:
            typer.echo(ctx.get_usage(), err=True)
        _report(exc, _exit.USAGE, json_mode, message=exc.format_message())
        return _exit.USAGE
    except KeyboardInterrupt:
        return _exit.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`patchbay tools | head -1`): no traceback, and none at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _exit.OK
    except Exception as raised:  # every patchbay error ends here, mapped in one place
        error = _errors._unwrap_group(raised)  # a task group's ExceptionGroup is never shown as such
        if isinstance(error, KeyboardInterrupt):
            return _exit.INTERRUPTED
        if _is_click_error(error):  # a command module that raised click's own UsageError
            _report(error, _exit.USAGE, json_mode or _json_requested(), message=error.format_message())  # type: ignore[attr-defined]
            return _exit.USAGE
        code = _exit.exit_code_for(error)
        _report(error, code, json_mode or _json_requested())
        return code
    return result if isinstance(result, int) else _exit.OK


def _is_click_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("click") and callable(getattr(exc, "format_message", None))


def _json_requested() -> bool:
    return _fleet.current is not None and _fleet.current.json


def _first_command_index(args: list[str]) -> int:
    for index, arg in enumerate(args):
        if not arg.startswith("-") and (index == 0 or args[index - 1] not in ("--config", "-c")):
            return index
    return len(args)


def _report(exc: BaseException, code: int, json_mode: bool, message: str | None = None) -> None:
    from ._output import Output

    output = Output(json_mode=json_mode)
    text = message or _exit.message_for(exc) or type(exc).__name__
    output.error(text.strip().replace("\n", " | ") if code != _exit.USAGE else text)
    if json_mode:
        output.json(_exit.error_object(exc, code) if message is None else _usage_object(text, code))


def _usage_object(message: str, code: int) -> dict[str, object]:
    return {"error": {"type": "UsageError", "message": message, "exit_code": code}}


__all__ = ["COMMAND_MODULES", "CliState", "app", "run"]
