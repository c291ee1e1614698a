"""The tools of app.py in plain CPython: `python -m pytest`."""

import pytest

from pier_plugin import Context, InvalidParams

import app


def test_greet_uses_the_configured_greeting(monkeypatch):
    # pier's host functions exist only inside a component; stand in for [config] here.
    monkeypatch.setattr(app.host, "config", lambda key, default=None: "Hi")
    answer = app.plugin.call_tool(Context(), "greet", '{"name": "Ada"}')
    assert answer.content[0].text == "Hi, Ada!"


def test_sum_answers_with_structured_output():
    answer = app.plugin.call_tool(Context(), "sum_numbers", '{"numbers": [1.5, 2.5]}')
    assert not answer.is_error
    assert answer.structured == {"count": 2, "total": 4.0}


def test_bad_arguments_are_refused():
    with pytest.raises(InvalidParams):
        app.plugin.call_tool(Context(), "sum_numbers", '{"numbers": []}')
    with pytest.raises(InvalidParams):
        app.plugin.call_tool(Context(), "sum_numbers", '{"numbers": "12"}')


def test_tools_are_listed_with_their_schemas():
    tools = {t.name: t for t in app.plugin.tools()}
    assert set(tools) == {"greet", "sum_numbers"}
    assert tools["greet"].input_schema["required"] == ["name"]
