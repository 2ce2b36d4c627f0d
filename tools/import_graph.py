"""Check the house rules of ``src/patchbay``: imports run one way, and no room grows too big.

Run it with the project's python (standard library only)::

    .venv/bin/python tools/import_graph.py            # the offenders; exit 1 if any
    .venv/bin/python tools/import_graph.py --report   # a markdown table for a closing note

Every module is parsed with ``ast``, so an import counts wherever it is written: at the top, lazily
inside a function, or under ``if TYPE_CHECKING:``. A type-only import is still a dependency a
reader must follow, and a lazy one still ties two modules together. Imports by string
(``importlib.import_module``) are not seen; the package face's lazy ``_LAZY`` map mirrors its
``TYPE_CHECKING`` imports, which are.

The rules (each one fails the run):

* **cycles**: no strongly connected component of more than one module.
* **upward imports**: each module sits on a floor (``FLOORS``, lowest first) and imports only from
  its own floor or lower ones. The agent layer sits *below* the manager: it types against the
  ``_invoke.Fleet`` Protocol, and the manager's ``tool_schemas``/``execute`` facade calls down
  into it. The gateway sits below the CLI, whose ``serve`` command runs it.
* **unplaced modules**: a module no floor claims (a new module must be given a floor here).
* **private imports**: a name or module starting with ``_`` belongs to the package folder that
  holds it (``patchbay/config/`` for ``patchbay.config._read`` or ``patchbay.config._plain``);
  only modules in that folder or below it may import it.
* **core reaching out**: core (everything but ``cli/``, ``adapters/`` and ``gateway/``) never
  imports those three.
* **sizes**: no file over ``MAX_FILE_LINES`` lines, no function over ``MAX_FUNCTION_LINES``. A
  function is measured from its ``def`` line to its last line, nested functions included; a
  nested function (or a method) is also measured on its own.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_LINES = 650
MAX_FUNCTION_LINES = 80
TOP = "patchbay"
OUTER = ("patchbay.cli", "patchbay.adapters", "patchbay.gateway")
"""What core must never import: the programs and adapters built on it."""

FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "leaves",
        (
            "errors",
            "events",
            "results",
            "catalogue",
            "handlers",
            "search",
            "_version",
            "_import_clock",
            "_display",
            "_gather",
            "_watch",
        ),
    ),
    ("config", ("config",)),
    ("transports", ("transports", "_redaction")),
    ("connection", ("connection", "_sdk_errors", "_sdk_logs", "auth", "trust")),
    ("agents", ("_invoke", "formats", "adapters")),
    ("manager", ("manager", "_lookup")),
    ("gateway", ("gateway",)),
    ("cli", ("cli",)),
    ("package face", ("",)),
)
"""Floors, lowest first, as module paths under ``patchbay`` (``""`` is the package face itself).

A module belongs to the floor of its longest matching path: ``patchbay.config._read`` to
``config``, ``patchbay.adapters.langchain`` to ``agents``. Names listed here that do not exist
(yet, or any more) are harmless.
"""


# ------------------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class Import:
    """One imported thing: ``target`` is a module; ``name`` the attribute taken from it, if any."""

    source: str
    target: str
    name: str | None
    line: int

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def what(self) -> str:
        return f"{self.target}.{self.name}" if self.name else self.target


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    lines: int
    tree: ast.Module
    imports: list[Import] = field(default_factory=list)

    @property
    def folder(self) -> str:
        """The package this module's file sits in (a package's ``__init__`` sits in itself)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def load(root: Path) -> dict[str, Module]:
    """Every module under ``root`` (the ``patchbay`` package folder), with its imports resolved."""
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [TOP, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        text = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        modules[name] = Module(name, path, is_package, len(text.splitlines()), ast.parse(text, str(path)))
    for module in modules.values():
        module.imports = list(_imports(module, modules))
    return modules


def _imports(module: Module, modules: dict[str, Module]) -> Iterator[Import]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    yield Import(module.name, alias.name, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            if not _ours(base):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:  # ``from . import errors``: the module errors, not the face
                    yield Import(module.name, submodule, None, node.lineno)
                else:
                    yield Import(module.name, base, alias.name, node.lineno)


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.folder.split(".")
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _ours(name: str) -> bool:
    return name == TOP or name.startswith(f"{TOP}.")


def edges(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Module -> the modules it imports (itself left out)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module in modules.values():
        for imp in module.imports:
            if imp.target in modules and imp.target != module.name:
                graph[module.name].add(imp.target)
    return graph


# ------------------------------------------------------------------------------------- the rules


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    graph = edges(modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = _pop_component(stack, on_stack, node)
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found)


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def floor_of(name: str) -> int | None:
    """The index in ``FLOORS`` of this module's floor, by its longest matching path."""
    best: tuple[int, int] | None = None  # (length of the match, floor)
    for number, (_, paths) in enumerate(FLOORS):
        for path in paths:
            full = f"{TOP}.{path}" if path else TOP
            matches = name == full or (bool(path) and name.startswith(f"{full}."))
            if matches and (best is None or len(full) > best[0]):
                best = (len(full), number)
    return None if best is None else best[1]


def unplaced(modules: dict[str, Module]) -> list[str]:
    return [name for name in modules if floor_of(name) is None]


def upward(modules: dict[str, Module]) -> list[str]:
    """Imports from a higher floor, as ``source:line -> target (floor -> floor)``."""
    found = []
    for module in modules.values():
        mine = floor_of(module.name)
        for imp in _unique_targets(module):
            theirs = floor_of(imp.target)
            if mine is not None and theirs is not None and theirs > mine:
                found.append(f"{imp.where} imports {imp.what} ({FLOORS[mine][0]} -> {FLOORS[theirs][0]})")
    return found


def _unique_targets(module: Module) -> Iterator[Import]:
    """One import per target module (its first), so a module imported five times is one finding."""
    seen: set[str] = set()
    for imp in sorted(module.imports, key=lambda i: i.line):
        if imp.target not in seen and imp.target != module.name:
            seen.add(imp.target)
            yield imp


def _private_owner(imp: Import, modules: dict[str, Module]) -> str | None:
    """The package folder that owns the first private part of what is imported, if any."""
    parts = imp.target.split(".")
    for position, part in enumerate(parts):
        if _private(part):
            return ".".join(parts[:position])
    if imp.name is not None and _private(imp.name):
        target = modules.get(imp.target)
        return target.folder if target is not None else imp.target.rpartition(".")[0]
    return None


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def private_imports(modules: dict[str, Module]) -> list[str]:
    """Private names or modules imported from outside the package folder that holds them."""
    found = []
    for module in modules.values():
        for imp in sorted(module.imports, key=lambda i: i.line):
            owner = _private_owner(imp, modules)
            if owner is None:
                continue
            if module.folder != owner and not module.folder.startswith(f"{owner}."):
                found.append(f"{imp.where} imports {imp.what} (private to {owner.replace('.', '/')}/)")
    return found


def _outer(name: str) -> bool:
    return any(name == top or name.startswith(f"{top}.") for top in OUTER)


def core_reaching_out(modules: dict[str, Module]) -> list[str]:
    """Core modules importing ``cli/``, ``adapters/`` or ``gateway/``."""
    found: list[str] = []
    for module in modules.values():
        if _outer(module.name):
            continue
        reaching = [imp for imp in _unique_targets(module) if _outer(imp.target)]
        found.extend(f"{imp.where} imports {imp.what}" for imp in reaching)
    return found


@dataclass(frozen=True)
class Function:
    module: str
    qualname: str
    line: int
    lines: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.qualname} ({self.lines} lines)"


def functions(modules: dict[str, Module]) -> list[Function]:
    """Every function and method, nested ones too, longest first."""
    found: list[Function] = []
    for module in modules.values():
        found.extend(_functions(module.name, module.tree.body, ""))
    return sorted(found, key=lambda f: (-f.lines, f.module, f.line))


def _functions(module: str, body: Iterable[ast.stmt], prefix: str) -> Iterator[Function]:
    for node in _children(body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qualname = f"{prefix}{node.name}"
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            yield Function(module, qualname, node.lineno, length)
            yield from _functions(module, node.body, f"{qualname}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(module, node.body, f"{prefix}{node.name}.")


def _children(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """The definitions in a body, also those inside ``if``/``try``/``with``/loops (not nested defs)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield from _children([child])
            elif isinstance(child, ast.ExceptHandler | ast.match_case):
                yield from _children(child.body)


def large_files(modules: dict[str, Module]) -> list[str]:
    return [f"{_file(m)} ({m.lines} lines)" for m in _by_size(modules) if m.lines > MAX_FILE_LINES]


def long_functions(modules: dict[str, Module]) -> list[str]:
    return [str(f) for f in functions(modules) if f.lines > MAX_FUNCTION_LINES]


def _by_size(modules: dict[str, Module]) -> list[Module]:
    return sorted(modules.values(), key=lambda m: (-m.lines, m.name))


def _file(module: Module) -> str:
    parts = module.name.split(".")[1:]
    return "/".join([*parts, "__init__.py"] if module.is_package else parts) + (
        "" if module.is_package else ".py"
    )


# ------------------------------------------------------------------------------------ the output

RULES = (
    ("import cycles", lambda ms: [" <-> ".join(c) for c in cycles(ms)]),
    ("upward imports", upward),
    ("modules on no floor", unplaced),
    ("private names imported across package folders", private_imports),
    ("core importing cli/, adapters/ or gateway/", core_reaching_out),
    (f"files over {MAX_FILE_LINES} lines", large_files),
    (f"functions over {MAX_FUNCTION_LINES} lines", long_functions),
)


def findings(modules: dict[str, Module]) -> dict[str, list[str]]:
    """Each rule's offenders (an empty list: the rule holds)."""
    return {title: list(rule(modules)) for title, rule in RULES}


def plain(found: dict[str, list[str]]) -> str:
    lines = []
    for title, offenders in found.items():
        lines.append(f"{title}: {len(offenders) or 'none'}")
        lines.extend(f"  {offender}" for offender in offenders)
    return "\n".join(lines)


def report(modules: dict[str, Module], found: dict[str, list[str]], top: int = 5) -> str:
    """A markdown summary: one row per rule, then the largest files and the longest functions."""
    rows = ["| rule | count | offenders |", "|---|---|---|"]
    for title, offenders in found.items():
        shown = "<br>".join(f"`{o}`" for o in offenders[:top])
        more = f"<br>... and {len(offenders) - top} more" if len(offenders) > top else ""
        rows.append(f"| {title} | {len(offenders)} | {shown}{more} |")
    sizes = ["| largest files | lines |", "|---|---|"]
    sizes += [f"| `{_file(m)}` | {m.lines} |" for m in _by_size(modules)[:top]]
    longest = ["| longest functions | lines |", "|---|---|"]
    longest += [f"| `{f.module}:{f.line} {f.qualname}` | {f.lines} |" for f in functions(modules)[:top]]
    modules_line = f"{len(modules)} modules, {sum(m.lines for m in modules.values())} lines"
    return "\n".join([modules_line, "", *rows, "", *sizes, "", *longest])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="print a markdown table")
    default = Path(__file__).resolve().parent.parent / "src" / TOP
    parser.add_argument("--root", type=Path, default=default, help=f"the package folder (default {default})")
    args = parser.parse_args(argv)
    modules = load(args.root)
    found = findings(modules)
    print(report(modules, found) if args.report else plain(found))
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
