"""Templates saved in the database, each version immutable once published.

``create`` saves a new template at its first version; ``publish`` adds a version to one.
A version, once written, is never updated: publishing it again with the same content is a
no-op, with different content it is refused (VERSION_EXISTS). The template's row mirrors
its newest version, and every publish compare-and-sets that row on its revision counter,
so two publishes racing on one template both land or one is refused, never half of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caw_lab.engine.changes import Event, commit, insert
from caw_lab.engine.rows import decode, encode, fetch
from caw_lab.engine.templates import composition, document
from caw_lab.engine.templates.sources import Template, catalogue
from caw_lab.engine.templates.versions import DEFAULT_VERSION, key, parse_version
from caw_lab.errors import CawError, invalid_input
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement

PUBLISH_ATTEMPTS = 5


def checked(
    db: Backend,
    name: str,
    version: str,
    description: str | None,
    body: Mapping[str, Any],
    repository_path: str | None,
) -> dict[str, Any]:
    """The document validated, and its ``extends`` chain resolved, before anything is written."""
    document.check_name(name)
    parse_version(version)
    doc = document.load(dict(body), f"{name}@{version}")
    for field in ("name", "version", "description"):
        doc.pop(field, None)
    candidate = Template(id="(new)", name=name, version=version, source="db", document=doc, description=description)
    composition.resolve(catalogue(db, repository_path), candidate)
    return doc


def create(
    db: Backend,
    *,
    name: str,
    description: str | None = None,
    template: Mapping[str, Any] | None = None,
    from_workflow_id: str | None = None,
    version: str = DEFAULT_VERSION,
    repository_path: str | None = None,
) -> dict[str, Any]:
    if (template is None) == (from_workflow_id is None):
        raise invalid_input(
            "Pass exactly one of template or from_workflow_id",
            "Give a template definition, or the id of a workflow to copy the plan of.",
        )
    body = from_workflow(db, from_workflow_id) if from_workflow_id else template or {}
    doc = checked(db, name, version, description, body, repository_path)
    now = now_ms()
    row = {
        "id": new_id("template"),
        "name": name,
        "description": description,
        "template": encode(doc),
        "version": 1,
        "latest_version": version,
        "created_at": now,
        "updated_at": now,
    }
    marks = ", ".join("?" for _ in row)
    guard = Statement(
        f"INSERT INTO workflow_templates ({', '.join(row)}) SELECT {marks} "
        "WHERE NOT EXISTS (SELECT 1 FROM workflow_templates WHERE name = ?)",
        (*row.values(), name),
    )
    event = Event(
        "template.created",
        payload={"template_id": row["id"], "name": name, "version": version, "from_workflow_id": from_workflow_id},
    )
    if commit(db, event, guard=guard, then=[insert("template_versions", version_row(row))]) is None:
        raise CawError(
            "DUPLICATE_TEMPLATE",
            f"A template named {name!r} already exists",
            recoverable=True,
            suggestion="Choose another name, or add a version to it (template_publish).",
        )
    return as_result(row)


def version_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "template_id": row["id"],
        "version": row["latest_version"],
        "description": row["description"],
        "template": row["template"],
        "created_at": row["updated_at"],
    }


def as_result(row: Mapping[str, Any]) -> dict[str, Any]:
    out = decode(dict(row))
    return {**out, "revision": out["version"], "version": out.pop("latest_version"), "source": "db"}


def publish(
    db: Backend,
    *,
    name: str,
    version: str,
    template: Mapping[str, Any],
    description: str | None = None,
    repository_path: str | None = None,
) -> dict[str, Any]:
    """Add ``version`` to the database template ``name``; the newest version becomes its face."""
    doc = checked(db, name, version, description, template, repository_path)
    for _ in range(PUBLISH_ATTEMPTS):
        current = db.one("SELECT * FROM workflow_templates WHERE name = ?", (name,))
        if current is None:
            raise CawError(
                "TEMPLATE_NOT_FOUND",
                f"No database template is named {name!r}",
                recoverable=True,
                suggestion="Create it first (template_create); publish adds versions to it.",
            )
        existing = db.one(
            "SELECT template, description FROM template_versions WHERE template_id = ? AND version = ?",
            (current["id"], version),
        )
        if existing is not None:
            if decode(existing)["template"] == doc and existing["description"] == description:
                return {**as_result(current), "published": False}
            raise CawError(
                "VERSION_EXISTS",
                f"{name}@{version} is already published with other content",
                recoverable=True,
                suggestion="Published versions are immutable: publish a new version.",
            )
        if (result := try_publish(db, current, version, doc, description)) is not None:
            return result
    raise CawError(
        "DATABASE_BUSY",
        f"{name} kept changing while publishing {version}",
        recoverable=True,
        suggestion="Retry in a moment.",
    )


def try_publish(
    db: Backend, current: Mapping[str, Any], version: str, doc: dict[str, Any], description: str | None
) -> dict[str, Any] | None:
    """One compare-and-set on the template's revision; None when another publish got there first."""
    now = now_ms()
    is_newest = key(version) > key(current["latest_version"])
    face = {"template": encode(doc), "description": description, "latest_version": version} if is_newest else {}
    values = {**face, "version": current["version"] + 1, "updated_at": now}
    sets = ", ".join(f"{k} = ?" for k in values)
    guard = Statement(
        f"UPDATE workflow_templates SET {sets} WHERE id = ? AND version = ?",
        (*values.values(), current["id"], current["version"]),
    )
    row = {**current, **values}
    event = Event(
        "template.published",
        payload={"template_id": current["id"], "name": current["name"], "version": version, "newest": is_newest},
    )
    added = {
        "template_id": current["id"],
        "version": version,
        "description": description,
        "template": encode(doc),
        "created_at": now,
    }
    if commit(db, event, guard=guard, then=[insert("template_versions", added)]) is None:
        return None
    return {**as_result(row), "published": True, "published_version": version}


def from_workflow(db: Backend, workflow_id: str) -> dict[str, Any]:
    """A workflow's tasks and blocking dependencies as a template document (no variables)."""
    fetch(db, "workflow", workflow_id)
    rows = [
        decode(r)
        for r in db.query("SELECT * FROM tasks WHERE workflow_id = ? ORDER BY sequence, created_at", (workflow_id,))
    ]
    if not rows:
        raise invalid_input(
            f"Workflow {workflow_id} has no tasks to make a template from",
            "Set the workflow's plan first (workflow_set_plan).",
        )
    names = {r["id"]: r["name"] for r in rows}
    deps: dict[str, list[str]] = {r["id"]: [] for r in rows}
    for d in db.query(
        "SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        "WHERE t.workflow_id = ? AND d.dependency_type = 'blocks'",
        (workflow_id,),
    ):
        deps[d["task_id"]].append(names[d["depends_on_id"]])
    tasks = []
    for r in rows:
        spec = {
            "name": r["name"],
            "description": r["description"],
            "parallel_group": r["parallel_group"],
            "estimated_complexity": r["estimated_complexity"],
            "files_likely_affected": r["files_likely_affected"],
            "depends_on": deps[r["id"]] or None,
            "context_from": [names[i] for i in r["context_from"] or [] if i in names] or None,
        }
        tasks.append({k: v for k, v in spec.items() if v is not None})
    return {"tasks": tasks}
