"""Rollback to a checkpoint: later checkpoints rolled back (kept, flagged, hidden from context),
the plan restored as it was then, and a real git workspace reset to the recorded commit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from conftest import dump, make_workflow

pytestmark = pytest.mark.usefixtures("allowed_roots")

PLAN_1 = {"approach": "first idea", "steps": ["a", "b", "c"]}
PLAN_2 = {"approach": "second idea", "steps": ["a", "b2"]}


def started(client: caw_lab.Client, name: str = "t") -> tuple[dict[str, Any], str, str]:
    """A one-task workflow whose task an agent has claimed, planned and started."""
    wf = make_workflow(client, [{"name": name}])
    task_id = wf["tasks"][name]
    agent = client.call("agent_register", name="worker", runtime="custom")
    client.call("task_claim", task_id=task_id, agent_id=agent["id"])
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_set_plan", id=task_id, plan=PLAN_1)
    client.call("task_update_status", id=task_id, status="in_progress")
    return wf, task_id, agent["id"]


def checkpoint(client: caw_lab.Client, task_id: str, summary: str, **detail: Any) -> str:
    return client.call("checkpoint_add", task_id=task_id, type="progress", summary=summary, detail=detail or None)["id"]


def test_rollback_restores_plan_and_visible_checkpoints(client: caw_lab.Client) -> None:
    wf, task_id, agent = started(client)
    first = checkpoint(client, task_id, "a done", step="a")
    second = checkpoint(client, task_id, "b done", step="b")
    client.call("task_replan", id=task_id, reason="b was wrong", new_plan=PLAN_2)
    later = checkpoint(client, task_id, "b2 half done")
    with pytest.raises(CawError) as held:
        client.call("task_rollback", task_id=task_id, checkpoint_id=second)
    assert held.value.code == "TASK_CLAIMED"
    client.call("agent_unregister", id=agent)

    result = client.call("task_rollback", task_id=task_id, checkpoint_id=second)
    trail = client.call("checkpoint_list", task_id=task_id)["checkpoints"]
    replan = trail[2]["id"]
    assert result["rolled_back_checkpoints"] == [replan, later] and result["plan"] == PLAN_1
    assert result["workspace_reset"] is None
    assert [c["rolled_back"] for c in trail] == [False, False, True, True]
    task = client.call("task_get", id=task_id)
    assert task["plan"] == PLAN_1 and task["plan_summary"] == "first idea"
    current = client.call("task_load_context", task_id=task_id, include={"all_checkpoints": True})["current_task"]
    assert sorted(c["summary"] for c in current["checkpoints"]) == ["a done", "b done"]
    assert current["resume"]["steps_done"] == ["a", "b"] and current["resume"]["next_step"] == "c"
    [event] = client.call("events_list", workflow_id=wf["id"], kinds=["task.rolled_back"])["events"]
    assert event["payload"]["rolled_back"] == [replan, later] and event["payload"]["plan_restored"]

    again = client.call("task_rollback", task_id=task_id, checkpoint_id=first)
    assert again["rolled_back_checkpoints"] == [second] and again["plan"] == PLAN_1
    with pytest.raises(CawError) as undone:
        client.call("task_rollback", task_id=task_id, checkpoint_id=later)
    assert undone.value.code == "INVALID_STATE"
    checkpoint(client, task_id, "redone b")
    assert client.call("checkpoint_list", task_id=task_id)["checkpoints"][-1]["sequence"] == 5


def test_rollback_before_a_replan_restores_the_plan_it_replaced(client: caw_lab.Client) -> None:
    _, task_id, agent = started(client)
    before = checkpoint(client, task_id, "a done", step="a")
    client.call("task_replan", id=task_id, reason="rethink", new_plan=PLAN_2)
    client.call("agent_unregister", id=agent)
    assert client.call("task_rollback", task_id=task_id, checkpoint_id=before)["plan"] == PLAN_1


def test_refusals_change_nothing(client: caw_lab.Client) -> None:
    _, task_id, agent = started(client, "one")
    mine = checkpoint(client, task_id, "x")
    other_wf = make_workflow(client, [{"name": "two"}])
    other = checkpoint(client, other_wf["tasks"]["two"], "y")
    client.call("agent_unregister", id=agent)
    done = make_workflow(client, [{"name": "finished"}])
    finished = done["tasks"]["finished"]
    client.call("task_update_status", id=finished, status="planning")
    client.call("task_update_status", id=finished, status="completed", outcome="ok")
    theirs = checkpoint(client, finished, "z")
    before = dump(client.db)
    cases = [({"task_id": task_id, "checkpoint_id": other}, "INVALID_INPUT"),
             ({"task_id": task_id, "checkpoint_id": "cp_000000000000"}, "CHECKPOINT_NOT_FOUND"),
             ({"task_id": "tk_000000000000", "checkpoint_id": mine}, "TASK_NOT_FOUND"),
             ({"task_id": finished, "checkpoint_id": theirs}, "INVALID_STATE")]
    for params, code in cases:
        with pytest.raises(CawError) as refused:
            client.call("task_rollback", **params)
        assert refused.value.code == code
    assert dump(client.db) == before


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


def test_rollback_resets_a_real_git_workspace(client: caw_lab.Client, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("print('v0')\n")
    commit_all(repo, "start")
    _, task_id, agent = started(client)
    ws = client.call("workspace_create", workflow_id=client.call("task_get", id=task_id)["workflow_id"],
                     branch="caw/rollback", create_worktree=True, repo_path=str(repo), task_ids=[task_id])
    tree = Path(ws["path"])
    (tree / "app.py").write_text("print('v1')\n")
    first = commit_all(tree, "v1")
    good = checkpoint(client, task_id, "v1 works", commit=first)
    (tree / "app.py").write_text("print('v2')\n")
    (tree / "notes.md").write_text("tracked later\n")
    second = commit_all(tree, "v2")
    checkpoint(client, task_id, "v2 broke it", git_commit=second)
    (tree / "app.py").write_text("print('uncommitted')\n")
    (tree / "scratch.txt").write_text("untracked\n")
    client.call("agent_unregister", id=agent)
    before = dump(client.db)
    with pytest.raises(CawError) as dirty:
        client.call("task_rollback", task_id=task_id, checkpoint_id=good)
    assert dirty.value.code == "WORKTREE_DIRTY" and "scratch.txt" in dirty.value.message
    assert dump(client.db) == before and (tree / "scratch.txt").exists()

    result = client.call("task_rollback", task_id=task_id, checkpoint_id=good, force=True)
    backup = result["workspace_reset"].pop("backup_ref")
    assert result["workspace_reset"] == {"path": str(tree), "commit": first, "previous_commit": second}
    assert git(tree, "show", f"{backup}:scratch.txt") == "untracked"
    assert git(tree, "show", f"{backup}:app.py") == "print('uncommitted')"
    assert git(tree, "rev-parse", "HEAD") == first
    assert (tree / "app.py").read_text() == "print('v1')\n"
    assert not (tree / "notes.md").exists() and not (tree / "scratch.txt").exists()
    assert git(tree, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "main") != first, "the main checkout is left alone"


def test_a_recorded_commit_missing_from_the_workspace_is_refused(client: caw_lab.Client, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("x")
    commit_all(repo, "start")
    _, task_id, agent = started(client)
    workflow_id = client.call("task_get", id=task_id)["workflow_id"]
    client.call("workspace_create", workflow_id=workflow_id, branch="main", path=str(repo), task_ids=[task_id])
    bad = checkpoint(client, task_id, "claims a commit", commit="0123456789abcdef0123456789abcdef01234567")
    checkpoint(client, task_id, "later")
    client.call("agent_unregister", id=agent)
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("task_rollback", task_id=task_id, checkpoint_id=bad)
    assert refused.value.code == "COMMIT_NOT_FOUND"
    assert dump(client.db) == before
    records_only = client.call("task_rollback", task_id=task_id, checkpoint_id=bad, reset_workspace=False)
    assert records_only["workspace_reset"] is None and len(records_only["rolled_back_checkpoints"]) == 1
