"""A worktree and a branch per task: the integration branch, the worktree pool, merging back, cleanup.

An isolated workflow has, in each repository it touches, an *integration branch*
(``caw/<workflow id>`` unless configured) made from the base branch. Each task runs on
its own branch ``caw/<workflow id>-<task id>``, made from the integration branch when the
task starts, so it starts with its dependencies' work, in a worktree of the workflow's
*pool*: worktrees under ``<repo>/.caw/worktrees/`` marked ``pool:<workflow id>`` (see
engine/worktrees.py, MARK). A finished task's worktree is detached and handed to the next
task, which saves making one (bench/worktrees.py measures how much).

What happens is in the event feed: ``worktree.created`` / ``worktree.removed`` for the
pool, ``worktree.assigned`` (repository, path, branch, integration branch) when a task
gets its worktree, ``task.merged`` (payload: the commit) once its branch is in the
integration branch. Those events are the record the completion check, the executor and
``caw gc`` read; git holds the rest.

Cleanup never loses work: a worktree with uncommitted or untracked work is never removed
(it is reported as kept), and a task branch whose commits the integration branch does not
hold is kept under ``refs/caw-backup/<workflow id>/<task id>`` before it is deleted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from caw_lab.engine import backups, merging, sandbox, worktrees
from caw_lab.engine.changes import Event, commit
from caw_lab.engine.rows import decode
from caw_lab.errors import CawError
from caw_lab.store.backend import Backend

POOL = "pool:"
TASK_BRANCH = re.compile(r"caw/(wf_[0-9a-z]+)-(tk_[0-9a-z]+)")
LIVE_WORKFLOWS = ("planning", "ready", "in_progress", "paused", "awaiting_merge", "failed")
"""A workflow in one of these may run again: its worktrees and branches are left for it
unless it is the one being cleaned up."""


@dataclass(frozen=True)
class Layout:
    """One repository's side of an isolated workflow."""

    workflow_id: str
    repo: str
    integration: str

    @property
    def mark(self) -> str:
        return POOL + self.workflow_id

    def branch(self, task_id: str) -> str:
        return f"caw/{self.workflow_id}-{task_id}"


# -- setting up ----------------------------------------------------------------------------

MODE_ENV = "CAW_ISOLATION"


def default_mode() -> str:
    """``worktree`` unless the local user's ``CAW_ISOLATION`` says ``shared`` (a workflow's own
    ``execution.isolation`` wins over both)."""
    mode = os.environ.get(MODE_ENV, "").strip() or "worktree"
    if mode not in ("worktree", "shared"):
        raise CawError("INVALID_CONFIG", f"{MODE_ENV} must be worktree or shared, not {mode[:50]!r}",
                       recoverable=True, suggestion=f"Set {MODE_ENV}=worktree or {MODE_ENV}=shared.")
    return mode



def repository(path: str) -> str:
    """The git repository holding ``path``, refused unless inside the user's roots."""
    top = worktrees.toplevel(sandbox.user_path(path, "Repository path"))
    return sandbox.require(top, sandbox.user_roots(), "Repository")


def check(workflow_id: str, repo: str, integration: str | None, base: str | None) -> tuple[Layout, str]:
    """The workflow's side of ``repo`` and the commit its integration branch starts from, every
    name checked (bad input raises CawError before anything is made)."""
    integration = integration or f"caw/{workflow_id}"
    worktrees.check_branch(integration)
    base = base or worktrees.current_branch(repo)
    if base is None:
        raise CawError("BASE_BRANCH_REQUIRED", f"{repo} has no branch checked out to start from", recoverable=True,
                       suggestion="Set execution.base_branch (workflow_set_config).")
    worktrees.check_revision(base)
    start = worktrees.resolve_commit(repo, base)
    if start is None:
        raise CawError("BASE_BRANCH_NOT_FOUND", f"Base branch {base!r} does not exist in {repo}", recoverable=True,
                       suggestion="Set execution.base_branch to an existing branch or commit.")
    holder = checked_out_at(repo, integration)
    if holder is not None:
        raise CawError("BRANCH_CHECKED_OUT", f"Integration branch {integration!r} is checked out at {holder}",
                       recoverable=True, suggestion="Switch that worktree to another branch, or set "
                       "execution.integration_branch to another name.")
    return Layout(workflow_id, repo, integration), start


def prepare(layout: Layout, start: str) -> Layout:
    """Make the integration branch at ``start`` unless it exists (a resumed run keeps its own)."""
    if not worktrees.branch_exists(layout.repo, layout.integration):
        done = worktrees.git(layout.repo, "update-ref", f"refs/heads/{layout.integration}", start, "")
        if done.code:
            raise merging.git_error("update-ref", done.err)
    return layout


def listed(repo: str) -> list[dict[str, str]]:
    """``git worktree list --porcelain`` as rows: path, head, branch (absent when detached)."""
    rows: list[dict[str, str]] = []
    for block in worktrees.git(repo, "worktree", "list", "--porcelain", "-z").out.split("\0\0"):
        row: dict[str, str] = {}
        for line in filter(None, block.split("\0")):
            key, _, value = line.partition(" ")
            row[key] = value.removeprefix("refs/heads/") if key == "branch" else value
        if "worktree" in row:
            rows.append(row)
    return rows


def checked_out_at(repo: str, branch: str) -> str | None:
    return next((row["worktree"] for row in listed(repo) if row.get("branch") == branch), None)


def marks(repo: str) -> dict[str, str]:
    """caw-lab's pool worktrees of ``repo``: path -> mark. The mark is read where worktrees.mark
    wrote it (the worktree's private git directory), without a git call per worktree."""
    common = worktrees.git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").out.strip()
    found: dict[str, str] = {}
    folder = os.path.join(common, "worktrees")
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        try:
            with open(os.path.join(folder, name, worktrees.MARK), encoding="utf-8") as f:
                mark = f.read().strip()
            with open(os.path.join(folder, name, "gitdir"), encoding="utf-8") as f:
                path = os.path.realpath(os.path.dirname(f.read().strip()))
        except OSError:
            continue
        if mark.startswith(POOL):
            found[path] = mark
    return found


# -- a task's worktree ---------------------------------------------------------------------


def acquire(db: Backend, layout: Layout, task: dict[str, Any]) -> tuple[str, str]:
    """A worktree for ``task`` on its branch: the one already holding the branch (a resumed
    task finds its uncommitted work there), else a free pool worktree, else a new one."""
    branch = layout.branch(task["id"])
    rows = listed(layout.repo)
    ours = marks(layout.repo)
    holder = next((r["worktree"] for r in rows if r.get("branch") == branch), None)
    path, created = holder, False
    if path is None:
        path = next((r["worktree"] for r in rows if ours.get(os.path.realpath(r["worktree"])) == layout.mark
                     and "detached" in r and not backups.pending(r["worktree"])), None)
        exists = worktrees.branch_exists(layout.repo, branch)
        if path is not None:
            start = [branch] if exists else ["-c", branch, layout.integration]
            done = worktrees.git(path, "switch", "--quiet", *start)
            if done.code:
                raise merging.git_error("switch", done.err)
        else:
            path = worktrees.worktree_path(layout.repo, branch, f"{sandbox.WORKTREE_DIR}/{layout.workflow_id}-"
                                           f"{len(ours) + 1}-{task['id'][-6:]}")
            if exists:
                worktrees.attach(layout.repo, path, branch)
            else:
                worktrees.add(layout.repo, path, branch, layout.integration)
            worktrees.mark(path, layout.mark)
            created = True
    path = os.path.realpath(path)
    payload = {"repository": layout.repo, "path": path, "branch": branch, "integration": layout.integration}
    if created:
        commit(db, Event("worktree.created", layout.workflow_id, task["id"], None, payload))
    commit(db, Event("worktree.assigned", layout.workflow_id, task["id"], None, {**payload, "reused": not created}))
    return path, branch


def assignment(db: Backend, task_id: str) -> dict[str, Any] | None:
    """Where the task last ran isolated (``worktree.assigned``'s payload), if it ever did."""
    row = db.one("SELECT payload FROM events WHERE task_id = ? AND kind = 'worktree.assigned' "
                 "ORDER BY seq DESC LIMIT 1", (task_id,))
    return None if row is None else decode(row)["payload"]


def merged(db: Backend, workflow_id: str) -> set[str]:
    rows = db.query("SELECT task_id FROM events WHERE workflow_id = ? AND kind = 'task.merged'", (workflow_id,))
    return {r["task_id"] for r in rows}


def merge_back(db: Backend, layout: Layout, task: dict[str, Any], style: str) -> str:
    """Merge the completed task's branch into the integration branch, then free its worktree and
    delete the branch (its commits kept under a backup ref when the style leaves them out)."""
    branch = layout.branch(task["id"])
    tip = worktrees.resolve_commit(layout.repo, f"refs/heads/{branch}")
    _, new = merging.merge(layout.repo, layout.integration, branch, style, f"Merge task {task['name']} ({task['id']})")
    commit(db, Event("task.merged", layout.workflow_id, task["id"], None,
                     {"commit": new, "branch": branch, "integration": layout.integration, "style": style}))
    holder = checked_out_at(layout.repo, branch)
    if holder is not None:
        park(layout, holder, task["id"])
    drop_branch(layout, branch, task["id"], tip)
    return new


def park(layout: Layout, path: str, owner: str) -> None:
    """Detach a pool worktree at the integration branch, ready for the next task; work left
    in it is kept under a backup ref first (``<task id>-uncommitted/<ms>``, beside the task's
    own ``<task id>`` ref, which a ref inside it would block)."""
    if backups.pending(path):
        backups.keep(path, f"{layout.workflow_id}/{owner}-uncommitted", "reusing the worktree", force=True)
        worktrees.git(path, "reset", "--hard", "--quiet")
        worktrees.git(path, "clean", "-fdq")
    done = worktrees.git(path, "switch", "--quiet", "--detach", layout.integration)
    if done.code:
        raise merging.git_error("switch", done.err)


def keep_commit(layout: Layout, task_id: str, tip: str | None) -> None:
    """Keep the agent's own tip under a backup ref before its branch is rewritten (rebased) or
    deleted. A branch rewritten twice has two tips to keep: the ref then points at a commit
    whose parents are both, so one ref still holds every commit the agent made."""
    if not tip:
        return
    ref = f"{backups.REF_PREFIX}/{layout.workflow_id}/{task_id}"
    kept = worktrees.resolve_commit(layout.repo, ref)
    if kept and merging.is_ancestor(layout.repo, tip, kept):
        return
    if kept and not merging.is_ancestor(layout.repo, kept, tip):
        tip = merging.commit_tree(layout.repo, f"{tip}^{{tree}}", ["-p", tip, "-p", kept],
                                  f"caw-lab: every tip task {task_id}'s branch had")
    done = worktrees.git(layout.repo, "update-ref", ref, tip, kept or "")
    if done.code:
        raise merging.git_error("update-ref", done.err)


def drop_branch(layout: Layout, branch: str, task_id: str, tip: str | None) -> None:
    """Delete a task branch; commits the integration branch lacks are kept under a backup ref."""
    if tip and not merging.is_ancestor(layout.repo, tip, f"refs/heads/{layout.integration}"):
        keep_commit(layout, task_id, tip)
    worktrees.delete_branch(layout.repo, branch)


# -- cleanup -------------------------------------------------------------------------------


def clean(db: Backend, repo: str, workflow_id: str | None) -> dict[str, Any]:
    """Remove pool worktrees and task branches of ``workflow_id`` (or, without it, of every workflow
    that cannot run again), never a worktree holding uncommitted work. Reports what it did."""
    statuses = workflow_statuses(db)

    def done_with(wf: str) -> bool:
        if wf == workflow_id:
            return True
        return workflow_id is None and wf in statuses and statuses[wf] not in LIVE_WORKFLOWS

    removed, kept, branches = [], [], []
    for path, mark in marks(repo).items():
        wf = mark.removeprefix(POOL)
        if not done_with(wf):
            continue
        if os.path.isdir(path) and backups.pending(path):
            kept.append(path)
            continue
        worktrees.git(repo, "worktree", "remove", "--force", "--", path)
        commit(db, Event("worktree.removed", wf if wf in statuses else None, None, None,
                         {"repository": repo, "path": path}))
        removed.append(path)
    worktrees.git(repo, "worktree", "prune")
    held = {row.get("branch") for row in listed(repo)}
    for ref in worktrees.git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/caw/").out.split():
        found = TASK_BRANCH.fullmatch(ref)
        if not found or ref in held or not done_with(found.group(1)):
            continue
        integration = integration_of(db, found.group(2)) or f"caw/{found.group(1)}"
        layout = Layout(found.group(1), repo, integration)
        drop_branch(layout, ref, found.group(2), worktrees.resolve_commit(repo, f"refs/heads/{ref}"))
        branches.append(ref)
    return {"repository": repo, "removed_worktrees": removed, "kept_worktrees": kept, "removed_branches": branches}


def abandoned(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """Clean up after a workflow abandoned while no executor runs it (a suspended run, say):
    no executor's ``finish`` is left to do it. Every repository it ran tasks in is cleaned as
    ``clean`` does (worktrees holding uncommitted work kept) and reported in a
    ``worktree.collected`` event. A repository no longer there, or now outside the user's roots,
    is left for ``caw gc``."""
    reports = []
    for path in repositories_of(db, workflow_id):
        try:
            repo = repository(path)
        except CawError:
            continue
        report = {**clean(db, repo, workflow_id), "reason": "abandoned"}
        commit(db, Event("worktree.collected", workflow_id, None, None, report))
        reports.append(report)
    return reports


def repositories_of(db: Backend, workflow_id: str) -> list[str]:
    """The repositories the workflow's tasks got worktrees in, as recorded."""
    rows = db.query("SELECT payload FROM events WHERE workflow_id = ? AND kind = 'worktree.assigned'", (workflow_id,))
    return sorted({str(decode(r)["payload"]["repository"]) for r in rows})


def drop_unused(layout: Layout, start: str) -> None:
    """Delete an integration branch no task added to (still at ``start``): a run that changed
    nothing leaves no branch behind. The compare-and-set spares a branch that moved meanwhile."""
    worktrees.git(layout.repo, "update-ref", "-d", f"refs/heads/{layout.integration}", start)


def collect(db: Backend, repo: str) -> dict[str, Any]:
    """``caw gc``: clean what workflows that cannot run again left in ``repo``, and record the report."""
    report = clean(db, repo, None)
    commit(db, Event("worktree.collected", None, None, None, report))
    return report


def integration_of(db: Backend, task_id: str) -> str | None:
    found = assignment(db, task_id)
    return None if found is None else str(found["integration"])


def workflow_statuses(db: Backend) -> dict[str, str]:
    return {r["id"]: r["status"] for r in db.query("SELECT id, status FROM workflows", ())}


def tasks_of(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """The workflow's tasks in plan order (dependencies first), as merging needs them."""
    return db.query("SELECT id, workflow_id, name, status, repository_id, sequence FROM tasks WHERE workflow_id = ? "
                    "ORDER BY sequence, id", (workflow_id,))


def unmerged_dependencies(db: Backend, task_id: str) -> list[str]:
    """Dependencies of ``task_id`` (of any workflow) that ran isolated and whose work is not yet
    in their integration branch: the task must not start from a branch that lacks them."""
    rows = db.query(
        "SELECT DISTINCT d.depends_on_id AS id FROM task_dependencies d WHERE d.task_id = ? "
        "AND EXISTS (SELECT 1 FROM events a WHERE a.task_id = d.depends_on_id AND a.kind = 'worktree.assigned') "
        "AND NOT EXISTS (SELECT 1 FROM events m WHERE m.task_id = d.depends_on_id AND m.kind = 'task.merged')",
        (task_id,))
    return [r["id"] for r in rows]


def recover(db: Backend, layout: Layout, unfinished: set[str]) -> dict[str, Any]:
    """After an executor died: the workflow's pool worktrees that hold no unfinished task's branch
    are removed (a resumed task gets its own back, uncommitted work and all); one holding
    uncommitted work is kept and reported, never removed."""
    holding = {os.path.realpath(row["worktree"]): row.get("branch") for row in listed(layout.repo)}
    removed, kept = [], []
    for path, mark in marks(layout.repo).items():
        if mark != layout.mark:
            continue
        branch = holding.get(path)
        found = TASK_BRANCH.fullmatch(branch or "")
        if found and found.group(2) in unfinished:
            continue
        if os.path.isdir(path) and backups.pending(path):
            kept.append(path)
            continue
        worktrees.git(layout.repo, "worktree", "remove", "--force", "--", path)
        commit(db, Event("worktree.removed", layout.workflow_id, None, None,
                         {"repository": layout.repo, "path": path, "reason": "orphaned"}))
        removed.append(path)
    return {"removed_worktrees": removed, "kept_worktrees": kept}
