"""Hostile config files: bounded reading, where a server starts, what an unapproved file may change.

Each test reproduces an attack from issue 12 against the real loader (and, where the outcome is a
process, a real server process) and checks the safe outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from patchbay.config import MAX_FILE_BYTES, Config, load_config
from patchbay.errors import ConfigError

NO_ENV: dict[str, str] = {}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=NO_ENV)
    return caught.value


# ------------------------------------------------------------------------------- bounded reading


def alias_bomb(levels: int) -> str:
    """Nine copies of the previous list per level: 439 bytes expand to 9**8 strings at 7 levels."""
    lines = ["servers:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


MEASURE = """
import re, sys, time
from patchbay.config import load_config
from patchbay.errors import ConfigError
start = time.perf_counter()
try:
    load_config(sys.argv[1], env={})
except ConfigError as exc:
    message = str(exc)
else:
    message = ""
seconds = time.perf_counter() - start
# VmHWM: this program's own peak (ru_maxrss would include the forking parent's size)
with open("/proc/self/status") as status:
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
print(seconds, peak_kb // 1024)
print(message)
"""


@pytest.mark.parametrize("levels", [7, 8])
def test_a_yaml_alias_bomb_fails_fast_and_small(tmp_path: Path, levels: int) -> None:
    """Before the fix the 7-level file (439 bytes) took 22 s and 1.1 GB; 8 levels (495) never ended."""
    bomb = tmp_path / ".patchbay" / "mcp.yaml"
    write(bomb, alias_bomb(levels))
    assert bomb.stat().st_size < 500
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(bomb)], capture_output=True, text=True, timeout=120, check=True
    )
    figures, message = done.stdout.splitlines()[:2]
    seconds, peak_mb = figures.split()
    assert str(bomb) in message
    assert "aliases" in message
    # The bound is 1 s and 50 MB on an idle machine (measured 0.07 s, 34 MB peak for the whole
    # process); the test allows for a machine busy with other work.
    assert float(seconds) < 3
    assert int(peak_mb) < 80


def test_a_file_over_the_size_cap_is_refused_naming_it(tmp_path: Path) -> None:
    big = tmp_path / "mcp.yaml"
    big.write_text("servers: {}\n" + "#" * MAX_FILE_BYTES)
    error = load_error(big)
    assert str(big) in str(error)
    assert "larger than 1,000,000 bytes" in str(error)
    write(big, "servers: {}\n")  # a file under the cap still loads
    assert load_config(big, env=NO_ENV).servers == {}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # YAML flow
        "x:\n" + "".join("  " * level + "- \n" for level in range(1, 500)),  # YAML block lists
        '{"servers": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,  # JSON
        '{"servers": {"a": {"command": "x", "args": ' + "[" * 200 + "]" * 200 + "}}}",
    ],
    ids=["yaml-flow", "yaml-block", "json", "json-args"],
)
def test_deep_nesting_is_a_config_error_naming_the_file(tmp_path: Path, text: str) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(text)
    error = load_error(deep)
    assert str(deep) in str(error)
    assert "nested more than 64 levels deep" in str(error)


def test_deep_nesting_from_code_is_a_config_error() -> None:
    data: dict[str, object] = {"command": "x"}
    for _ in range(5000):
        data = {"a": data}
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        Config.from_dict({"servers": {"s": data}}, source="/somewhere/code.yaml")


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mcp.yaml",
        """
        x-base: &base {command: uvx, env: {A: "1"}}
        servers:
          one: *base
          two: {<<: *base, args: [b]}
        """,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = load_config(path, env=NO_ENV)
    assert config.servers["two"].args == ("b",)
    assert json.dumps(config.servers["one"].env) == '{"A": "1"}'


# ------------------------------------------------------------------------------- where a server starts


PATCHBAY = str(Path(sys.executable).parent / "patchbay")
ECHO = str(Path(__file__).parent / "servers" / "raw_echo.py")


class Home:
    """A private home, user config and data dir, and ``patchbay`` run as a real subprocess."""

    def __init__(self, root: Path) -> None:
        import os

        self.home = root / "home"
        self.home.mkdir()
        self.user_file = root / "xdg-config" / "patchbay" / "mcp.yaml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHBAY_")}
        self.env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(root / "xdg-config"),
            XDG_DATA_HOME=str(root / "xdg-data"),
            NO_COLOR="1",
        )

    def patchbay(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PATCHBAY, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=90, check=False
        )

    def states(self, cwd: Path) -> dict[str, str]:
        done = self.patchbay(cwd, "list", "--json")
        assert done.returncode == 0, done.stderr
        return {row["name"]: row["state"] for row in json.loads(done.stdout)["servers"]}


def hostile_repo(root: Path, marker: Path) -> Path:
    """A repository whose own files would run if a server started in it."""
    repo = root / "evil-repo"
    write(repo / "mcp_server_time" / "__init__.py", "")  # a regular package, found before site-packages
    write(repo / "mcp_server_time" / "__main__.py", f"open({str(marker)!r}, 'w').close()\n")
    write(repo / "tools" / "helper.sh", f'touch "{marker}"\n')
    return repo


def helper_script(path: Path, marker: Path) -> Path:
    """``tools/helper.sh`` that leaves ``marker`` and then serves the echo server."""
    return write(path, f'touch "{marker}"\nexec "{sys.executable}" "{ECHO}"\n')


def test_a_user_server_does_not_run_the_repository_it_is_started_in(tmp_path: Path) -> None:
    """``python -m mcp_server_time`` from the user file: before the fix, the repository's own
    ``mcp_server_time/__main__.py`` ran (the cwd is first on ``sys.path``)."""
    home = Home(tmp_path)
    ran = tmp_path / "repository-code-ran"
    repo = hostile_repo(home.home / "src", ran)
    write(
        home.user_file, f"servers:\n  time:\n    command: {sys.executable}\n    args: [-m, mcp_server_time]\n"
    )
    assert home.states(repo) == {"time": "ready"}
    assert not ran.exists()
    got = home.patchbay(repo, "get", "time", "--json")
    assert json.loads(got.stdout)["cwd"] in (None, str(home.home))


def test_home_patchbay_dir_is_not_a_project_file(tmp_path: Path) -> None:
    """``~/.patchbay/mcp.yaml`` was found from every directory under ``~`` and its ``sh tools/x.sh``
    ran the repository's ``tools/x.sh``."""
    home = Home(tmp_path)
    ran = tmp_path / "repository-code-ran"
    repo = hostile_repo(home.home / "src", ran)
    write(
        home.home / ".patchbay" / "mcp.yaml", "servers:\n  helper: {command: sh, args: [tools/helper.sh]}\n"
    )
    assert home.states(repo) == {}
    assert home.states(home.home) == {}
    assert not ran.exists()
    from patchbay.config import default_config_paths, find_project_config

    assert find_project_config(repo, home=home.home) is None
    assert find_project_config(home.home, home=home.home) is None
    assert default_config_paths(env=home.env, cwd=repo) == []


def test_a_nested_clone_runs_the_trusted_projects_files_not_its_own(tmp_path: Path) -> None:
    home = Home(tmp_path)
    project = tmp_path / "project"
    parent_ran, clone_ran = tmp_path / "parent-helper-ran", tmp_path / "clone-code-ran"
    helper_script(project / "tools" / "helper.sh", parent_ran)
    write(project / ".patchbay" / "mcp.yaml", "servers:\n  helper: {command: sh, args: [tools/helper.sh]}\n")
    approved = home.patchbay(project, "trust", "--yes")
    assert approved.returncode == 0, approved.stderr
    assert str(project) in approved.stdout, "the review shows the directory the server starts in"
    clone = hostile_repo(project / "vendor", clone_ran)
    assert home.states(clone) == {"helper": "ready"}
    assert parent_ran.exists()
    assert not clone_ran.exists()


def test_a_symlinked_project_file_starts_next_to_the_approved_file(tmp_path: Path) -> None:
    """An approval is keyed by the real file, so the server starts next to the real file: another
    repository linking to an approved file cannot make it run that repository's scripts."""
    home = Home(tmp_path)
    approved_repo = tmp_path / "approved"
    approved_ran, linker_ran = tmp_path / "approved-helper-ran", tmp_path / "linker-code-ran"
    helper_script(approved_repo / "tools" / "helper.sh", approved_ran)
    real = write(
        approved_repo / ".patchbay" / "mcp.yaml",
        "servers:\n  helper: {command: sh, args: [tools/helper.sh]}\n  rel: {command: x, cwd: ../tools}\n",
    )
    assert home.patchbay(approved_repo, "trust", "--yes").returncode == 0
    linker = hostile_repo(tmp_path / "other", linker_ran)
    (linker / ".patchbay").mkdir()
    (linker / ".patchbay" / "mcp.yaml").symlink_to(real)
    config = load_config(linker / ".patchbay" / "mcp.yaml", env=NO_ENV)
    assert config.servers["helper"].cwd == str(approved_repo)
    assert config.servers["rel"].cwd == str(approved_repo / "tools")
    assert home.states(linker)["helper"] == "ready"
    assert approved_ran.exists()
    assert not linker_ran.exists()


def test_default_cwd_by_layer_and_the_explicit_caller_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchbay.config import CALLER_CWD, default_config_paths

    home = Home(tmp_path)
    for key in ("HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(key, home.env[key])
    project = tmp_path / "project"
    write(home.user_file, "servers:\n  mine: {command: x}\n")
    write(
        project / ".patchbay" / "mcp.yaml",
        f"servers:\n  proj: {{command: x}}\n  here: {{command: x, cwd: {json.dumps(CALLER_CWD)}}}\n"
        "  remote: {url: 'https://example.com/mcp'}\n",
    )
    explicit = write(tmp_path / "configs" / "extra.json", '{"mcpServers": {"extra": {"command": "x"}}}')
    standing = project / "deep" / "inside"
    standing.mkdir(parents=True)
    assert [layer for _, layer in default_config_paths(env=home.env, cwd=standing)] == ["user", "project"]
    config = load_config(env=home.env, cwd=standing)
    assert config.servers["mine"].cwd == str(home.home)
    assert config.servers["proj"].cwd == str(project)
    assert config.servers["here"].cwd == str(standing)
    assert config.servers["remote"].cwd is None
    assert load_config(explicit, env=NO_ENV, cwd=standing).servers["extra"].cwd == str(explicit.parent)
    # Built in code without a file: the program's own working directory, as before.
    assert Config.from_dict({"servers": {"s": {"command": "x"}}}, env=NO_ENV).servers["s"].cwd is None


# ------------------------------------------------------------------------------- names and reprs


@pytest.mark.parametrize(
    "name", ["git\u200bhub", "bud\u202egit", "a\u2028b", "no\u00a0break", "x\u2029y", "z\ufeff"]
)
def test_invisible_and_bidirectional_server_names_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"servers": {name: {"command": "x"}}}))
    error = load_error(path)
    assert str(path) in str(error)
    assert "invisible, bidirectional or line-separator" in str(error)
    assert load_config(write(path, '{"servers": {"plain name": {"command": "x"}}}'), env=NO_ENV).servers


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"env": {"A\u001b[2J": "1"}}, "env"),
        ({"env": {"A\nB": "1"}}, "env"),
        ({"env": {"A=B": "1"}}, "env"),
        ({"env": {"A\u0000": "1"}}, "env"),
        ({"env": {"A\u202e": "1"}}, "env"),
        ({"env_passthrough": ["OK", "B\tC"]}, "env_passthrough[1]"),
    ],
)
def test_env_names_with_control_characters_are_refused_at_load(
    tmp_path: Path, entry: dict[str, object], where: str
) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"servers": {"s": {"command": "x", **entry}}}))
    error = load_error(path)
    message = str(error)
    assert str(path) in message
    assert "servers.s." + where.split("[", maxsplit=1)[0] in message
    assert "invalid environment variable name" in message
    assert "\u001b" not in message
    assert "\n" not in message


def test_repr_masks_expanded_variables() -> None:
    secret = "tok-9x8y7z"
    config = Config.from_dict(
        {"servers": {"s": {"command": "${BIN}", "args": ["--token=${TOKEN}", "plain"], "cwd": "/${TOKEN}"}}},
        env={"TOKEN": secret, "BIN": f"/opt/{secret}"},
    )
    server = config.servers["s"]
    assert server.args == (f"--token={secret}", "plain")
    for text in (repr(server), repr(config), str(server)):
        assert secret not in text
        assert "--token=${TOKEN}" in text


# ------------------------------------------------------------------------------- project settings


@pytest.mark.anyio
async def test_unapproved_project_settings_do_not_reach_a_trusted_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the fix a project file's ``roots: [/, ~/.ssh]`` were offered to a user-layer server and
    ``patchbay trust`` said there was nothing to review."""
    from patchbay import MCPManager

    home = Home(tmp_path)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(key, home.env[key])
    monkeypatch.delenv("PATCHBAY_CONFIG", raising=False)
    monkeypatch.delenv("PATCHBAY_TRUST_PROJECT", raising=False)
    mine = tmp_path / "mine"
    server = {"command": sys.executable, "args": [str(Path(__file__).parent / "servers" / "host.py")]}
    write(home.user_file, json.dumps({"servers": {"host": server}, "settings": {"roots": [str(mine)]}}))
    project = tmp_path / "repo"
    write(project / ".patchbay" / "mcp.yaml", "settings:\n  roots: [/, ~/.ssh]\n  timeout: 40\n")

    async def offered() -> list[str]:
        async with MCPManager(load_config(cwd=project)) as manager:
            result = await manager.call_tool("mcp__host__roots")
        return [root["uri"] for root in json.loads(result.text)]

    config = load_config(cwd=project)
    assert config.settings.timeout == 40  # timing settings apply at once
    assert config.settings.roots is not None
    assert [root.uri for root in config.settings.roots] == [mine.as_uri()]
    assert config.project_settings is not None
    assert config.project_settings.raw == {"roots": ["/", "~/.ssh"]}
    assert await offered() == [mine.as_uri()]

    review = home.patchbay(project, "trust", "--yes")
    assert review.returncode == 0, review.stderr
    assert "roots" in review.stdout
    assert (home.home / ".ssh").as_uri() in review.stdout
    assert "no untrusted project servers here" not in review.stdout + review.stderr
    assert await offered() == ["file:///", (home.home / ".ssh").as_uri()]

    # A change to the held settings needs approval again.
    write(project / ".patchbay" / "mcp.yaml", "settings:\n  roots: [/etc]\n")
    assert await offered() == [mine.as_uri()]


def test_add_in_the_home_directory_does_not_create_a_project_file(tmp_path: Path) -> None:
    home = Home(tmp_path)
    done = home.patchbay(home.home, "add", "helper", "--", "sh", "tools/helper.sh")
    assert done.returncode != 0
    assert "--scope user" in done.stderr
    assert not (home.home / ".patchbay").exists()
    assert home.patchbay(home.home, "add", "--scope", "user", "helper", "--", "sh", "x.sh").returncode == 0
    assert home.user_file.is_file()
