"""What comes back from a server: tool results, resource contents, rendered prompts.

Content blocks stay the SDK's own types (text, image, audio, resource link, embedded resource),
so nothing is lost; ``text`` gives the one thing most agents want, a string, with a short
placeholder for each part that is not text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Completion", "PromptResult", "ResourceResult", "ToolResult", "render_text"]


def _b64_size(data: str) -> int:
    """The decoded size, from the length alone: a placeholder must not decode megabytes."""
    data = data.strip()
    return len(data) * 3 // 4 - data[-2:].count("=")


def _describe_block(block: Any) -> str:
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {_b64_size(block.data)} bytes]"
    if kind == "resource_link":
        return f"[resource link: {block.uri}]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return str(text)
        mime = getattr(resource, "mime_type", None) or "application/octet-stream"
        return f"[resource {resource.uri}: {mime}, {_b64_size(resource.blob)} bytes]"
    return f"[{kind or type(block).__name__}]"


def render_text(blocks: list[Any]) -> str:
    """Join the text parts; every other part becomes a one-line placeholder."""
    return "\n".join(_describe_block(block) for block in blocks)


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call.

    ``is_error`` means the tool ran and reported failure (the message is in ``text``): that is a
    result for the model to read, not an exception.
    """

    server: str
    tool: str
    is_error: bool
    content: list[Any] = field(default_factory=list)
    structured: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return render_text(self.content)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (content blocks in their wire shape)."""
        return {
            "server": self.server,
            "tool": self.tool,
            "is_error": self.is_error,
            "content": [_dump(block) for block in self.content],
            "structured": self.structured,
            "text": self.text,
        }


@dataclass(frozen=True)
class ResourceResult:
    """The contents of one resource read (a resource may have several parts)."""

    server: str
    uri: str
    contents: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        parts = []
        for item in self.contents:
            text = getattr(item, "text", None)
            if text is not None:
                parts.append(str(text))
            else:
                mime = getattr(item, "mime_type", None) or "application/octet-stream"
                parts.append(f"[blob {item.uri}: {mime}, {_b64_size(item.blob)} bytes]")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "uri": self.uri, "contents": [_dump(c) for c in self.contents]}


@dataclass(frozen=True)
class PromptResult:
    """A rendered prompt: its messages, with the SDK's content blocks."""

    server: str
    name: str
    description: str | None
    messages: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(f"{m.role}: {render_text([m.content])}" for m in self.messages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "name": self.name,
            "description": self.description,
            "messages": [_dump(m) for m in self.messages],
        }


def _dump(model: Any) -> Any:
    dump = getattr(model, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_none=True)
    return model


@dataclass(frozen=True)
class Completion:
    """Suggested values for a prompt or resource-template argument (``completion/complete``)."""

    values: list[str]
    total: int | None = None
    has_more: bool = False
