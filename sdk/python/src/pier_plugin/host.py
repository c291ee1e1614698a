"""What pier offers every plugin: its log, progress reports, the manifest's `[config]`.

These call the component's `pier:mcp/host` import, so they work inside pier only; in plain
CPython (unit tests) `log` falls back to stderr and the rest raise RuntimeError.
"""

from __future__ import annotations

import sys
from typing import Optional


def _host():
    try:
        from wit_world.imports import host, types
    except ImportError as e:
        raise RuntimeError("pier_plugin.host works only inside a component built with `pier-py build`") from e
    return host, types


def log(level: str, message: str) -> None:
    """Writes a line to pier's log, tagged with the plugin. `level`: trace, debug, info, warn, error."""
    try:
        host, types = _host()
        host.log(getattr(types.LogLevel, level.upper()), message)
    except (RuntimeError, NotImplementedError, AttributeError):
        print(f"[{level}] {message}", file=sys.stderr)


def debug(message: str) -> None:
    log("debug", message)


def info(message: str) -> None:
    log("info", message)


def warn(message: str) -> None:
    log("warn", message)


def error(message: str) -> None:
    log("error", message)


def progress(request_id: str, progress: float, total: Optional[float] = None, message: Optional[str] = None) -> None:
    """Reports progress of the call `request_id` (see `Context.progress`, which knows its id)."""
    host, _ = _host()
    host.progress(request_id, float(progress), None if total is None else float(total), message)


def config(key: str, default: Optional[str] = None) -> Optional[str]:
    """One value of the manifest's `[config]` table; non-string TOML values arrive as JSON text."""
    host, _ = _host()
    value = host.config_get(key)
    return default if value is None else value


def config_all() -> dict[str, str]:
    """Every `[config]` key with its value."""
    host, _ = _host()
    return dict(host.config_list())


def plugin_name() -> str:
    """The name pier loaded this plugin under (its tool prefix)."""
    host, _ = _host()
    return host.plugin_name()


def manifest_path() -> str:
    """The plugin's manifest path, to quote in messages about missing grants."""
    host, _ = _host()
    return host.manifest_path()
