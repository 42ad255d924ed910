"""The notebook surface: ``%load_ext caw_lab``, the panels and the Workbench.

Importing this package is cheap (no ipywidgets) so ``caw_lab`` can re-export
``load_ipython_extension`` without slowing the CLI; the widgets load on first use.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext caw_lab``: register the ``%caw`` magics and their tab completion."""
    from caw_lab.lab.magics import register

    register(ip)


def __getattr__(name: str) -> Any:
    if name == "Workbench":
        from caw_lab.lab.workbench import Workbench

        return Workbench
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Workbench", "load_ipython_extension"]
