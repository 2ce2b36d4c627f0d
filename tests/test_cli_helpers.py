"""The CLI's pure helpers, in-process: exit-code mapping, argument coercion, result rendering rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbay import errors
from patchbay._redaction import mask_url
from patchbay.catalogue import is_plain_name
from patchbay.cli import importer
from patchbay.cli._exit import UsageError, error_object, exit_code_for
from patchbay.cli._fleet import parse_arguments, split_pairs
from patchbay.cli.edit import check_name
from patchbay.cli.invoke import _repeats_text
from patchbay.config import load_config


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (UsageError("bad"), 1),
        (errors.ServerNotFound("x", ["y"]), 1),
        (errors.ToolNotFound("no tool"), 1),
        (errors.ConfigError("bad", file="f.yaml", path="servers.x"), 2),
        (errors.AuthRequired("remote", "HTTP 401"), 3),
        (errors.ServerUnavailable("remote", "needs_auth"), 3),
        (errors.ServerUnavailable("x", "failed", "server is failed: boom"), 4),
        (errors.ConnectError("x", "command not found"), 4),
        (errors.ToolTimeout("x", "tool 'hang' timed out after 1s", timeout=1), 4),
        (errors.ProtocolError("x", "bad", code=-32602), 4),
        (RuntimeError("unexpected"), 4),
    ],
)
def test_exit_codes(exc: Exception, code: int) -> None:
    assert exit_code_for(exc) == code


def test_error_object_names_server_state_file_and_path() -> None:
    obj = error_object(errors.ServerUnavailable("git", "failed", "server is failed: boom"), 4)
    assert obj == {
        "error": {
            "type": "ServerUnavailable",
            "message": "git: server is failed: boom",
            "exit_code": 4,
            "server": "git",
            "state": "failed",
        }
    }
    config = error_object(
        errors.ConfigError("expected a string", file="/f.yaml", path="servers.x.command"), 2
    )
    assert config["error"]["file"] == "/f.yaml"
    assert config["error"]["path"] == "servers.x.command"


def test_arguments_are_json_coerced_unless_the_schema_says_string() -> None:
    schema = {
        "properties": {
            "zip": {"type": "string"},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "n": {"type": "integer"},
        }
    }
    args = parse_arguments(
        ["n=3", "flag=true", "ids=[1,2]", "name=Ada", "zip=01234", "empty=", "eq=a=b"],
        '{"n": 1, "x": null}',
        schema,
    )
    assert args == {
        "n": 3,
        "x": None,
        "flag": True,
        "ids": [1, 2],
        "name": "Ada",
        "zip": "01234",
        "empty": "",
        "eq": "a=b",
    }
    assert parse_arguments(["maybe=7"], None, schema) == {"maybe": 7}  # not declared only-string
    with pytest.raises(UsageError, match="expected key=value"):
        parse_arguments(["novalue"], None)
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_arguments([], "{oops")
    with pytest.raises(UsageError, match="JSON object"):
        parse_arguments([], "[1]")


def test_structured_content_is_printed_only_when_it_adds_something() -> None:
    class Text:
        type = "text"

        def __init__(self, text: str) -> None:
            self.text = text

    assert _repeats_text({"result": "hello"}, [Text("hello")])
    assert _repeats_text({"result": 42}, [Text("42")])
    assert _repeats_text({"a": 1}, [Text('{"a": 1}')])
    assert _repeats_text({"result": ["a", "b"]}, [Text("a"), Text("b")])  # one block per item: the same
    assert not _repeats_text({"temperature": 21.5, "unit": "C"}, [Text("It is 21.5 C")])
    assert not _repeats_text({"result": "x"}, [])


def test_urls_are_shown_with_secrets_masked() -> None:
    assert (  # the user name is kept since mask_url is shared with `patchbay trust`
        mask_url("https://user:pw@example.com/mcp?key=abc&x=1")
        == "https://user:***@example.com/mcp?key=***&x=***"
    )
    assert mask_url("http://127.0.0.1:8000/mcp") == "http://127.0.0.1:8000/mcp"


@pytest.mark.parametrize(
    "content",
    [
        b'{"mcpServers": {"a" {}}}',
        b'{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}',
        b'{"mcpServers": {"a": {"command": "\xff"}}}',
        b"servers:\n  a: [x\n  b: y\n",
        b"servers:\n  a: {command: x}\n  a: {command: y}\n",
    ],
)
def test_import_reports_a_broken_file_exactly_as_the_config_loader(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mcp.json"
    path.write_bytes(content)
    with pytest.raises(errors.ConfigError) as from_loader:
        load_config(path)
    with pytest.raises(errors.ConfigError) as from_import:
        importer._read(path)
    assert str(from_import.value) == str(from_loader.value)


def test_import_reads_commented_json_and_points_errors_at_the_file_as_written(tmp_path: Path) -> None:
    jsonc = tmp_path / "mcp.json"
    jsonc.write_text(
        '{\n  /* a\n     block */ "servers": {  // comment\n'
        '    "a": {"command": "x", "url": "http://h/a//b"}, /* "not": "a key" */\n  }\n}\n'
    )
    assert importer._read(jsonc) == {"servers": {"a": {"command": "x", "url": "http://h/a//b"}}}
    jsonc.write_text(jsonc.read_text().replace('"x", ', '"x" '))  # a missing comma on line 4
    with pytest.raises(errors.ConfigError, match="line 4, column 26"):
        importer._read(jsonc)
    yaml = tmp_path / "mcp.yaml"  # in YAML `//` is text: an unquoted URL stays whole
    yaml.write_text("servers:\n  r:\n    url: https://example.com/mcp  # a comment\n")
    assert importer._read(yaml) == {"servers": {"r": {"url": "https://example.com/mcp"}}}


def test_import_of_a_too_deep_commented_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    jsonc = tmp_path / "settings.json"
    jsonc.write_text('// JSONC\n{"mcp": {"servers": {}}, "x": ' + "[" * 70 + "]" * 70 + "}\n")
    with pytest.raises(errors.ConfigError, match="nested more than 64 levels deep") as caught:
        importer._read(jsonc)
    assert caught.value.file == str(jsonc)


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("git", True),
        ("my-server_2", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("my server", False),
        ("a.b", False),
        ("ü", False),
        ("a\n", False),
        ("a/b", False),
    ],
)
def test_one_server_name_rule_for_add_and_import(name: str, plain: bool) -> None:
    assert is_plain_name(name) is plain
    if plain:
        check_name(name)
    else:
        with pytest.raises(UsageError, match="invalid server name"):
            check_name(name)


def test_prompt_arguments_are_split_once_and_kept_as_text() -> None:
    pairs = ["name=Ada", "zip=01234", "n=3", "eq=a=b", "empty="]
    assert dict(split_pairs(pairs)) == {"name": "Ada", "zip": "01234", "n": "3", "eq": "a=b", "empty": ""}
    for bad in ("novalue", "=x"):
        with pytest.raises(UsageError, match="expected key=value"):
            split_pairs(["ok=1", bad])


def test_stderr_reason_finds_the_line_that_says_what_happened() -> None:
    import subprocess
    import sys

    from patchbay.connection import stderr_reason

    group = "import anyio\nasync def f(): raise ValueError('inner boom')\nasync def main():\n"
    group += "    async with anyio.create_task_group() as tg: tg.start_soon(f)\nanyio.run(main)\n"
    chained = "try:\n    1/0\nexcept Exception as e:\n    raise KeyError('x') from e\n"
    for code, reason in ((group, "ValueError: inner boom"), (chained, "KeyError: 'x'")):
        err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stderr
        assert stderr_reason(err) == reason
    node = "node:internal\n  throw err;\n  ^\n\nError: Cannot find module 'x'\n"
    node += "    at Module._resolve (node:1)\n\nNode.js v22.3.0\n"
    assert stderr_reason(node) == "Error: Cannot find module 'x'"
    assert stderr_reason("fatal: no key\n\n") == "fatal: no key"
