"""What a tool returns, when a plain value is not enough.

A tool may return a `str` (one text block), a `dict` or dataclass (structured content, with the
same JSON as text for clients that show only text), `None`, or one of these results. Build them
with the helpers: `text`, `structured`, `image`, `audio`, `resource`, `link`, `error`; add
blocks with `Result.add`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

from ._schema import to_json


@dataclass
class Text:
    text: str


@dataclass
class Media:
    kind: str  # "image" or "audio"
    data: bytes
    mime_type: str


@dataclass
class Embedded:
    uri: str
    body: Union[str, bytes]
    mime_type: str | None = None


@dataclass
class Link:
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None


Block = Union[Text, Media, Embedded, Link]


@dataclass
class Result:
    """A tool's answer: blocks for the model, optional structured JSON, and whether it failed."""

    content: list[Block] = field(default_factory=list)
    structured: Any = None
    is_error: bool = False

    def add(self, block: "Block | Result") -> "Result":
        """Appends a block (or the blocks of another result); returns self for chaining."""
        if isinstance(block, Result):
            self.content.extend(block.content)
        else:
            self.content.append(block)
        return self


def text(value: str) -> Result:
    """One text block."""
    return Result([Text(value)])


def structured(value: Any, summary: str | None = None) -> Result:
    """Structured content (a JSON object) with a text block: `summary`, or the JSON itself."""
    data = to_json(value)
    if not isinstance(data, dict):
        raise TypeError("structured content must be a JSON object (a dict or a dataclass)")
    shown = summary if summary is not None else json.dumps(data, ensure_ascii=False)
    return Result([Text(shown)], structured=data)


def image(data: bytes, mime_type: str = "image/png") -> Result:
    """An image block (pier base64-encodes it); add a `text` block for clients that show no images."""
    return Result([Media("image", bytes(data), mime_type)])


def audio(data: bytes, mime_type: str = "audio/wav") -> Result:
    return Result([Media("audio", bytes(data), mime_type)])


def resource(uri: str, body: Union[str, bytes], mime_type: str | None = None) -> Result:
    """A resource embedded in full: text for `str`, a blob for `bytes`."""
    return Result([Embedded(uri, body, mime_type)])


def link(uri: str, name: str, **details: Any) -> Result:
    """A link the client may read later through `resources/read` (title, description, mime_type, size)."""
    return Result([Link(uri, name, **details)])


def error(message: str) -> Result:
    """A failure the model should read and may correct (file not found, bad pattern)."""
    return Result([Text(message)], is_error=True)


def as_result(value: Any) -> Result:
    """A tool's return value as a Result."""
    if isinstance(value, Result):
        return value
    if value is None:
        return Result([Text("done")])
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (Text, Media, Embedded, Link)):
        return Result([value])
    data = to_json(value)
    if isinstance(data, dict):
        return structured(data)
    return text(json.dumps(data, ensure_ascii=False))


@dataclass
class Message:
    """One message of a filled-in prompt."""

    role: str  # "user" or "assistant"
    content: Block


def user(content: "str | Block") -> Message:
    """A prompt message spoken by the user."""
    return Message("user", Text(content) if isinstance(content, str) else content)


def assistant(content: "str | Block") -> Message:
    """A prompt message spoken by the assistant."""
    return Message("assistant", Text(content) if isinstance(content, str) else content)


def as_messages(value: Any) -> list[Message]:
    """A prompt function's return value as messages: a str is one user message."""
    if isinstance(value, str):
        return [user(value)]
    if isinstance(value, Message):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, Message):
                out.append(item)
            elif isinstance(item, str):
                out.append(user(item))
            else:
                raise TypeError(f"a prompt returns str, Message or a list of them, not {type(item).__name__}")
        return out
    raise TypeError(f"a prompt returns str, Message or a list of them, not {type(value).__name__}")
