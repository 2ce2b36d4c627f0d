"""A fleet of published MCP servers nobody here wrote, as a new user would connect them.

npm: `@modelcontextprotocol/server-memory`, `server-sequential-thinking`, `server-pdf` (tests/npm);
PyPI: `mcp-server-fetch`, `mcp-server-sqlite` and a server written with fastmcp 4.x over stdio and
Streamable HTTP (the dev dependency group). Every call here is offline: fetch reads a page from a
loopback HTTP server, the PDF server lists a PDF written by the test, memory writes its graph to
``tmp_path``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from patchbay import MCPManager, ServerUnavailable

from .conftest import FASTMCP_APP, PY, fleet, published_server

pytestmark = pytest.mark.anyio

# The smallest PDF pdf.js opens: one page saying "hello patchbay".
HELLO_PDF = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj
4 0 obj<</Length 44>>stream
BT /F1 12 Tf 20 100 Td (hello patchbay) Tj ET
endstream endobj
5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj
trailer<</Root 1 0 R>>
%%EOF
"""

PAGE = (
    b"<html><head><title>Patch notes</title></head><body><h1>Patch notes</h1><p>Cables are tidy.</p></body>"
)


@pytest.fixture
def web_page() -> Iterator[str]:
    """A loopback HTTP server with one HTML page (and no robots.txt): what mcp-server-fetch reads."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/notes.html"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            body = PAGE if found else b"not found"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notes.html"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def still_running(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            continue
    return alive


async def test_a_fleet_of_published_servers_connects_answers_and_leaves_nothing_running(
    tmp_path: Path, http_server: Any, web_page: str
) -> None:
    pdf = tmp_path / "hello.pdf"
    pdf.write_bytes(HELLO_PDF)
    memory_file = tmp_path / "memory.jsonl"
    fastmcp_http = http_server(FASTMCP_APP.name)
    config = fleet(
        memory=published_server("memory", env={"MEMORY_FILE_PATH": str(memory_file)}),
        thinking=published_server("sequential-thinking", env={"DISABLE_THOUGHT_LOGGING": "true"}),
        pdf=published_server("pdf", "--stdio", str(pdf)),
        fetch=published_server("fetch", "--ignore-robots-txt", "--allow-private-ips"),
        fastmcp={"command": PY, "args": [str(FASTMCP_APP)]},
        fastmcp_http={"url": fastmcp_http.url("/mcp")},
    )
    async with MCPManager(config) as manager:
        status = manager.status()
        problems = {name: s.get("error") for name, s in status.items() if s["state"] != "ready"}
        assert problems == {}
        assert set(status) == set(config["servers"])
        # fastmcp 4 speaks the 2026-07-28 revision; the npm servers the 2025 handshake.
        assert status["fastmcp_http"]["protocol_version"] == "2026-07-28"
        assert status["memory"]["protocol_version"].startswith("2025-")
        children = [p for name, s in status.items() if s["pid"] for p in process_tree(s["pid"])]
        assert len({p.pid for p in children}) >= 5  # the five stdio servers (and any helpers)

        names = {tool.name for tool in manager.tools()}
        assert {
            "mcp__memory__create_entities",
            "mcp__memory__search_nodes",
            "mcp__thinking__sequentialthinking",
            "mcp__pdf__list_pdfs",
            "mcp__fetch__fetch",
            "mcp__fastmcp__add",
            "mcp__fastmcp_http__shout",
        } <= names

        created = await manager.call_tool(
            "mcp__memory__create_entities",
            {"entities": [{"name": "patchbay", "entityType": "project", "observations": ["speaks MCP"]}]},
            timeout=30,
        )
        assert not created.is_error, created.text
        found = await manager.call_tool("mcp__memory__search_nodes", {"query": "patchbay"}, timeout=30)
        assert "speaks MCP" in found.text
        assert "speaks MCP" in memory_file.read_text()  # the server's own store, where we told it

        thought = await manager.call_tool(
            "mcp__thinking__sequentialthinking",
            {"thought": "Connect first.", "nextThoughtNeeded": False, "thoughtNumber": 1, "totalThoughts": 1},
            timeout=30,
        )
        assert json.loads(thought.text)["thoughtHistoryLength"] == 1

        listed = await manager.call_tool("mcp__pdf__list_pdfs", {}, timeout=30)
        assert not listed.is_error, listed.text
        assert "hello.pdf" in listed.text

        page = await manager.call_tool("mcp__fetch__fetch", {"url": web_page}, timeout=60)
        assert not page.is_error, page.text
        assert "Cables are tidy." in page.text

        added = await manager.call_tool("mcp__fastmcp__add", {"a": 2, "b": 3}, timeout=30)
        assert added.structured == {"result": 5}
        shouted = await manager.call_tool("mcp__fastmcp_http__shout", {"text": "patch"}, timeout=30)
        assert shouted.text == "PATCH"
        motto = await manager.read_resource("fastmcp://motto", server="fastmcp_http", timeout=30)
        assert motto.text == "one fleet, one catalogue"

    assert still_running(children) == []


async def test_mcp_server_sqlite_crash_on_sdk2_is_a_readable_failure_and_a_typed_error(
    tmp_path: Path,
) -> None:
    # mcp-server-sqlite 2025.4.25 is written against SDK 1.x and dies before the handshake on 2.x.
    config = fleet(
        sqlite=published_server("sqlite", "--db-path", str(tmp_path / "test.db")),
        time=published_server("time", "--local-timezone", "UTC"),
    )
    async with MCPManager(config) as manager:
        status = manager.status()
        assert status["time"]["state"] == "ready"  # one broken server does not take the fleet down
        assert status["sqlite"]["state"] == "failed"
        assert status["sqlite"]["pid"] is None
        reason = "AttributeError: 'Server' object has no attribute 'list_resources'"
        assert reason in status["sqlite"]["error"]

        with pytest.raises(ServerUnavailable) as caught:
            await manager.call_tool("read_query", {"query": "select 1"}, server="sqlite", timeout=10)
        assert caught.value.server == "sqlite"
        assert caught.value.state == "failed"
        assert "list_resources" in str(caught.value)

        result = await manager.call_tool("mcp__time__get_current_time", {"timezone": "UTC"}, timeout=30)
        assert not result.is_error
