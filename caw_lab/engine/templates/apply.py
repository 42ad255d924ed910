"""Applying a template: a ready workflow with the template's tasks, variables filled in.

The template is picked (id, NAME or NAME@RANGE, or a ``version``), resolved with its
parents, its variables checked all at once, every string rendered in the sandbox and the
plan validated again (two values may make two task names collide), all before one batch
writes the workflow, its tasks and its event. The workflow records the template's id in
``source_ref`` and the version that made it in ``template_version``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from caw_lab import json_values
from caw_lab.engine.changes import Event, commit, insert
from caw_lab.engine.plans import task_statements, validate_plan
from caw_lab.engine.repositories import link_statements, task_repository_statements
from caw_lab.engine.rows import encode
from caw_lab.engine.templates import composition, document, interpolation, variables
from caw_lab.engine.templates.composition import Resolved
from caw_lab.engine.templates.sources import catalogue
from caw_lab.engine.workflows import new_row
from caw_lab.store.backend import Backend


def render(resolved: Resolved, values: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved definition with every interpolated string rendered."""
    definition = resolved.definition
    tasks = []
    for i, task in enumerate(definition["tasks"]):
        out = dict(task)
        for field in document.INTERPOLATED:
            value = task.get(field)
            if isinstance(value, str):
                out[field] = interpolation.render(value, values, f"tasks[{i}].{field}")
            elif isinstance(value, list):
                out[field] = [interpolation.render(v, values, f"tasks[{i}].{field}") for v in value]
        tasks.append(out)
    summary = definition.get("summary") or f"Applied template: {resolved.template.name}"
    source = definition.get("source") or resolved.description or summary
    return {
        "tasks": tasks,
        "summary": interpolation.render(summary, values, "summary"),
        "source": interpolation.render(source, values, "source"),
    }


def apply(
    db: Backend,
    template_id: str,
    *,
    workflow_name: str,
    variables_given: Mapping[str, Any] | None = None,
    repository_paths: Sequence[str] = (),
    max_parallel_tasks: int = 1,
    version: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Create a ready workflow from a template in one batch; the templates of the first
    repository linked are searched. ``dry_run`` checks everything, writes nothing, and
    returns the plan the workflow would get."""
    found = catalogue(db, next(iter(repository_paths), None))
    resolved = composition.resolve(found, found.lookup(template_id, version))
    template = resolved.template
    values = variables.resolve(resolved.definition["variables"], dict(variables_given or {}))
    rendered = render(resolved, values)
    validate_plan(rendered["tasks"])
    plan = {"summary": rendered["summary"], "tasks": rendered["tasks"]}
    json_values.check(plan, "the applied template's plan")
    if dry_run:
        return {
            "dry_run": True,
            "template_id": template.id,
            "template_name": template.name,
            "template_version": template.version,
            "template_source": template.source,
            "variables": values,
            "source_content": rendered["source"],
            "plan": plan,
        }
    workflow = new_row(workflow_name, "template", rendered["source"], template.id, max_parallel_tasks)
    workflow.update(
        status="ready", initial_plan=encode(plan), plan_summary=rendered["summary"], template_version=template.version
    )
    statements, rows = task_statements(workflow["id"], rendered["tasks"], {}, 1)
    chain = [{"name": t.name, **t.brief()} for t in resolved.chain]
    event = Event(
        "workflow.created",
        workflow["id"],
        payload={
            "name": workflow_name,
            "template_id": template.id,
            "template_version": template.version,
            "template_source": template.source,
            "template_chain": chain,
            "status": "ready",
            "task_ids": [r["id"] for r in rows],
        },
    )
    commit(
        db,
        event,
        then=[
            insert("workflows", workflow),
            *link_statements(db, workflow["id"], repository_paths),
            *statements,
            *task_repository_statements(db, workflow["id"], rendered["tasks"], rows),
        ],
    )
    return {
        "workflow_id": workflow["id"],
        "name": workflow_name,
        "status": "ready",
        "template_id": template.id,
        "template_name": template.name,
        "template_version": template.version,
        "template_source": template.source,
        "variables": values,
        "tasks_created": len(rows),
        "tasks": [{"id": r["id"], "name": r["name"], "sequence": r["sequence"]} for r in rows],
    }
