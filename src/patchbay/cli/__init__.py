"""The ``patchbay`` command: manage, inspect and call a fleet of MCP servers from the terminal.

Layout:

* ``app.py``: the typer app, the global options (``--config``, ``--json``, ``-v``,
  ``--version``), the list of command modules, and ``run()``, which maps every exception to an
  exit code in one place (``_exit.py`` has the table).
* one module per command group: ``servers`` (list, get), ``listings`` (tools, resources,
  templates, prompts), ``invoke`` (call, read, prompt), ``edit`` (add, add-json, remove, enable,
  disable), ``importer`` (import), ``doctor``.
* helpers: ``_fleet`` (config loading, starting only the servers a command needs, ``key=value``
  arguments), ``_output`` (JSON vs. human output, state labels), ``_configfile`` (round-trip edits
  of YAML and JSON config files: ``ConfigFile``, over ``_yamledit``, ``_yamlemit``, ``_jsonedit``
  and ``_filelock``), ``_exit`` (exit codes).

Adding commands (e.g. ``patchbay trust``/``untrust`` or ``login``/``logout``): write a module
``patchbay/cli/<group>.py`` with ::

    import typer
    from ._fleet import state_of

    def register(app: typer.Typer) -> None:
        @app.command()
        def trust(ctx: typer.Context, name: str) -> None:
            \"\"\"One line for --help.\"\"\"
            output = state_of(ctx).output()
            ...

and add ``"patchbay.cli.<group>"`` to ``COMMAND_MODULES`` in ``app.py``. Rules: import the MCP
SDK (and anything heavy) inside the command function, never at module level, so ``--help`` stays
fast; raise patchbay exceptions and let ``run()`` map them (add a row to ``_exit._BY_TYPE`` for a
new exception type); put a new connection state's label in ``_output._STATES`` and its hint in
``_output.STATE_HINTS`` (``needs_auth`` and ``untrusted`` are there already); document any
``--json`` shape in docs/cli.md.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """The console-script entry point."""
    from .app import run

    sys.exit(run())
