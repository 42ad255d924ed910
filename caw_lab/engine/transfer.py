"""Moving a workflow between databases (SQLite to D1 and back) as a bundle of its rows.

Export reads every row of the workflow in one batch, so the bundle is one consistent
snapshot even while agents keep writing. Import writes it in one atomic batch: the
workflow row is the guard (inserted only where its id is free), then the
``workflow.imported`` event, then every other row gated on that event. A failed import
leaves nothing behind, and there is no partial state to resume from.

Each table's rows travel as one JSON text parameter read by ``json_each`` (chunked well
below D1's 1 MB value limit), so a 2,000-checkpoint workflow is a dozen statements, D1's
100-parameter limit never applies, and integers are parsed by SQLite rather than by
D1's JavaScript, which would round those beyond 2**53.

The bundle is untrusted input: before anything is written it must pass the checks of
``bundles`` (the tools' own rules: types, statuses, ids, JSON, references inside the
workflow, the plan limits), every problem listed in one refusal. Agents come in offline
and not working on anything: a row saying otherwise speaks for a process of the source
database, not of this one. Ids, times and contents are kept. Events keep their kind, payload, time and
correlation id but get new ``seq`` numbers: seq is the target's own change-feed order.
Agents and repositories the workflow refers to are shared with other workflows, so they
are added when missing and never overwritten; a reference to a row outside the bundle
that the target lacks (an agent's other workflow, a reply to a message elsewhere) is
cleared, as deleting that row would have. Importing a workflow whose id exists is a
no-op when the rows are the same, and refused (WORKFLOW_EXISTS, nothing written) when not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from caw_lab import json_values
from caw_lab.engine import bundles
from caw_lab.engine.bundles import SHARED, Column, Schema
from caw_lab.engine.changes import Event, Gated, commit, raw
from caw_lab.errors import CawError, invalid_input, not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Row, Statement

FORMAT = "caw-lab.workflow-bundle"
VERSION = 1
CHUNK_BYTES = 256 * 1024
"""Largest JSON parameter per statement: a quarter of D1's 1 MB limit on one value."""

TASKS = "SELECT id FROM tasks WHERE workflow_id = ?1"
MESSAGES = f"workflow_id = ?1 OR task_id IN ({TASKS})"
SCOPE: dict[str, str] = {
    "workflows": "id = ?1",
    "repositories": "id IN (SELECT repository_id FROM workflow_repositories WHERE workflow_id = ?1 "
                    "UNION SELECT repository_id FROM tasks WHERE workflow_id = ?1 "
                    "UNION SELECT repository_id FROM workspaces WHERE workflow_id = ?1)",
    "agents": f"id IN (SELECT assigned_agent_id FROM tasks WHERE workflow_id = ?1 "
              f"UNION SELECT sender_id FROM messages WHERE {MESSAGES} "
              f"UNION SELECT recipient_id FROM messages WHERE {MESSAGES})",
    "workflow_repositories": "workflow_id = ?1",
    "workspaces": "workflow_id = ?1",
    "tasks": "workflow_id = ?1",
    "task_dependencies": f"task_id IN ({TASKS})",
    "checkpoints": f"task_id IN ({TASKS})",
    "messages": MESSAGES,
    "dead_letters": "workflow_id = ?1",
    "events": f"workflow_id = ?1 OR task_id IN ({TASKS})",
}
"""A workflow's rows, table by table, in the order import writes them (referenced first)."""

OUTSIDE = {("agents", "workflow_id"): "workflows", ("messages", "reply_to_id"): "messages",
           ("messages", "workflow_id"): "workflows", ("messages", "task_id"): "tasks"}
"""Nullable references that may lead out of the bundle; cleared when the target lacks the row."""


def export(db: Backend, workflow_id: str) -> dict[str, Any]:
    """The workflow's bundle: every row it owns and the shared rows they refer to."""
    reads = [Statement(f"SELECT * FROM {t} WHERE {where} ORDER BY {order(t)}", (workflow_id,))
             for t, where in SCOPE.items()]
    tables = dict(zip(SCOPE, db.batch(reads), strict=True))
    if not tables["workflows"]:
        raise not_found("workflow", workflow_id)
    tables["events"] = [{k: v for k, v in e.items() if k != "seq"} for e in tables["events"]]
    return {"format": FORMAT, "version": VERSION, "workflow_id": workflow_id, "source": db.url,
            "exported_at": now_ms(), "tables": tables}


def order(table: str) -> str:
    return "seq" if table == "events" else "rowid"


def import_bundle(db: Backend, bundle: Any) -> dict[str, Any]:
    """Write the bundle's workflow into ``db`` in one batch; a no-op if it is already there."""
    workflow_id, tables = validate(bundle, schema(db))
    tables = resolve_outside(db, uncounted(offline(tables)))
    summary = {"workflow_id": workflow_id, **{t: len(tables.get(t, [])) for t in ("tasks", "checkpoints", "events")}}
    if db.one("SELECT 1 AS found FROM workflows WHERE id = ?", (workflow_id,)) is None:
        payload = {**summary, "source": bundle.get("source")}
        guard, then = statements(workflow_id, tables)
        if commit(db, Event("workflow.imported", workflow_id, payload=payload), guard=guard, then=then):
            return {**summary, "imported": True}
    if owned(tables) != owned(uncounted(export(db, workflow_id)["tables"])):
        raise CawError("WORKFLOW_EXISTS", f"Workflow {workflow_id} already exists here with other contents",
                       recoverable=False,
                       suggestion="Import into another database, or export this one's copy to compare.")
    return {**summary, "imported": False}


def owned(tables: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """What "the same workflow" compares: its own rows but events, whose history only grows."""
    return {t: tables.get(t, []) for t in SCOPE if t not in SHARED and t != "events"}


def schema(db: Backend) -> Schema:
    rows = db.query('SELECT m.name AS tbl, p.name AS col, p.type, p."notnull" AS not_null, p.dflt_value, p.pk '
                    "FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                    "WHERE m.type = 'table' AND m.name IN (SELECT value FROM json_each(?))", (json.dumps(list(SCOPE)),))
    found: Schema = {}
    for row in rows:
        if (row["tbl"], row["col"]) != ("events", "seq"):
            required = (bool(row["not_null"]) and row["dflt_value"] is None) or bool(row["pk"])
            found.setdefault(row["tbl"], {})[row["col"]] = Column(row["type"].upper(), bool(row["not_null"]), required)
    return found


def validate(bundle: Any, schema: Schema) -> tuple[str, dict[str, list[Row]]]:
    """The workflow id and rows of a bundle that passes every check (``bundles.check``)."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise invalid_input("Not a caw-lab workflow bundle", "Pass a file written by `caw export`.")
    if bundle.get("version") != VERSION:
        raise invalid_input(f"Unsupported bundle version {bundle.get('version')!r}",
                            f"This caw-lab reads version {VERSION}; export again with it.")
    workflow_id, tables = bundle.get("workflow_id"), bundle.get("tables")
    if not isinstance(workflow_id, str) or not isinstance(tables, dict) or not set(tables) <= set(SCOPE):
        raise invalid_input("The bundle's workflow_id or tables are malformed", "Export the workflow again.")
    if not isinstance(bundle.get("source"), (str, type(None))):
        raise invalid_input("The bundle's source is not text", "Export the workflow again.")
    json_values.check(bundle.get("source"), "source")
    bundles.check(workflow_id, tables, schema)
    return workflow_id, tables


def offline(tables: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """Agents as they arrive here: offline, on no task, whatever their row said."""
    agents = [{**a, "status": "offline", "current_task_id": None} for a in tables.get("agents", [])]
    return {**tables, "agents": agents} if agents else tables


def uncounted(tables: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """The workflow row without its count of active tasks: the triggers of migration 010 count
    the tasks here as they are inserted, so a copied count would be counted twice."""
    return {**tables, "workflows": [{k: v for k, v in w.items() if k != "active_tasks"}
                                    for w in tables.get("workflows", [])]}


def resolve_outside(db: Backend, tables: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """Clear references (``OUTSIDE``) to rows neither in the bundle nor in the target."""
    inside = {table: {r["id"] for r in tables.get(table, [])} for table in ("workflows", "messages", "tasks")}
    wanted = {(table, column): sorted({r[column] for r in tables.get(table, []) if r.get(column)} - inside[target])
              for (table, column), target in OUTSIDE.items()}
    lookups = [Statement(f"SELECT id FROM {target} WHERE id IN (SELECT value FROM json_each(?))",
                         (json.dumps(wanted[key]),)) for key, target in OUTSIDE.items()]
    present = [{r["id"] for r in rows} for rows in db.batch(lookups)]
    resolved = dict(tables)
    for ((table, column), _), here in zip(OUTSIDE.items(), present, strict=True):
        known = here | inside[OUTSIDE[(table, column)]]
        resolved[table] = [r if r.get(column) in known or r.get(column) is None else {**r, column: None}
                           for r in tables.get(table, [])]
    return resolved


def statements(workflow_id: str, tables: dict[str, list[Row]]) -> tuple[Statement, list[Gated]]:
    """The guard inserting the workflow row where its id is free, and every other row gated."""
    [workflow] = tables["workflows"]
    select, params = from_json("workflows", [workflow])
    guard = Statement(f"{select} WHERE NOT EXISTS (SELECT 1 FROM workflows WHERE id = ?)", (*params, workflow_id))
    then: list[Gated] = []
    for table in SCOPE:
        rows = tables.get(table) or []
        for chunk in chunks(rows) if table != "workflows" else ():
            sql, chunk_params = from_json(table, chunk)
            missing = f" NOT EXISTS (SELECT 1 FROM {table} x WHERE x.id = json_extract(value, '$.id')) AND"
            then.append(raw(f"{sql} WHERE{missing if table in SHARED else ''}", chunk_params))
    return guard, then


def from_json(table: str, rows: list[Row]) -> tuple[str, tuple[str]]:
    """``INSERT INTO table (...) SELECT ... FROM`` the rows as one JSON parameter, in order."""
    names = sorted({k for r in rows for k in r})
    values = ", ".join(f"json_extract(value, '$.{name}')" for name in names)
    source = "(SELECT value FROM json_each(?) ORDER BY key)"
    return f"INSERT INTO {table} ({', '.join(names)}) SELECT {values} FROM {source}", (json.dumps(rows),)


def chunks(rows: list[Row]) -> Iterator[list[Row]]:
    """Consecutive rows whose JSON stays under ``CHUNK_BYTES`` (a bigger row goes alone)."""
    chunk: list[Row] = []
    size = 0
    for row in rows:
        length = len(json.dumps(row))
        if chunk and size + length > CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += length
    if chunk:
        yield chunk
