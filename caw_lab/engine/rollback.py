"""Rollback: make an earlier checkpoint a task's latest state.

Later checkpoints are marked ``rolled_back``: kept for audit (checkpoint_list still shows
them, flagged), hidden from context and from the resume point. The plan goes back to what
it was when the checkpoint was written: the plan's history is in the ``replan``
checkpoints, which record the plan before and after each change. If the checkpoints up to
the target recorded a git commit (``detail.commit`` or ``detail.git_commit``), the task's
workspace is reset to the newest one with ``git reset --hard``, and the untracked files
the undone work left behind are removed (``git clean -fd``; ignored files stay).

The workspace must lie in its workflow's sandbox (engine.sandbox), and so must the git
worktree around it, since git resets the whole worktree. Uncommitted or untracked work
in it is refused unless ``force`` is given, and then kept first under a backup ref that
the result names (engine.backups).

Git acts first and the batch follows, so a refused rollback changes nothing: if git fails,
no row was written; if the batch is refused (another writer got there first), the tree is
put back as it was, saved work included.
"""

from __future__ import annotations

import os
from typing import Any

from caw_lab.engine import agents, backups, sandbox, workspaces, worktrees
from caw_lab.engine.changes import Event, commit, update
from caw_lab.engine.rows import decode, encode, fetch
from caw_lab.engine.states import require_status
from caw_lab.errors import CawError, conflict, invalid_input
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement

ROLLBACK_FROM = ("pending", "planning", "in_progress", "paused", "failed")
COMMIT_KEYS = ("commit", "git_commit")


def rollback(
    db: Backend, task_id: str, checkpoint_id: str, reset_workspace: bool = True, force: bool = False
) -> dict[str, Any]:
    task = fetch(db, "task", task_id)
    target = fetch(db, "checkpoint", checkpoint_id)
    if target["task_id"] != task_id:
        raise invalid_input(f"Checkpoint {checkpoint_id} belongs to task {target['task_id']}, not {task_id}",
                            "Pick one of this task's checkpoints (checkpoint_list).")
    if target["rolled_back"]:
        raise CawError("INVALID_STATE", f"Checkpoint {checkpoint_id} was itself rolled back", recoverable=False,
                       suggestion="Roll back to a checkpoint that is still part of the task's history.")
    require_status("task", task, ROLLBACK_FROM, "roll back")
    require_no_live_holder(db, task)
    trail = [decode(r) for r in db.query("SELECT * FROM checkpoints WHERE task_id = ? ORDER BY sequence", (task_id,))]
    visible = [c for c in trail if not c["rolled_back"]]
    undone = [c["id"] for c in visible if c["sequence"] > target["sequence"]]
    plan = plan_at(task, visible, target["sequence"])
    sha = recorded_commit([c for c in visible if c["sequence"] <= target["sequence"]])
    workspace = checked_workspace(db, task, sha) if sha and reset_workspace else None
    guard = Statement(
        "UPDATE tasks SET plan = ?, plan_summary = ?, updated_at = ? WHERE id = ? AND status = ? "
        "AND assigned_agent_id IS ?",
        (encode(plan), (plan or {}).get("approach"), now_ms(), task_id, task["status"], task["assigned_agent_id"]),
    )
    hide = update("checkpoints", {"rolled_back": 1}, "task_id = ? AND sequence > ? AND rolled_back = 0",
                  (task_id, target["sequence"]))
    kept = reset_tree(workspace, sha, task["workspace_id"], force) if workspace and sha else None
    reset = {"path": workspace, "commit": sha, "previous_commit": kept.head, "backup_ref": kept.ref} if kept else None
    payload = {"checkpoint_id": checkpoint_id, "sequence": target["sequence"], "rolled_back": undone,
               "plan_restored": plan != task.get("plan"), "commit": sha, "workspace": workspace,
               "backup_ref": kept.ref if kept else None}
    try:
        committed = commit(db, Event("task.rolled_back", task["workflow_id"], task_id, payload=payload), guard=guard,
                           then=[hide])
    except Exception:
        undo(kept)
        raise
    if committed is None:
        undo(kept)
        raise conflict(f"Task {task_id} changed while rolling it back")
    return {"success": True, "task_id": task_id, "checkpoint_id": checkpoint_id, "sequence": target["sequence"],
            "rolled_back_checkpoints": undone, "plan": plan, "workspace_reset": reset}


def require_no_live_holder(db: Backend, task: dict[str, Any]) -> None:
    holder = task["assigned_agent_id"]
    if holder and agents.get(db, holder)["status"] != "offline":
        raise CawError("TASK_CLAIMED", f"Task {task['id']} is held by live agent {holder}", recoverable=True,
                       suggestion="Suspend the workflow (workflow_suspend) or let the agent stop, then roll back.")


def plan_at(task: dict[str, Any], visible: list[dict[str, Any]], sequence: int) -> dict[str, Any] | None:
    """The plan as it stood when checkpoint ``sequence`` was written, from the replan checkpoints
    around it; the current plan when none changed it since."""
    replans = [c for c in visible if c["checkpoint_type"] == "replan" and isinstance(c.get("detail"), dict)]
    before = [c for c in replans if c["sequence"] <= sequence and "new_plan" in c["detail"]]
    if before:
        return before[-1]["detail"]["new_plan"]
    after = [c for c in replans if c["sequence"] > sequence and "previous_plan" in c["detail"]]
    return after[0]["detail"]["previous_plan"] if after else task.get("plan")


def recorded_commit(checkpoints: list[dict[str, Any]]) -> str | None:
    """The newest git commit the checkpoints recorded."""
    for checkpoint in reversed(checkpoints):
        detail = checkpoint.get("detail") if isinstance(checkpoint.get("detail"), dict) else {}
        for key in COMMIT_KEYS:
            if isinstance(detail.get(key), str) and detail[key].strip():
                return detail[key].strip()
    return None


def checked_workspace(db: Backend, task: dict[str, Any], sha: str) -> str | None:
    """The git worktree of the task's workspace when it exists, lies in the sandbox and knows
    ``sha``; None when the task has no workspace."""
    if not task.get("workspace_id"):
        return None
    workspace = fetch(db, "workspace", task["workspace_id"])
    path = workspaces.checked_path(db, workspace)
    if not os.path.isdir(path):
        raise CawError("WORKSPACE_MISSING", f"Workspace directory {path} does not exist", recoverable=True,
                       suggestion="Recreate it, or pass reset_workspace=false to roll back only the records.")
    tree = sandbox.require(worktrees.toplevel(path), workspaces.roots_of_workspace(db, workspace), "Git worktree")
    worktrees.check_revision(sha)
    if worktrees.resolve_commit(tree, sha) is None:
        raise CawError("COMMIT_NOT_FOUND", f"Commit {sha[:40]} recorded by the checkpoints is not in {tree}",
                       recoverable=True, suggestion="Pass reset_workspace=false to roll back the records only.")
    return tree


def reset_tree(tree: str, sha: str, workspace_id: str, force: bool) -> backups.Kept:
    """``git reset --hard`` then ``git clean -fd``, after keeping any work in the tree. If the
    reset fails nothing changed (git takes its lock first) and the backup is dropped; if the
    clean fails, the tree is put back."""
    kept = backups.keep(tree, workspace_id, f"rolling back to {sha[:12]}", force)
    done = worktrees.git(tree, "reset", "--hard", "--quiet", sha)
    if done.code:
        backups.drop(kept)
        raise backups.git_failed("reset --hard", tree, done.err)
    done = worktrees.git(tree, "clean", "-fd", "--quiet")
    if done.code:
        undo(kept)
        raise backups.git_failed("clean -fd", tree, done.err)
    return kept


def undo(kept: backups.Kept | None) -> None:
    if kept:
        backups.undo(kept)
