"""The MCP SDK's server half, imported without its packages' eager re-exports.

``mcp/__init__.py`` imports the SDK's client (and through it an in-memory transport),
and ``mcp/server/__init__.py`` the high-level ``MCPServer``: a low-level server uses
neither, yet they are a sixth of its start-up (bench/RESULTS.md). Python runs a
package's ``__init__`` before any of its submodules, so ``defer`` registers a package as
its bare module, whose ``__path__`` is all that finding submodules needs, and runs the
``__init__`` the first time anyone asks the package for a name it lacks (PEP 562): a
later ``from mcp import Client`` in the same process still works.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any


def defer(name: str) -> None:
    """Register package ``name`` without running its ``__init__``, unless it is imported already."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    running = threading.Lock()

    def complete(attribute: str) -> Any:
        """Run the ``__init__`` once, however many threads ask at the same moment."""
        with running:
            if module.__dict__.pop("__getattr__", None) is not None:
                spec.loader.exec_module(module)  # type: ignore[union-attr]
        return getattr(module, attribute)

    module.__getattr__ = complete  # type: ignore[attr-defined]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


defer("mcp")
defer("mcp.server")
