"""A hand-written MCP server over stdio (no SDK, stdlib only): isolates client-side cost.

    python benchmarks/servers/raw_echo.py [--name NAME] [--tag TAG]

Blocking ``readline`` + ``json``; answers ``initialize``, ``ping``, ``tools/list`` and
``tools/call`` (``echo``, ``pid``) and -32601 for anything else (so a 2026-aware client falls
back to the 2025 handshake). It starts in ~20 ms and answers in tens of microseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

TOOLS = [
    {
        "name": "echo",
        "description": "Return the text unchanged.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    {"name": "pid", "description": "The server's process id.", "inputSchema": {"type": "object"}},
]


def answer(request: dict, name: str) -> dict | None:
    if "id" not in request:
        return None
    method, rid = request.get("method"), request["id"]
    params = request.get("params") or {}
    if method == "initialize":
        result: dict = {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": name, "version": "1.0"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call" and params.get("name") in ("echo", "pid"):
        args = params.get("arguments") or {}
        text = str(args.get("text", "")) if params["name"] == "echo" else str(os.getpid())
        result = {"content": [{"type": "text", "text": text}], "isError": False}
    else:
        error = {"code": -32601, "message": f"Method not found: {method}"}
        return {"jsonrpc": "2.0", "id": rid, "error": error}
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="raw-echo")
    parser.add_argument("--tag", default="")
    name = parser.parse_args().name
    out = sys.stdout
    for line in sys.stdin:
        if line.strip():
            reply = answer(json.loads(line), name)
            if reply is not None:
                out.write(json.dumps(reply) + "\n")
                out.flush()


if __name__ == "__main__":
    main()
