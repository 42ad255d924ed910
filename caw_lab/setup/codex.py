"""Codex: ``[mcp_servers.caw]`` in ``$CODEX_HOME/config.toml`` (default ``~/.codex``).

Edited with tomlkit so the user's comments, ordering and other servers survive.
"""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from caw_lab.setup.changes import FileChange, read_text, server_command
from caw_lab.setup.claude_code import SERVER_NAME, not_editable


def codex_config_path() -> Path:
    home = os.environ.get("CODEX_HOME")
    return (Path(home) if home else Path.home() / ".codex") / "config.toml"


def codex_changes(path: Path | None = None, tools: str | None = None) -> list[FileChange]:
    path = path or codex_config_path()
    before = read_text(path)
    try:
        doc = tomlkit.parse(before or "")
    except TOMLKitError as exc:
        raise not_editable(path, f"it is not valid TOML ({exc})") from None
    servers = doc.setdefault("mcp_servers", tomlkit.table(is_super_table=True))
    if not isinstance(servers, Table):
        raise not_editable(path, "mcp_servers is not a table")
    entry = servers.get(SERVER_NAME)
    if not isinstance(entry, Table):
        entry = tomlkit.table()
        servers[SERVER_NAME] = entry
    command, *args = server_command(tools)
    if entry.get("command") != command:
        entry["command"] = command
    if entry.get("args") != args:
        entry["args"] = args
    return [FileChange(path, before, tomlkit.dumps(doc))]
