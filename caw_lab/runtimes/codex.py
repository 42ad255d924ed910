"""The ``codex`` runtime: ``codex exec`` with caw configured as its MCP server.

Codex reads MCP servers only from its config, so caw is given as ``-c mcp_servers.caw.*``
overrides for this run alone: nothing is written to the user's ``config.toml`` and runs
cannot disturb each other. The protocol goes in as ``developer_instructions``. Permission
modes map to Codex's sandbox: ``bypassPermissions`` to
``--dangerously-bypass-approvals-and-sandbox``, ``acceptEdits`` to ``--full-auto``. Codex
has no turn or budget limit, so ``max_turns`` and ``max_budget_usd`` do not apply. OpenAI's
keys are the secrets it keeps (``credentials``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit

from caw_lab.runtimes.agent_logs import clip, json_events
from caw_lab.runtimes.base import Launch
from caw_lab.runtimes.mcp_config import SERVER_NAME, server_entry
from caw_lab.runtimes.prompt import system_prompt, task_prompt
from caw_lab.runtimes.subprocess import SubprocessRuntime

SANDBOX = {"bypassPermissions": ["--dangerously-bypass-approvals-and-sandbox"], "acceptEdits": ["--full-auto"]}


class CodexRuntime(SubprocessRuntime):
    name = "codex"
    credentials = ("OPENAI_API_KEY", "CODEX_API_KEY")

    def __init__(self, executable: str = "codex", extra_args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None) -> None:
        super().__init__([executable], env)
        self.extra_args = list(extra_args)

    def command(self, launch: Launch, config: Path) -> list[str]:
        entry = server_entry(launch.db)
        argv = [self.argv[0], "exec", "--json", "--skip-git-repo-check", "--cd", launch.cwd]
        if launch.options.model:
            argv += ["--model", launch.options.model]
        argv += SANDBOX[launch.options.permission_mode]
        for key in ("command", "args", "env"):
            argv += ["-c", f"mcp_servers.{SERVER_NAME}.{key}={toml_value(entry[key])}"]
        argv += ["-c", f"developer_instructions={toml_value(system_prompt(launch))}"]
        return [*argv, *self.extra_args, task_prompt(launch)]

    def render(self, line: str) -> list[str]:
        return render_exec_json(line)


def exec_event(event: dict[str, Any]) -> list[str]:
    """One line of ``codex exec --json`` as readable lines: commands as they start, and each finished
    item (message, command with its exit code, file changes, MCP tool calls); usage per turn."""
    kind, item = event.get("type"), event.get("item") or {}
    item_type = item.get("type")
    if kind == "item.started" and item_type == "command_execution":
        return [f"$ {clip(item.get('command', ''))}"]
    if kind == "item.completed":
        return completed_item(item)
    if kind == "turn.completed":
        usage = event.get("usage") or {}
        return [f"[turn] {usage.get('input_tokens', '?')} tokens in, {usage.get('output_tokens', '?')} out"]
    if kind in ("turn.failed", "error"):
        error = event.get("error") or {}
        return [f"[error] {clip(error.get('message') if isinstance(error, dict) else event.get('message'))}"]
    return [] if kind in ("item.started", "item.updated", "turn.started") else [f"[{kind}]"]


def completed_item(item: dict[str, Any]) -> list[str]:
    item_type = item.get("type")
    if item_type == "agent_message":
        return [line for line in str(item.get("text", "")).splitlines() if line.strip()]
    if item_type == "reasoning":
        return [f"(thinking) {clip(item.get('text', ''))}"]
    if item_type == "command_execution":
        return [f"<- exit {item.get('exit_code')}: {clip(item.get('aggregated_output', ''))}"]
    if item_type == "file_change":
        return [f"~ {c.get('kind')} {c.get('path')}" for c in item.get("changes") or [] if isinstance(c, dict)]
    if item_type == "mcp_tool_call":
        return [f"-> {item.get('server')}.{item.get('tool')} {item.get('status', '')}"]
    return [f"[{item_type}] {clip(item.get('text') or item.get('message') or '')}"]


render_exec_json = json_events(exec_event)


def toml_value(value: Any) -> str:
    """A value as TOML writes it, which is what ``-c key=value`` parses."""
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update(value)
        return table.as_string()
    return tomlkit.item(value).as_string()
