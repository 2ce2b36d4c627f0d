"""What a new user runs first: the README's opening example, the demo fleet and the package's metadata.

Each runs the way a user would: no ``PATCHBAY_PYTHON`` and no activated venv (the venv's ``bin`` is
not on ``PATH``, so a bare ``python3`` there is one without the SDK).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from .conftest import BIN, EXAMPLES, PY, ROOT

README = ROOT / "README.md"
PYPI_README = ROOT / "docs" / "pypi.md"


def user_env() -> dict[str, str]:
    """The environment of a shell where patchbay is installed but nothing is activated."""
    env = {k: v for k, v in os.environ.items() if k not in {"PATCHBAY_PYTHON", "VIRTUAL_ENV"}}
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if Path(p) != BIN]
    env["PATH"] = os.pathsep.join(path)
    return env


def first_python_block(text: str) -> str:
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match, "no python example"
    return match.group(1)


def test_readme_opens_with_the_two_set_up_commands() -> None:
    lines = README.read_text().splitlines()
    assert lines[2:6] == [
        "```bash",
        "make run    # sets up .venv and runs the demo fleet: connect, list, call, read, prompt",
        lines[4],
        "```",
    ]
    assert lines[4].startswith("make test ")


def test_readme_first_example_and_the_demo_run_as_written_without_patchbay_python() -> None:
    env = user_env()
    example = subprocess.Popen(
        [PY, "-c", first_python_block(README.read_text())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    demo = subprocess.Popen(
        [PY, str(EXAMPLES / "demo.py")],
        cwd="/",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = example.communicate(timeout=120)
    assert example.returncode == 0, f"{out}\n{err}"
    assert "'state': 'ready'" in out
    assert "'state': 'failed'" not in out
    assert "mcp__calculator__add -> calculator add" in out
    assert re.search(r"^5(\.0)? .* False$", out, re.M), out  # call_tool's text, structured, is_error
    demo_out, demo_err = demo.communicate(timeout=120)
    assert demo.returncode == 0, f"{demo_out}\n{demo_err}"
    assert demo_out.count("✔ ready") == 3


def test_the_command_runs_the_demo_fleet_without_patchbay_python(tmp_path: Path) -> None:
    # As after `pipx install` / `uv tool install`: the command is all the user has.
    env = {**user_env(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    env["XDG_DATA_HOME"] = str(tmp_path / "d")
    proc = subprocess.run(
        [str(BIN / "patchbay"), "-c", str(EXAMPLES / "fleet.yaml"), "--json", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('"ready"') == 3, proc.stdout


def test_install_lines_name_the_distribution_not_the_unrelated_patchbay() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["name"] == "patchbay-mcp"
    assert meta["scripts"] == {"patchbay": "patchbay.cli:main"}
    texts = {
        p: p.read_text() for p in [README, PYPI_README, *ROOT.glob("docs/*.md"), *ROOT.glob("src/**/*.py")]
    }
    texts.update({p: p.read_text() for p in EXAMPLES.glob("*.py")})
    for path, text in texts.items():
        for line in re.findall(r"(?:pipx|pip|uv tool) install [^\n`]*", text):
            if " -e " in line or line.rstrip().endswith((" .", "'.'")) or "--group" in line or "-r " in line:
                continue  # from a checkout
            assert re.search(r"install (?:--\S+ )*'?patchbay-mcp\b", line), f"{path}: {line}"
    for how in ("pipx install patchbay-mcp", "uv tool install patchbay-mcp", "pip install patchbay-mcp"):
        assert how in texts[README]
        assert how in texts[PYPI_README]


def test_pypi_description_has_only_absolute_links_and_no_make_lines() -> None:
    text = PYPI_README.read_text()
    links = re.findall(r"\]\(([^)]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    assert links
    assert all(link.startswith("https://") for link in links), links
    assert "make " not in text
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["readme"] == {"file": "docs/pypi.md", "content-type": "text/markdown"}


def test_installed_metadata_declares_what_src_imports() -> None:
    from importlib.metadata import requires

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {norm(re.split(r"[ <>=!;\[]", r, maxsplit=1)[0]) for r in requires("patchbay-mcp") or []}
    imported = set()
    stdlib = sys.stdlib_module_names
    for path in (ROOT / "src" / "patchbay").rglob("*.py"):
        for top in re.findall(r"^\s*(?:from|import) ([A-Za-z_]\w*)", path.read_text(), re.M):
            if top not in stdlib and top not in {"patchbay", "__future__"}:
                imported.add(top)
    distribution = {"ruamel": "ruamel.yaml", "mcp_types": "mcp-types", "langchain_core": "langchain-core"}
    missing = {norm(distribution.get(top, top)) for top in imported} - declared
    assert not missing, f"imported but not declared: {sorted(missing)}"
    assert "pytest" not in declared  # test tools are a dependency group, not a published extra


def test_the_built_wheel_and_sdist_ship_license_and_py_typed(tmp_path: Path) -> None:
    from .check_dist import check

    subprocess.run(
        [PY, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert check(tmp_path) == []
    wheel = next(tmp_path.glob("*.whl"))
    (wheel.parent / "broken").mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(wheel.parent / "broken" / wheel.name, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith(("py.typed", "LICENSE")):
                dst.writestr(item, src.read(item))
    (wheel.parent / "broken" / next(tmp_path.glob("*.tar.gz")).name).write_bytes(
        next(tmp_path.glob("*.tar.gz")).read_bytes()
    )
    problems = check(wheel.parent / "broken")
    assert any("py.typed is missing" in p for p in problems), problems
    assert any("LICENSE is missing" in p for p in problems), problems
