"""What a workflow bundle must be before ``transfer.import_bundle`` writes a row of it.

A bundle is a file anyone can edit, and its rows go straight into the tables the tools
keep consistent. So it passes the checks the tools apply to their input, column by column:
values of the column's declared type (an integer is an integer, within 64 bits), statuses
and other enumerated values from the state machines and vocabularies of ``states``, JSON
columns that parse as standard JSON (``json_values``), ids of the right kind, references
that stay inside the bundle where a reference to another workflow would corrupt it (a
dependency on a task elsewhere), a DAG without cycles, and the plan limits. An executor's
agent row never comes in: it would stand for a process running the workflow here.

Every problem is collected before anything is refused, so one error lists them all.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from caw_lab.engine import states
from caw_lab.engine.dag import find_cycle
from caw_lab.engine.executions import EXECUTOR_RUNTIME
from caw_lab.engine.rows import JSON_COLUMNS
from caw_lab.errors import CawError
from caw_lab.ids import ALPHABET, LENGTH, PREFIXES
from caw_lab.json_values import loads
from caw_lab.limits import MAX_DEPENDENCIES, MAX_INTEGER, MAX_WORKFLOW_TASKS
from caw_lab.store.backend import Row

SHOWN_PROBLEMS = 10
"""Problems spelled out in the error's message; ``details["problems"]`` has them all."""
KEPT_PROBLEMS = 1000
"""Problems listed in the details at most: a bundle of a million bad rows gets a bounded answer."""

IDS: dict[str, dict[str, str]] = {
    "workflows": {"id": "workflow"},
    "repositories": {"id": "repository"},
    "agents": {"id": "agent", "workflow_id": "workflow", "current_task_id": "task"},
    "workflow_repositories": {"workflow_id": "workflow", "repository_id": "repository"},
    "workspaces": {"id": "workspace", "workflow_id": "workflow", "repository_id": "repository"},
    "tasks": {"id": "task", "workflow_id": "workflow", "workspace_id": "workspace", "repository_id": "repository",
              "assigned_agent_id": "agent"},
    "task_dependencies": {"task_id": "task", "depends_on_id": "task"},
    "checkpoints": {"id": "checkpoint", "task_id": "task"},
    "messages": {"id": "message", "sender_id": "agent", "recipient_id": "agent", "workflow_id": "workflow",
                 "task_id": "task", "reply_to_id": "message", "thread_id": "message"},
    "dead_letters": {"id": "dead_letter", "task_id": "task", "workflow_id": "workflow"},
    "events": {"workflow_id": "workflow", "task_id": "task", "agent_id": "agent"},
}
"""The kind of id each id column holds (``ids.PREFIXES``)."""

INSIDE: dict[tuple[str, str], str] = {
    ("workflow_repositories", "repository_id"): "repositories",
    ("workspaces", "repository_id"): "repositories",
    ("tasks", "workspace_id"): "workspaces",
    ("tasks", "repository_id"): "repositories",
    ("tasks", "assigned_agent_id"): "agents",
    ("task_dependencies", "depends_on_id"): "tasks",
    ("messages", "sender_id"): "agents",
    ("messages", "recipient_id"): "agents",
    ("dead_letters", "task_id"): "tasks",
}
"""References that must name a row of the bundle itself (export always brings those rows)."""

VOCABULARY: dict[tuple[str, str], tuple[str, ...]] = {
    ("workflows", "status"): states.WORKFLOW_STATUSES,
    ("workflows", "source_type"): states.SOURCE_TYPES,
    ("tasks", "status"): states.STORED_TASK_STATUSES,
    ("tasks", "estimated_complexity"): states.COMPLEXITIES,
    ("task_dependencies", "dependency_type"): states.DEPENDENCY_TYPES,
    ("checkpoints", "checkpoint_type"): states.CHECKPOINT_TYPES,
    ("workspaces", "status"): states.WORKSPACE_STATUSES,
    ("agents", "status"): states.AGENT_STATUSES,
    ("agents", "role"): states.AGENT_ROLES,
    ("messages", "status"): states.MESSAGE_STATUSES,
    ("messages", "message_type"): states.MESSAGE_TYPES,
    ("messages", "priority"): states.MESSAGE_PRIORITIES,
    ("dead_letters", "status"): states.DEAD_LETTER_STATUSES,
}
"""Enumerated columns and the values they may hold (NULL aside, where the column allows it)."""

SHARED = ("repositories", "agents")
"""Tables whose rows other workflows use too: added when missing, never overwritten."""

ID_SHAPE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")


@dataclass(frozen=True)
class Column:
    type: str
    not_null: bool
    required: bool
    """NOT NULL without a default, or the primary key: every row must give it."""


Schema = dict[str, dict[str, Column]]
"""The target database's tables and columns, as ``PRAGMA table_info`` declares them (``seq`` left out:
events get the target's own)."""


def check(workflow_id: str, tables: dict[str, Any], schema: Schema) -> None:
    """Raise one INVALID_INPUT listing every problem of the bundle's rows, if it has any."""
    found = Problems()
    for table, rows in tables.items():
        if not isinstance(rows, list):
            found.add(f"{table}: not a list of rows")
            continue
        keys = {frozenset(r) for r in rows if isinstance(r, dict)}
        if len(keys) > 1:
            found.add(f"{table}: rows with different columns")
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                found.add(f"{table}[{i}]: not an object")
                continue
            check_row(found, f"{table}[{i}]", table, row, schema[table])
    rows = {t: [r for r in tables.get(t) or [] if isinstance(r, dict)] for t in IDS}
    check_ownership(found, workflow_id, rows)
    check_references(found, rows)
    check_graph(found, rows)
    found.raise_any()


class Problems(list[str]):
    def add(self, problem: str) -> None:
        self.append(problem)

    def raise_any(self) -> None:
        if not self:
            return
        more = f"; and {len(self) - SHOWN_PROBLEMS} more" if len(self) > SHOWN_PROBLEMS else ""
        raise CawError(
            "INVALID_INPUT",
            f"The bundle has {len(self)} problem{'s' if len(self) > 1 else ''}, nothing was imported: "
            f"{'; '.join(self[:SHOWN_PROBLEMS])}{more}",
            recoverable=False,
            suggestion="Import a bundle written by `caw export`, unedited; details.problems lists every problem.",
            details={"problems": self[:KEPT_PROBLEMS], "count": len(self)},
        )


def check_row(found: Problems, where: str, table: str, row: Row, columns: dict[str, Column]) -> None:
    for name in sorted(set(row) - set(columns)):
        found.add(f"{where}: unknown column {shorten(name)}")
    for name, column in columns.items():
        value = row.get(name)
        if value is None:
            if column.required or (column.not_null and name in row):
                found.add(f"{where}.{name}: missing, and the column cannot be empty")
            continue
        problem = value_problem(table, name, column, value)
        if problem:
            found.add(f"{where}.{name}: {problem}")
    if table == "agents" and row.get("runtime") == EXECUTOR_RUNTIME:
        found.add(f"{where}: an executor ({EXECUTOR_RUNTIME}); executors never come in with a bundle")


def value_problem(table: str, name: str, column: Column, value: Any) -> str | None:
    """What is wrong with one non-null value, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"a {type(value).__name__}, not a column value"
    if column.type == "INTEGER" and not (isinstance(value, int) and -MAX_INTEGER - 1 <= value <= MAX_INTEGER):
        return f"{shorten(value)} is not a 64-bit integer"
    if column.type == "REAL" and not (isinstance(value, (int, float)) and math.isfinite(value)):
        return f"{shorten(value)} is not a finite number"
    if column.type == "TEXT" and not isinstance(value, str):
        return f"{shorten(value)} is not text"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a JSON number"
    return text_problem(table, name, value) if isinstance(value, str) else None


def text_problem(table: str, name: str, value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate: not valid Unicode"
    allowed = VOCABULARY.get((table, name))
    if allowed is not None and value not in allowed:
        return f"{shorten(value)} is not one of {', '.join(allowed)}"
    kind = IDS.get(table, {}).get(name)
    if kind is not None and not well_formed(kind, value):
        return f"{shorten(value)} is not a {kind} id ({PREFIXES[kind]} and {LENGTH} of [0-9a-z])"
    if name in JSON_COLUMNS:
        try:
            parsed = loads(value, name, math.inf)
        except CawError as err:
            return err.message
        if name == "context_from" and not (isinstance(parsed, list) and all(isinstance(t, str) for t in parsed)):
            return "not a list of task ids"
    return None


def well_formed(kind: str, ident: str) -> bool:
    prefix = PREFIXES[kind]
    return ident.startswith(prefix) and ID_SHAPE.fullmatch(ident, len(prefix)) is not None


def text(row: Row, column: str) -> str | None:
    """The row's value in ``column`` if it is text (anything else was reported by ``check_row``)."""
    value = row.get(column)
    return value if isinstance(value, str) else None


def check_ownership(found: Problems, workflow_id: str, tables: dict[str, list[Row]]) -> None:
    """One workflow row, and every other row the workflow's own (shared agents and repositories aside)."""
    if len(tables["workflows"]) != 1:
        found.add(f"workflows: {len(tables['workflows'])} rows, where a bundle holds its one workflow")
    task_ids = {text(t, "id") for t in tables["tasks"]} - {None}
    for table, rows in tables.items():
        if table not in SHARED:
            found.extend(f"{table}[{i}]: not workflow {workflow_id}'s" for i, row in enumerate(rows)
                         if not belongs(table, row, workflow_id, task_ids))


def belongs(table: str, row: Row, workflow_id: str, task_ids: set[str | None]) -> bool:
    if table == "workflows":
        return row.get("id") == workflow_id
    if table in ("task_dependencies", "checkpoints"):
        return text(row, "task_id") in task_ids
    if table in ("messages", "events"):
        return row.get("workflow_id") == workflow_id or text(row, "task_id") in task_ids
    return row.get("workflow_id") == workflow_id


def check_references(found: Problems, tables: dict[str, list[Row]]) -> None:
    """Ids unique, references inside the bundle where they must be, task names unique."""
    ids = {table: Counter(text(r, "id") for r in rows) for table, rows in tables.items()}
    for table, counts in ids.items():
        found.extend(f"{table}: id {ident} appears {n} times" for ident, n in counts.items() if ident and n > 1)
    for (table, column), target in INSIDE.items():
        for i, row in enumerate(tables[table]):
            ref = text(row, column)
            if ref is not None and ref not in ids[target]:
                found.add(f"{table}[{i}].{column}: {ref} is not in the bundle's {target}; "
                          "references must stay inside the workflow")
    for i, task in enumerate(tables["tasks"]):
        try:
            wanted = json.loads(text(task, "context_from") or "[]")
        except ValueError:
            continue
        wanted = wanted if isinstance(wanted, list) else []
        outside = [t for t in wanted if isinstance(t, str) and t not in ids["tasks"]]
        if outside:
            found.add(f"tasks[{i}].context_from: {shorten(outside)} not in the bundle's tasks")
    names = Counter(text(t, "name") for t in tables["tasks"])
    found.extend(f"tasks: name {shorten(n)} is used {k} times" for n, k in names.items() if n and k > 1)


def check_graph(found: Problems, tables: dict[str, list[Row]]) -> None:
    """The plan limits, and a DAG: the engine's reads assume both."""
    if len(tables["tasks"]) > MAX_WORKFLOW_TASKS:
        found.add(f"tasks: {len(tables['tasks'])} tasks, over the {MAX_WORKFLOW_TASKS} a workflow may hold")
    graph: dict[str, list[str]] = {}
    for dep in tables["task_dependencies"]:
        task, upstream = text(dep, "task_id"), text(dep, "depends_on_id")
        if task and upstream:
            graph.setdefault(task, []).append(upstream)
    found.extend(f"tasks: {task} depends on {len(deps)} tasks, over the {MAX_DEPENDENCIES} a task may"
                 for task, deps in graph.items() if len(deps) > MAX_DEPENDENCIES)
    cycle = find_cycle(graph)
    if cycle:
        found.add(f"task_dependencies: a cycle {' -> '.join(cycle)}")


def shorten(value: Any, width: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= width else shown[:width] + "..."
