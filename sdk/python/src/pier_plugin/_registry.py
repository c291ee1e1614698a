"""`Plugin`: the decorators that register tools, prompts, resources and completions, and the
dispatch that calls them.

Everything here is plain Python (no generated bindings), so it runs and is tested in CPython;
`_exports` translates to and from the contract's records inside the component.
"""

from __future__ import annotations

import enum
import json
import re
import traceback
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import unquote  # imported here: a component has only what loaded at build

from . import _schema, host
from ._signature import Signature
from .context import Context
from .errors import InvalidParams, NotFound, PierError
from .results import Embedded, Message, Result, Text, as_messages, as_result

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class Annotations:
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


@dataclass
class ToolSpec:
    name: str
    title: Optional[str]
    description: str
    input_schema: dict[str, Any]
    output_schema: Optional[dict[str, Any]]
    annotations: Annotations
    signature: Signature


@dataclass
class PromptArg:
    name: str
    description: Optional[str]
    required: bool


@dataclass
class PromptSpec:
    name: str
    title: Optional[str]
    description: Optional[str]
    arguments: list[PromptArg]
    signature: Signature


@dataclass
class ResourceSpec:
    uri: str
    name: str
    title: Optional[str]
    description: Optional[str]
    mime_type: Optional[str]
    signature: Signature


@dataclass
class TemplateSpec:
    uri_template: str
    name: str
    title: Optional[str]
    description: Optional[str]
    mime_type: Optional[str]
    signature: Signature
    pattern: re.Pattern = field(repr=False)


@dataclass
class Contents:
    """One resource body as `read_resource` returns it."""

    uri: str
    mime_type: Optional[str]
    body: "str | bytes"


def _template_pattern(template: str) -> re.Pattern:
    """A regex for an RFC 6570 level-1 template: each `{var}` matches one path segment."""
    out, pos = [], 0
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/?#]+)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "$")


def _choices(hint: Any) -> list[str]:
    """The values a prompt argument can take, when its hint says (Literal, Enum)."""
    hint = _schema.strip_annotated(hint)
    if _schema.is_optional(hint):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is typing.Literal:
        return [str(a) for a in typing.get_args(hint)]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [str(m.value) for m in hint]
    return []


class Plugin:
    """A pier plugin: create one at module level and decorate its functions.

    ```python
    plugin = Plugin()

    @plugin.tool(read_only=True)
    def greet(name: str) -> str:
        "Greets someone by name."
        return f"Hello, {name}!"
    ```

    Build with `pier-py build app -o app.wasm`. Without the build command, end the module with
    `Tools, Resources, Prompts, Completions = plugin.exports()` and run componentize-py with the
    `full-plugin` world yourself.
    """

    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}
        self._prompts: dict[str, PromptSpec] = {}
        self._resources: dict[str, ResourceSpec] = {}
        self._templates: list[TemplateSpec] = []
        self._completers: dict[tuple[str, str, str], Callable[..., Any]] = {}

    # ---- registration -------------------------------------------------------------------

    def tool(
        self,
        fn: Optional[Callable[..., Any]] = None,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        read_only: bool = False,
        destructive: Optional[bool] = None,
        idempotent: Optional[bool] = None,
        open_world: bool = False,
        output_schema: Optional[dict[str, Any]] = None,
    ):
        """Registers a tool. Its arguments are the function's parameters (schema from the type
        hints), its description the docstring. `read_only` tools are idempotent and not
        destructive; others are destructive unless `destructive=False`. `open_world` says the
        tool reaches systems beyond a closed domain (the web, other people's services)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            tool_name = name or f.__name__
            self._check_name(tool_name, "tool", self._tools)
            sig = Signature(f, Context, f"tool {tool_name!r}")
            out = output_schema if output_schema is not None else _output_schema(sig.return_hint)
            self._tools[tool_name] = ToolSpec(
                tool_name,
                title,
                description or sig.description or tool_name,
                sig.input_schema(),
                out,
                Annotations(
                    read_only=read_only,
                    destructive=False if read_only else (True if destructive is None else destructive),
                    idempotent=read_only if idempotent is None else idempotent,
                    open_world=open_world,
                ),
                sig,
            )
            return f

        return register(fn) if fn is not None else register

    def prompt(
        self,
        fn: Optional[Callable[..., Any]] = None,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
    ):
        """Registers a prompt. Its arguments are the function's parameters (strings, or
        Literal/Enum choices, which clients are offered as completions); it returns a str (one user
        message), a Message (`user(...)`, `assistant(...)`) or a list of them."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            prompt_name = name or f.__name__
            self._check_name(prompt_name, "prompt", self._prompts)
            sig = Signature(f, Context, f"prompt {prompt_name!r}")
            for p in sig.params:
                hint = _schema.strip_annotated(p.hint)
                if _schema.is_optional(hint):
                    hint = next(a for a in typing.get_args(hint) if a is not type(None))
                if hint not in (str, Any) and not _choices(hint):
                    raise TypeError(
                        f"prompt {prompt_name!r}: parameter {p.name!r} must be a str, Literal or "
                        f"Enum (prompt arguments are strings in MCP)"
                    )
            self._prompts[prompt_name] = PromptSpec(
                prompt_name,
                title,
                description or sig.description or None,
                [PromptArg(p.name, p.description, p.required) for p in sig.params],
                sig,
            )
            return f

        return register(fn) if fn is not None else register

    def resource(
        self,
        uri: str,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        mime_type: Optional[str] = None,
    ):
        """Registers a resource at a fixed URI; the function returns its body (str or bytes)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            if uri in self._resources:
                raise ValueError(f"resource {uri!r} is registered twice")
            sig = Signature(f, Context, f"resource {uri!r}")
            if sig.params:
                raise TypeError(f"resource {uri!r} takes no arguments; use resource_template for URIs with variables")
            self._resources[uri] = ResourceSpec(
                uri, name or f.__name__, title, description or sig.description or None, mime_type, sig
            )
            return f

        return register

    def resource_template(
        self,
        uri_template: str,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        mime_type: Optional[str] = None,
    ):
        """Registers a family of resources, e.g. `notes://{name}`; each `{var}` matches one path
        segment and is passed (URL-decoded) to the parameter of that name."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            pattern = _template_pattern(uri_template)
            sig = Signature(f, Context, f"resource template {uri_template!r}")
            variables = set(pattern.groupindex)
            params = {p.name for p in sig.params}
            if variables != params:
                raise TypeError(
                    f"resource template {uri_template!r}: its variables {sorted(variables)} must be "
                    f"the function's parameters {sorted(params)}"
                )
            self._templates.append(
                TemplateSpec(
                    uri_template, name or f.__name__, title, description or sig.description or None,
                    mime_type, sig, pattern,
                )
            )
            return f

        return register

    def completion(self, *, argument: str, prompt: Optional[str] = None, template: Optional[str] = None):
        """Registers suggestions for one argument of a prompt or variable of a resource
        template: `fn(value: str, context: dict[str, str]) -> list[str]`, best first."""
        if (prompt is None) == (template is None):
            raise ValueError("completion: give exactly one of prompt= or template=")
        key = ("prompt", prompt, argument) if prompt is not None else ("resource-template", template, argument)

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self._completers[key] = f  # type: ignore[index]
            return f

        return register

    def exports(self):
        """The component's export classes `(Tools, Resources, Prompts, Completions)`, for a module
        that componentize-py builds directly (`pier-py build` writes this line itself)."""
        from ._exports import export_classes

        return export_classes(self)

    @staticmethod
    def _check_name(name: str, what: str, taken: dict) -> None:
        if not _NAME.match(name):
            raise ValueError(f"{what} name {name!r} must match ^[a-zA-Z0-9_-]{{1,64}}$")
        if name in taken:
            raise ValueError(f"{what} {name!r} is registered twice")

    # ---- dispatch -----------------------------------------------------------------------

    def tools(self) -> list[ToolSpec]:
        return list(self._tools.values())

    def call_tool(self, context: Context, name: str, arguments: str) -> Result:
        """Runs a tool. Refusals (unknown tool, bad arguments) raise NotFound/InvalidParams; any
        other exception becomes an is-error result, its traceback written to pier's log."""
        spec = self._tools.get(name)
        if spec is None:
            raise NotFound(f"no tool {name!r}; this plugin has: {', '.join(self._tools) or 'none'}")
        kwargs = spec.signature.bind(_arguments(arguments), context)
        try:
            value = spec.signature.fn(**kwargs)
            return as_result(value)
        except PierError:
            raise
        except Exception as e:
            host.error(f"tool {name!r} raised:\n{traceback.format_exc().rstrip()}")
            return Result(
                [Text(f"{name} failed: {type(e).__name__}: {e} (the traceback is in pier's log)")],
                is_error=True,
            )

    def prompts(self) -> list[PromptSpec]:
        return list(self._prompts.values())

    def get_prompt(self, context: Context, name: str, arguments: dict[str, str]) -> tuple[Optional[str], list[Message]]:
        spec = self._prompts.get(name)
        if spec is None:
            raise NotFound(f"no prompt {name!r}; this plugin has: {', '.join(self._prompts) or 'none'}")
        kwargs = spec.signature.bind(dict(arguments), context)
        return spec.description, _guarded(f"prompt {name!r}", lambda: as_messages(spec.signature.fn(**kwargs)))

    def resources(self) -> list[ResourceSpec]:
        return list(self._resources.values())

    def templates(self) -> list[TemplateSpec]:
        return list(self._templates)

    def read_resource(self, context: Context, uri: str) -> list[Contents]:
        spec = self._resources.get(uri)
        if spec is not None:
            kwargs = spec.signature.bind({}, context)
            return _guarded(
                f"resource {uri!r}", lambda: _contents(uri, spec.mime_type, spec.signature.fn(**kwargs))
            )
        for t in self._templates:
            m = t.pattern.match(uri)
            if m:
                values = {k: unquote(v) for k, v in m.groupdict().items()}
                kwargs = t.signature.bind(values, context)
                return _guarded(f"resource {uri!r}", lambda: _contents(uri, t.mime_type, t.signature.fn(**kwargs)))
        raise NotFound(f"no resource {uri!r} in this plugin")

    def complete(self, kind: str, target: str, argument: str, value: str, context: dict[str, str]) -> list[str]:
        completer = self._completers.get((kind, target, argument))
        if completer is not None:
            found = _guarded(f"completion of {argument!r}", lambda: list(completer(value, context)))
            return [str(v) for v in found][:100]
        if kind == "prompt" and target in self._prompts:
            for p in self._prompts[target].signature.params:
                if p.name == argument:
                    return [c for c in _choices(p.hint) if c.lower().startswith(value.lower())]
        return []


def _arguments(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as e:
        raise InvalidParams(f"the arguments are not JSON: {e}") from e
    if not isinstance(value, dict):
        raise InvalidParams(f"the arguments must be a JSON object, not {_schema.json_kind(value)}")
    return value


def _guarded(what: str, run: Callable[[], Any]) -> Any:
    """Runs a prompt/resource/completion function; an exception other than a refusal is logged
    with its traceback and raised as an internal error naming the exception."""
    try:
        return run()
    except PierError:
        raise
    except Exception as e:
        host.error(f"{what} raised:\n{traceback.format_exc().rstrip()}")
        raise InternalError(f"{what} failed: {type(e).__name__}: {e} (the traceback is in pier's log)") from e


class InternalError(PierError):
    """A prompt, resource or completion function raised; the text is shown to the client."""


def _contents(uri: str, mime_type: Optional[str], value: Any) -> list[Contents]:
    if isinstance(value, (str, bytes, bytearray)):
        return [Contents(uri, mime_type or ("text/plain" if isinstance(value, str) else None), _body(value))]
    if isinstance(value, Embedded):
        return [Contents(value.uri, value.mime_type, _body(value.body))]
    if isinstance(value, Contents):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (Contents, Embedded)) for v in value):
        return [c for v in value for c in _contents(uri, mime_type, v)]
    raise TypeError(f"a resource returns str, bytes or a list of Contents, not {type(value).__name__}")


def _body(value: "str | bytes | bytearray") -> "str | bytes":
    return bytes(value) if isinstance(value, bytearray) else value


def _output_schema(hint: Any) -> Optional[dict[str, Any]]:
    """An output schema from a return hint that describes an object (dataclass, TypedDict,
    dict[str, T]); other returns carry no schema."""
    if hint is None or hint is type(None):
        return None
    try:
        schema = _schema.schema_for(hint)
    except _schema.UnsupportedHint:
        return None
    return schema if schema.get("type") == "object" else None
