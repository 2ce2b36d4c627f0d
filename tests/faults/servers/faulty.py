"""A hand-written stdio MCP server (no SDK, starts in ~20 ms) that misbehaves on request.

    python tests/faults/servers/faulty.py [--tag TAG] [flags]

Tools (each names the fault it injects; the fault happens when the tool is called):

| tool | what the server does |
|---|---|
| `echo {text}` / `pid` | behaves: answers the text / its process id |
| `sleep {seconds}` | answers after `seconds` (other requests are served meanwhile) |
| `hang` | never answers, and ignores `notifications/cancelled` (it only records it) |
| `deaf` | never answers and stops reading stdin for 600 s (what the client writes piles up) |
|  | (both send one progress notification at once when the call has a progress token) |
| `cancelled` | the ids of every request the client cancelled, as JSON |
| `noise` | writes non-JSON lines to stdout (text, binary junk, half a JSON object), then answers |
| `flood {mb}` | writes one line of `mb` MB of junk (no newline inside), then answers |
| `bad_jsonrpc` | writes invalid JSON-RPC and responses/errors for ids nobody sent, then answers |
| `wrong_id` | answers, but under an id the client never used (the real request gets nothing) |
| `server_error` | answers with JSON-RPC error -32000 "database is locked" (also the SDK's "closed" code) |
| `exit {code}` | exits at once without answering |
| `generation` | the value of `--generation-file` at start-up (see below) |

Flags:

* `--crash-at-start`: print `fatal: cannot open the database` to stderr and exit 3 before speaking MCP.
* `--crash-if-exists PATH`: the same, but only while the file PATH exists (so a test decides when
  restarts fail).
* `--startup-delay S`: sleep `S` seconds before reading stdin.
* `--exit-after N`: serve `N` tool calls; exit (without answering) on receiving call `N + 1`.
* `--ignore-sigterm` / `--ignore-eof`: survive SIGTERM / keep running 600 s after stdin closes.
* `--generation-file PATH`: increment the number in PATH at each start; the tool list then has a tool
  named `only_in_generation_<N>`, so each restart offers a different tool.
* `--grandchild`: start a helper process (`sleep 600`, argv marked `patchbay-faulty-helper=TAG`) in
  the server's process group, as `npx`/`uvx` wrappers and servers with workers do; with
  `--ignore-sigterm` the helper ignores SIGTERM too.
* `--tag TAG`: ignored; marks the process for process-table checks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

_out = sys.stdout.buffer
_lock = threading.Lock()
_cancelled: list[Any] = []


def write_raw(data: bytes) -> None:
    with _lock:
        _out.write(data)
        _out.flush()


def send(message: dict[str, Any]) -> None:
    write_raw(json.dumps(message).encode() + b"\n")


def text_result(rid: Any, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}}


def tool(name: str, description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": properties or {}},
    }


def tool_list(generation: int | None) -> list[dict[str, Any]]:
    tools = [
        tool("echo", "Echo the text back.", {"text": {"type": "string"}}),
        tool("pid", "The server's process id."),
        tool("sleep", "Answer after `seconds`.", {"seconds": {"type": "number"}}),
        tool("hang", "Never answer."),
        tool("deaf", "Never answer, and stop reading stdin."),
        tool("cancelled", "Ids of the requests the client cancelled."),
        tool("noise", "Write non-JSON lines to stdout, then answer."),
        tool("flood", "Write one line of `mb` MB of junk, then answer.", {"mb": {"type": "number"}}),
        tool("bad_jsonrpc", "Write invalid JSON-RPC and unknown-id responses, then answer."),
        tool("wrong_id", "Answer under an id the client never used."),
        tool("server_error", "Answer with JSON-RPC error -32000."),
        tool("exit", "Exit at once without answering.", {"code": {"type": "integer"}}),
        tool("generation", "This process's generation number."),
    ]
    if generation is not None:
        tools.append(tool(f"only_in_generation_{generation}", "Exists in one generation only."))
    return tools


def call_tool(rid: Any, name: str, args: dict[str, Any], generation: int | None, token: Any) -> None:
    if token is not None and name in ("sleep", "hang"):
        # Lets a test know the call has reached the server before it injects the next fault.
        send(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": 0},
            }
        )
    if name == "echo":
        send(text_result(rid, str(args.get("text", ""))))
    elif name == "pid":
        send(text_result(rid, str(os.getpid())))
    elif name == "sleep":
        timer = threading.Timer(float(args.get("seconds", 1)), send, [text_result(rid, "slept")])
        timer.daemon = True
        timer.start()
    elif name == "hang":
        pass
    elif name == "deaf":
        time.sleep(600)  # the only reader of stdin is this loop
    elif name == "cancelled":
        send(text_result(rid, json.dumps(_cancelled)))
    elif name == "noise":
        write_raw(b"hello from a stray print()\n")
        write_raw(b"\x00\xff\xfe binary junk \x80\n")
        write_raw(b'{"jsonrpc": "2.0", "id": \n')
        write_raw(b"[1, 2, 3]\n")
        send(text_result(rid, "noisy"))
    elif name == "flood":
        size = int(float(args.get("mb", 50)) * 1024 * 1024)
        write_raw(b"x" * size + b"\n")
        send(text_result(rid, "flooded"))
    elif name == "bad_jsonrpc":
        write_raw(b'{"jsonrpc": "2.0"}\n')
        write_raw(b'{"jsonrpc": "1.0", "id": 1, "result": {}}\n')
        write_raw(b'{"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "both"}}\n')
        write_raw(b'{"jsonrpc": "2.0", "method": 42}\n')
        send({"jsonrpc": "2.0", "id": 987654321, "result": {"content": []}})
        send({"jsonrpc": "2.0", "id": "nobody-sent-this", "error": {"code": -32603, "message": "stray"}})
        send(text_result(rid, "survived"))
    elif name == "wrong_id":
        other = rid + 100_000 if isinstance(rid, int) else f"{rid}-wrong"
        send(text_result(other, "lost"))
    elif name == "server_error":
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": "database is locked"}})
    elif name == "exit":
        os._exit(int(args.get("code", 1)))
    elif name == "generation":
        send(text_result(rid, str(generation)))
    elif generation is not None and name == f"only_in_generation_{generation}":
        send(text_result(rid, f"generation {generation}"))
    else:
        send(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "result": {"content": [{"type": "text", "text": f"Unknown tool: {name}"}], "isError": True},
            }
        )


def next_generation(path: str | None) -> int | None:
    if path is None:
        return None
    file = Path(path)
    generation = int(file.read_text() or "0") + 1 if file.exists() else 1
    file.write_text(str(generation))
    return generation


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="")
    parser.add_argument("--crash-at-start", action="store_true")
    parser.add_argument("--crash-if-exists", default=None)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--exit-after", type=int, default=None)
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--ignore-eof", action="store_true")
    parser.add_argument("--generation-file", default=None)
    parser.add_argument("--grandchild", action="store_true")
    options = parser.parse_args()

    if options.crash_at_start or (options.crash_if_exists and os.path.exists(options.crash_if_exists)):
        print("fatal: cannot open the database", file=sys.stderr, flush=True)
        sys.exit(3)
    if options.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    generation = next_generation(options.generation_file)
    if options.grandchild:
        code = "import signal, sys, time\n"
        if options.ignore_sigterm:
            code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        code += "time.sleep(600)\n"
        subprocess.Popen(
            [sys.executable, "-c", code, f"patchbay-faulty-helper={options.tag}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if options.startup_delay:
        time.sleep(options.startup_delay)

    calls = 0
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        method = request.get("method")
        rid = request.get("id")
        if method == "notifications/cancelled":
            _cancelled.append((request.get("params") or {}).get("requestId"))
            continue
        if rid is None:
            continue
        if method == "initialize":
            version = (request.get("params") or {}).get("protocolVersion", "2025-11-25")
            send(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {
                        "protocolVersion": version,
                        "capabilities": {"tools": {"listChanged": False}},
                        "serverInfo": {"name": "faulty", "version": "1.0"},
                    },
                }
            )
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": rid, "result": {}})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {"tools": tool_list(generation)}})
        elif method == "tools/call":
            calls += 1
            if options.exit_after is not None and calls > options.exit_after:
                os._exit(0)
            params = request.get("params") or {}
            token = (params.get("_meta") or {}).get("progressToken")
            call_tool(rid, params.get("name"), params.get("arguments") or {}, generation, token)
        else:
            send(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {"code": -32601, "message": f"Method not found: {method}"},
                }
            )

    if options.ignore_eof:
        time.sleep(600)


if __name__ == "__main__":
    main()
