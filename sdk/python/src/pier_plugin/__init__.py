"""Write pier plugins in Python.

A plugin is a module with one `Plugin` whose decorated functions are its tools, prompts and
resources; `pier-py build app -o app.wasm` makes it a WebAssembly component for pier.

```python
from pier_plugin import Plugin

plugin = Plugin()

@plugin.tool(read_only=True)
def greet(name: str, excited: bool = False) -> str:
    \"\"\"Greets someone by name.\"\"\"
    return f"Hello, {name}{'!' if excited else '.'}"
```
"""

from . import host
from ._registry import Contents, Plugin
from .context import Context
from .errors import InvalidParams, NotFound
from .results import (
    Message,
    Result,
    assistant,
    audio,
    error,
    image,
    link,
    resource,
    structured,
    text,
    user,
)

__all__ = [
    "Contents",
    "Context",
    "InvalidParams",
    "Message",
    "NotFound",
    "Plugin",
    "Result",
    "assistant",
    "audio",
    "error",
    "host",
    "image",
    "link",
    "resource",
    "structured",
    "text",
    "user",
]
__version__ = "0.1.0"
