"""Where config files are: the user file, the project file, ``$PATCHBAY_CONFIG``, and the directory
a file's stdio servers start in by default."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from patchbay.errors import ConfigError

from ._models import Layer, warn

__all__ = [
    "ENV_VAR",
    "PROJECT_CONFIG",
    "default_config_paths",
    "files_to_watch",
    "find_project_config",
    "user_config_path",
]

PROJECT_CONFIG = Path(".patchbay") / "mcp.yaml"
ENV_VAR = "PATCHBAY_CONFIG"


def user_config_path() -> Path:
    """The per-user config file (it may not exist)."""
    import platformdirs  # 20+ ms to import; only needed when the default layers are looked up

    return platformdirs.user_config_path("patchbay") / "mcp.yaml"


def files_to_watch(sources: Iterable[str], *, default_layers: bool) -> list[str]:
    """The files whose saving should reload a fleet read from ``sources``.

    With the default layers also the user and project files that do not exist yet, so creating
    one adds its servers.
    """
    files = list(sources)
    if default_layers:
        files.append(str(user_config_path()))
        with contextlib.suppress(OSError):  # a working directory that was deleted has no project file
            files.append(str(Path.cwd() / PROJECT_CONFIG))
    return files


def find_project_config(start: Path, *, home: str | os.PathLike[str] | None = None) -> Path | None:
    """``.patchbay/mcp.yaml`` in ``start`` or the nearest parent that has one, like ``.git``.

    The home directory is not a project (``~/.patchbay/mcp.yaml`` would be found from every
    directory under it, and its servers would run there), so from inside ``home`` (default: the
    user's) the search stops below it.
    """
    start = Path(start).absolute()
    home_dir = Path(os.path.expanduser("~") if home is None else home).absolute()
    inside = start == home_dir or home_dir in start.parents
    for directory in (start, *start.parents):
        if inside and directory == home_dir:
            return None
        candidate = directory / PROJECT_CONFIG
        if candidate.is_file():
            return candidate
    return None


def user_home(env: Mapping[str, str]) -> str:
    """``$HOME`` from ``env`` when it has one, else the OS's idea of the home directory."""
    return env.get("HOME") or os.path.expanduser("~")


def file_cwd(file: str) -> str:
    """Where a stdio server from ``file`` starts by default: the directory holding the project (the
    parent of ``.patchbay/``) or else the file's own directory, after symlinks are resolved, so it
    is next to the real file an approval is recorded for."""
    folder = os.path.dirname(os.path.realpath(file))
    if os.path.basename(folder) == PROJECT_CONFIG.parent.name:
        return os.path.dirname(folder)
    return folder


def absolute(path: str | os.PathLike[str], base: Path) -> Path:
    """``path`` with ``~`` expanded, relative to ``base``, normalised (symlinks are kept)."""
    expanded = Path(path).expanduser()
    return Path(os.path.abspath(base / expanded))


def default_config_paths(
    *, env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> list[tuple[Path, Layer]]:
    """The default layers that exist, lowest priority first: user, project, ``$PATCHBAY_CONFIG``.

    A ``$PATCHBAY_CONFIG`` naming a missing file is an error (a typo there should not silently fall
    back to other files). A file reached by two layers is read once, at its first layer.
    """
    environ = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    found: list[tuple[Path, Layer]] = []
    user = user_config_path()
    if user.is_file():
        found.append((user, "user"))
    project = find_project_config(base, home=user_home(environ))
    if project is not None:
        found.append((project, "project"))
    named = environ.get(ENV_VAR)
    if named:
        path = absolute(named, base)
        if not os.path.isabs(os.path.expanduser(named)):
            # Read once, here, and said: a relative name would follow every directory change.
            warn(
                f"{ENV_VAR} is a relative path, read as {path} (relative to the working directory);"
                " set an absolute path"
            )
        if not path.is_file():
            reason = "is not a file" if path.exists() else "does not exist"
            raise ConfigError(f"the file named by {ENV_VAR} {reason}", file=str(path))
        found.append((path, "env"))
    unique: list[tuple[Path, Layer]] = []
    seen: dict[str, int] = {}
    for path, layer in found:
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen:
            seen[key] = len(unique)
            unique.append((path, layer))
        elif layer == "env" and unique[seen[key]][1] == "project":
            # $PATCHBAY_CONFIG naming the project file is the user's explicit choice, so it is
            # trusted; the two layers are adjacent, so the merge order is the same.
            unique[seen[key]] = (unique[seen[key]][0], "env")
    return unique
