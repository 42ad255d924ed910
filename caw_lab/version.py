"""The version caw-lab reports (the CLI, the MCP handshake, /health); pyproject.toml repeats it."""

__version__ = "0.1.0"
