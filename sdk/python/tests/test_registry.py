"""The SDK in plain CPython: schemas from hints, argument checking, results, dispatch.

The component side (the same code inside pier, through a real MCP client) is tested by
tests/python/test_python_plugin.py with examples/python-hello.
"""

import enum
import json
from dataclasses import dataclass
from typing import Annotated, Literal, Optional, TypedDict

import pytest

from pier_plugin import Context, InvalidParams, NotFound, Plugin, assistant, error, structured, text, user
from pier_plugin import _schema
from pier_plugin._signature import parse_docstring


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: float
    y: float
    label: str = ""


class Row(TypedDict):
    id: int
    name: str


def test_schemas_follow_the_hints():
    assert _schema.schema_for(str) == {"type": "string"}
    assert _schema.schema_for(Optional[int]) == {"type": ["integer", "null"]}
    assert _schema.schema_for(list[float]) == {"type": "array", "items": {"type": "number"}}
    assert _schema.schema_for(dict[str, bool]) == {"type": "object", "additionalProperties": {"type": "boolean"}}
    assert _schema.schema_for(Literal["a", "b"]) == {"enum": ["a", "b"], "type": "string"}
    assert _schema.schema_for(Colour) == {"enum": ["red", "blue"], "type": "string"}
    assert _schema.schema_for(Annotated[int, "how many"]) == {"type": "integer", "description": "how many"}
    assert _schema.schema_for(Point) == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "label": {"type": "string"}},
        "required": ["x", "y"],
        "additionalProperties": False,
    }
    assert _schema.schema_for(Row)["required"] == ["id", "name"]
    with pytest.raises(_schema.UnsupportedHint):
        _schema.schema_for(dict[int, str])


def test_arguments_are_converted_or_refused_with_the_place_named():
    assert _schema.convert(True, bool, "b") is True
    with pytest.raises(InvalidParams, match="argument 'b' must be true or false, not the number 1"):
        _schema.convert(1, bool, "argument 'b'")
    assert _schema.convert(3.0, int, "argument 'n'") == 3
    assert _schema.convert(2, float, "x") == 2.0
    assert _schema.convert("blue", Colour, "c") is Colour.BLUE
    assert _schema.convert({"x": 1, "y": 2}, Point, "p") == Point(1.0, 2.0)
    assert _schema.convert([1, 2], set[int], "s") == {1, 2}
    cases = [
        (True, int, "argument 'n' must be an integer, not true"),
        ("3", int, "argument 'n' must be an integer, not the string '3'"),
        (3.5, int, "argument 'n' must be an integer, not the number 3.5"),
        ("green", Colour, "argument 'n' must be one of 'red', 'blue', not the string 'green'"),
        ([1, "x"], list[int], "argument 'n'[1] must be an integer, not the string 'x'"),
        ({"x": 1}, Point, "argument 'n' is missing 'y'"),
        ({"x": 1, "y": 2, "z": 3}, Point, "argument 'n' has no field 'z' (it has: x, y, label)"),
        ({"x": "a", "y": 2}, Point, "argument 'n'.x must be a number, not the string 'a'"),
    ]
    for value, hint, message in cases:
        with pytest.raises(InvalidParams) as e:
            _schema.convert(value, hint, "argument 'n'")
        assert str(e.value) == message


def test_docstrings_give_descriptions():
    summary, params = parse_docstring(
        """Adds numbers.

        More words.

        Args:
            a: the first
                and only first.
            b (int): the second.

        Returns:
            the sum.
        """
    )
    assert summary == "Adds numbers.\n\nMore words."
    assert params == {"a": "the first and only first.", "b": "the second."}


def make_plugin() -> Plugin:
    plugin = Plugin()

    @plugin.tool(read_only=True)
    def add(a: int, b: Annotated[int, "the second"] = 2) -> int:
        """Adds two integers.

        Args:
            a: the first.
        """
        return a + b

    @plugin.tool(destructive=False)
    def where(ctx: Context, p: Point) -> Point:
        """Echoes a point."""
        assert ctx.request_id == "7"
        return p

    @plugin.tool()
    def boom(n: int = 0) -> str:
        return str(1 // n)

    @plugin.tool()
    def many() -> object:
        return structured({"n": 1}, summary="one").add(text("and more"))

    @plugin.tool()
    def refuse(n: int) -> str:
        if n < 0:
            raise InvalidParams("n must not be negative")
        return error(f"{n} is not allowed")

    @plugin.prompt()
    def ask(topic: str, tone: Literal["kind", "blunt"] = "kind"):
        """Asks about a topic."""
        return [user(f"Tell me about {topic}, {tone}ly."), assistant("Gladly.")]

    @plugin.resource("demo://readme", mime_type="text/markdown")
    def readme() -> str:
        return "# demo"

    @plugin.resource_template("demo://items/{item}")
    def item(item: str) -> bytes:
        return item.encode()

    @plugin.completion(template="demo://items/{item}", argument="item")
    def items(value: str, context: dict) -> list[str]:
        return [i for i in ["apple", "avocado", "banana"] if i.startswith(value)]

    return plugin


def test_tools_list_with_schemas_and_annotations():
    plugin = make_plugin()
    tools = {t.name: t for t in plugin.tools()}
    add = tools["add"]
    assert add.description == "Adds two integers."
    assert add.input_schema == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "the first."},
            "b": {"type": "integer", "description": "the second", "default": 2},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert add.output_schema is None
    assert (add.annotations.read_only, add.annotations.destructive, add.annotations.idempotent) == (True, False, True)
    assert tools["boom"].annotations.destructive is True
    assert tools["where"].annotations.destructive is False
    assert "ctx" not in tools["where"].input_schema["properties"]
    assert tools["where"].output_schema["required"] == ["x", "y"]


def test_calls_convert_answers_and_refuse_bad_input():
    plugin = make_plugin()
    cx = Context(request_id="7")
    assert plugin.call_tool(cx, "add", '{"a": 1}').content[0].text == "3"
    answer = plugin.call_tool(cx, "where", '{"p": {"x": 1, "y": 2.5}}')
    assert answer.structured == {"x": 1.0, "y": 2.5, "label": ""}
    assert json.loads(answer.content[0].text) == answer.structured
    many = plugin.call_tool(cx, "many", "{}")
    assert [b.text for b in many.content] == ["one", "and more"] and many.structured == {"n": 1}
    refused = plugin.call_tool(cx, "refuse", '{"n": 3}')
    assert refused.is_error and refused.content[0].text == "3 is not allowed"
    for name, args, message in [
        ("nope", "{}", "no tool 'nope'; this plugin has: add, where, boom, many, refuse"),
    ]:
        with pytest.raises(NotFound, match=message):
            plugin.call_tool(cx, name, args)
    for args, message in [
        ('{"b": 1}', "missing required argument 'a'"),
        ('{"a": 1, "c": 2}', "unknown argument 'c'; tool 'add' takes: a, b"),
        ('{"a": "1"}', "argument 'a' must be an integer, not the string '1'"),
        ("[1]", "the arguments must be a JSON object, not an array"),
        ("{", "the arguments are not JSON"),
    ]:
        with pytest.raises(InvalidParams, match=message.replace("(", r"\(").replace("[", r"\[")):
            plugin.call_tool(cx, "add", args)
    with pytest.raises(InvalidParams, match="n must not be negative"):
        plugin.call_tool(cx, "refuse", '{"n": -1}')


def test_an_exception_is_a_tool_error_and_its_traceback_is_logged(capsys):
    plugin = make_plugin()
    answer = plugin.call_tool(Context(), "boom", "{}")
    assert answer.is_error
    assert answer.content[0].text == (
        "boom failed: ZeroDivisionError: integer division or modulo by zero (the traceback is in pier's log)"
    )
    logged = capsys.readouterr().err
    assert "tool 'boom' raised:" in logged and "Traceback (most recent call last)" in logged
    assert "return str(1 // n)" in logged


def test_prompts_resources_and_completions():
    plugin = make_plugin()
    [ask] = plugin.prompts()
    assert [(a.name, a.required) for a in ask.arguments] == [("topic", True), ("tone", False)]
    description, messages = plugin.get_prompt(Context(), "ask", {"topic": "owls", "tone": "blunt"})
    assert description == "Asks about a topic."
    assert [(m.role, m.content.text) for m in messages] == [
        ("user", "Tell me about owls, bluntly."),
        ("assistant", "Gladly."),
    ]
    with pytest.raises(InvalidParams, match="must be one of 'kind', 'blunt'"):
        plugin.get_prompt(Context(), "ask", {"topic": "owls", "tone": "rude"})
    [readme] = plugin.read_resource(Context(), "demo://readme")
    assert (readme.body, readme.mime_type) == ("# demo", "text/markdown")
    [blob] = plugin.read_resource(Context(), "demo://items/pear%20s")
    assert blob.body == b"pear s" and blob.uri == "demo://items/pear%20s"
    with pytest.raises(NotFound):
        plugin.read_resource(Context(), "demo://other")
    assert plugin.complete("prompt", "ask", "tone", "b", {}) == ["blunt"]
    assert plugin.complete("resource-template", "demo://items/{item}", "item", "a", {}) == ["apple", "avocado"]
    assert plugin.complete("prompt", "ask", "topic", "", {}) == []


def test_mistakes_are_caught_when_registering():
    plugin = Plugin()
    with pytest.raises(ValueError, match="must match"):
        plugin.tool(name="has space")(lambda: "")
    with pytest.raises(TypeError, match="parameter 'k'"):

        @plugin.tool()
        def bad(k: dict[int, str]) -> str:
            return ""

    with pytest.raises(TypeError, match="must be a str, Literal or Enum"):

        @plugin.prompt()
        def p(n: int) -> str:
            return ""

    with pytest.raises(TypeError, match="variables"):

        @plugin.resource_template("x://{a}")
        def t(b: str) -> str:
            return ""


def test_pydantic_models_bring_their_own_schema_and_validation():
    # pydantic is installed in the SDK's test venv by `cargo xtask test`; the SDK itself does
    # not depend on it.
    import pydantic

    class Line(pydantic.BaseModel):
        sku: str = pydantic.Field(description="the product code")
        quantity: int = pydantic.Field(ge=1)

    class Order(pydantic.BaseModel):
        customer: str
        lines: list[Line]

    class Total(pydantic.BaseModel):
        items: int
        customer: str

    plugin = Plugin()

    @plugin.tool(read_only=True)
    def price(order: Order) -> Total:
        """Counts an order's items."""
        return Total(items=sum(line.quantity for line in order.lines), customer=order.customer)

    (tool,) = plugin.tools()
    order = tool.input_schema["properties"]["order"]
    # Nested models are inlined: a tool argument cannot carry `$defs`.
    assert "$defs" not in json.dumps(tool.input_schema)
    line = order["properties"]["lines"]["items"]
    assert line["properties"]["sku"]["description"] == "the product code"
    assert line["properties"]["quantity"]["minimum"] == 1
    assert tool.output_schema["required"] == ["items", "customer"]

    cx = Context(request_id="1")
    answer = plugin.call_tool(cx, "price", '{"order": {"customer": "ada", "lines": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 3}]}}')
    assert answer.structured == {"items": 5, "customer": "ada"}
    with pytest.raises(InvalidParams, match=r"argument 'order'\.lines\[1\]\.quantity: Input should be greater than or equal to 1"):
        plugin.call_tool(cx, "price", '{"order": {"customer": "ada", "lines": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 0}]}}')
    with pytest.raises(InvalidParams, match=r"argument 'order'\.customer: Field required"):
        plugin.call_tool(cx, "price", '{"order": {"lines": []}}')

    class Node(pydantic.BaseModel):
        children: list["Node"] = []

    with pytest.raises(TypeError, match="refers to itself"):

        @plugin.tool()
        def walk(tree: Node) -> str:
            """Walks a tree."""
            return "ok"
