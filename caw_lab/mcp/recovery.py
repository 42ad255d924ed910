"""The ``recover_context`` prompt: how an agent finds its place again after a context reset.

It spells out the reference's recovery sequence (docs/agent-protocol.md) so an agent
that lost everything but the MCP connection can resume from its last checkpoint
instead of redoing or abandoning work. Given a workflow id it skips the search and
embeds the workflow's current summary.
"""

from __future__ import annotations

import mcp_types as types

from caw_lab.mcp import summary
from caw_lab.store.backend import Backend

NAME = "recover_context"

PROMPT = types.Prompt(
    name=NAME,
    title="Recover after a context reset",
    description="Find the in-progress workflow and task, load their full context, and resume from the last checkpoint.",
    arguments=[
        types.PromptArgument(name="workflow_id", description="The workflow to resume, if known.", required=False),
        types.PromptArgument(name="agent_id", description="Your agent id, if you registered before.", required=False),
    ],
)

FIND = """1. Find the active work: call `workflow_list` with `{"status": ["in_progress"]}`.
   If several workflows are in progress, pick the one whose tasks you were working on."""

STEPS = """{find}
2. See where it stands: call `workflow_progress` with `{{"workflow_id": "{workflow}"}}`.
   The task you were on is `in_progress` (or `planning`){owner}.
3. Load everything about that task: call `task_load_context` with
   `{{"task_id": "<that task>", "include": {{"workflow_plan": true, "prior_task_outcomes": true,
   "dependency_outcomes": true, "all_checkpoints": true}}}}`.
   `current_task.checkpoints` is the full trail: the last one is where you stopped.
4. Record that you are resuming: `checkpoint_add` with `type` `recovery` and a one-line summary.
5. Continue the work from the last checkpoint. Keep calling `checkpoint_add` after each step,
   `agent_heartbeat` while working, and finish with `task_update_status` `completed` and an `outcome`.
6. If no task is in progress, call `workflow_next_tasks` and `task_claim` the next one."""


def messages(db: Backend, arguments: dict[str, str] | None) -> types.GetPromptResult:
    args = arguments or {}
    workflow_id = args.get("workflow_id")
    agent_id = args.get("agent_id")
    owner = f" and assigned to `{agent_id}`" if agent_id else ""
    find = f"1. Your workflow is `{workflow_id}`." if workflow_id else FIND
    text = "You lost your context. Recover it with caw before doing anything else:\n\n" + STEPS.format(
        find=find, workflow=workflow_id or "<workflow id>", owner=owner
    )
    result = [types.PromptMessage(role="user", content=types.TextContent(text=text))]
    if workflow_id:
        page = summary.render(db, workflow_id)
        resource = types.TextResourceContents(uri=summary.uri_for(workflow_id), mime_type="text/markdown", text=page)
        result.append(types.PromptMessage(role="user", content=types.EmbeddedResource(resource=resource)))
    return types.GetPromptResult(description=PROMPT.description, messages=result)
