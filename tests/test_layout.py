"""The house rules of ``src/patchbay`` (``tools/import_graph.py``), checked on every ``make test``.

Each rule is one test, so a failure names the rule and its offenders. The second half builds a
small package that breaks each rule once, so a rule that silently stopped finding anything fails
here too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


graph = _tool()
MODULES = graph.load(ROOT / "src" / "patchbay")


@pytest.mark.parametrize("rule", [title for title, _ in graph.RULES])
def test_the_source_tree_keeps_the_rule(rule: str) -> None:
    assert graph.findings(MODULES)[rule] == []


def test_every_package_folder_and_the_core_modules_are_seen() -> None:
    """A loader that found nothing would pass every rule above."""
    for name in ("patchbay", "patchbay.manager", "patchbay.config", "patchbay.transports._stdio"):
        assert name in MODULES
    assert graph.edges(MODULES)["patchbay.manager"] >= {"patchbay.connection", "patchbay.config"}


def _write(root: Path, files: dict[str, str]) -> dict[str, object]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    found: dict[str, object] = graph.findings(graph.load(root))
    return found


def test_a_cycle_through_a_lazy_import_is_found(tmp_path: Path) -> None:
    found = _write(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "config/__init__.py": "def f():\n    from ..connection import g\n",
            "connection/__init__.py": "from ..config import f\n",
        },
    )
    assert found["import cycles"] == ["patchbay.config <-> patchbay.connection"]


def test_an_upward_import_a_private_cross_folder_import_and_an_unplaced_module_are_found(
    tmp_path: Path,
) -> None:
    found = _write(
        tmp_path,
        {
            "__init__.py": "",
            "config/__init__.py": "from ..manager import MCPManager\n",
            "manager.py": "from .transports._stdio import X\nclass MCPManager: ...\n",
            "transports/__init__.py": "",
            "transports/_stdio.py": "X = 1\n",
            "stray.py": "",
        },
    )
    upward = "patchbay.config:1 imports patchbay.manager.MCPManager (config -> manager)"
    assert found["upward imports"] == [upward]
    assert found["private names imported across package folders"] != []
    assert found["modules on no floor"] == ["patchbay.stray"]


def test_core_reaching_into_the_cli_and_oversized_code_are_found(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(graph.MAX_FUNCTION_LINES))
    found = _write(
        tmp_path,
        {
            "__init__.py": "",
            "cli/__init__.py": "",
            "manager.py": "def late():\n    import patchbay.cli\n",
            "config/__init__.py": f"def long():\n{body}\n" + "\n" * graph.MAX_FILE_LINES,
        },
    )
    assert found["core importing cli/, adapters/ or gateway/"] != []
    assert [line.split(" (")[0] for line in found[f"files over {graph.MAX_FILE_LINES} lines"]] == [
        "config/__init__.py"
    ]
    assert len(found[f"functions over {graph.MAX_FUNCTION_LINES} lines"]) == 1
