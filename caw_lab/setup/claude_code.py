"""Claude Code: a ``caw`` entry in the project's ``.mcp.json`` and the protocol in ``CLAUDE.md``.

Other servers in ``.mcp.json`` and keys the user added to the ``caw`` entry (``env``,
say) are kept. The CLAUDE.md section sits between markers, so running setup again
replaces it in place instead of appending a second copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from caw_lab.errors import CawError
from caw_lab.mcp.protocol import PROTOCOL
from caw_lab.setup.changes import FileChange, forwarded_variables, read_text, server_command

SERVER_NAME = "caw"
BEGIN = "<!-- caw:begin (managed by `caw setup claude-code`) -->"
END = "<!-- caw:end -->"


def claude_code_changes(
    project: Path, db: str | None = None, mcp: bool = True, claude_md: bool = True
) -> list[FileChange]:
    """The edits for ``project``; ``db`` is the chosen database (setup.chosen_database), and
    ``mcp``/``claude_md`` pick the files (the reference's ``--mcp-only``/``--claude-md-only``)."""
    return [
        *([mcp_json_change(project / ".mcp.json", db)] if mcp else []),
        *([claude_md_change(project / "CLAUDE.md")] if claude_md else []),
    ]


def mcp_json_change(path: Path, db: str | None = None) -> FileChange:
    """The ``caw`` entry, on ``db`` when one was chosen; D1's variables are passed on as
    ``${VAR}``, which Claude Code expands from the user's environment when it starts the server."""
    before = read_text(path)
    config = parse_json(path, before)
    servers = config.setdefault("mcpServers", {})
    command, *args = server_command(db)
    entry = {**servers.get(SERVER_NAME, {}), "command": command, "args": args}
    if forwarded := forwarded_variables(db):
        entry["env"] = {**entry.get("env", {}), **{name: f"${{{name}}}" for name in forwarded}}
    servers[SERVER_NAME] = entry
    return FileChange(path, before, json.dumps(config, indent=2) + "\n")


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
