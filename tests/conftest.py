"""Shared fixtures: paths to the real test servers, HTTP servers on loopback, process-table checks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "tests" / "servers"
EXAMPLES = ROOT / "examples"
NPM = ROOT / "tests" / "npm"
EVERYTHING = NPM / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
LOOPBACK_PRELOAD = NPM / "loopback-only.cjs"
PY = sys.executable
BIN = Path(sys.executable).parent

# Published servers nobody here wrote, installed by `make test` (npm ci in tests/npm; the dev
# dependency group in .venv). `published_server(name)` gives a server entry for each.
_NPM_SCOPE = NPM / "node_modules" / "@modelcontextprotocol"
PUBLISHED_NPM = {
    "memory": _NPM_SCOPE / "server-memory" / "dist" / "index.js",
    "sequential-thinking": _NPM_SCOPE / "server-sequential-thinking" / "dist" / "index.js",
    "pdf": _NPM_SCOPE / "server-pdf" / "dist" / "index.js",  # give it `--stdio` and the PDF files
}
PUBLISHED_PYPI = {
    "fetch": BIN / "mcp-server-fetch",
    # Crashes at start on SDK 2.x (`AttributeError: 'Server' object has no attribute
    # 'list_resources'`): a real server whose failure reason patchbay must make readable.
    "sqlite": BIN / "mcp-server-sqlite",
    "time": BIN / "mcp-server-time",
    "git": BIN / "mcp-server-git",
}
FASTMCP_APP = SERVERS / "fastmcp_app.py"  # written with fastmcp 4.x: stdio, or http_server("fastmcp_app.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def stdio(script: str, *args: str, **extra: Any) -> dict[str, Any]:
    """A patchbay server entry running one of tests/servers/ with this interpreter."""
    return {"command": PY, "args": [str(SERVERS / script), *args], **extra}


def published_server(name: str, *args: str, **extra: Any) -> dict[str, Any]:
    """A patchbay server entry (stdio) for one of the published servers above, with ``args`` after it.

    Fails with the command to run when `make test` has not installed it (never a skip).
    """
    if name in PUBLISHED_NPM:
        script = PUBLISHED_NPM[name]
        assert script.exists(), f"{script} is missing: run `make setup` (npm ci in tests/npm)"
        return {"command": "node", "args": [str(script), *args], **extra}
    command = PUBLISHED_PYPI[name]
    assert command.exists(), f"{command} is missing: run `make setup` (the dev dependency group)"
    return {"command": str(command), "args": list(args), **extra}


def fleet(**servers: dict[str, Any]) -> dict[str, Any]:
    return {"servers": servers}


def new_tag() -> str:
    return f"pbtag-{uuid.uuid4().hex[:10]}"


def processes_with(tag: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line contains ``tag``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(tag in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Block until something accepts on 127.0.0.1:port (the server has no other ready signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


class BackgroundServer:
    """A server process on loopback, stopped (group and all) at the end of the test."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(port, self.proc)

    def url(self, path: str = "/mcp") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait(timeout=10)


@pytest.fixture
def http_server() -> Iterator[Any]:
    """Factory: start `tests/servers/<script> --transport http|sse --port N` on loopback."""
    started: list[BackgroundServer] = []

    def start(script: str, transport: str = "http", *args: str, port: int | None = None) -> BackgroundServer:
        port = port or free_port()
        server = BackgroundServer(
            [PY, str(SERVERS / script), "--transport", transport, "--port", str(port), *args], port
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def everything_http() -> Iterator[Any]:
    """Factory: server-everything over `streamableHttp` or `sse`, forced onto 127.0.0.1."""
    started: list[BackgroundServer] = []

    def start(mode: str) -> BackgroundServer:
        assert EVERYTHING.exists(), "run `make test` (npm ci) to install server-everything"
        port = free_port()
        env = {"PORT": str(port), "NODE_OPTIONS": f"--require {LOOPBACK_PRELOAD}"}
        server = BackgroundServer(["node", str(EVERYTHING), mode], port, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
