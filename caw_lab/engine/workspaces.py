"""Workspaces: a branch (usually in its own git worktree) where some of a workflow's tasks run.

Disk and database cannot change in one atomic unit, so the order is chosen to leave
nothing behind: everything is validated first (paths inside the sandbox), then git acts,
then the batch is committed; if the batch fails, git's work is undone: a worktree we just
created is removed again, one we just cleaned up is put back with its saved work.

Cleaning up removes only a worktree caw-lab made for this workspace (worktrees.made_for),
and never its uncommitted or untracked work unless ``force`` is given, and then only after
keeping it under a backup ref (engine.backups) that the result names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from caw_lab.engine import backups, repositories, sandbox, worktrees
from caw_lab.engine.changes import Event, Gated, commit, insert, raw, update
from caw_lab.engine.repositories import link_statements
from caw_lab.engine.rows import decode, encode, fetch, fetched, placeholders, required
from caw_lab.errors import CawError, conflict, not_found
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Later, Reads


def create(
    db: Backend,
    workflow_id: str,
    *,
    branch: str,
    path: str | None = None,
    base_branch: str | None = None,
    task_ids: Sequence[str] = (),
    create_worktree: bool = False,
    repo_path: str | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    fetch(db, "workflow", workflow_id)
    require_tasks_of(db, workflow_id, task_ids)
    worktrees.check_branch(branch)
    if base_branch is not None:
        worktrees.check_revision(base_branch)
    repo = repository(repo_path) if repo_path else None
    if create_worktree:
        if repo is None:
            raise CawError("MISSING_REPO_PATH", "repo_path is required when create_worktree is true",
                           recoverable=True, suggestion="Pass repo_path pointing at the git repository.")
        path, base_branch = prepare_worktree(repo, branch, path, base_branch)
    elif path is None:
        raise CawError("MISSING_PATH", "path is required unless create_worktree is true", recoverable=True,
                       suggestion="Pass the workspace's path, or create_worktree=true with repo_path.")
    else:
        allowed = roots_of(db, workflow_id, [repo] if repo else [])
        path = sandbox.require(sandbox.resolve(path, "Workspace path"), allowed, "Workspace path")
    workspace_id = new_id("workspace")
    if create_worktree:
        assert repo is not None and base_branch is not None
        worktrees.add(repo, path, branch, base_branch)
    try:
        if create_worktree:
            worktrees.mark(path, workspace_id)
        row = record(db, workspace_id, workflow_id, branch, path, base_branch, task_ids, repo, config)
    except Exception:
        if create_worktree:
            assert repo is not None
            undo_worktree(repo, path, branch)
        raise
    return {**row, "worktree_created": create_worktree, "task_ids": list(task_ids)}


def repository(path: str) -> str:
    """The git repository holding ``path``: the path must be inside the user's roots before
    git even looks at it, and so must the repository git finds around it."""
    top = worktrees.toplevel(repositories.checked(path))
    return sandbox.require(top, sandbox.user_roots(), "Repository")


def roots_of(db: Backend, workflow_id: str, extra: Sequence[str] = ()) -> list[str]:
    """The sandbox of a workflow's workspaces: the user's roots and its repositories' worktree roots."""
    linked = [r["path"] for r in repositories.of_workflow(db, workflow_id)["repositories"]]
    return sandbox.roots([*linked, *extra])


@dataclass(frozen=True)
class Placing:
    """What placing a workspace in its sandbox reads: the paths of its workflow's repositories,
    and of the repository it recorded (none, or one)."""

    linked: list[str]
    recorded: list[str]

    @property
    def roots(self) -> list[str]:
        return sandbox.roots([*self.linked, *self.recorded])


def placing(db: Backend, workspace: dict[str, Any]) -> Placing:
    linked = [r["path"] for r in repositories.of_workflow(db, workspace["workflow_id"])["repositories"]]
    return Placing(linked, recorded_repository(db, workspace))


def roots_of_workspace(db: Backend, workspace: dict[str, Any]) -> list[str]:
    return placing(db, workspace).roots


def checked_path(db: Backend, workspace: dict[str, Any], placed: Placing | None = None) -> str:
    """The workspace's directory resolved now, refused unless inside its workflow's sandbox:
    rows can come from an import or an older version, so a stored path is checked on use."""
    roots = (placed or placing(db, workspace)).roots
    return sandbox.require(sandbox.resolve(workspace["path"], "Workspace path"), roots, "Workspace path")


def repository_of(db: Backend, workspace: dict[str, Any], placed: Placing | None = None) -> str:
    """The repository a workspace's worktree belongs to (the recorded one, else git's answer),
    refused unless inside the workspace's sandbox."""
    placed = placed or placing(db, workspace)
    if placed.recorded and os.path.isdir(placed.recorded[0]):
        repo = os.path.realpath(placed.recorded[0])
    else:
        repo = worktrees.common_repository(checked_path(db, workspace, placed))
    return sandbox.require(repo, placed.roots, "Repository")


def recorded_repository(db: Backend, workspace: dict[str, Any]) -> list[str]:
    if not workspace.get("repository_id"):
        return []
    path = db.scalar("SELECT path FROM repositories WHERE id = ?", (workspace["repository_id"],))
    return [str(path)] if path else []


def undo_worktree(repo: str, path: str, branch: str) -> None:
    """Best effort: the error that made us undo is the one worth reporting."""
    try:
        worktrees.remove(repo, path, force=True)
        worktrees.delete_branch(repo, branch)
    except CawError:
        pass


def prepare_worktree(repo: str, branch: str, path: str | None, base: str | None) -> tuple[str, str]:
    """Check every precondition of ``git worktree add`` so it cannot fail half-way."""
    base = base or worktrees.current_branch(repo) or worktrees.resolve_commit(repo, "HEAD")
    if base is None or worktrees.resolve_commit(repo, base) is None:
        raise CawError("BRANCH_NOT_FOUND", f"Base {base!r} is not a commit of {repo}", recoverable=True,
                       suggestion="Pass base_branch naming an existing branch (the repository may have no commits).")
    if worktrees.branch_exists(repo, branch):
        raise CawError("BRANCH_EXISTS", f"Branch {branch!r} already exists in {repo}", recoverable=True,
                       suggestion="Choose a new branch name; a worktree gets a branch of its own.")
    return worktrees.worktree_path(repo, branch, path), base


def record(
    db: Backend, workspace_id: str, workflow_id: str, branch: str, path: str, base_branch: str | None,
    task_ids: Sequence[str], repo: str | None, config: dict[str, Any] | None,
) -> dict[str, Any]:
    now = now_ms()
    row = {"id": workspace_id, "workflow_id": workflow_id, "repository_id": None, "path": path,
           "branch": branch, "base_branch": base_branch, "status": "active", "merge_commit": None,
           "pr_url": None, "config": encode(config), "created_at": now, "updated_at": now}
    statements: list[Gated] = [insert("workspaces", row)]
    if repo:
        statements += link_statements(db, workflow_id, [repo])
        statements.append(raw("UPDATE workspaces SET repository_id = (SELECT id FROM repositories WHERE path = ?) "
                              "WHERE id = ? AND", (repo, row["id"])))
    statements += [update("tasks", {"workspace_id": row["id"], "updated_at": now}, "id = ? AND workflow_id = ?",
                          (tid, workflow_id)) for tid in task_ids]
    event = Event("workspace.created", workflow_id, payload={
        "workspace_id": row["id"], "branch": branch, "path": path, "task_ids": list(task_ids)})
    commit(db, event, then=statements)
    return decode(db.one("SELECT * FROM workspaces WHERE id = ?", (row["id"],)) or row)


def require_tasks_of(db: Backend, workflow_id: str, task_ids: Sequence[str]) -> None:
    if not task_ids:
        return
    rows = db.query(f"SELECT id, workflow_id FROM tasks WHERE id IN ({placeholders(list(task_ids))})", list(task_ids))
    owner = {r["id"]: r["workflow_id"] for r in rows}
    for tid in task_ids:
        if tid not in owner:
            raise not_found("task", tid)
        if owner[tid] != workflow_id:
            raise mismatch(tid, workflow_id)


def mismatch(task_id: str, workflow_id: str) -> CawError:
    return CawError("WORKFLOW_MISMATCH", f"Task {task_id} does not belong to workflow {workflow_id}",
                    recoverable=False, suggestion="A task can only use a workspace of its own workflow.")


def update_workspace(
    db: Backend,
    workspace_id: str,
    *,
    status: str | None = None,
    merge_commit: str | None = None,
    pr_url: str | None = None,
    config: dict[str, Any] | None = None,
    cleanup_worktree: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Change status and details; ``cleanup_worktree`` first removes the worktree caw-lab made
    for the workspace (see clear_worktree)."""
    workspace = fetch(db, "workspace", workspace_id)
    target = status or workspace["status"]
    if target == "merged" and not (merge_commit or workspace["merge_commit"]):
        raise CawError("MISSING_MERGE_COMMIT", "merge_commit is required when setting status to 'merged'",
                       recoverable=True, suggestion="Pass the merge commit's SHA.")
    if cleanup_worktree and target == "active":
        raise CawError("INVALID_STATE", f"Workspace {workspace_id} is active; its worktree is still in use",
                       recoverable=True, suggestion="Set status to merged or abandoned together with cleanup_worktree.")
    values: dict[str, Any] = {"status": target, "updated_at": now_ms()}
    if merge_commit is not None:
        values["merge_commit"] = merge_commit
    if pr_url is not None:
        values["pr_url"] = pr_url
    if config is not None:
        merged = {k: v for k, v in {**(workspace.get("config") or {}), **config}.items() if v is not None}
        values["config"] = encode(merged)
    removal = clear_worktree(db, workspace, force) if cleanup_worktree else None
    sets = ", ".join(f"{k} = ?" for k in values)
    guard = Statement(f"UPDATE workspaces SET {sets} WHERE id = ? AND status = ?",
                      (*values.values(), workspace_id, workspace["status"]))
    backup = removal.kept.ref if removal else None
    event = Event("workspace.updated", workspace["workflow_id"], payload={
        "workspace_id": workspace_id, "from": workspace["status"], "to": target,
        "worktree_removed": removal is not None, "backup_ref": backup})
    try:
        committed = commit(db, event, guard=guard)
    except Exception:
        put_back(removal, workspace_id)
        raise
    if committed is None:
        put_back(removal, workspace_id)
        raise conflict(f"Workspace {workspace_id} changed while it was being updated")
    return {"success": True, "id": workspace_id, "status": target, "worktree_removed": removal is not None,
            "backup_ref": backup}


@dataclass(frozen=True)
class Removal:
    """A worktree caw-lab removed, with what it takes to put it back."""

    repo: str
    path: str
    branch: str | None
    kept: backups.Kept


def clear_worktree(db: Backend, workspace: dict[str, Any], force: bool) -> Removal | None:
    """Remove the workspace's worktree if caw-lab made it; None when it is already gone.
    Uncommitted work is refused, or with ``force`` kept under a backup ref first."""
    path = checked_path(db, workspace)
    if not os.path.exists(path):
        return None
    if worktrees.made_for(path) != workspace["id"]:
        raise CawError("WORKTREE_NOT_CREATED_BY_CAW",
                       f"{path} is not a worktree caw-lab created for workspace {workspace['id']}", recoverable=False,
                       suggestion="caw-lab only removes worktrees it made; update the workspace without "
                                  "cleanup_worktree and remove this one yourself if you mean to.")
    repo = repository_of(db, workspace)
    branch = worktrees.current_branch(path)
    kept = backups.keep(path, workspace["id"], f"removing the worktree of {workspace['id']}", force)
    try:
        worktrees.remove(repo, path, force=kept.ref is not None)
    except CawError as error:
        raise backups.still_kept(kept, error) from None
    return Removal(repo, path, branch, kept)


def put_back(removal: Removal | None, workspace_id: str) -> None:
    """Undo a removal whose status change was not recorded: the worktree comes back at the
    same path and branch, marked as ours, with the work saved before it went."""
    if removal is None:
        return
    try:
        if removal.branch:
            worktrees.attach(removal.repo, removal.path, removal.branch)
        else:
            worktrees.attach(removal.repo, removal.path, removal.kept.head or "HEAD", "--detach")
        worktrees.mark(removal.path, workspace_id)
    except CawError as error:
        raise backups.still_kept(removal.kept, error) from None
    backups.undo(removal.kept)


def list_workspaces(db: Backend, workflow_id: str, status: Sequence[str] | None = None) -> dict[str, Any]:
    """The workflow's workspaces, each with its tasks' ids: one batch."""
    reads = Reads(db)
    exists = required(reads, "workflow", workflow_id)
    found = workspaces_of(reads, workflow_id, status)
    reads.run()
    exists()
    return {"workspaces": found()}


def workspaces_of(reads: Reads, workflow_id: str, status: Sequence[str] | None = None) -> Later[list[dict[str, Any]]]:
    where, params = "workflow_id = ?", [workflow_id]
    if status:
        where += f" AND status IN ({placeholders(list(status))})"
        params += list(status)
    spaces = reads.query(f"SELECT * FROM workspaces WHERE {where} ORDER BY created_at, id", params)
    tasks = reads.query("SELECT id, workspace_id FROM tasks WHERE workflow_id = ? AND workspace_id IS NOT NULL "
                        "ORDER BY sequence", (workflow_id,))

    def value() -> list[dict[str, Any]]:
        rows = [decode(r) for r in spaces()]
        assigned: dict[str, list[str]] = {r["id"]: [] for r in rows}
        for t in tasks():
            assigned.get(t["workspace_id"], []).append(t["id"])
        return [{**r, "task_ids": assigned[r["id"]]} for r in rows]

    return value


def get_workspace(db: Backend, workspace_id: str) -> dict[str, Any]:
    """The workspace with its tasks' ids: one batch."""
    reads = Reads(db)
    found = fetched(reads, "workspace", workspace_id)
    tasks = reads.query("SELECT id FROM tasks WHERE workspace_id = ? ORDER BY sequence", (workspace_id,))
    reads.run()
    return {**found(), "task_ids": [t["id"] for t in tasks()]}


def assign_task(db: Backend, task_id: str, workspace_id: str) -> dict[str, Any]:
    task = fetch(db, "task", task_id)
    workspace = fetch(db, "workspace", workspace_id)
    if task["workflow_id"] != workspace["workflow_id"]:
        raise mismatch(task_id, workspace["workflow_id"])
    if workspace["status"] != "active":
        raise inactive(workspace)
    guard = Statement(
        "UPDATE tasks SET workspace_id = ?, updated_at = ? WHERE id = ? "
        "AND EXISTS (SELECT 1 FROM workspaces WHERE id = ? AND status = 'active')",
        (workspace_id, now_ms(), task_id, workspace_id),
    )
    event = Event("task.workspace_assigned", task["workflow_id"], task_id=task_id,
                  payload={"workspace_id": workspace_id})
    if commit(db, event, guard=guard) is None:
        raise inactive(fetch(db, "workspace", workspace_id))
    return {"success": True, "task_id": task_id, "workspace_id": workspace_id}


def inactive(workspace: dict[str, Any]) -> CawError:
    return CawError("INVALID_STATE",
                    f"Cannot assign a task to workspace {workspace['id']}: it is {workspace['status']}",
                    recoverable=False, suggestion="Assign tasks to an active workspace.")


def check_merge(db: Backend, workflow_id: str, repo_path: str | None = None) -> dict[str, Any]:
    """For each active workspace, would its branch merge cleanly into its base? Writes nothing.
    Everything the sandbox checks need is read in one batch, before git is asked anything."""
    reads = Reads(db)
    exists = required(reads, "workflow", workflow_id)
    spaces = workspaces_of(reads, workflow_id, ["active"])
    linked = reads.query("SELECT r.path FROM repositories r JOIN workflow_repositories wr ON wr.repository_id = r.id "
                         "WHERE wr.workflow_id = ?", (workflow_id,))
    recorded = reads.query("SELECT w.id, r.path FROM workspaces w JOIN repositories r ON r.id = w.repository_id "
                           "WHERE w.workflow_id = ? AND w.status = 'active'", (workflow_id,))
    reads.run()
    exists()
    repo_override = repository(repo_path) if repo_path else None
    paths, own = [r["path"] for r in linked()], {r["id"]: [str(r["path"])] for r in recorded()}
    results = []
    for ws in spaces():
        placed = Placing(paths, own.get(ws["id"], []))
        results.append({"workspace_id": ws["id"], "branch": ws["branch"], **check_one(db, ws, repo_override, placed)})
    clean = sum(1 for r in results if r["mergeable"])
    return {"workflow_id": workflow_id, "checked": len(results), "clean": clean,
            "conflicted": sum(1 for r in results if r["conflicts"]), "workspaces": results}


def check_one(db: Backend, workspace: dict[str, Any], repo: str | None, placed: Placing) -> dict[str, Any]:
    try:
        repo = repo or repository_of(db, workspace, placed)
    except CawError as error:
        return {"base_branch": workspace["base_branch"], "mergeable": False, "conflicts": [], "error": error.message}
    base = workspace["base_branch"] or worktrees.current_branch(repo) or "HEAD"
    return {"base_branch": base, "repository": repo, **worktrees.merge_check(repo, base, workspace["branch"])}
