"""Workflow templates: a reusable plan with ``{{variables}}``, applied as a new ready workflow.

A template's variables are stored as objects ``{name, description, required, default}``;
the reference's plain list of names is accepted and means "required, no default". A
variable with a default is never required. A ``{{name}}`` used in the tasks but not
declared is added as required, as the reference discovers them, so a template never
applies with a placeholder left in it. Applying refuses unknown variables too: a typo in
a name would otherwise silently leave the default in place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from caw_lab.engine.changes import Event, commit, insert
from caw_lab.engine.plans import task_statements, validate_plan
from caw_lab.engine.repositories import link_statements, task_repository_statements
from caw_lab.engine.rows import decode, encode, fetch
from caw_lab.engine.workflows import new_row
from caw_lab.errors import CawError, invalid_input
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TASK_FIELDS = (
    "name", "description", "parallel_group", "depends_on", "estimated_complexity",
    "files_likely_affected", "context_from",
)


def create(
    db: Backend,
    *,
    name: str,
    description: str | None = None,
    template: Mapping[str, Any] | None = None,
    from_workflow_id: str | None = None,
) -> dict[str, Any]:
    if (template is None) == (from_workflow_id is None):
        raise invalid_input("Pass exactly one of template or from_workflow_id",
                            "Give a template definition, or the id of a workflow to copy the plan of.")
    definition = from_workflow(db, from_workflow_id) if from_workflow_id else normalise(template or {})
    if db.one("SELECT id FROM workflow_templates WHERE name = ?", (name,)):
        raise CawError("DUPLICATE_TEMPLATE", f"A template named {name!r} already exists", recoverable=True,
                       suggestion="Choose another name, or apply the existing template (template_list).")
    now = now_ms()
    row = {"id": new_id("template"), "name": name, "description": description, "template": encode(definition),
           "version": 1, "created_at": now, "updated_at": now}
    event = Event("template.created", payload={"template_id": row["id"], "name": name,
                                               "from_workflow_id": from_workflow_id})
    commit(db, event, then=[insert("workflow_templates", row)])
    return decode(row)


def normalise(template: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a definition and spell its variables out, discovered placeholders included."""
    tasks = [{k: v for k, v in t.items() if k in TASK_FIELDS and v is not None} for t in template.get("tasks") or []]
    if not tasks:
        raise invalid_input("A template needs at least one task", "Add tasks to template.tasks.")
    validate_plan(tasks)
    variables = declared_variables(template.get("variables") or [])
    used = placeholders([tasks, template.get("source")])
    variables += [{"name": n, "description": None, "required": True, "default": None}
                  for n in used if n not in {v["name"] for v in variables}]
    definition: dict[str, Any] = {"tasks": tasks, "variables": variables}
    if template.get("source") is not None:
        definition["source"] = template["source"]
    return definition


def declared_variables(specs: Sequence[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    variables = [
        {"name": s, "description": None, "required": True, "default": None} if isinstance(s, str)
        else {"name": s["name"], "description": s.get("description"),
              "required": s.get("required", True) and s.get("default") is None, "default": s.get("default")}
        for s in specs
    ]
    names = [v["name"] for v in variables]
    bad = [n for n in names if not VARIABLE_NAME.fullmatch(n)]
    if bad:
        raise invalid_input(f"Invalid variable names: {', '.join(map(repr, bad))}",
                            "Variable names are letters, digits and underscores, not starting with a digit.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise invalid_input(f"Variables declared more than once: {', '.join(duplicates)}",
                            "Give every variable a unique name.")
    return variables


def placeholders(value: Any) -> list[str]:
    """Every ``{{name}}`` in the strings of ``value``, in order of first use."""
    found: dict[str, None] = {}
    if isinstance(value, str):
        found.update(dict.fromkeys(PLACEHOLDER.findall(value)))
    elif isinstance(value, Mapping):
        for item in value.values():
            found.update(dict.fromkeys(placeholders(item)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.update(dict.fromkeys(placeholders(item)))
    return list(found)


def from_workflow(db: Backend, workflow_id: str) -> dict[str, Any]:
    """A workflow's tasks and blocking dependencies as a template definition (no variables)."""
    fetch(db, "workflow", workflow_id)
    rows = [decode(r) for r in db.query(
        "SELECT * FROM tasks WHERE workflow_id = ? ORDER BY sequence, created_at", (workflow_id,))]
    if not rows:
        raise invalid_input(f"Workflow {workflow_id} has no tasks to make a template from",
                            "Set the workflow's plan first (workflow_set_plan).")
    names = {r["id"]: r["name"] for r in rows}
    deps: dict[str, list[str]] = {r["id"]: [] for r in rows}
    for d in db.query(
        "SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        "WHERE t.workflow_id = ? AND d.dependency_type = 'blocks'", (workflow_id,)
    ):
        deps[d["task_id"]].append(names[d["depends_on_id"]])
    tasks = []
    for r in rows:
        spec = {"name": r["name"], "description": r["description"], "parallel_group": r["parallel_group"],
                "estimated_complexity": r["estimated_complexity"],
                "files_likely_affected": r["files_likely_affected"], "depends_on": deps[r["id"]] or None,
                "context_from": [names[i] for i in r["context_from"] or [] if i in names] or None}
        tasks.append(spec)
    return normalise({"tasks": tasks})


def list_templates(db: Backend) -> dict[str, Any]:
    return {"templates": [decode(r) for r in db.query("SELECT * FROM workflow_templates ORDER BY name")]}


def apply(
    db: Backend,
    template_id: str,
    *,
    workflow_name: str,
    variables: Mapping[str, str] | None = None,
    repository_paths: Sequence[str] = (),
    max_parallel_tasks: int = 1,
) -> dict[str, Any]:
    """Create a ready workflow with the template's tasks planned, in one batch."""
    template = fetch(db, "template", template_id)
    definition = template["template"]
    values = resolve(definition.get("variables") or [], dict(variables or {}))
    tasks = [fill(t, values) for t in definition["tasks"]]
    validate_plan(tasks)
    summary = f"Applied template: {template['name']}"
    source = fill(definition.get("source") or template.get("description") or summary, values)
    workflow = new_row(workflow_name, "template", source, template_id, max_parallel_tasks)
    plan = {"summary": summary, "tasks": tasks}
    workflow.update(status="ready", initial_plan=encode(plan), plan_summary=summary)
    statements, rows = task_statements(workflow["id"], tasks, {}, 1)
    event = Event("workflow.created", workflow["id"], payload={
        "name": workflow_name, "template_id": template_id, "status": "ready", "task_ids": [r["id"] for r in rows]})
    commit(db, event, then=[
        insert("workflows", workflow),
        *link_statements(db, workflow["id"], repository_paths),
        *statements,
        *task_repository_statements(db, workflow["id"], tasks, rows),
    ])
    return {
        "workflow_id": workflow["id"], "name": workflow_name, "status": "ready", "template_id": template_id,
        "variables": values, "tasks_created": len(rows),
        "tasks": [{"id": r["id"], "name": r["name"], "sequence": r["sequence"]} for r in rows],
    }


def resolve(declared: Sequence[Mapping[str, Any]], given: dict[str, str]) -> dict[str, str]:
    """The value of every variable; refuses, naming them all, missing and unknown ones."""
    names = [v["name"] for v in declared]
    unknown = sorted(set(given) - set(names))
    values = {v["name"]: v["default"] for v in declared if v.get("default") is not None} | given
    missing = [v["name"] for v in declared if v["name"] not in values and v.get("required", True)]
    if missing:
        extra = f"; unknown variables given: {', '.join(unknown)}" if unknown else ""
        raise CawError("MISSING_VARIABLES", f"Missing required variables: {', '.join(missing)}{extra}",
                       recoverable=True, suggestion=f"Pass values for: {', '.join(missing)}.",
                       details={"missing": missing, "unknown": unknown})
    if unknown:
        raise CawError("UNKNOWN_VARIABLES", f"Unknown variables: {', '.join(unknown)}", recoverable=True,
                       suggestion=f"This template's variables are: {', '.join(names) or 'none'}.",
                       details={"unknown": unknown, "known": names})
    return {n: values.get(n, "") for n in names}


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every ``{{name}}`` in its strings replaced by the variable's value."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), value)
    if isinstance(value, Mapping):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value
