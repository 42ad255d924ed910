"""Repositories and the workflows that span them (multi-repo workflows)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from caw_lab.engine import sandbox
from caw_lab.engine.changes import Event, Gated, commit, raw
from caw_lab.engine.rows import fetch, required
from caw_lab.errors import CawError, conflict, not_found
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Reads


def checked(path: str, what: str = "Repository path") -> str:
    """A repository path fit to register: resolved (symlinks followed, so ``./x``, ``x/`` and a
    link to ``x`` are one row) and inside the user's roots. Registering a repository widens
    the sandbox by its worktree roots, so a repository elsewhere would be an escape."""
    return sandbox.user_path(path, what)


def resolved(path: str) -> str:
    """The key a lookup uses: the same resolution as registration, without the roots check,
    since finding nothing is harmless."""
    return sandbox.resolve(path, "Repository path")


def ensure_statement(path: str, name: str | None = None) -> Gated:
    now = now_ms()
    return raw(
        "INSERT OR IGNORE INTO repositories (id, path, name, created_at, updated_at) SELECT ?, ?, ?, ?, ? WHERE",
        (new_id("repository"), path, name or os.path.basename(path), now, now),
    )


def link_statements(db: Backend, workflow_id: str, paths: Sequence[str]) -> list[Gated]:
    statements: list[Gated] = []
    for path in dict.fromkeys(checked(p) for p in paths):
        statements.append(ensure_statement(path))
        statements.append(raw(
            "INSERT OR IGNORE INTO workflow_repositories (workflow_id, repository_id, added_at) "
            "SELECT ?, (SELECT id FROM repositories WHERE path = ?), ? WHERE",
            (workflow_id, path, now_ms()),
        ))
    return statements


def task_repository_statements(
    db: Backend, workflow_id: str, specs: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
) -> list[Gated]:
    """Point tasks at their repository, registering and linking it to the workflow first."""
    statements: list[Gated] = []
    for spec, row in zip(specs, rows, strict=True):
        if spec.get("repository_path"):
            path = checked(spec["repository_path"])
            statements += link_statements(db, workflow_id, [path])
            statements.append(raw(
                "UPDATE tasks SET repository_id = (SELECT id FROM repositories WHERE path = ?) WHERE id = ? AND",
                (path, row["id"]),
            ))
    return statements


def register(db: Backend, path: str, name: str | None = None) -> dict[str, Any]:
    path = checked(path)
    existing = db.one("SELECT * FROM repositories WHERE path = ?", (path,))
    if existing:
        return existing
    commit(db, Event("repository.registered", payload={"path": path}), then=[ensure_statement(path, name)])
    return db.one("SELECT * FROM repositories WHERE path = ?", (path,)) or {}


def list_repositories(db: Backend, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    reads = Reads(db)
    rows = reads.query("SELECT * FROM repositories ORDER BY path LIMIT ? OFFSET ?", (limit, offset))
    total = reads.scalar("SELECT COUNT(*) FROM repositories")
    reads.run()
    return {"repositories": rows(), "total": total()}


def get(db: Backend, path: str) -> dict[str, Any] | None:
    return db.one("SELECT * FROM repositories WHERE path = ?", (resolved(path),))


def add_to_workflow(db: Backend, workflow_id: str, repository_path: str) -> dict[str, Any]:
    """Link a repository (idempotent); returns the link row as the reference does."""
    fetch(db, "workflow", workflow_id)
    path = checked(repository_path)
    event = Event("workflow.repository_added", workflow_id, payload={"path": path})
    commit(db, event, then=link_statements(db, workflow_id, [path]))
    return db.one(
        "SELECT wr.workflow_id, wr.repository_id, wr.added_at FROM workflow_repositories wr "
        "JOIN repositories r ON r.id = wr.repository_id WHERE wr.workflow_id = ? AND r.path = ?",
        (workflow_id, path),
    ) or {}


IN_USE_SQL = (
    "EXISTS (SELECT 1 FROM tasks WHERE workflow_id = ? AND repository_id = ?) "
    "OR EXISTS (SELECT 1 FROM workspaces WHERE workflow_id = ? AND repository_id = ?)"
)


def remove_from_workflow(db: Backend, workflow_id: str, repository_id: str) -> dict[str, Any]:
    """Unlink a repository no task or workspace of the workflow still points at: unlinking it
    from under them would leave rows naming a repository the workflow no longer spans."""
    fetch(db, "workflow", workflow_id)
    linked = db.one(
        "SELECT 1 AS x FROM workflow_repositories WHERE workflow_id = ? AND repository_id = ?",
        (workflow_id, repository_id),
    )
    if not linked:
        raise not_found("repository", repository_id)
    guard = Statement(
        f"DELETE FROM workflow_repositories WHERE workflow_id = ? AND repository_id = ? AND NOT ({IN_USE_SQL})",
        (workflow_id, repository_id) * 3,
    )
    event = Event("workflow.repository_removed", workflow_id, payload={"repository_id": repository_id})
    if commit(db, event, guard=guard) is None:
        if db.one(f"SELECT 1 AS x WHERE {IN_USE_SQL}", (workflow_id, repository_id) * 2):
            raise CawError("REPOSITORY_IN_USE", f"Cannot remove repository {repository_id}: tasks or workspaces "
                           f"of workflow {workflow_id} still reference it", recoverable=False,
                           suggestion="Remove or re-point the tasks and workspaces using it first.")
        raise conflict(f"Repository {repository_id} was unlinked from workflow {workflow_id} meanwhile")
    return {"success": True}


def of_workflow(db: Backend, workflow_id: str) -> dict[str, Any]:
    """The workflow's repositories, in the order they were added: one batch."""
    reads = Reads(db)
    exists = required(reads, "workflow", workflow_id)
    rows = reads.query(
        "SELECT r.*, wr.added_at FROM repositories r JOIN workflow_repositories wr ON wr.repository_id = r.id "
        "WHERE wr.workflow_id = ? ORDER BY wr.added_at, r.path",
        (workflow_id,),
    )
    reads.run()
    exists()
    return {"repositories": rows()}
