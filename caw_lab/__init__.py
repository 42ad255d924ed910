"""caw-lab: durable, steerable workflows for coding agents.

The package's front door. Its names load on first use (PEP 562), so importing a layer
below (``caw_lab.store``, ``caw_lab.engine``) runs this file without pulling in the tool
registry or the notebook surface, and nothing inside caw-lab imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from caw_lab.version import __version__

if TYPE_CHECKING:
    from caw_lab.errors import CawError
    from caw_lab.lab import Workbench, load_ipython_extension
    from caw_lab.tools.client import Client, connect

_EXPORTS = {
    "CawError": "caw_lab.errors",
    "Client": "caw_lab.tools.client",
    "connect": "caw_lab.tools.client",
    "Workbench": "caw_lab.lab",
    "load_ipython_extension": "caw_lab.lab",  # ``%load_ext caw_lab``
}

__all__ = ["CawError", "Client", "Workbench", "__version__", "connect", "load_ipython_extension"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
