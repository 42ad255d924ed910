"""What each ``%caw`` subcommand does: parsed arguments in, a drawable value out.

Every command goes through the one tool registry (``session.call``), so the notebook
can do nothing an MCP agent could not, and refuses what it would refuse.
"""

from __future__ import annotations

import argparse
from typing import Any

from caw_lab.errors import CawError, invalid_input
from caw_lab.lab import render
from caw_lab.lab.plan_yaml import parse_plan
from caw_lab.lab.render import Result
from caw_lab.lab.session import LabSession

TOWARDS_DONE = {"pending": "planning", "blocked": "planning", "planning": "in_progress", "paused": "in_progress",
                "in_progress": "completed"}
"""The next status on the way to ``completed``: ``done`` walks a task the way an agent
would (planning, then in progress), so its history reads like real work."""


def use(session: LabSession, args: argparse.Namespace) -> Result:
    client = session.use(args.db)
    return Result({"db": client.db.url}, lambda d: render.box(f"Using {render.code(d['db'])}", ""), "use")


def new(session: LabSession, args: argparse.Namespace) -> Result:
    name = " ".join(args.name)
    if args.template:
        variables = dict(parse_var(v) for v in args.var)
        applied = session.call("template_apply", template_id=args.template, workflow_name=name,
                               variables=variables, max_parallel_tasks=args.max_parallel)
        created = session.call("workflow_get", id=applied["workflow_id"])
        return Result({**applied, **created}, render.created_html, "workflow")
    if args.var:
        raise invalid_input("--var needs --template", "Name the template whose variables these are.")
    created = session.call("workflow_create", name=name, source_type=args.source_type,
                           source_content=args.source or name, max_parallel_tasks=args.max_parallel)
    return Result(created, render.created_html, "workflow")


def parse_var(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise invalid_input(f"--var {text!r} is not KEY=VALUE", "Write variables like --var component=auth.")
    return key, value


def list_workflows(session: LabSession, args: argparse.Namespace) -> Result:
    listed = session.call("workflow_list", status=args.status or None, limit=args.limit)
    return Result(listed, render.workflows_html, "workflows")


def show(session: LabSession, args: argparse.Namespace) -> Result:
    if args.id.startswith("tk_"):
        task = session.call("task_get", id=args.id, include_checkpoints=True)
        return Result(task, render.task_html, "task")
    limit = None if args.all else render.SHOW_ROWS
    shown = session.call("workflow_get", id=args.id, include_tasks=True)
    return Result(shown, lambda wf: render.workflow_html(wf, limit), "workflow")


def next_tasks(session: LabSession, args: argparse.Namespace) -> Result:
    return Result(session.call("workflow_next_tasks", workflow_id=args.workflow), render.next_tasks_html, "next")


def claim(session: LabSession, args: argparse.Namespace) -> Result:
    agent = args.agent or session.notebook_agent()
    claimed = session.call("task_claim", task_id=args.task, agent_id=agent)
    return Result({"task_id": args.task, "agent_id": agent, **claimed}, render.claim_html, "claim")


def checkpoint(session: LabSession, args: argparse.Namespace) -> Result:
    added = session.call("checkpoint_add", task_id=args.task, type=args.type, summary=" ".join(args.summary))
    return Result(added, render.checkpoint_html, "checkpoint")


def done(session: LabSession, args: argparse.Namespace) -> Result:
    outcome = " ".join(args.outcome)
    status = session.call("task_get", id=args.task)["status"]
    path = [status]
    while status != "completed":
        if status not in TOWARDS_DONE:
            raise CawError("INVALID_TRANSITION", f"Task {args.task} is {status}; it cannot be completed from there",
                           suggestion="Only pending, planning, in-progress or paused tasks can be completed.")
        status = TOWARDS_DONE[status]
        extra = {"outcome": outcome} if status == "completed" else {}
        session.call("task_update_status", id=args.task, status=status, **extra)
        path.append(status)
    return Result({"task_id": args.task, "status": status, "outcome": outcome, "path": path}, render.done_html, "done")


def context(session: LabSession, args: argparse.Namespace) -> Result:
    params: dict[str, Any] = {"task_id": args.task}
    if args.max_tokens:
        params["max_tokens"] = args.max_tokens
    return Result(session.call("task_load_context", **params), render.context_html, "context")


def dag(session: LabSession, args: argparse.Namespace) -> Any:
    from caw_lab.lab.dag_widget import DagWidget

    session.call("workflow_get", id=args.workflow)
    return DagWidget(session.client, args.workflow)


def timeline(session: LabSession, args: argparse.Namespace) -> Any:
    from caw_lab.lab.timeline_widget import TimelineWidget

    session.call("workflow_get", id=args.workflow)
    return TimelineWidget(session.client, args.workflow)


def inbox(session: LabSession, args: argparse.Namespace) -> Result:
    agent = args.agent or session.notebook_agent()
    params: dict[str, Any] = {"agent_id": agent, "limit": args.limit}
    if args.status:
        params["status"] = args.status
    return Result(session.call("message_list", **params), render.messages_html, "inbox")


def agents(session: LabSession, args: argparse.Namespace) -> Result:
    params = {"workflow_id": args.workflow} if args.workflow else {}
    return Result(session.call("agent_list", **params), render.agents_html, "agents")


def run(session: LabSession, args: argparse.Namespace) -> Result:
    options = {k: v for k, v in (("runtime", args.runtime), ("max_agents", args.max_agents), ("model", args.model))
               if v is not None}
    return Result(session.call("workflow_start", workflow_id=args.workflow, **options), render.started_html, "run")


def metrics(session: LabSession, args: argparse.Namespace) -> Result:
    return Result(session.call("workflow_metrics", workflow_id=args.workflow), render.metrics_html, "metrics")


def hints(session: LabSession, args: argparse.Namespace) -> Result:
    params = {"target_drain_ms": args.target_drain_ms} if args.target_drain_ms else {}
    found = session.call("workflow_scaling_hints", workflow_id=args.workflow, **params)
    return Result(found, render.hints_html, "hints")


def status(session: LabSession, args: argparse.Namespace) -> Result:
    return Result(session.call("workflow_execution_status", workflow_id=args.workflow), render.execution_html,
                  "execution")


def suspend(session: LabSession, args: argparse.Namespace) -> Result:
    return Result(session.call("workflow_suspend", workflow_id=args.workflow), render.fields_html, "suspend")


def resume(session: LabSession, args: argparse.Namespace) -> Result:
    return Result(session.call("workflow_resume", workflow_id=args.workflow), render.fields_html, "resume")


def plan(session: LabSession, args: argparse.Namespace) -> Result:
    if args.cell is None or not args.cell.strip():
        raise invalid_input("%%caw plan takes the plan as YAML in the cell body",
                            "Start a cell with %%caw plan WF and write summary: and tasks: below it.")
    planned = session.call("workflow_set_plan", id=args.workflow, plan=parse_plan(args.cell))
    return Result(planned, render.plan_set_html, "plan")


def workbench(session: LabSession, args: argparse.Namespace) -> Any:
    from caw_lab.lab.workbench import Workbench

    return Workbench(session.client, args.workflow)
