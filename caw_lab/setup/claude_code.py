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
from caw_lab.setup.changes import FileChange, HttpServer, read_text, server_command

SERVER_NAME = "caw"
BEGIN = "<!-- caw:begin (managed by `caw setup claude-code`) -->"
END = "<!-- caw:end -->"


STDIO_KEYS = ("command", "args")
HTTP_KEYS = ("type", "url", "headers")


def claude_code_changes(project: Path, http: HttpServer | None = None) -> list[FileChange]:
    return [mcp_json_change(project / ".mcp.json", http), claude_md_change(project / "CLAUDE.md")]


def mcp_json_change(path: Path, http: HttpServer | None = None) -> FileChange:
    before = read_text(path)
    config = parse_json(path, before)
    servers = config.setdefault("mcpServers", {})
    servers[SERVER_NAME] = server_entry(servers.get(SERVER_NAME, {}), http)
    return FileChange(path, before, json.dumps(config, indent=2) + "\n", secret=http is not None)


def server_entry(current: dict[str, Any], http: HttpServer | None) -> dict[str, Any]:
    """The ``caw`` entry: the user's own keys kept, the other transport's keys dropped."""
    if http is None:
        command, *args = server_command()
        kept = {k: v for k, v in current.items() if k not in HTTP_KEYS}
        return {**kept, "command": command, "args": args}
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
