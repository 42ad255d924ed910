"""Conflicts between tasks working side by side, found before a task may complete.

A task running isolated (engine/isolation.py) works on its own branch. Its work can clash
with the integration branch (a sibling merged first) or with a sibling still in flight.
``git merge-tree --write-tree`` answers both without touching a worktree (engine/merging.py),
so the check is cheap enough to run:

- before an isolated task completes (``before_completion``, called by tasks.update_status);
- on demand (the ``workflow_conflicts`` tool, ``scan``, which reports without recording), which
  also *predicts* conflicts from the plan: tasks that may run side by side (neither depends on the other) whose
  ``files_likely_affected`` overlap.

A conflict found is written as a ``conflict.detected`` event (tasks, branches, files, and
the conflicting hunks, which the task's context shows on its next load), with a message to
every agent involved, in the same change. Then the task's strategy decides
(``execution.conflicts``, or ``execution.task_conflicts`` for the task):

- ``serialize`` (the default): a task whose sibling already completed waits for that
  sibling's merge (MERGE_PENDING, try again); against the integration branch it is rebased
  at once in its worktree and checked again; a rebase that fails falls back to ``manual``;
- ``rebase``: rebased at once, falling back to ``manual``;
- ``manual``: the task is paused, with the files named; its branch and commits stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from caw_lab.engine import isolation, leases, merging, rows, worktrees
from caw_lab.engine.agents import release_agent
from caw_lab.engine.changes import Event, commit, insert
from caw_lab.engine.messages import message_row
from caw_lab.engine.rows import decode, fetch
from caw_lab.errors import CawError
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Row, Statement
from caw_lab.store.reads import Reads

IN_FLIGHT = ("planning", "in_progress", "paused")
STRATEGIES = ("serialize", "rebase", "manual")


def strategy(db: Backend, task: dict[str, Any]) -> str:
    """The task's own strategy (``execution.task_conflicts`` by id or name), else the workflow's."""
    workflow = fetch(db, "workflow", task["workflow_id"])
    execution = (workflow.get("config") or {}).get("execution") or {}
    own = execution.get("task_conflicts") or {}
    chosen = own.get(task["id"]) or own.get(task["name"]) or execution.get("conflicts") or "serialize"
    return chosen if chosen in STRATEGIES else "serialize"


def siblings(db: Backend, task: dict[str, Any], repo: str) -> list[dict[str, Any]]:
    """Other isolated tasks of the workflow in ``repo`` whose branch is not merged yet."""
    merged = isolation.merged(db, task["workflow_id"])
    rows = db.query("SELECT id, name, status, assigned_agent_id FROM tasks WHERE workflow_id = ? AND id != ? "
                    "AND status IN ('planning', 'in_progress', 'paused', 'completed')",
                    (task["workflow_id"], task["id"]))
    found = []
    for row in rows:
        where = isolation.assignment(db, row["id"])
        if where is None or where["repository"] != repo or row["id"] in merged:
            continue
        if worktrees.branch_exists(repo, where["branch"]):
            found.append({**row, "branch": where["branch"]})
    return found


def find(db: Backend, task: dict[str, Any]) -> tuple[list[merging.Conflict], list[dict[str, Any]]]:
    """The task's conflicts with its integration branch and with each in-flight sibling, and those siblings."""
    where = isolation.assignment(db, task["id"])
    if where is None or not worktrees.branch_exists(where["repository"], where["branch"]):
        return [], []
    repo, branch = where["repository"], where["branch"]
    found = [c for c in [merging.conflict(repo, where["integration"], branch)] if c]
    involved = []
    for sibling in siblings(db, task, repo):
        clash = merging.conflict(repo, sibling["branch"], branch)
        if clash:
            found.append(clash)
            involved.append(sibling)
    return found, involved


def record(db: Backend, task: dict[str, Any], found: list[merging.Conflict], involved: list[dict[str, Any]],
           stage: str, resolution: str = "recorded") -> None:
    """One ``conflict.detected`` event, with a message to each agent involved."""
    files = sorted({f for c in found for f in c.files})
    payload = {
        "tasks": [task["id"], *(s["id"] for s in involved)],
        "branches": sorted({c.branch for c in found} | {c.onto for c in found}),
        "files": files,
        "hunks": {f: h for c in found for f, h in c.hunks.items()},
        "stage": stage,
        "resolution": resolution,
    }
    body = {"text": f"Conflict in {', '.join(files[:10])} between task {task['name']} and "
            f"{', '.join(s['name'] for s in involved) or 'the integration branch'}", "files": files}
    agents = [a for a in [task.get("assigned_agent_id"), *(s.get("assigned_agent_id") for s in involved)] if a]
    sender = agents[0] if agents else None
    messages = [insert("messages", {**message_row(sender, a, "conflict", body, "Merge conflict", "high",
                                                  task["workflow_id"]), "task_id": task["id"]})
                for a in dict.fromkeys(agents) if sender]
    commit(db, Event("conflict.detected", task["workflow_id"], task["id"], sender, payload),
           then=messages)


def detect(db: Backend, task: dict[str, Any], stage: str = "check") -> list[merging.Conflict]:
    """Find and record the task's conflicts; the conflicts found."""
    found, involved = find(db, task)
    if found:
        record(db, task, found, involved, stage, resolution="left")
    return found


def before_completion(db: Backend, task: dict[str, Any]) -> None:
    """Refuse, pause or rebase an isolated task whose branch would not merge (see the module docstring).
    A conflict with a sibling that has not completed yet is recorded only: the first to complete
    goes first. A task that never ran isolated passes untouched. The ``conflict.detected`` event
    says what was decided (``resolution``)."""
    found, involved = find(db, task)
    if not found:
        return
    where = isolation.assignment(db, task["id"])
    assert where is not None
    onto_integration, waiting = blocking(found, involved, where)
    if not onto_integration and not waiting:
        record(db, task, found, involved, "completion", resolution="recorded")
        return
    chosen = strategy(db, task)
    if chosen == "serialize" and waiting and not onto_integration:
        record(db, task, found, involved, "completion", resolution="waiting")
        raise CawError("MERGE_PENDING", f"Task {task['name']} conflicts with {', '.join(s['name'] for s in waiting)}, "
                       "which completed first and is being merged", recoverable=True,
                       suggestion="Complete the task again in a moment: it is then rebased onto the merged work.")
    if chosen != "manual" and not waiting and rebase(task, where):
        record(db, task, found, involved, "completion", resolution="rebased")
        found, involved = find(db, task)
        if not any(blocking(found, involved, where)):
            return
    record(db, task, found, involved, "completion", resolution="paused")
    pause(db, task, found)


def held_for_resolution(db: Backend, task_id: str) -> bool:
    """A task ``manual`` paused stays paused until a person resolves it: the executor does not resume it."""
    row = db.one("SELECT kind, payload FROM events WHERE task_id = ? AND kind IN ('conflict.detected', "
                 "'worktree.assigned') ORDER BY seq DESC LIMIT 1", (task_id,))
    return row is not None and row["kind"] == "conflict.detected" and \
        decode(row)["payload"].get("resolution") == "paused"


def blocking(found: list[merging.Conflict], involved: list[dict[str, Any]],
             where: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the task conflicts with its integration branch, and the completed siblings it conflicts with."""
    return any(c.onto == where["integration"] for c in found), [s for s in involved if s["status"] == "completed"]


def rebase(task: dict[str, Any], where: dict[str, Any]) -> bool:
    """Rebase the task's worktree onto its integration branch; on failure nothing changes. The
    agent's own commits, which the rebase replaces, are kept under the task's backup ref."""
    before = worktrees.resolve_commit(where["path"], "HEAD")
    done = worktrees.git(where["path"], "rebase", "--quiet", where["integration"])
    if done.code:
        worktrees.git(where["path"], "rebase", "--abort")
        return False
    if worktrees.resolve_commit(where["path"], "HEAD") != before:
        layout = isolation.Layout(task["workflow_id"], where["repository"], where["integration"])
        isolation.keep_commit(layout, task["id"], before)
    return True


def pause(db: Backend, task: dict[str, Any], found: list[merging.Conflict]) -> None:
    """Pause the task for a person, releasing its agent and leases (the executor will not resume
    it: ``held_for_resolution``), and tell the agent why."""
    files = sorted({f for c in found for f in c.files})
    if task["status"] == "in_progress":
        guard = Statement("UPDATE tasks SET status = 'paused', assigned_agent_id = NULL, claimed_at = NULL, "
                          "updated_at = ? WHERE id = ? AND status = 'in_progress'", (now_ms(), task["id"]))
        then = [release_agent(task["id"]), *leases.release_for_task(db, task["id"], "task paused by a conflict")]
        commit(db, Event("task.status", task["workflow_id"], task["id"], task.get("assigned_agent_id"),
                         {"from": "in_progress", "to": "paused", "reason": "conflict", "files": files}),
               guard=guard, then=then)
    raise CawError("MERGE_CONFLICT", f"Task {task['name']} conflicts in {', '.join(files[:10])}; it is paused",
                   recoverable=True, suggestion="Resolve the files in the task's worktree, commit, then set the task "
                   "in_progress and complete it again; its branch and commits are intact.",
                   details={"files": files, "paused": task["status"] == "in_progress"})


def scan(db: Backend, workflow_id: str) -> dict[str, Any]:
    """Every in-flight isolated task checked now, plus the conflicts the plan predicts. A read:
    the completion check is what records a conflict and acts on it. The rows come in one batch
    (one D1 request); git then compares the branches."""
    state = ScanState.read(db, workflow_id)
    seen: set[frozenset[str]] = set()
    found = []
    for task in state.unmerged():
        clashes, involved = state.clashes(task)
        pair = frozenset([task["id"], *(s["id"] for s in involved)])
        if clashes and pair not in seen:
            seen.add(pair)
            found.append({"tasks": sorted(pair), "files": sorted({f for c in clashes for f in c.files}),
                          "branches": sorted({c.branch for c in clashes} | {c.onto for c in clashes})})
    return {"workflow_id": workflow_id, "conflicts": found, "predicted": predictions(state.tasks, state.edges)}


@dataclass(frozen=True)
class ScanState:
    """What a scan reads of a workflow: its tasks, which are merged, where each last ran, its edges."""

    tasks: list[dict[str, Any]]
    merged: set[str]
    assigned: dict[str, dict[str, Any]]
    edges: list[Row]

    @classmethod
    def read(cls, db: Backend, workflow_id: str) -> ScanState:
        batch = Reads(db)
        exists = rows.required(batch, "workflow", workflow_id)
        tasks = batch.query("SELECT * FROM tasks WHERE workflow_id = ? ORDER BY sequence, id", (workflow_id,))
        merged = batch.query("SELECT task_id FROM events WHERE workflow_id = ? AND kind = 'task.merged'",
                             (workflow_id,))
        assigned = batch.query("SELECT task_id, payload FROM events WHERE workflow_id = ? "
                               "AND kind = 'worktree.assigned' ORDER BY seq", (workflow_id,))
        edges = batch.query(EDGES_SQL, (workflow_id,))
        batch.run()
        exists()
        return cls([decode(r) for r in tasks()], {r["task_id"] for r in merged()},
                   {r["task_id"]: decode(r)["payload"] for r in assigned()}, edges())

    def unmerged(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["status"] in (*IN_FLIGHT, "completed") and t["id"] not in self.merged]

    def clashes(self, task: dict[str, Any]) -> tuple[list[merging.Conflict], list[dict[str, Any]]]:
        """As ``find``, from the rows read."""
        where = self.assigned.get(task["id"])
        if where is None or not worktrees.branch_exists(where["repository"], where["branch"]):
            return [], []
        repo, branch = where["repository"], where["branch"]
        found = [c for c in [merging.conflict(repo, where["integration"], branch)] if c]
        involved = []
        for other in self.unmerged():
            there = self.assigned.get(other["id"])
            if other["id"] == task["id"] or there is None or there["repository"] != repo:
                continue
            if worktrees.branch_exists(repo, there["branch"]) and (
                    clash := merging.conflict(repo, there["branch"], branch)):
                found.append(clash)
                involved.append({**other, "branch": there["branch"]})
        return found, involved


EDGES_SQL = ("SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
             "WHERE t.workflow_id = ?")


def predictions(tasks: list[dict[str, Any]], edges: list[Row]) -> list[dict[str, Any]]:
    """Pairs of unfinished ``tasks`` that are not each other's ancestors and share likely files."""
    unfinished = [t for t in tasks if t["status"] not in ("completed", "skipped")]
    upstream = closure(edges)
    out = []
    for a, b in combinations(unfinished, 2):
        overlap = sorted(set(a["files_likely_affected"] or []) & set(b["files_likely_affected"] or []))
        if overlap and a["id"] not in upstream.get(b["id"], set()) and b["id"] not in upstream.get(a["id"], set()):
            out.append({"tasks": [a["id"], b["id"]], "names": [a["name"], b["name"]], "files": overlap})
    return out


def closure(rows: list[Row]) -> dict[str, set[str]]:
    """Each task's transitive dependencies, from ``(task_id, depends_on_id)`` rows."""
    edges: dict[str, set[str]] = {}
    for r in rows:
        edges.setdefault(r["task_id"], set()).add(r["depends_on_id"])
    closed: dict[str, set[str]] = {}

    def up(task_id: str) -> set[str]:
        if task_id not in closed:
            closed[task_id] = set()
            for dep in edges.get(task_id, ()):
                closed[task_id] |= {dep, *up(dep)}
        return closed[task_id]

    for task_id in edges:
        up(task_id)
    return closed
