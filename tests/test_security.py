"""Safe by default, through the real ``patchbay`` command.

* A cloned repository's ``.patchbay/mcp.yaml`` cannot start a program until the user trusts it,
  and a changed entry is untrusted again (the marker file proves what ran).
* No CLI command prints an env or header value, or a URL's key, in human or ``--json`` output or
  in an error; edits keep ``${VAR}`` references as written, never the expanded secret.

The commands run as subprocesses with private user dirs (XDG_*) and a throwaway project directory.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patchbay import MCPManager

from .conftest import BIN, PY, SERVERS

ECHO = str(SERVERS / "raw_echo.py")  # SDK-free: starts in ~20 ms
PATCHBAY = str(BIN / "patchbay")

# Values that must never be printed. Each is reachable only through the config.
SECRETS = {
    "PB_TEST_SECRET": "sv-env-9f3k2xq",
    "PB_TEST_TOKEN": "tok-hdr-5m2p8w",
    "PB_TEST_QUERY": "qry-key-4h7d1z",
}
LITERAL = "lit-env-77xqz3"
NEVER_SHOWN = (*SECRETS.values(), LITERAL)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Sandbox:
    root: Path
    project: Path
    env: dict[str, str]

    @property
    def project_file(self) -> Path:
        return self.project / ".patchbay" / "mcp.yaml"

    def write(self, text: str) -> None:
        self.project_file.parent.mkdir(parents=True, exist_ok=True)
        self.project_file.write_text(text)

    def run(self, *args: str, stdin: str | None = None) -> Result:
        """``patchbay ARGS`` in this process (fast): the same ``run()`` the console script calls."""
        from click.testing import CliRunner

        from patchbay.cli.app import run

        with CliRunner().isolation(input=stdin or "") as (out, err, _):
            code = run(list(args))
            sys.stdout.flush()  # as process exit would
            sys.stderr.flush()
        return Result(code, out.getvalue().decode(), err.getvalue().decode())

    def spawn(self, *args: str) -> Result:
        """``patchbay ARGS`` as a real subprocess of the installed console script."""
        proc = subprocess.run(
            [PATCHBAY, *args],
            check=False,
            cwd=self.project,
            env=self.env,
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHBAY_")}
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        NO_COLOR="1",
        COLUMNS="200",
        **SECRETS,
    )
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", *SECRETS):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("PATCHBAY_CONFIG", raising=False)
    monkeypatch.delenv("PATCHBAY_TRUST_PROJECT", raising=False)
    project = tmp_path / "cloned-repo"
    project.mkdir()
    monkeypatch.chdir(project)
    # The CLI configures these loggers and the warning printer for its process; undo that after.
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    for name in ("patchbay", "mcp", "httpx2", "httpx", "uvicorn"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
        monkeypatch.setattr(logger, "propagate", logger.propagate)
        monkeypatch.setattr(logger, "level", logger.level)
    return Sandbox(tmp_path, project, env)


def marker_entry(marker: Path) -> str:
    """YAML for a real echo server that first creates ``marker``."""
    script = f'touch "{marker}" && exec "{PY}" "{ECHO}"'
    return f"    command: sh\n    args: [-c, {json.dumps(script)}]\n"


# ------------------------------------------------------------------------------- end to end


def test_a_cloned_project_cannot_start_a_program_until_trusted(sandbox: Sandbox) -> None:
    first, second = sandbox.root / "started-first", sandbox.root / "started-second"
    sandbox.write(f"servers:\n  proj:\n{marker_entry(first)}")

    listed = sandbox.spawn("list", "--json")
    assert listed.code == 0, listed.err
    [row] = listed.json()["servers"]
    assert row["state"] == "untrusted"
    assert "patchbay trust proj" in row["error"]
    human = sandbox.run("list")
    assert "untrusted" in human.out
    assert "patchbay trust proj" in human.out
    # No other command starts it either.
    codes = {
        " ".join(args): sandbox.run(*args).code
        for args in (
            ["get", "proj"],
            ["tools"],
            ["prompts"],
            ["doctor"],
            ["call", "mcp__proj__echo", "text=x"],
        )
    }
    assert codes == {"get proj": 0, "tools": 0, "prompts": 0, "doctor": 4, "call mcp__proj__echo text=x": 4}
    assert not first.exists()

    async def library_state() -> str:
        async with MCPManager.from_config() as manager:
            return str(manager.status()["proj"]["state"])

    import anyio

    assert anyio.run(library_state) == "untrusted"
    assert not first.exists()

    trusted = sandbox.spawn("trust", "--yes")
    assert trusted.code == 0, trusted.err
    assert "sh" in trusted.out
    assert str(first) in trusted.out, "trust shows the exact command line before approving"
    assert not first.exists(), "approving does not start anything by itself"

    listed = sandbox.spawn("list", "--json")
    assert [r["state"] for r in listed.json()["servers"]] == ["ready"]
    assert first.exists()
    first.unlink()
    assert anyio.run(library_state) == "ready"
    assert first.exists()

    # A different command is a different entry: untrusted again, for the CLI and the library.
    sandbox.write(f"servers:\n  proj:\n{marker_entry(second)}")
    listed = sandbox.run("list", "--json")
    [row] = listed.json()["servers"]
    assert row["state"] == "untrusted"
    assert "changed since it was approved" in row["error"]
    assert anyio.run(library_state) == "untrusted"
    assert not second.exists()


def test_trust_asks_and_only_yes_approves(sandbox: Sandbox) -> None:
    marker = sandbox.root / "started"
    sandbox.write(f"servers:\n  proj:\n{marker_entry(marker)}")

    for answer in ("", "n\n", "whatever\nn\n"):
        declined = sandbox.run("trust", stdin=answer)
        assert declined.code == 0, declined.err
        assert "Trust proj?" in declined.err
        assert "stays untrusted" in declined.err
        assert sandbox.run("list", "--json").json()["servers"][0]["state"] == "untrusted"

    accepted = sandbox.run("trust", "proj", stdin="y\n")
    assert accepted.code == 0, accepted.err
    assert "trusted proj" in accepted.out
    again = sandbox.run("trust", "proj")
    assert "already trusted" in again.err
    assert sandbox.run("trust").err.strip() == "no untrusted project servers here"

    untrusted = sandbox.run("untrust", "proj")
    assert untrusted.code == 0
    assert "no longer trusted" in untrusted.out
    assert sandbox.run("list", "--json").json()["servers"][0]["state"] == "untrusted"
    assert "was not trusted" in sandbox.run("untrust", "proj").err
    assert not marker.exists()


def test_a_server_the_user_adds_to_the_project_file_is_trusted(sandbox: Sandbox) -> None:
    added = sandbox.run("add", "mine", "--", PY, ECHO)
    assert added.code == 0, added.err
    assert "trusted mine" in added.err
    assert sandbox.run("list", "--json").json()["servers"][0]["state"] == "ready"
    # Editing it by hand afterwards is a change like any other.
    sandbox.write(sandbox.project_file.read_text().replace(ECHO, f"{ECHO} --tag edited"))
    assert sandbox.run("list", "--json").json()["servers"][0]["state"] == "untrusted"


def test_login_refuses_an_untrusted_project_server(sandbox: Sandbox) -> None:
    """`login` would send the entry's headers to its URL: not before the server is approved."""
    sandbox.write(
        "servers:\n  remote:\n    url: http://127.0.0.1:9/mcp\n    auth: oauth\n"
        "    headers: {Authorization: 'Bearer ${PB_TEST_TOKEN}'}\n"
    )
    refused = sandbox.run("login", "remote", "--no-browser", "--timeout", "1")
    assert refused.code == 4
    assert "untrusted" in refused.err
    assert "patchbay trust remote" in refused.err
    assert "Open this URL" not in refused.both


def test_trust_and_untrust_name_errors(sandbox: Sandbox) -> None:
    user_file = sandbox.root / "config" / "patchbay" / "mcp.yaml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(f"servers:\n  mine:\n    command: {PY}\n    args: [{ECHO}]\n")
    sandbox.write("servers:\n  proj:\n    command: 'true'\n")

    unknown = sandbox.run("trust", "nope")
    assert unknown.code == 1
    assert "no server named 'nope'" in unknown.err
    assert sandbox.run("untrust", "nope").code == 1

    user_level = sandbox.run("trust", "mine")
    assert user_level.code == 0
    assert "always trusted" in user_level.err
    refused = sandbox.run("untrust", "mine")
    assert refused.code == 1
    assert "only project-file servers need approval" in refused.err

    # An approval outlives its entry's removal from the file and can still be withdrawn.
    assert sandbox.run("trust", "--yes").code == 0
    sandbox.write("servers: {}\n")
    assert "no longer trusted" in sandbox.run("untrust", "proj").out


def test_trust_json_reports_and_a_broken_store_is_a_config_error(sandbox: Sandbox) -> None:
    sandbox.write(
        "servers:\n  proj:\n    command: node\n    args: [server.js]\n"
        f"    env: {{API_KEY: '${{PB_TEST_SECRET}}', OTHER: {LITERAL}}}\n"
    )
    result = sandbox.run("trust", "--yes", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert [t["name"] for t in report["trusted"]] == ["proj"]
    assert report["trusted"][0]["env"] == "API_KEY (from $PB_TEST_SECRET), OTHER"
    assert "would run" in result.err, "the review goes to stderr so stdout stays one JSON document"
    for secret in NEVER_SHOWN:
        assert secret not in result.both

    store = sandbox.root / "data" / "patchbay" / "trust.json"
    store.write_text("[broken")
    failed = sandbox.run("untrust", "proj")
    assert failed.code == 2
    assert "trust.json" in failed.err
    assert "not valid JSON" in failed.err
    assert store.read_text() == "[broken"


# ------------------------------------------------------------------ secrets, across every command

# Every CLI command, with invocations that exercise its human and JSON output and its error path.
# A new command fails `test_every_command_is_swept` until it is added here.
SWEEP: dict[str, list[list[str]]] = {
    "list": [["list"], ["-v", "list", "--json"]],
    "get": [["get", "remote", "--json"], ["get", "broken"]],
    "tools": [["tools", "--json", "--schema"]],
    "resources": [["resources", "--json"]],
    "templates": [["templates"]],
    "prompts": [["prompts"]],
    "call": [["call", "mcp__echo__echo", "text=hi"], ["--json", "call", "mcp__broken__echo", "text=hi"]],
    "read": [["read", "echo://static", "--server", "remote"]],
    "prompt": [["prompt", "mcp__remote__greet", "name=x", "--json"]],
    "doctor": [["--json", "doctor"]],
    "add": [
        ["add", "added", "-e", "KEY=${PB_TEST_SECRET}", "--", "node", "x.js", "--token", "${PB_TEST_TOKEN}"],
        [
            "add",
            "added-url",
            "--url",
            "https://example.com/mcp?k=${PB_TEST_QUERY}",
            "-H",
            "X-Key: ${PB_TEST_TOKEN}",
        ],
    ],
    "add-json": [["add-json", "added-json", '{"command": "x", "env": {"K": "${PB_TEST_SECRET}"}}']],
    "disable": [["disable", "echo"]],
    "enable": [["enable", "echo"]],
    "remove": [["remove", "added-json"]],
    "import": [["import", "--help"]],
    "trust": [["trust", "--json", "--yes"]],
    "untrust": [["untrust", "added"]],
    "login": [["login", "echo", "--no-browser"], ["--json", "login", "remote", "--no-browser"]],
    "logout": [["logout", "remote"]],
    # In-process runs cannot lend stdin/stdout to a stdio gateway: its refusals (tests/test_serve.py serves).
    "serve": [["serve", "--http", "0.0.0.0:1"], ["serve", "--prefix", "bogus"]],
}
"""Every CLI command, with invocations covering human and JSON output and an error path.

A new command fails ``test_every_command_is_swept`` until it is added here. The stdio server is
the SDK-free ``raw_echo.py`` (starts in ~20 ms) so the sweep costs little more than the CLI itself.
"""


def test_every_command_is_swept() -> None:
    from patchbay.cli.app import app

    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    missing = commands - set(SWEEP)
    assert not missing, f"add these commands to SWEEP in tests/test_security.py: {sorted(missing)}"


def fleet_file(port: int) -> str:
    """echo (env from a reference and a literal), remote (key in the URL, token in a header), broken
    (prints its secret env to stderr and exits: the error carries the stderr tail)."""
    leak = 'echo "the key is $API_KEY and $LITERAL_KEY" >&2; exit 3'
    return (
        "servers:\n"
        "  echo:\n"
        f"    command: {PY}\n"
        f"    args: [{SERVERS / 'raw_echo.py'}]\n"
        f"    env: {{API_KEY: '${{PB_TEST_SECRET}}', LITERAL_KEY: {LITERAL}}}\n"
        "  remote:\n"
        f"    url: 'http://127.0.0.1:{port}/mcp?key=${{PB_TEST_QUERY}}'\n"
        "    headers: {Authorization: 'Bearer ${PB_TEST_TOKEN}'}\n"
        "  broken:\n"
        "    command: sh\n"
        f"    args: [-c, {json.dumps(leak)}]\n"
        f"    env: {{API_KEY: '${{PB_TEST_SECRET}}', LITERAL_KEY: {LITERAL}}}\n"
    )


def test_no_command_prints_a_secret_or_writes_one_back(sandbox: Sandbox, http_server: Any) -> None:
    server = http_server("echo.py", "http")
    sandbox.write(fleet_file(server.port))
    assert sandbox.run("trust", "--yes").code == 0

    seen: dict[str, str] = {}
    for invocations in SWEEP.values():
        for args in invocations:
            result = sandbox.run(*args)
            label = " ".join(args)
            seen[label] = result.both
            for secret in NEVER_SHOWN:
                assert secret not in result.both, f"`patchbay {label}` printed a secret value"
            text = sandbox.project_file.read_text()
            for secret in NEVER_SHOWN[:-1]:
                assert secret not in text, f"`patchbay {label}` wrote an expanded secret to the file"
            assert text.count("${PB_TEST_SECRET}") >= 2, f"`patchbay {label}` lost a ${{VAR}} reference"
            assert "${PB_TEST_TOKEN}" in text
            assert "${PB_TEST_QUERY}" in text

    # The sweep did reach the servers and the error paths (or it would prove nothing).
    assert '"state": "ready"' in seen["-v list --json"]
    assert "[broken] the key is *** and ***" in seen["-v list --json"], "server stderr is logged, redacted"
    assert "the key is *** and ***" in seen["get broken"]
    assert "hi" in seen["call mcp__echo__echo text=hi"]
    assert "Authorization" in seen["get remote --json"]
    assert "static echo resource" in seen["read echo://static --server remote"]

    from ruamel.yaml import YAML

    servers = YAML(typ="safe").load(sandbox.project_file)["servers"]
    assert servers["added"] == {
        "command": "node",
        "args": ["x.js", "--token", "${PB_TEST_TOKEN}"],
        "env": {"KEY": "${PB_TEST_SECRET}"},
    }
    assert servers["added-url"]["url"] == "https://example.com/mcp?k=${PB_TEST_QUERY}"
    assert servers["added-url"]["headers"] == {"X-Key": "${PB_TEST_TOKEN}"}
    assert servers["echo"]["env"] == {"API_KEY": "${PB_TEST_SECRET}", "LITERAL_KEY": LITERAL}
    assert "added-json" not in servers


# ------------------------------------------------------------------- the library's errors and logs


@pytest.mark.anyio
async def test_server_stderr_in_logs_and_errors_is_redacted(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The server prints the key from its env and the token from its arguments; neither gets out."""
    leak = 'echo "the key is $API_KEY, the token $1" >&2; exit 3'
    entry = {
        "command": "sh",
        "args": ["-c", leak, "sh", "${PB_TEST_TOKEN}"],
        "env": {"API_KEY": "${PB_TEST_SECRET}"},
    }
    caplog.set_level(logging.DEBUG, logger="patchbay")
    async with MCPManager({"servers": {"leaky": entry}}) as manager:
        status = manager.status()["leaky"]
    assert status["state"] == "failed"
    assert "the key is ***, the token ***" in status["error"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "the key is ***, the token ***" in logged, "the stderr line is logged, redacted"
    assert SECRETS["PB_TEST_SECRET"] not in logged + json.dumps(status)
    assert SECRETS["PB_TEST_TOKEN"] not in logged + json.dumps(status)


@pytest.mark.anyio
async def test_a_key_in_the_url_stays_out_of_errors(sandbox: Sandbox, http_server: Any) -> None:
    """An SSE endpoint that answers 404 used to be reported with the full URL, key included."""
    server = http_server("echo.py", "http")
    config = {
        "servers": {
            "sse": {"url": f"http://127.0.0.1:{server.port}/missing/sse?key=${{PB_TEST_QUERY}}"},
            "auth": {"url": f"http://user:${{PB_TEST_TOKEN}}@127.0.0.1:{server.port}/missing/sse"},
        }
    }
    async with MCPManager(config) as manager:
        statuses = manager.status()
    for status in statuses.values():
        assert status["state"] == "failed"
        assert "404" in status["error"]
    shown = json.dumps(statuses)
    assert "key=***" in shown
    assert SECRETS["PB_TEST_QUERY"] not in shown
    assert SECRETS["PB_TEST_TOKEN"] not in shown


@pytest.mark.anyio
async def test_a_url_that_cannot_be_parsed_fails_only_its_server(sandbox: Sandbox) -> None:
    """A broken URL once crashed the manager: the secrets to mask were read from it unexpanded."""
    config = {
        "servers": {
            "broken": {"url": "http://[${PB_TEST_UNSET_HOST}/mcp"},
            "fine": {"command": PY, "args": [ECHO]},
        }
    }
    async with MCPManager(config) as manager:
        statuses = manager.status()
        assert (await manager.call_tool("mcp__fine__echo", {"text": "up"})).text == "up"
    assert statuses["broken"]["state"] == "failed"
    assert "PB_TEST_UNSET_HOST" in statuses["broken"]["error"]
    assert statuses["fine"]["state"] == "ready"
