"""``caw setup``: point a coding agent at caw's MCP server, idempotently and without clobbering.

Each target returns the file changes it would make (``FileChange``); the command
either shows them (``--print``) or writes them. Running it twice changes nothing.
"""

from caw_lab.setup.changes import FileChange, HttpServer, chosen_database, forwarded_variables, server_command
from caw_lab.setup.claude_code import claude_code_changes
from caw_lab.setup.codex import codex_changes, codex_config_path

__all__ = [
    "FileChange", "HttpServer", "chosen_database", "claude_code_changes", "codex_changes", "codex_config_path",
    "forwarded_variables", "server_command",
]
