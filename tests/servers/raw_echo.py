"""A hand-written MCP server over stdio, no SDK: starts in ~20 ms, so timing tests measure the client.

Answers initialize, ping, tools/list and tools/call (`echo`, `pid`); -32601 for anything else
(including `server/discover`, so a 2026-aware client falls back to the 2025 handshake).

Flags: --startup-delay SECONDS (sleep before serving), --tag TAG (ignored; marks the process).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

TOOLS = [
    {
        "name": "echo",
        "description": "Echo the text back.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    {"name": "pid", "description": "The server's process id.", "inputSchema": {"type": "object"}},
]


def answer(request: dict) -> dict | None:
    method = request.get("method")
    if "id" not in request:
        return None
    rid = request["id"]
    if method == "initialize":
        version = request.get("params", {}).get("protocolVersion", "2025-11-25")
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "raw-echo", "version": "1.0"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        params = request.get("params", {})
        name = params.get("name")
        args = params.get("arguments") or {}
        if name == "echo":
            result = {"content": [{"type": "text", "text": str(args.get("text", ""))}], "isError": False}
        elif name == "pid":
            result = {"content": [{"type": "text", "text": str(os.getpid())}], "isError": False}
        else:
            result = {"content": [{"type": "text", "text": f"Unknown tool: {name}"}], "isError": True}
    else:
        return {
            "jsonrpc": "2.0",
            "id": rid,
            "error": {"code": -32601, "message": f"Method not found: {method}"},
        }
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--tag", default="")
    options = parser.parse_args()
    if options.startup_delay:
        time.sleep(options.startup_delay)
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = answer(json.loads(line))
        if reply is not None:
            out.write(json.dumps(reply) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
