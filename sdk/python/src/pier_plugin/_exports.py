"""The component's exports: the contract's four interfaces over a `Plugin`.

The only module that touches the bindings componentize-py generates from the WIT
(`wit_world`, `componentize_py_types`), translating the registry's plain values to the
contract's records and its refusals to `error` cases.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import componentize_py_types
from wit_world.imports import types

from ._registry import Contents, InternalError, Plugin
from .context import Context
from .errors import InvalidParams, NotFound, PierError
from .results import Block, Embedded, Link, Media, Message, Result, Text


def _context(cx: types.CallContext) -> Context:
    return Context(cx.request_id, cx.session, cx.identity, dict(cx.meta))


def _refused(run: Callable[[], Any]) -> Any:
    """Runs `run`, turning the SDK's refusals into `componentize_py_types.Err(types.Error_*)`."""
    try:
        return run()
    except NotFound as e:
        raise componentize_py_types.Err(types.Error_NotFound(str(e)))
    except InvalidParams as e:
        raise componentize_py_types.Err(types.Error_InvalidParams(str(e)))
    except (InternalError, PierError) as e:
        raise componentize_py_types.Err(types.Error_Internal(str(e)))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _body(body: "str | bytes") -> Any:
    return types.ResourceBody_Text(body) if isinstance(body, str) else types.ResourceBody_Blob(bytes(body))


def _block(block: Block) -> Any:
    if isinstance(block, Text):
        return types.Content_Text(block.text)
    if isinstance(block, Media):
        media = types.Media(block.data, block.mime_type)
        return types.Content_Image(media) if block.kind == "image" else types.Content_Audio(media)
    if isinstance(block, Embedded):
        return types.Content_Embedded(types.ResourceContents(block.uri, block.mime_type, _body(block.body)))
    if isinstance(block, Link):
        return types.Content_Link(
            types.ResourceInfo(block.uri, block.name, block.title, block.description, block.mime_type, block.size)
        )
    raise TypeError(f"not a content block: {type(block).__name__}")


def _result(result: Result) -> types.CallResult:
    content = [_block(b) for b in result.content] or [types.Content_Text("")]
    structured = None if result.structured is None else _json(result.structured)
    return types.CallResult(content, structured, result.is_error)


def _message(message: Message) -> types.PromptMessage:
    role = types.Role.ASSISTANT if message.role == "assistant" else types.Role.USER
    return types.PromptMessage(role, _block(message.content))


def _contents(c: Contents) -> types.ResourceContents:
    return types.ResourceContents(c.uri, c.mime_type, _body(c.body))


def export_classes(plugin: Plugin):
    """Classes componentize-py instantiates for `tools`, `resources`, `prompts`, `completions`."""

    class Tools:
        def list_tools(self) -> list:
            return [
                types.Tool(
                    t.name,
                    t.title,
                    t.description,
                    _json(t.input_schema),
                    None if t.output_schema is None else _json(t.output_schema),
                    types.Annotations(
                        t.annotations.read_only,
                        t.annotations.destructive,
                        t.annotations.idempotent,
                        t.annotations.open_world,
                    ),
                )
                for t in plugin.tools()
            ]

        def call_tool(self, cx: types.CallContext, name: str, arguments: str) -> types.CallResult:
            return _refused(lambda: _result(plugin.call_tool(_context(cx), name, arguments)))

    class Resources:
        def list_resources(self, cx: types.CallContext) -> list:
            return [
                types.ResourceInfo(r.uri, r.name, r.title, r.description, r.mime_type, None)
                for r in plugin.resources()
            ]

        def list_templates(self) -> list:
            return [
                types.ResourceTemplate(t.uri_template, t.name, t.title, t.description, t.mime_type)
                for t in plugin.templates()
            ]

        def read_resource(self, cx: types.CallContext, uri: str) -> list:
            return _refused(lambda: [_contents(c) for c in plugin.read_resource(_context(cx), uri)])

    class Prompts:
        def list_prompts(self) -> list:
            return [
                types.Prompt(
                    p.name,
                    p.title,
                    p.description,
                    [types.PromptArgument(a.name, None, a.description, a.required) for a in p.arguments],
                )
                for p in plugin.prompts()
            ]

        def get_prompt(self, cx: types.CallContext, name: str, arguments: list) -> types.PromptResult:
            def run() -> types.PromptResult:
                description, messages = plugin.get_prompt(_context(cx), name, dict(arguments))
                return types.PromptResult(description, [_message(m) for m in messages])

            return _refused(run)

    class Completions:
        def complete(self, cx: types.CallContext, target: Any, argument: str, value: str, context: list) -> list:
            kind = "prompt" if isinstance(target, types.CompletionTarget_Prompt) else "resource-template"
            return _refused(lambda: plugin.complete(kind, target.value, argument, value, dict(context)))

    return Tools, Resources, Prompts, Completions
