"""Finds the plugin in the author's module for the entry `pier-py build` writes."""

from __future__ import annotations

import types

from ._registry import Plugin


def exports_of(module: types.ModuleType, name: str):
    if all(hasattr(module, n) for n in ("Tools", "Resources", "Prompts", "Completions")):
        return module.Tools, module.Resources, module.Prompts, module.Completions
    plugins = [v for v in vars(module).values() if isinstance(v, Plugin)]
    if len(plugins) != 1:
        found = "none" if not plugins else f"{len(plugins)}"
        raise RuntimeError(f"{name} must define exactly one pier_plugin.Plugin at module level (found {found})")
    return plugins[0].exports()
