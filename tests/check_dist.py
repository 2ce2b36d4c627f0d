"""Check the built sdist and wheel (``make dist-check``): what a user installs from PyPI.

Usage: ``python tests/check_dist.py DIST_DIR``. Exits non-zero naming every problem found.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

# Must be in the wheel (under the package or its .dist-info).
WHEEL_MUST = (
    "patchbay/__init__.py",
    "patchbay/py.typed",
    "patchbay/cli/__init__.py",
    ".dist-info/licenses/LICENSE",
)
# Must be in the sdist, relative to its top folder.
SDIST_MUST = ("LICENSE", "README.md", "docs/pypi.md", "pyproject.toml", "src/patchbay/py.typed", "Makefile")
# Never shipped.
NEVER = ("node_modules/", ".venv", "__pycache__/", ".stamps/")


def check(dist: Path) -> list[str]:
    problems: list[str] = []
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{dist}: expected one wheel and one sdist, found {[p.name for p in (*wheels, *sdists)]}"]
    wheel, sdist = wheels[0], sdists[0]
    if not wheel.name.startswith("patchbay_mcp-"):
        problems.append(f"{wheel.name}: the distribution is patchbay-mcp")

    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        metadata = Parser().parsestr(zf.read(metadata_name).decode()) if metadata_name else None
        points = (zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = next(points, "")
    for must in WHEEL_MUST:
        if not any(n.endswith(must) or n.startswith(must) for n in names):
            problems.append(f"{wheel.name}: {must} is missing")
    if any(not n.startswith(("patchbay/", "patchbay_mcp-")) for n in names):
        problems.append(f"{wheel.name}: files outside the package: {[n for n in names if '/' not in n][:5]}")
    if "patchbay = patchbay.cli:main" not in entry_points:
        problems.append(f"{wheel.name}: the `patchbay` command is not declared")
    if metadata is None:
        problems.append(f"{wheel.name}: no METADATA")
    else:
        if metadata["Name"] != "patchbay-mcp":
            problems.append(f"METADATA Name is {metadata['Name']!r}")
        if metadata["License-Expression"] != "MIT":
            problems.append(f"METADATA License-Expression is {metadata['License-Expression']!r}")
        if metadata["Description-Content-Type"] != "text/markdown":
            problems.append("METADATA: the long description is not declared as markdown")
        if not metadata.get_all("Project-URL"):
            problems.append("METADATA: no project URLs")
        extras = metadata.get_all("Provides-Extra") or []
        if extras != ["langchain"]:
            problems.append(f"METADATA: extras are {extras}, expected only langchain (tests use a group)")
        body = str(metadata.get_payload())
        links = [s.split(")", 1)[0] for s in body.split("](")[1:]]
        if not links or any(not link.startswith("https://") for link in links):
            problems.append("METADATA: the long description has relative links (they break on PyPI)")

    with tarfile.open(sdist) as tf:
        members = [m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name]
    for must in SDIST_MUST:
        if must not in members:
            problems.append(f"{sdist.name}: {must} is missing")
    for name in (*names, *members):
        if any(part in name for part in NEVER):
            problems.append(f"shipped but should not be: {name}")
            break
    return problems


def main() -> int:
    problems = check(Path(sys.argv[1]))
    for problem in problems:
        print(f"dist-check: {problem}", file=sys.stderr)
    if not problems:
        print("dist-check: sdist and wheel contents are as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
