"""Type hints to JSON Schema, and JSON arguments back to the hinted Python values.

One walk over a hint serves both directions, so what a tool advertises is exactly what it
accepts: a client that follows the schema never sees an invalid-params answer, and one that does
not gets a sentence naming the argument, what it should be and what came instead.

Supported: str, int, float, bool, None, Any, list/tuple/set/Sequence, dict[str, T], Optional
and unions, Literal, Enum subclasses, dataclasses, TypedDict, pydantic models (their own
schema and validation), and Annotated[T, "description"].
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections import abc
from typing import Any

from .errors import InvalidParams


class UnsupportedHint(TypeError):
    """A hint the SDK cannot turn into a schema; raised when the plugin registers the function."""


def description_of(hint: Any) -> str | None:
    """The first string in `Annotated[T, "..."]`, if any."""
    if typing.get_origin(hint) is typing.Annotated:
        for extra in hint.__metadata__:
            if isinstance(extra, str):
                return extra
    return None


def strip_annotated(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def is_optional(hint: Any) -> bool:
    hint = strip_annotated(hint)
    return _is_union(hint) and type(None) in typing.get_args(hint)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _is_typeddict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__")


_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def _is_pydantic_model(hint: Any) -> bool:
    """A pydantic (v2) model class, recognised by its methods: the SDK does not depend on
    pydantic, it uses a model's own schema and validation when a plugin does."""
    return isinstance(hint, type) and callable(getattr(hint, "model_json_schema", None)) and callable(
        getattr(hint, "model_validate", None)
    )


def _inline_refs(schema: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """pydantic puts nested models under `$defs` with `$ref`s to them; a tool's argument is a
    property of the input schema, where those refs would not resolve, so they are inlined."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen or name not in defs:
                raise UnsupportedHint(f"the model {name!r} refers to itself; a JSON Schema for it needs $ref, which a tool argument cannot carry")
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return {**_inline_refs(defs[name], defs, (*seen, name)), **rest}
        return {k: _inline_refs(v, defs, seen) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs, seen) for v in schema]
    return schema


def schema_for(hint: Any) -> dict[str, Any]:
    """The JSON Schema of values of `hint`."""
    described = description_of(hint)
    schema = _schema(strip_annotated(hint))
    if described:
        schema = {**schema, "description": described}
    return schema


def _schema(hint: Any) -> dict[str, Any]:
    if hint is Any or hint is object:
        return {}
    if _is_pydantic_model(hint):
        schema = hint.model_json_schema()
        return _inline_refs(schema, schema.get("$defs", {}))
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if _is_union(hint):
        options = [schema_for(a) for a in args]
        if all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
            return {"type": [o["type"] for o in options]}
        return {"anyOf": options}
    if origin is typing.Literal:
        values = list(args)
        kinds = {_SCALARS.get(type(v)) for v in values}
        schema: dict[str, Any] = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        kinds = {_SCALARS.get(type(v)) for v in values}
        schema = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if origin in (list, set, frozenset, abc.Sequence, abc.Set) or hint in (list, set, frozenset):
        schema = {"type": "array"}
        if args:
            schema["items"] = schema_for(args[0])
        return schema
    if origin is tuple or hint is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": schema_for(args[0])}
        if args:
            return {
                "type": "array",
                "prefixItems": [schema_for(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        return {"type": "array"}
    if origin in (dict, abc.Mapping) or hint is dict:
        if args and args[0] is not str:
            raise UnsupportedHint(f"dict keys must be str in JSON, not {args[0]!r}")
        schema = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            schema["additionalProperties"] = schema_for(args[1])
        return schema
    if _is_typeddict(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        return _object(
            {k: schema_for(v) for k, v in hints.items()},
            [k for k in hints if k in hint.__required_keys__],
        )
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint, include_extras=True)
        fields = [f for f in dataclasses.fields(hint) if f.init]
        return _object(
            {f.name: schema_for(hints[f.name]) for f in fields},
            [f.name for f in fields if _field_required(f)],
        )
    raise UnsupportedHint(f"no JSON Schema for the type hint {hint!r}")


def _field_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def json_kind(value: Any) -> str:
    """How a JSON value reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def convert(value: Any, hint: Any, where: str) -> Any:
    """`value` (decoded JSON) as the Python value `hint` describes; InvalidParams if it is not one.

    `where` names the place for the error message, e.g. "argument 'count'" or "'items[2].name'".
    """
    hint = strip_annotated(hint)
    if hint is Any or hint is object:
        return value
    if _is_pydantic_model(hint):
        try:
            return hint.model_validate(value)
        except Exception as e:  # pydantic's ValidationError, without importing pydantic
            errors = getattr(e, "errors", None)
            if not callable(errors):
                raise
            first = errors()[0]
            at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
            raise InvalidParams(f"{where}{at}: {first.get('msg', e)}") from None
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _wrong(where, "true or false", value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _wrong(where, "an integer", value)
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _wrong(where, "a number", value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _wrong(where, "a string", value)
    if hint is type(None):
        if value is None:
            return None
        raise _wrong(where, "null", value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if _is_union(hint):
        if value is None and type(None) in args:
            return None
        problems = []
        for option in args:
            if option is type(None):
                continue
            try:
                return convert(value, option, where)
            except InvalidParams as e:
                problems.append(str(e))
        raise InvalidParams(problems[0] if len(problems) == 1 else f"{where} fits none of its types: " + "; ".join(problems))
    if origin is typing.Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise InvalidParams(f"{where} must be one of {', '.join(map(_show, args))}, not {json_kind(value)}")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        for member in hint:
            if member.value == value and type(member.value) is type(value):
                return member
        raise InvalidParams(
            f"{where} must be one of {', '.join(_show(m.value) for m in hint)}, not {json_kind(value)}"
        )
    if origin in (list, set, frozenset, abc.Sequence, abc.Set, tuple) or hint in (list, set, frozenset, tuple):
        if not isinstance(value, list):
            raise _wrong(where, "an array", value)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise InvalidParams(f"{where} must have {len(args)} items, not {len(value)}")
            return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin in (set, abc.Set) or hint is set:
            return set(items)
        if origin is frozenset or hint is frozenset:
            return frozenset(items)
        if origin is tuple or hint is tuple:
            return tuple(items)
        return items
    if origin in (dict, abc.Mapping) or hint is dict:
        if not isinstance(value, dict):
            raise _wrong(where, "an object", value)
        item = args[1] if len(args) == 2 else Any
        return {k: convert(v, item, f"{where}.{k}") for k, v in value.items()}
    if _is_typeddict(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        return _fields(value, hints, hint.__required_keys__, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint, include_extras=True)
        fields = [f for f in dataclasses.fields(hint) if f.init]
        required = {f.name for f in fields if _field_required(f)}
        return hint(**_fields(value, {f.name: hints[f.name] for f in fields}, required, where))
    raise UnsupportedHint(f"cannot convert to {hint!r}")


def _fields(value: Any, hints: dict[str, Any], required: abc.Set, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(where, "an object", value)
    unknown = [k for k in value if k not in hints]
    if unknown:
        raise InvalidParams(f"{where} has no field {unknown[0]!r} (it has: {', '.join(hints) or 'none'})")
    missing = [k for k in hints if k in required and k not in value]
    if missing:
        raise InvalidParams(f"{where} is missing {missing[0]!r}")
    return {k: convert(v, hints[k], f"{where}.{k}") for k, v in value.items()}


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def _wrong(where: str, expected: str, value: Any) -> InvalidParams:
    return InvalidParams(f"{where} must be {expected}, not {json_kind(value)}")


def to_json(value: Any) -> Any:
    """A tool's return value as plain JSON data (dataclasses, pydantic models and enums
    unwrapped)."""
    if callable(getattr(value, "model_dump", None)) and not isinstance(value, type):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    return value
