"""Finding what a name or URI refers to, and saying precisely why when nothing does.

A name that is not in the catalogue is most often a server that is down: that is the error
worth raising. Otherwise the message names the servers a bare name is ambiguous between, or the
closest names that do exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio

from . import errors
from .catalogue import Catalogue, Prompt, server_prefix
from .connection import Connection, State

__all__ = [
    "check_prompt_arguments",
    "lookup_error",
    "owner_not_up",
    "prompt_argument",
    "resolve",
    "server_for_uri",
]


def owner_not_up(connections: Iterable[Connection], name: str, server: str | None) -> Connection | None:
    """The configured server a name belongs to, if that server is not up (by ``server=`` or prefix)."""
    for conn in connections:
        if conn.state in (State.READY, State.RECONNECTING):
            continue
        if conn.name == server or name.startswith(server_prefix(conn.name)):
            return conn
    return None


def lookup_error(
    catalogue: Catalogue, kind: str, name: str, server: str | None, owner: Connection | None
) -> errors.PatchbayError:
    """Why a name was not found: its server is down (which helps more), or nothing offers it."""
    if owner is not None:
        return errors.ServerUnavailable(
            owner.name, owner.state.value, owner.unavailable_message(), next_retry_at=owner.next_retry_at
        )
    entries = catalogue.tools if kind == "tool" else catalogue.prompts
    error = errors.ToolNotFound if kind == "tool" else errors.PromptNotFound
    if server is None:
        same = [e for e in entries.values() if e.original_name == name]
        if len(same) > 1:  # a bare name two servers offer: say so, and how to pick one
            owners = [e.server for e in same]
            return error(
                f"{kind} {name!r} is offered by {_and(owners)}: use {same[0].name}",
                candidates=tuple(owners),
                choose=" or pass {option}",
            )
    return error(_not_found(kind, name, list(entries)))


async def resolve(
    catalogue: Callable[[], Catalogue],
    connections: Iterable[Connection],
    kind: str,
    *,
    name: str,
    server: str | None,
    timeout: float | None,
) -> Any:
    """Find a tool or prompt, waiting for its server if that is still connecting.

    ``catalogue`` is read again after the wait: it is rebuilt when the server comes up.
    """

    def find() -> Any:
        current = catalogue()
        return (current.find_tool if kind == "tool" else current.find_prompt)(name, server)

    found = find()
    if found is not None:
        return found
    owner = owner_not_up(connections, name, server)
    if owner is not None and owner.state == State.CONNECTING:
        with anyio.move_on_after(owner.timeout if timeout is None else timeout):
            await owner.wait_settled()
        found = find()
        if found is not None:
            return found
    raise lookup_error(catalogue(), kind, name, server, owner_not_up(connections, name, server))


def server_for_uri(catalogue: Catalogue, uri: str, server: str | None) -> str:
    """The server to read ``uri`` from: the one given, or the one server whose catalogue has it."""
    if server is None:
        candidates = catalogue.servers_for_uri(uri)
        if not candidates:
            raise errors.ResourceNotFound(
                f"no server lists {uri!r} or has a template matching it",
                choose="; pass {option} to read it anyway",
            )
        if len(candidates) > 1:
            raise errors.ResourceNotFound(
                f"{uri!r} is offered by several servers ({', '.join(candidates)})",
                candidates=tuple(candidates),
                choose="; pass {option} to choose",
            )
        server = candidates[0]
    return server


def check_prompt_arguments(prompt: Prompt, arguments: Mapping[str, str]) -> None:
    """Refuse, before sending, arguments the prompt's listing rules out; the message names them."""
    declared = [a.name for a in prompt.arguments]
    missing = [a.name for a in prompt.arguments if a.required and a.name not in arguments]
    unknown = [k for k in arguments if k not in declared]
    problems = []
    if missing:
        problems.append(f"missing required argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    if problems:
        takes = f"it takes: {', '.join(declared)}" if declared else "it takes no arguments"
        raise errors.InvalidArguments(
            prompt.server, f"prompt {prompt.original_name!r}: {'; '.join(problems)} ({takes})"
        )


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def prompt_argument(value: Any) -> str:
    import json

    return json.dumps(value)


def _not_found(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"no ready server offers a {kind} named {name!r}{hint}"
