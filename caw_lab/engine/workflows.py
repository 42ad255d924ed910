"""Workflows: creation, reading, listing, status and settings."""

from __future__ import annotations

from typing import Any

from caw_lab.engine import dag, executions, isolation
from caw_lab.engine.changes import Event, commit, insert, update
from caw_lab.engine.commands import refuse_commands_in_config
from caw_lab.engine.repositories import link_statements, resolved
from caw_lab.engine.rows import decode, encode, fetch, fetched, placeholders
from caw_lab.engine.states import DONE_SQL, check_transition
from caw_lab.engine.tasks import view
from caw_lab.errors import conflict, invalid_input
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Later, Reads

ABANDON_WAIT_MS = 30_000
"""How long an executor that recorded no heartbeat timeout of its own counts as alive."""


def create(
    db: Backend,
    *,
    name: str,
    source_type: str,
    source_content: str,
    source_ref: str | None = None,
    repository_paths: list[str] | None = None,
    max_parallel_tasks: int = 1,
    auto_create_workspaces: bool = False,
) -> dict[str, Any]:
    row = new_row(name, source_type, source_content, source_ref, max_parallel_tasks, auto_create_workspaces)
    links = link_statements(db, row["id"], repository_paths or [])
    commit(db, Event("workflow.created", row["id"], payload={"name": name}), then=[insert("workflows", row), *links])
    return {"id": row["id"], "name": name, "status": "planning", "max_parallel_tasks": max_parallel_tasks}


def new_row(
    name: str,
    source_type: str,
    source_content: str,
    source_ref: str | None = None,
    max_parallel_tasks: int = 1,
    auto_create_workspaces: bool = False,
) -> dict[str, Any]:
    """A planning workflow's row, for changes that create a workflow inside a larger batch."""
    now = now_ms()
    return {
        "id": new_id("workflow"), "name": name, "source_type": source_type, "source_ref": source_ref,
        "source_content": source_content, "status": "planning", "max_parallel_tasks": max_parallel_tasks,
        "auto_create_workspaces": int(auto_create_workspaces), "created_at": now, "updated_at": now,
    }


def get(db: Backend, workflow_id: str, include_tasks: bool = False) -> dict[str, Any]:
    """The workflow, with its tasks when asked: one batch of reads."""
    reads = Reads(db)
    found = fetched(reads, "workflow", workflow_id)
    tasks = tasks_of(reads, workflow_id) if include_tasks else None
    reads.run()
    workflow = found()
    if tasks is not None:
        workflow["tasks"] = tasks()
    return workflow


def tasks_of(reads: Reads, workflow_id: str) -> Later[list[dict[str, Any]]]:
    """The workflow's tasks in sequence order, ``blocked`` computed, dependencies listed."""
    blocked = dag.blocked_ids(reads, workflow_id)
    deps = dag.dependencies_of(reads, workflow_id)
    rows = reads.query("SELECT * FROM tasks WHERE workflow_id = ? ORDER BY sequence, created_at", (workflow_id,))

    def value() -> list[dict[str, Any]]:
        waiting, graph = blocked(), deps()
        return [view(decode(r), r["id"] in waiting, graph.get(r["id"], [])) for r in rows()]

    return value


def list_workflows(
    db: Backend,
    *,
    repository_path: str | None = None,
    status: list[str] | None = None,
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    where, params = ["1 = 1"], []
    if status:
        where.append(f"w.status IN ({placeholders(status)})")
        params += status
    if repository_path:
        where.append(
            "w.id IN (SELECT wr.workflow_id FROM workflow_repositories wr "
            "JOIN repositories r ON r.id = wr.repository_id WHERE r.path = ?)"
        )
        params.append(resolved(repository_path))
    clause = " AND ".join(where)
    reads = Reads(db)
    total = reads.scalar(f"SELECT COUNT(*) FROM workflows w WHERE {clause}", params)
    rows = reads.query(
        f"""SELECT w.id, w.name, w.status, w.source_type, w.max_parallel_tasks, w.created_at, w.updated_at,
              (SELECT COUNT(*) FROM tasks t WHERE t.workflow_id = w.id) AS task_count,
              (SELECT COUNT(*) FROM tasks t WHERE t.workflow_id = w.id AND t.status IN {DONE_SQL})
                AS completed_count
            FROM workflows w WHERE {clause} ORDER BY w.created_at DESC, w.id LIMIT ? OFFSET ?""",
        [*params, limit, offset],
    )
    reads.run()
    return {"workflows": rows(), "total": total()}


def update_status(db: Backend, workflow_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    current = fetch(db, "workflow", workflow_id)["status"]
    check_transition("workflow", current, status)
    guard = Statement(
        "UPDATE workflows SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        (status, now_ms(), workflow_id, current),
    )
    event = Event("workflow.status", workflow_id, payload={"from": current, "to": status, "reason": reason})
    if commit(db, event, guard=guard) is None:
        raise conflict(f"Workflow {workflow_id} changed status while updating it")
    if status == "abandoned" and not executions.status(db, workflow_id, ABANDON_WAIT_MS)["executorAlive"]:
        isolation.abandoned(db, workflow_id)  # a live executor cleans up itself when it sees the status
    return {"success": True, "previous_status": current, "status": status}


def set_parallelism(
    db: Backend, workflow_id: str, max_parallel_tasks: int, auto_create_workspaces: bool | None = None
) -> dict[str, Any]:
    fetch(db, "workflow", workflow_id)
    values: dict[str, Any] = {"max_parallel_tasks": max_parallel_tasks, "updated_at": now_ms()}
    if auto_create_workspaces is not None:
        values["auto_create_workspaces"] = int(auto_create_workspaces)
    event = Event("workflow.parallelism", workflow_id, payload={"max_parallel_tasks": max_parallel_tasks})
    commit(db, event, then=[update("workflows", values, "id = ?", (workflow_id,))])
    return {"success": True}


def set_config(db: Backend, workflow_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """Merge ``config`` into the workflow's config; a key set to null is removed. Never what agents
    run (``engine.commands``): that is refused, and nothing is written."""
    refuse_commands_in_config(config, workflow_id)
    check_group_limits(config.get("parallel_group_limits"))
    current = fetch(db, "workflow", workflow_id).get("config") or {}
    merged = {k: v for k, v in {**current, **config}.items() if v is not None}
    event = Event("workflow.config", workflow_id, payload={"keys": sorted(config)})
    values = {"config": encode(merged), "updated_at": now_ms()}
    commit(db, event, then=[update("workflows", values, "id = ?", (workflow_id,))])
    return {"success": True, "config": merged}


def check_group_limits(limits: Any) -> None:
    """``parallel_group_limits`` is ``{group: n}``, each n a whole number of tasks from 1 on: claims
    compare slot counts with it inside their compare-and-set (engine/claims.py)."""
    if limits is None:
        return
    if not isinstance(limits, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1000 for n in limits.values()
    ):
        raise invalid_input(f"parallel_group_limits must map group names to 1..1000, not {str(limits)[:200]}",
                            'Write it like {"parallel_group_limits": {"frontend": 2}}.')
