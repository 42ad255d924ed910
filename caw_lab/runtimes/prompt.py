"""What an LLM agent started by caw-lab is told: who it is, its task, and the protocol.

The executor has already registered the agent and claimed the task, so the agent must not
do either; it reads its context (with the resume point when the task was started before),
moves the task along, checkpoints each step and finishes it.
"""

from __future__ import annotations

from caw_lab.runtimes.base import Launch


def task_prompt(launch: Launch) -> str:
    return (f"Work on the caw task assigned to you. Your agent ID is {launch.agent_id} and your task ID is "
            f"{launch.task['id']}. Follow the protocol in your instructions.")


def system_prompt(launch: Launch) -> str:
    task, workflow, tid = launch.task, launch.workflow, launch.task["id"]
    lines = [
        ("You are an agent of caw-lab working on one task of a durable workflow. The `caw` MCP server holds the "
         "workflow: report everything through its tools."),
        "",
        f"Agent ID: {launch.agent_id}",
        f"Workflow: {workflow['name']} ({workflow['id']})",
        f"Task: {task['name']} ({tid})",
    ]
    if task.get("description"):
        lines.append(f"Description: {task['description']}")
    if workflow.get("plan_summary"):
        lines.append(f"Workflow plan: {workflow['plan_summary']}")
    lines += [
        "",
        "Protocol:",
        (f"1. Call task_load_context with task_id {tid}. If current_task.resume is present the task was started "
         "before: skip the steps it lists as done and avoid its last_error."),
        ("2. If the task is pending, move it to planning (task_update_status), store a plan with task_set_plan unless "
         "it has one, then move it to in_progress. If it is planning or paused, move it to in_progress."),
        (f"3. Do the work. After each step call checkpoint_add (task_id {tid}, type progress, detail.step naming the "
         "step, files_changed). When you make a git commit, record it as detail.commit."),
        f"4. Finish with task_update_status on {tid}: status completed with an outcome, or failed with an error.",
        "",
        "Do not call agent_register, agent_unregister, task_claim or task_release: caw-lab did that for you.",
    ]
    return "\n".join(lines)
