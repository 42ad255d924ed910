"""The tools: one module per area, each registering its tools on import."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from caw_lab.tools.registry import MAX_TEXT_BYTES, REGISTRY, Params, Tool, call_tool, get_tool, tool


@functools.cache
def load_all() -> dict[str, Tool]:
    """Import every tool module so the registry is complete; free after the first call."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("registry", "client"):
            importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY


__all__ = ["MAX_TEXT_BYTES", "REGISTRY", "Params", "Tool", "call_tool", "get_tool", "load_all", "tool"]
