"""caw-lab: durable, steerable workflows for coding agents."""

from caw_lab.client import Client, connect
from caw_lab.errors import CawError

__all__ = ["CawError", "Client", "connect"]
__version__ = "0.1.0"
