"""The main job on the bundled demo fleet (`make run`).

Connects the three demo servers of examples/fleet.yaml concurrently, prints their status and the
namespaced tool list, then calls a tool, reads a resource and renders a prompt.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from rich.console import Console
from rich.table import Table

from patchbay import MCPManager

HERE = Path(__file__).resolve().parent


async def main() -> int:
    console = Console()
    started = time.perf_counter()
    async with MCPManager.from_config(HERE / "fleet.yaml") as manager:
        elapsed = time.perf_counter() - started
        status = manager.status()

        table = Table(title=f"patchbay demo fleet: connected in {elapsed * 1000:.0f} ms")
        for column in ("server", "state", "protocol", "tools", "resources", "prompts", "connect"):
            table.add_column(column)
        for name, s in status.items():
            state = "[green]✔ ready[/]" if s["state"] == "ready" else f"[red]✘ {s['state']}: {s['error']}[/]"
            connect = f"{s['connect_ms']:.0f} ms" if s.get("connect_ms") else "-"
            table.add_row(
                name,
                state,
                s.get("protocol_version") or "-",
                str(s.get("tools", 0)),
                str(s.get("resources", 0)),
                str(s.get("prompts", 0)),
                connect,
            )
        console.print(table)

        tools = Table(title="namespaced tools")
        tools.add_column("name")
        tools.add_column("description")
        for tool in manager.tools():
            tools.add_row(tool.name, (tool.description or "").splitlines()[0] if tool.description else "")
        console.print(tools)

        result = await manager.call_tool("mcp__calculator__evaluate", {"expression": "(2 + 3) * 7"})
        console.print(f"[bold]call[/] mcp__calculator__evaluate('(2 + 3) * 7') -> {result.text}")

        resource = await manager.read_resource("notes://index")
        console.print(f"[bold]read[/] notes://index ->\n{resource.text}")

        prompt = await manager.get_prompt("mcp__notes__summarize_notes", {"style": "brief"})
        console.print(f"[bold]prompt[/] mcp__notes__summarize_notes ->\n{prompt.text}")

        failed = [name for name, s in manager.status().items() if s["state"] != "ready"]
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
