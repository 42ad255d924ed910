"""Codex: ``[mcp_servers.caw]`` in ``$CODEX_HOME/config.toml`` (default ``~/.codex``).

Edited with tomlkit so the user's comments, ordering and other servers survive. The entry
starts ``caw --server`` over stdio, or, given an ``HttpServer``, names its ``url`` with the
bearer token in ``http_headers`` (the file is then written 0600: it holds a secret).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from caw_lab.setup.changes import FileChange, HttpServer, forwarded_variables, read_text, server_command
from caw_lab.setup.claude_code import SERVER_NAME, not_editable


def codex_config_path() -> Path:
    home = os.environ.get("CODEX_HOME")
    return (Path(home) if home else Path.home() / ".codex") / "config.toml"


STDIO_KEYS = ("command", "args", "env")
HTTP_KEYS = ("url", "http_headers")


def codex_changes(
    path: Path | None = None, http: HttpServer | None = None, db: str | None = None, tools: str | None = None
) -> list[FileChange]:
    """The ``[mcp_servers.caw]`` edit, over stdio on ``db`` when one was chosen. Codex hands a server
    only a short list of variables, so D1's are named in ``env_vars`` for it to forward."""
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
    if http is None:
        command, *args = server_command(db, tools)
        values: dict[str, Any] = {"command": command, "args": args}
        if forwarded := forwarded_variables(db):
            values["env_vars"] = list(dict.fromkeys([*entry.get("env_vars", []), *forwarded]))
        set_keys(entry, values, drop=HTTP_KEYS)
    else:
        headers = entry.get("http_headers")
        headers = dict(headers) if isinstance(headers, dict) else {}
        set_keys(entry, {"url": http.url, "http_headers": {**headers, "Authorization": http.authorization}},
                 drop=STDIO_KEYS)
    return [FileChange(path, before, tomlkit.dumps(doc), secret=http is not None)]


def set_keys(entry: Table, values: dict[str, Any], drop: tuple[str, ...]) -> None:
    """Write ``values`` (only those that differ, so an unchanged file stays byte for byte) and drop the
    other transport's keys."""
    for key in drop:
        if key in entry:
            del entry[key]
    for key, value in values.items():
        if entry.get(key) != value:
            entry[key] = inline(value) if isinstance(value, dict) else value


def inline(values: dict[str, Any]) -> Any:
    table = tomlkit.inline_table()
    table.update(values)
    return table
