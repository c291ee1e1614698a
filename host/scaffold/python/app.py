"""{{name}}: a pier plugin in Python, built with the pier_plugin SDK.

Build: `pier-py build app.py -o {{name}}.wasm`; install {{name}}.wasm beside {{name}}.toml in
pier's plugin folder. `python -m pytest` runs the tools in plain CPython.
"""

from dataclasses import dataclass
from typing import Annotated

from pier_plugin import InvalidParams, Plugin, host

plugin = Plugin()


@plugin.tool(read_only=True)
def greet(name: Annotated[str, "who to greet"]) -> str:
    """Greets someone by name, with the greeting from the manifest's [config]."""
    return f"{host.config('greeting', 'Hello')}, {name}!"


@dataclass
class Total:
    count: int
    total: float


@plugin.tool(read_only=True)
def sum_numbers(numbers: list[float]) -> Total:
    """Adds up a list of numbers.

    Args:
        numbers: at least one number.
    """
    if not numbers:
        # The client is told its arguments were wrong, and why.
        raise InvalidParams("give at least one number")
    return Total(count=len(numbers), total=sum(numbers))
