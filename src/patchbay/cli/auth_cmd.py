"""``patchbay login NAME`` and ``patchbay logout NAME``: OAuth for remote servers (``patchbay.auth``).

``login`` prints the authorization URL (and opens it in a browser unless ``--no-browser``), receives
the redirect on 127.0.0.1, and stores the tokens in the user data directory (mode 0600).
``logout`` deletes them and the client registration.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._fleet import require_server, state_of

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
BrowserFlag = Annotated[bool, typer.Option("--browser/--no-browser", help="Open the URL in a browser.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds to wait for the redirect.", min=1)]


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)


def login(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="The server's configured name (it needs `auth: oauth`).")],
    browser: BrowserFlag = True,
    timeout: TimeoutOpt = 300,
    json_: JsonFlag = False,
) -> None:
    """Authorise a remote server with OAuth and store its tokens."""
    import anyio

    from .. import auth

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    require_server(config, name)
    server = config.servers[name]
    from ..trust import check_trusted

    check_trusted(server)  # an unapproved project server is not sent its headers, not even to log in

    def show(text: str) -> None:
        if output.json_mode:
            output.note(text)  # stderr: stdout stays one JSON document
        else:
            output.print(text)

    anyio.run(lambda: auth.login(server, open_browser=browser, show=show, timeout=timeout))
    if output.json_mode:
        output.json({"server": name, "logged_in": True})
    else:
        output.print(f"{name}: logged in; tokens stored in {auth.token_dir()}")


def logout(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="The server's configured name.")],
    json_: JsonFlag = False,
) -> None:
    """Forget a remote server's OAuth tokens and client registration."""
    from .. import auth

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    require_server(config, name)
    forgot = auth.logout(config.servers[name])
    if output.json_mode:
        output.json({"server": name, "forgotten": forgot})
    else:
        output.print(f"{name}: {'tokens forgotten' if forgot else 'no stored tokens'}")
