"""caw-lab: durable, steerable workflows for coding agents."""

from caw_lab.client import Client, connect
from caw_lab.errors import CawError
from caw_lab.lab import load_ipython_extension

__all__ = ["CawError", "Client", "Workbench", "connect", "load_ipython_extension"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``caw_lab.Workbench`` loads ipywidgets only when a notebook asks for it."""
    if name == "Workbench":
        from caw_lab.lab.workbench import Workbench

        return Workbench
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
