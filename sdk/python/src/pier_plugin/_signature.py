"""What a decorated function takes: its parameters, their hints and their descriptions.

Descriptions come from `Annotated[T, "..."]` or from the docstring's `Args:` section (Google
style, `name: text` or `name (type): text`); the docstring's text before that section describes
the function itself.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from dataclasses import dataclass
from typing import Any, Callable

from . import _schema
from .errors import InvalidParams

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:\s*$")
_OTHER_SECTION = re.compile(r"^(Returns|Return|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(the description, {parameter: description}) of a docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    section = None
    current = None
    params_indent = 0
    for line in lines:
        stripped = line.strip()
        if _SECTION.match(stripped) and not line.startswith(" "):
            section, current = "args", None
            continue
        if _OTHER_SECTION.match(stripped) and not line.startswith(" "):
            section, current = "other", None
            continue
        if section is None:
            summary.append(line)
        elif section == "args":
            m = _ARG_LINE.match(stripped)
            indent = len(line) - len(line.lstrip())
            if m and (current is None or indent <= params_indent):
                current, params_indent = m.group(1).lstrip("*"), indent
                params[current] = m.group(3).strip()
            elif current and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
    return "\n".join(summary).strip(), params


@dataclass
class Param:
    name: str
    hint: Any
    required: bool
    default: Any
    description: str | None


class Signature:
    """The parameters of one function, checked when it is registered (not when it is called)."""

    def __init__(self, fn: Callable[..., Any], context_type: type, what: str):
        self.fn = fn
        self.what = what
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as e:  # a hint naming something undefined
            raise TypeError(f"{what}: cannot resolve its type hints: {e}") from e
        self.description, docs = parse_docstring(inspect.getdoc(fn))
        self.return_hint = hints.get("return", inspect.Signature.empty)
        self.context_param: str | None = None
        self.params: list[Param] = []
        self.extra_keywords = False
        for p in inspect.signature(fn).parameters.values():
            hint = hints.get(p.name, Any)
            if _schema.strip_annotated(hint) is context_type:
                self.context_param = p.name
                continue
            if p.kind is p.VAR_KEYWORD:
                self.extra_keywords = True
                continue
            if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
                raise TypeError(f"{what}: parameter {p.name!r} must be passable by name (no *args or /)")
            required = p.default is inspect.Parameter.empty
            self.params.append(
                Param(
                    p.name,
                    hint,
                    required,
                    None if required else p.default,
                    _schema.description_of(hint) or docs.get(p.name),
                )
            )
        for p in self.params:  # fail now, not on the first call
            try:
                _schema.schema_for(p.hint)
            except _schema.UnsupportedHint as e:
                raise TypeError(f"{what}: parameter {p.name!r}: {e}") from e

    def input_schema(self) -> dict[str, Any]:
        properties = {}
        for p in self.params:
            schema = _schema.schema_for(p.hint)
            if p.description and "description" not in schema:
                schema = {**schema, "description": p.description}
            if not p.required and _json_safe(p.default):
                schema = {**schema, "default": _schema.to_json(p.default)}
            properties[p.name] = schema
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [p.name for p in self.params if p.required]
        if required:
            schema["required"] = required
        if not self.extra_keywords:
            schema["additionalProperties"] = False
        return schema

    def bind(self, arguments: dict[str, Any], context: Any) -> dict[str, Any]:
        """Keyword arguments for the function from a JSON object; InvalidParams when they do not fit."""
        known = {p.name: p for p in self.params}
        kwargs: dict[str, Any] = {}
        for name, value in arguments.items():
            param = known.get(name)
            if param is None:
                if self.extra_keywords:
                    kwargs[name] = value
                    continue
                takes = ", ".join(known) or "no arguments"
                raise InvalidParams(f"unknown argument {name!r}; {self.what} takes: {takes}")
            if value is None and not param.required and not _schema.is_optional(param.hint):
                continue  # an explicit null for an optional argument means "the default"
            kwargs[name] = _schema.convert(value, param.hint, f"argument {name!r}")
        missing = [p.name for p in self.params if p.required and p.name not in arguments]
        if missing:
            raise InvalidParams(f"missing required argument {missing[0]!r} ({self.what})")
        if self.context_param:
            kwargs[self.context_param] = context
        return kwargs


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(_schema.to_json(value))
        return True
    except (TypeError, ValueError):
        return False
