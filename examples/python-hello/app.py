"""pyhello: a pier plugin in Python, built with the pier_plugin SDK.

Two tools (one with structured output), a long-running tool that reports progress, a prompt
whose argument the client can complete, a resource and a resource template.
Build: `pier-py build app.py -o pyhello.wasm`; install pyhello.wasm and pyhello.toml together.
"""

import statistics
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from pier_plugin import Context, Plugin, host

plugin = Plugin()


@plugin.tool(read_only=True, title="Greet")
def greet(name: Annotated[str, "who to greet"], excited: bool = False) -> str:
    """Greets someone by name, with the greeting from the manifest's [config]."""
    word = host.config("greeting", "Hello")
    return f"{word}, {name}{'!' if excited else '.'}"


@dataclass
class Stats:
    count: int
    mean: float
    median: float
    stdev: float
    minimum: float
    maximum: float


@plugin.tool(read_only=True)
def stats(numbers: list[float]) -> Stats:
    """Summary statistics of a list of numbers.

    Args:
        numbers: the sample; at least one number.
    """
    # An empty list raises statistics.StatisticsError: the SDK answers with a tool error the
    # model can read, and writes the traceback to pier's log.
    return Stats(
        count=len(numbers),
        mean=statistics.fmean(numbers),
        median=statistics.median(numbers),
        stdev=statistics.stdev(numbers) if len(numbers) > 1 else 0.0,
        minimum=min(numbers),
        maximum=max(numbers),
    )


@plugin.tool(read_only=True)
def count(ctx: Context, to: int) -> str:
    """Counts from 1 to `to` on the CPU, reporting progress ten times. A large `to` runs into the
    manifest's [limits] timeout, which stops the call; the plugin answers the next one."""
    step = max(to // 10, 1)
    started = time.monotonic()
    i = 0
    while i < to:
        i += 1
        if i % step == 0:
            ctx.progress(i, to, f"counted to {i}")
    return f"counted to {to} in {time.monotonic() - started:.3f} s"


@plugin.prompt(title="Review code")
def review(code: str, language: Literal["python", "rust", "javascript"] = "python") -> str:
    """Asks the model to review a piece of code.

    Args:
        code: the code to review.
        language: its language (the client can complete it).
    """
    return f"Review this {language} code for bugs and unclear names:\n\n```{language}\n{code}\n```"


@plugin.resource("hello://readme", mime_type="text/markdown")
def readme() -> str:
    """What this plugin is."""
    return "# pyhello\n\nA pier plugin written in Python with the pier_plugin SDK.\n"


@plugin.resource_template("hello://greeting/{name}", mime_type="text/plain")
def greeting(name: str) -> str:
    """A greeting for `name`, as a resource."""
    return greet(name)
