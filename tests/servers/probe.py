"""An upstream for gateway tests: rich tool metadata, a cancellation witness, a shared URI.

    python tests/servers/probe.py [--label TEXT] [--marker-dir DIR] [--tag TAG]

Tools:
* `widget(text)`: annotations, an icon, `_meta` with a vendor key and `ui.resourceUri`
  `ui://probe/widget` (MCP Apps); returns "<label>: <text>".
* `wait_cancel(key)`: reports progress once, then waits; when the call is cancelled it writes
  `<marker-dir>/<key>.cancelled` (the witness that a cancellation reached this server).
Resources: `probe://doc` and `ui://probe/widget`, both with the label in their text (so two
instances with different labels offer the same URIs with different contents); template
`probe://item/{id}`; prompt `brief(topic)` with completions for `topic`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    Icon,
    PromptReference,
    ResourceTemplateReference,
    ToolAnnotations,
)

ICON = Icon(src="data:image/png;base64,iVBORw0KGgo=", mime_type="image/png")


def build(label: str, marker_dir: Path) -> MCPServer:
    mcp = MCPServer(f"probe-{label}")

    @mcp.tool(
        annotations=ToolAnnotations(read_only_hint=True, title="Widget"),
        icons=[ICON],
        meta={"ui": {"resourceUri": "ui://probe/widget"}, "example.com/flag": label},
    )
    def widget(text: str) -> str:
        """Return the label and the text."""
        return f"{label}: {text}"

    @mcp.tool()
    async def wait_cancel(key: str, ctx: Context) -> str:
        """Report progress once, then wait until cancelled (and record the cancellation)."""
        try:
            await ctx.report_progress(1, 2, "waiting")
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            (marker_dir / f"{key}.cancelled").write_text("cancelled")
            raise
        return "unreachable"

    @mcp.resource("probe://doc", name="doc", mime_type="text/plain")
    def doc() -> str:
        return f"doc of {label}"

    @mcp.resource("ui://probe/widget", name="widget-ui", mime_type="text/html;profile=mcp-app")
    def widget_ui() -> str:
        return f"<p>widget of {label}</p>"

    @mcp.resource("probe://item/{id}", name="item", mime_type="text/plain")
    def item(id: str) -> str:
        return f"item {id} of {label}"

    @mcp.prompt()
    def brief(topic: str) -> str:
        """A short brief."""
        return f"Brief on {topic} from {label}"

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        options = ["alpha", "beta", "gamma"]
        return Completion(values=[o for o in options if o.startswith(argument.value)])

    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="probe")
    parser.add_argument("--marker-dir", default=".")
    parser.add_argument("--tag", default="", help="ignored: a mark to find the process by")
    args = parser.parse_args()
    build(args.label, Path(args.marker_dir)).run("stdio")


if __name__ == "__main__":
    main()
