"""The ``claude_code`` runtime: ``claude -p`` with caw as its MCP server, one process per task.

Flags as the reference's spawner passes them: the task prompt with ``-p``, the protocol
appended to the system prompt, ``--mcp-config`` (this agent's file), streamed JSON output,
no saved session, the permission mode, the turn limit, and the model, budget and
throwaway worktree (``--worktree``) when asked for. The variables by which Claude Code
notices it is running inside itself are removed, or a nested ``claude`` would refuse to
start; Anthropic's credentials are the secrets it keeps (``credentials``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from caw_lab.runtimes.agent_logs import clip, json_events
from caw_lab.runtimes.base import Launch
from caw_lab.runtimes.prompt import system_prompt, task_prompt
from caw_lab.runtimes.subprocess import SubprocessRuntime

NESTING_VARIABLES = ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT")


class ClaudeCodeRuntime(SubprocessRuntime):
    name = "claude_code"
    credentials = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")

    def __init__(self, executable: str = "claude", extra_args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None) -> None:
        super().__init__([executable], env)
        self.extra_args = list(extra_args)

    def command(self, launch: Launch, config: Path) -> list[str]:
        options = launch.options
        argv = [
            self.argv[0], "-p", task_prompt(launch), "--append-system-prompt", system_prompt(launch),
            "--mcp-config", str(config), "--output-format", "stream-json", "--verbose", "--no-session-persistence",
            "--permission-mode", options.permission_mode, "--max-turns", str(options.max_turns),
        ]
        if options.model:
            argv += ["--model", options.model]
        if options.max_budget_usd is not None:
            argv += ["--max-budget-usd", str(options.max_budget_usd)]
        if options.ephemeral_worktree:
            argv.append("--worktree")
        return [*argv, *self.extra_args]

    def environment(self, launch: Launch, config: Path) -> dict[str, str]:
        env = super().environment(launch, config)
        for name in NESTING_VARIABLES:
            env.pop(name, None)
        return env

    def render(self, line: str) -> list[str]:
        return render_stream_json(line)


def stream_event(event: dict[str, Any]) -> list[str]:
    """One line of ``--output-format stream-json`` as readable lines: what the model said, the tools
    it called and what they returned, and the run's result with its turns and cost."""
    kind = event.get("type")
    if kind == "system":
        tools = len(event.get("tools") or [])
        return [f"[{event.get('subtype', 'system')}] model {event.get('model', '?')}, {tools} tools"]
    if kind == "result":
        cost = event.get("total_cost_usd")
        spent = f", ${cost:.4f}" if isinstance(cost, (int, float)) else ""
        head = f"[result] {event.get('subtype', '')} after {event.get('num_turns', '?')} turns{spent}"
        return [f"{head}: {clip(event.get('result', ''))}"]
    content = (event.get("message") or {}).get("content")
    if kind not in ("assistant", "user") or not isinstance(content, list):
        return [f"[{kind}]"]
    return [line for block in content if isinstance(block, dict) for line in content_block(block)]


def content_block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "text":
        return [line for line in str(block.get("text", "")).splitlines() if line.strip()]
    if kind == "tool_use":
        return [f"-> {block.get('name')} {clip(block.get('input'))}"]
    if kind == "tool_result":
        body = block.get("content")
        if isinstance(body, list):
            body = " ".join(str(part.get("text", "")) for part in body if isinstance(part, dict))
        return [f"<- {'error' if block.get('is_error') else 'result'}: {clip(body)}"]
    if kind == "thinking":
        return [f"(thinking) {clip(block.get('thinking', ''))}"]
    return []


render_stream_json = json_events(stream_event)
