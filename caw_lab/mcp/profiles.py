"""Tool profiles: which tools a server lists, and what that list costs an agent.

An agent's client sends the tool list to the model on every turn, so a server that lists
only the tools an agent uses saves their tokens on every turn. ``agent`` is the agent
protocol (docs/agent-protocol.md), ``reference`` exactly the TypeScript reference's tools,
``all`` everything; a comma list names profiles, tool groups (the modules of
``caw_lab.tools``: ``memory``, ``messaging``, ...) or single tools. A profile's name wins
over a group of the same name (``agent``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

import mcp_types as types

from caw_lab.errors import CawError
from caw_lab.tools import Tool, load_all
from caw_lab.tools.registry import Hints

DEFAULT = "all"
ENV = "CAW_TOOLS"

AGENT = (
    "agent_register", "agent_heartbeat", "task_get_available", "workflow_next_tasks", "task_claim", "task_release",
    "task_set_plan", "task_load_context", "checkpoint_add", "message_send", "message_list", "task_update_status",
    "agent_unregister",
)
"""Register, beat, find and claim work, plan, load context, checkpoint, message, complete, leave."""

REFERENCE = (
    "workflow_create", "workflow_get", "workflow_list", "workflow_set_plan", "workflow_update_status",
    "workflow_set_parallelism", "workflow_get_summary", "workflow_lock", "workflow_unlock", "workflow_lock_info",
    "workflow_set_config", "workflow_add_repository", "workflow_remove_repository", "workflow_list_repositories",
    "task_get", "task_set_plan", "task_update_status", "task_replan", "checkpoint_add", "checkpoint_list",
    "task_load_context", "workflow_next_tasks", "workflow_progress", "task_check_dependencies", "workspace_create",
    "workspace_update", "workspace_list", "task_assign_workspace", "workflow_check_merge", "repository_register",
    "repository_list", "repository_get", "template_create", "template_list", "template_apply", "agent_register",
    "agent_heartbeat", "agent_update", "agent_get", "agent_list", "agent_unregister", "task_claim", "task_release",
    "task_get_available", "message_send", "message_broadcast", "message_list", "message_get", "message_mark_read",
    "message_archive", "message_count_unread", "workflow_add_task", "workflow_remove_task", "workflow_replan",
    "workflow_start", "workflow_suspend", "workflow_resume", "workflow_execution_status",
)
"""The 58 tools of the TypeScript reference's MCP server, in its order."""

PROFILES: dict[str, tuple[str, ...] | None] = {"agent": AGENT, "reference": REFERENCE, "all": None}


def select(spec: str | None) -> frozenset[str]:
    """The names of the tools ``spec`` lists; an unknown name is refused with the choices."""
    registry = load_all()
    chosen: set[str] = set()
    for word in filter(None, (w.strip() for w in (spec or DEFAULT).split(","))):
        chosen |= names_of(word, registry)
    if not chosen:
        raise unknown_profile(spec or "", registry)
    return frozenset(chosen)


def names_of(word: str, registry: dict[str, Tool]) -> set[str]:
    if word in PROFILES:
        listed = PROFILES[word]
        return set(registry) if listed is None else set(listed) & set(registry)
    if word in registry:
        return {word}
    group = {name for name, spec in registry.items() if spec.group == word}
    if not group:
        raise unknown_profile(word, registry)
    return group


def unknown_profile(word: str, registry: dict[str, Tool]) -> CawError:
    groups = sorted({spec.group for spec in registry.values()})
    return CawError(
        "INVALID_INPUT",
        f"Unknown tool profile, group or tool: {word!r}",
        recoverable=True,
        suggestion=f"Use {', '.join(PROFILES)}, or a comma list of tool names or groups ({', '.join(groups)}).",
    )


HINT_DEFAULTS = {"read_only": False, "destructive": True, "idempotent": False, "open_world": True}
"""What MCP says a client assumes of a hint left out (the ToolAnnotations schema's defaults)."""


def annotations(hints: Hints) -> types.ToolAnnotations:
    """The hints as MCP annotations, each left out where it is MCP's default, and a read-only
    tool's destructive and idempotent hints, which MCP gives meaning only for tools that write:
    a client reads the same, and every agent saves the tokens on every turn."""
    meant = {"read_only": hints.read_only, "open_world": hints.open_world}
    if not hints.read_only:
        meant |= {"destructive": hints.destructive, "idempotent": hints.idempotent}
    said = {f"{key}_hint": value for key, value in meant.items() if value != HINT_DEFAULTS[key]}
    return types.ToolAnnotations(**said)


def hint_of(listed: types.ToolAnnotations, key: str) -> bool:
    """A hint as a client reads it: as given, else MCP's default."""
    value = getattr(listed, f"{key}_hint")
    return HINT_DEFAULTS[key] if value is None else value


def as_mcp_tool(spec: Tool) -> types.Tool:
    """The tool as tools/list shows it: its compact schemas, and its hints as MCP annotations."""
    hints = spec.hints
    return types.Tool(
        name=spec.name, description=spec.description, input_schema=spec.input_schema(),
        output_schema=spec.output_schema(), annotations=annotations(hints) if hints else None,
    )


@functools.cache
def listed(names: frozenset[str]) -> tuple[types.Tool, ...]:
    """The tools of a profile in registry order, built once: pydantic takes about a millisecond a schema."""
    return tuple(as_mcp_tool(spec) for name, spec in load_all().items() if name in names)


def wire_json(tools: Iterable[types.Tool], *, output_schemas: bool = True) -> str:
    """The tools/list result as the server sends it (the JSON-RPC ``result`` member); without
    ``output_schemas``, the part of it a client puts before the model."""
    result = types.ListToolsResult(tools=list(tools)).model_dump(mode="json", by_alias=True, exclude_none=True)
    if not output_schemas:
        for listed_tool in result["tools"]:
            listed_tool.pop("outputSchema", None)
    return json.dumps(result, separators=(",", ":"))


def cost(spec: str | None) -> dict[str, Any]:
    """What a profile's tool list costs, in cl100k tokens: ``tokens`` what the model reads on every
    turn, the tools/list JSON without the output schemas (a client checks results against those;
    it does not send them to the model, whose tool format has no place for them), and
    ``wire_tokens`` the whole tools/list JSON, sent once a session (docs/mcp.md, "Tool profiles")."""
    from caw_lab.context.tokens import TokenCounter

    tools = listed(select(spec))
    counter = TokenCounter()
    return {"profile": spec or DEFAULT, "tools": len(tools),
            "tokens": counter.count(wire_json(tools, output_schemas=False)),
            "wire_tokens": counter.count(wire_json(tools))}
