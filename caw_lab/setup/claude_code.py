"""Claude Code: a ``caw`` entry in the project's ``.mcp.json`` and the protocol in ``CLAUDE.md``.

Other servers in ``.mcp.json`` and keys the user added to the ``caw`` entry (``env``,
say) are kept. The entry starts ``caw --server`` over stdio, or, given an ``HttpServer``,
points at its URL with its bearer token in ``headers`` (the file is then written 0600:
it holds a secret). The CLAUDE.md section sits between markers, so running setup again
replaces it in place instead of appending a second copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from caw_lab.errors import CawError
from caw_lab.mcp.protocol import PROTOCOL
from caw_lab.setup.changes import FileChange, HttpServer, forwarded_variables, read_text, server_command

SERVER_NAME = "caw"
BEGIN = "<!-- caw:begin (managed by `caw setup claude-code`) -->"
END = "<!-- caw:end -->"


STDIO_KEYS = ("command", "args")
HTTP_KEYS = ("type", "url", "headers")


def claude_code_changes(
    project: Path, http: HttpServer | None = None, db: str | None = None, mcp: bool = True, claude_md: bool = True,
    tools: str | None = None,
) -> list[FileChange]:
    """The edits for ``project``; ``db`` is the chosen database (setup.chosen_database), and
    ``mcp``/``claude_md`` pick the files (the reference's ``--mcp-only``/``--claude-md-only``), and
    ``tools`` is the tool profile a stdio server lists (``caw --server --tools``), default all."""
    return [
        *([mcp_json_change(project / ".mcp.json", http, db, tools)] if mcp else []),
        *([claude_md_change(project / "CLAUDE.md")] if claude_md else []),
    ]


def mcp_json_change(path: Path, http: HttpServer | None = None, db: str | None = None,
                    tools: str | None = None) -> FileChange:
    before = read_text(path)
    config = parse_json(path, before)
    servers = config.setdefault("mcpServers", {})
    servers[SERVER_NAME] = server_entry(servers.get(SERVER_NAME, {}), http, db, tools)
    return FileChange(path, before, json.dumps(config, indent=2) + "\n", secret=http is not None)


def server_entry(current: dict[str, Any], http: HttpServer | None, db: str | None = None,
                 tools: str | None = None) -> dict[str, Any]:
    """The ``caw`` entry: the user's own keys kept, the other transport's keys dropped. Over stdio
    it serves ``db`` when one was chosen; D1's variables are passed on as ``${VAR}``, which Claude
    Code expands from the user's environment when it starts the server."""
    if http is None:
        command, *args = server_command(db, tools)
        kept = {k: v for k, v in current.items() if k not in HTTP_KEYS}
        entry = {**kept, "command": command, "args": args}
        if forwarded := forwarded_variables(db):
            entry["env"] = {**entry.get("env", {}), **{name: f"${{{name}}}" for name in forwarded}}
        return entry
    kept = {k: v for k, v in current.items() if k not in STDIO_KEYS}
    headers = current.get("headers") if isinstance(current.get("headers"), dict) else {}
    return {**kept, "type": "http", "url": http.url, "headers": {**headers, "Authorization": http.authorization}}


def parse_json(path: Path, text: str | None) -> dict[str, Any]:
    if not text or not text.strip():
        return {}
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise not_editable(path, f"it is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or not isinstance(config.get("mcpServers", {}), dict):
        raise not_editable(path, "it is not an object with an mcpServers object")
    return config


def claude_md_change(path: Path) -> FileChange:
    before = read_text(path)
    text = before or ""
    section = f"{BEGIN}\n## Workflow persistence with caw\n\n{PROTOCOL}{END}\n"
    start, end = text.find(BEGIN), text.find(END)
    if start >= 0 and end > start:
        rest = text[end + len(END) :].lstrip("\n")
        after = text[:start] + section + ("\n" + rest if rest else "")
    else:
        after = (text.rstrip("\n") + "\n\n" if text.strip() else "") + section
    return FileChange(path, before, after)


def not_editable(path: Path, why: str) -> CawError:
    return CawError(
        "INVALID_CONFIG",
        f"Cannot update {path}: {why}",
        recoverable=True,
        suggestion="Fix the file by hand (or move it aside) and run setup again.",
    )
