"""``patchbay call``, ``patchbay read`` and ``patchbay prompt``: use one tool, resource or prompt.

Only the server(s) that can own the name are started: the ones whose ``mcp__<server>__`` prefix
the name starts with, or the one named by ``SERVER TOOL`` / ``SERVER PROMPT`` / ``--server``; a
bare original name starts the whole fleet and is resolved there (it must be unique).

Output: text blocks are printed as they are; structured content is printed as pretty JSON unless
it only repeats the text (the text as JSON, or ``{"result": <the text>}``, which the Python SDK
adds to every ``-> str`` tool, or ``{"result": [...]}`` beside one text block per item); images,
audio and binary resources are written to files whose paths are printed. A tool result with
``isError`` prints its text to stderr and exits 5.
"""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import errors
from . import _exit
from ._fleet import (
    ensure_ready,
    not_ready,
    open_fleet,
    owners_of,
    parse_arguments,
    report_not_ready,
    require_server,
    split_pairs,
    state_of,
)
from ._output import Output, plural

if TYPE_CHECKING:
    from ..config import Config

SaveDir = Annotated[
    Path | None,
    typer.Option(
        "--save-dir",
        help="Where images, audio and binary contents are written (default: a new temp directory).",
        file_okay=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds to wait (default: the server's timeout).", min=0.001),
]


def register(app: typer.Typer) -> None:
    app.command("call")(call)
    app.command("read")(read)
    app.command("prompt")(prompt)


def _split_target(config: Config, target: str, rest: list[str]) -> tuple[str | None, str, list[str]]:
    """``SERVER NAME k=v`` or ``NAME k=v`` -> (server, name, pairs), for a tool or a prompt."""
    if target in config.servers and rest and "=" not in rest[0]:
        return target, rest[0], rest[1:]
    return None, target, rest


def _servers_for(config: Config, name: str, server: str | None) -> list[str] | None:
    if server is not None:
        require_server(config, server)
        return [server]
    return owners_of(config, name)


def call(
    ctx: typer.Context,
    *,
    target: Annotated[
        str, typer.Argument(help="mcp__SERVER__TOOL, or SERVER followed by TOOL.", metavar="TOOL")
    ],
    arguments: Annotated[
        list[str] | None,
        typer.Argument(help="key=value arguments; values are JSON when valid JSON.", metavar="KEY=VALUE"),
    ] = None,
    json_args: Annotated[
        str | None, typer.Option("--json", help="Arguments as a JSON object (key=value pairs override).")
    ] = None,
    timeout: TimeoutOpt = None,
    server: Annotated[str | None, typer.Option("--server", "-s", help="The server that owns TOOL.")] = None,
    save_dir: SaveDir = None,
) -> None:
    """Call a tool and print its result (a progress bar shows on a terminal)."""
    import anyio

    state = state_of(ctx)
    output = state.output()
    config = state.load()
    named_server, tool_name, pairs = _split_target(config, target, list(arguments or []))
    server = server or named_server
    names = _servers_for(config, tool_name, server)
    parse_arguments(pairs, json_args)  # a malformed argument fails before anything starts

    async def run() -> Any:
        async with open_fleet(config, names) as manager:
            if server is not None:
                ensure_ready(manager, server)
            try:
                tool = manager.get_tool(tool_name, server)
            except errors.ToolNotFound:
                if not output.json_mode:  # the tool may belong to a server that did not come up
                    report_not_ready(output, not_ready(manager))
                raise
            args = parse_arguments(pairs, json_args, tool.input_schema)
            _warn_unknown_arguments(output, tool.original_name, tool.input_schema, args)
            with _ProgressDisplay(output, tool.name) as progress:
                return await manager.call_tool(
                    tool.name,
                    args,
                    timeout=timeout,
                    server=tool.server,
                    progress=progress.update if progress.active else None,
                )

    result = anyio.run(run)
    if output.json_mode:
        output.json(result.to_dict())
    elif result.is_error:
        output.error(f"{result.tool} on {result.server} returned an error: {result.text.strip()}")
    else:
        _print_blocks(output, result.content, save_dir, result.tool)
        structured = result.structured
        if structured is not None and not _repeats_text(structured, result.content):
            output.print(json.dumps(structured, indent=2, ensure_ascii=False))
    if result.is_error:
        raise typer.Exit(_exit.TOOL_ERROR)


def _warn_unknown_arguments(output: Output, tool: str, schema: dict[str, Any], args: dict[str, Any]) -> None:
    """A typo'd argument name is sent (the server judges), but said out loud: most servers ignore it."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or schema.get("additionalProperties") not in (None, False):
        return  # no declared names, or the schema welcomes any: nothing to compare against
    unknown = [name for name in args if name not in properties]
    if unknown:
        takes = f"it takes: {', '.join(properties)}" if properties else "it takes no arguments"
        word = "argument" if len(unknown) == 1 else "arguments"
        output.warn(f"{tool} does not declare the {word} {', '.join(unknown)}; sent anyway ({takes})")


def read(
    ctx: typer.Context,
    *,
    uri: Annotated[str, typer.Argument(help="The resource URI (listed or matching a template).")],
    server: Annotated[
        str | None, typer.Option("--server", "-s", help="Read from this server (only it is started).")
    ] = None,
    timeout: TimeoutOpt = None,
    save_dir: SaveDir = None,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Read a resource; text is printed, binary contents are saved to files."""
    import anyio

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    names = _servers_for(config, uri, server) if server is not None else None

    async def run() -> Any:
        async with open_fleet(config, names) as manager:
            if server is not None:
                ensure_ready(manager, server)
            return await manager.read_resource(uri, server, timeout=timeout)

    result = anyio.run(run)
    if output.json_mode:
        output.json(result.to_dict())
        return
    _print_blocks(output, result.contents, save_dir, _stem(uri))


def prompt(
    ctx: typer.Context,
    *,
    target: Annotated[
        str,
        typer.Argument(
            help="mcp__SERVER__PROMPT, SERVER followed by PROMPT, or the prompt's own name if unique.",
            metavar="PROMPT",
        ),
    ],
    arguments: Annotated[
        list[str] | None,
        typer.Argument(help="key=value arguments (sent as strings).", metavar="KEY=VALUE"),
    ] = None,
    server: Annotated[str | None, typer.Option("--server", "-s", help="The server that owns NAME.")] = None,
    timeout: TimeoutOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Render a prompt and print its messages."""
    import anyio

    state = state_of(ctx)
    output = state.output(json_)
    config = state.load()
    named_server, name, pairs = _split_target(config, target, list(arguments or []))
    server = server or named_server
    names = _servers_for(config, name, server)
    args = dict(split_pairs(pairs))  # prompt arguments are strings: no JSON coercion

    async def run() -> Any:
        async with open_fleet(config, names) as manager:
            if server is not None:
                ensure_ready(manager, server)
            return await manager.get_prompt(name, args, server=server, timeout=timeout)

    result = anyio.run(run)
    if output.json_mode:
        output.json(result.to_dict())
        return
    from rich.text import Text

    for index, message in enumerate(result.messages):
        if index:
            output.print("")
        output.print(Text(f"{message.role}:", style="bold"))
        _print_blocks(output, [message.content], None, _stem(name))


# ------------------------------------------------------------------------------------ progress


class _ProgressDisplay:
    """A rich progress bar on stderr while a call runs, only when stderr is a terminal."""

    def __init__(self, output: Output, label: str) -> None:
        self.active = not output.json_mode and output.err.is_terminal
        self._output = output
        self._label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _ProgressDisplay:
        if self.active:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[message]}", markup=False),  # the server's text, as text
                TimeElapsedColumn(),
                console=self._output.err,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=None, message="")
        return self

    def update(self, progress: float, total: float | None, message: str | None) -> None:
        if self._progress is not None:
            from .._display import printable

            self._progress.update(
                self._task, completed=progress, total=total, message=printable(message or "")
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# -------------------------------------------------------------------------------------- output


def _print_blocks(output: Output, blocks: list[Any], save_dir: Path | None, stem: str) -> None:
    saver = _Saver(save_dir, stem)
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text" or (kind is None and getattr(block, "text", None) is not None):
            output.print(str(block.text))
        elif kind in ("image", "audio"):
            path = saver.save(block.data, block.mime_type)
            size = plural(path.stat().st_size, "byte")
            output.print(f"[{kind}: {block.mime_type}, {size}] saved to {path}")
        elif kind == "resource_link":
            output.print(f"[resource link: {block.uri}]")
        elif kind == "resource":
            _print_blocks(output, [block.resource], save_dir, stem)
        elif getattr(block, "blob", None) is not None:
            mime = getattr(block, "mime_type", None) or "application/octet-stream"
            path = saver.save(block.blob, mime)
            output.print(f"[{block.uri}: {mime}, {plural(path.stat().st_size, 'byte')}] saved to {path}")
        else:
            output.print(f"[{kind or type(block).__name__}]")


class _Saver:
    """Writes base64 payloads to numbered files, creating the directory on first use."""

    def __init__(self, directory: Path | None, stem: str) -> None:
        self._directory = directory
        self._stem = stem
        self._count = 0

    def save(self, data: str, mime: str | None) -> Path:
        import base64  # with tempfile, ~2.5 ms that only a call saving a file needs
        import tempfile

        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="patchbay-"))
        self._directory.mkdir(parents=True, exist_ok=True)
        self._count += 1
        extension = mimetypes.guess_extension(mime or "") or ".bin"
        path = self._directory / f"{self._stem}-{self._count}{extension}"
        try:
            payload = base64.b64decode(data, validate=False)
        except ValueError:
            payload = data.encode()
        path.write_bytes(payload)
        return path.resolve()


def _stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.")[:40] or "content"


def _repeats_text(structured: dict[str, Any], blocks: list[Any]) -> bool:
    """Whether structured content says nothing the printed text did not.

    The shapes the Python SDK produces: the text is the structured content as JSON; ``{"result":
    <the text>}`` for a ``-> str`` or ``-> int`` tool; ``{"result": [...]}`` for a ``-> list``
    tool, whose text is one block per item.
    """
    texts = [str(b.text) for b in blocks if getattr(b, "type", None) == "text"]
    if not texts:
        return False
    joined = "\n".join(texts)
    parsed = _parsed(joined)
    if structured == parsed:
        return True
    if set(structured) != {"result"}:
        return False
    result = structured["result"]
    if result in (parsed, joined):
        return True
    return isinstance(result, list) and len(result) == len(texts) and result == [_parsed(t) for t in texts]


def _parsed(text: str) -> Any:
    """The text as JSON when it is JSON, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


__all__ = ["call", "prompt", "read"]
