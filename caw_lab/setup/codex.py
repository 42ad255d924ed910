"""Codex: ``[mcp_servers.caw]`` in ``$CODEX_HOME/config.toml`` (default ``~/.codex``).

Edited with tomlkit so the user's comments, ordering and other servers survive.
"""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from caw_lab.setup.changes import FileChange, forwarded_variables, read_text, server_command
from caw_lab.setup.claude_code import SERVER_NAME, not_editable


def codex_config_path() -> Path:
    home = os.environ.get("CODEX_HOME")
    return (Path(home) if home else Path.home() / ".codex") / "config.toml"


def codex_changes(path: Path | None = None, db: str | None = None) -> list[FileChange]:
    """The ``[mcp_servers.caw]`` edit, on ``db`` when one was chosen. Codex hands a server only
    a short list of variables, so D1's are named in ``env_vars`` for it to forward."""
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
    command, *args = server_command(db)
    if entry.get("command") != command:
        entry["command"] = command
    if entry.get("args") != args:
        entry["args"] = args
    forwarded = forwarded_variables(db)
    wanted = list(dict.fromkeys([*entry.get("env_vars", []), *forwarded]))
    if forwarded and entry.get("env_vars") != wanted:
        entry["env_vars"] = wanted
    return [FileChange(path, before, tomlkit.dumps(doc))]
