"""Merge styles and conflict strategies, driven step by step: a real repository, real worktrees
made by the executor's Isolator, tasks claimed and completed through the tools, commits made
with git in each task's worktree. Each step the executor would take (placing a task, merging
completed ones) is called directly, so every state in between can be looked at."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.engine import merging
from caw_lab.errors import CawError
from caw_lab.runtimes import Executor
from caw_lab.runtimes.isolating import Isolator
from caw_lab.runtimes.settings import ExecutionSettings
from caw_lab.runtimes.subprocess import SubprocessRuntime
from conftest import make_workflow
from test_parallel import AGENT, TESTS, git, make_repo, only_main_worktree, records, writes

IDENTITY = {"GIT_AUTHOR_NAME": "agent", "GIT_AUTHOR_EMAIL": "agent@example.com",
            "GIT_AUTHOR_DATE": "2020-01-02T03:04:05Z", "GIT_COMMITTER_NAME": "agent",
            "GIT_COMMITTER_EMAIL": "agent@example.com"}
LINES = "one\ntwo\nthree\n"


def agent_commit(path: Path, files: dict[str, str], message: str) -> str:
    """Write ``files`` in a task's worktree and commit them as the agent would; the new commit."""
    for name, text in files.items():
        (path / name).write_text(text)
    run = {**os.environ, **IDENTITY}
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=run)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", message], check=True, env=run)
    return git(path, "rev-parse", "HEAD").strip()


class Run:
    """One isolated workflow, stepped by hand: what the executor does, one call at a time."""

    def __init__(self, client: caw_lab.Client, repo: Path, tasks: list[dict[str, Any]], **execution: Any) -> None:
        self.client, self.repo = client, repo
        self.wf = make_workflow(client, tasks, max_parallel_tasks=len(tasks))
        client.call("workflow_set_config", id=self.wf["id"], config={"execution": {"isolation": "worktree",
                                                                                   **execution}})
        self.isolator = Isolator(client.db, self.wf["id"], ExecutionSettings(isolation="worktree", **execution),
                                 str(repo))
        self.isolator.prepare()
        self.agents: dict[str, str] = {}
        self.integration = f"caw/{self.wf['id']}"

    def start(self, name: str) -> Path:
        """Place the task in its worktree, claim it for a new agent and set it in progress."""
        task = self.client.call("task_get", id=self.wf["tasks"][name])
        placed = self.isolator.place(task)
        assert placed is not None
        agent = self.client.call("agent_register", name=name, runtime="custom")["id"]
        assert self.client.call("task_claim", task_id=task["id"], agent_id=agent)["success"]
        for status in ("planning", "in_progress"):
            if self.client.call("task_get", id=task["id"])["status"] != status:
                self.client.call("task_update_status", id=task["id"], status=status)
        self.agents[name] = agent
        return Path(placed[0])

    def complete(self, name: str) -> dict[str, Any]:
        return self.client.call("task_update_status", id=self.wf["tasks"][name], status="completed", outcome="done")

    def branch(self, name: str) -> str:
        return f"caw/{self.wf['id']}-{self.wf['tasks'][name]}"

    def events(self, kind: str) -> list[dict[str, Any]]:
        feed = self.client.call("events_list", workflow_id=self.wf["id"], limit=10_000)["events"]
        return [e for e in feed if e["kind"] == kind]

    def backup(self, name: str) -> str:
        return f"refs/caw-backup/{self.wf['id']}/{self.wf['tasks'][name]}"


@pytest.fixture
def repo(allowed_roots: Path) -> Path:
    return make_repo(allowed_roots / "repo", {"README": "hello\n", "shared.txt": LINES})


def ancestor(repo: Path, commit: str, of: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", commit, of]).returncode == 0


def unreachable_commits(repo: Path) -> list[str]:
    """Commits no ref holds, the reflogs not counted: what ``git gc`` would one day delete."""
    out = git(repo, "fsck", "--unreachable", "--no-reflogs", "--no-progress")
    return [line.split()[2] for line in out.splitlines() if line.startswith("unreachable commit")]


def committed_by_agent(repo: Path, commit: str) -> bool:
    return git(repo, "log", "-1", "--format=%cn", commit).strip() == "agent"


@pytest.mark.parametrize("style", ["merge", "squash", "rebase"])
def test_each_merge_style_writes_its_history_and_keeps_every_agent_commit_reachable(
        client: caw_lab.Client, repo: Path, style: str) -> None:
    run = Run(client, repo, [{"name": "a"}, {"name": "b"}], merge_style=style)
    a_tree, b_tree = run.start("a"), run.start("b")
    a1 = agent_commit(a_tree, {"a.txt": "a\n"}, "a: add a.txt")
    b1 = agent_commit(b_tree, {"b.txt": "b\n"}, "b: add b.txt")
    b2 = agent_commit(b_tree, {"b.txt": "b\nmore b\n"}, "b: more b")
    start = git(repo, "rev-parse", run.integration).strip()
    run.complete("a")
    run.isolator.integrate()
    after_a = git(repo, "rev-parse", run.integration).strip()
    (b_tree / "scratch.txt").write_text("left behind\n")  # work the agent never committed
    run.complete("b")
    run.isolator.integrate()
    tip = git(repo, "rev-parse", run.integration).strip()
    [left] = git(repo, "for-each-ref", "--format=%(refname)", f"{run.backup('b')}-uncommitted/").split()
    assert git(repo, "show", f"{left}:scratch.txt") == "left behind\n" and git(b_tree, "status", "--porcelain") == ""
    assert git(repo, "show", f"{tip}:b.txt") == "b\nmore b\n" and git(repo, "show", f"{tip}:a.txt") == "a\n"
    merged = run.events("task.merged")
    assert [e["payload"]["commit"] for e in merged] == [after_a, tip]
    assert {e["payload"]["style"] for e in merged} == {style}
    first_parents = git(repo, "rev-list", "--first-parent", f"{start}..{tip}").split()
    if style == "merge":
        assert first_parents == [tip, after_a]
        assert git(repo, "rev-list", "--parents", "-1", tip).split() == [tip, after_a, b2]
        assert all(ancestor(repo, c, tip) for c in (a1, b1, b2))
    elif style == "squash":
        assert first_parents == [tip, after_a]
        assert git(repo, "rev-list", "--merges", f"{start}..{tip}") == ""
        assert git(repo, "log", "-1", "--format=%s", tip).startswith("Merge task b")
        assert not ancestor(repo, b2, tip) and not ancestor(repo, a1, tip)
    else:
        replayed = git(repo, "log", "--reverse", "--format=%s|%an|%ad|%cn", "--date=iso-strict", f"{start}..{tip}")
        assert replayed.splitlines() == [f"{s}|agent|2020-01-02T03:04:05+00:00|caw-lab" for s in
                                         ("a: add a.txt", "b: add b.txt", "b: more b")]
        assert git(repo, "rev-list", "--merges", f"{start}..{tip}") == ""
        assert not ancestor(repo, b2, tip)
    for name, own in (("a", a1), ("b", b2)):
        assert not merging.resolve_tip(str(repo), run.branch(name)), "the task branch outlived its merge"
        kept = git(repo, "for-each-ref", "--format=%(refname)", run.backup(name)).split()
        if style == "merge":
            assert not kept and ancestor(repo, own, tip)
        else:
            assert kept and ancestor(repo, own, kept[0])
    assert not [c for c in unreachable_commits(repo) if committed_by_agent(repo, c)]
    git(repo, "fsck", "--strict", "--no-progress")


def snapshot(repo: Path, integration: str) -> tuple[str, str, str, str]:
    """Everything a failed merge must leave as it was: refs, the integration branch's reflog,
    the worktrees and the main worktree's state."""
    return (git(repo, "for-each-ref"), git(repo, "reflog", "show", "--format=%H %gs", f"refs/heads/{integration}"),
            git(repo, "worktree", "list", "--porcelain"), git(repo, "status", "--porcelain", "--branch"))


@pytest.mark.parametrize("style", ["merge", "squash", "rebase"])
def test_a_merge_that_does_not_go_through_leaves_the_integration_branch_exactly_as_before(
        repo: Path, style: str) -> None:
    git(repo, "branch", "integration")
    git(repo, "switch", "-q", "-c", "task")
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty but fine")
    (repo / "other.txt").write_text("applies cleanly\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a commit that applies")
    (repo / "shared.txt").write_text("one\nTWO by the task\nthree\n")
    git(repo, "commit", "-qam", "a commit that conflicts")
    git(repo, "switch", "-q", "main")
    git(repo, "update-ref", "-m", "sibling merged", "refs/heads/integration",
        git(repo, "commit-tree", "-p", "integration", "-m", "sibling",
            tree_with(repo, "one\nTWO by a sibling\nthree\n")).strip())
    before = snapshot(repo, "integration")
    with pytest.raises(CawError) as refused:
        merging.merge(str(repo), "integration", "task", style, "merge task")
    assert refused.value.code == "MERGE_CONFLICT" and refused.value.details["files"] == ["shared.txt"]
    assert snapshot(repo, "integration") == before
    assert merging.rebase_branch(str(repo), "task", "integration") is None
    assert snapshot(repo, "integration") == before


def tree_with(repo: Path, shared: str) -> str:
    """The main branch's tree with ``shared.txt`` replaced, made without touching a worktree."""
    blob = subprocess.run(["git", "-C", str(repo), "hash-object", "-w", "--stdin"], input=shared, text=True,
                          capture_output=True, check=True).stdout.strip()
    listing = git(repo, "ls-tree", "main").replace(git(repo, "rev-parse", "main:shared.txt").strip(), blob)
    return subprocess.run(["git", "-C", str(repo), "mktree"], input=listing, text=True, capture_output=True,
                          check=True).stdout.strip()


def test_rebase_strategy_rebases_a_branch_that_no_longer_merges_and_keeps_the_agents_own_commits(
        client: caw_lab.Client, repo: Path) -> None:
    """The second task's branch conflicts with the merged first as a whole (both changed line two),
    but replays cleanly commit by commit: its first commit made the same change, its second
    changed the line again. ``rebase`` rebases it at once and lets it complete."""
    run = Run(client, repo, [{"name": "first"}, {"name": "second"}], conflicts="rebase")
    first_tree, second_tree = run.start("first"), run.start("second")
    agent_commit(first_tree, {"shared.txt": "one\nTWO\nthree\n"}, "first: TWO")
    same = agent_commit(second_tree, {"shared.txt": "one\nTWO\nthree\n"}, "second: TWO as well")
    own = agent_commit(second_tree, {"shared.txt": "one\n2\nthree\n"}, "second: then 2")
    run.complete("first")
    run.isolator.integrate()
    assert merging.conflict(str(repo), run.integration, run.branch("second")) is not None
    run.complete("second")
    detected = [e for e in run.events("conflict.detected") if e["task_id"] == run.wf["tasks"]["second"]]
    assert detected[-1]["payload"]["resolution"] == "rebased"
    assert client.call("task_get", id=run.wf["tasks"]["second"])["status"] == "completed"
    assert merging.conflict(str(repo), run.integration, run.branch("second")) is None
    run.isolator.integrate()
    assert git(repo, "show", f"{run.integration}:shared.txt") == "one\n2\nthree\n"
    for commit in (same, own):
        assert ancestor(repo, commit, run.backup("second")), "an agent's commit was lost by the rebase"
    assert not [c for c in unreachable_commits(repo) if committed_by_agent(repo, c)]


def test_rebase_strategy_falls_back_to_manual_and_tells_both_agents_with_the_hunks_in_context(
        client: caw_lab.Client, repo: Path) -> None:
    run = Run(client, repo, [{"name": "first"}, {"name": "second"}], conflicts="rebase")
    first_tree, second_tree = run.start("first"), run.start("second")
    agent_commit(first_tree, {"shared.txt": "one\nTWO by first\nthree\n"}, "first: line two")
    mine = agent_commit(second_tree, {"shared.txt": "one\nTWO by second\nthree\n"}, "second: line two")
    first, second = run.wf["tasks"]["first"], run.wf["tasks"]["second"]

    run.complete("first")  # second is still in flight: recorded and both told, first goes first
    seen = run.events("conflict.detected")
    assert len(seen) == 1 and seen[0]["task_id"] == first
    payload = seen[0]["payload"]
    assert payload["tasks"] == [first, second] and payload["files"] == ["shared.txt"]
    assert payload["branches"] == sorted([run.branch("first"), run.branch("second")])
    assert payload["resolution"] == "recorded" and "TWO by first" in payload["hunks"]["shared.txt"]
    for name in ("first", "second"):
        inbox = client.call("message_list", agent_id=run.agents[name])["messages"]
        told = [m for m in inbox if m["message_type"] == "conflict"]
        assert len(told) == 1 and told[0]["body"]["files"] == ["shared.txt"], inbox
        assert "first" in told[0]["body"]["text"] and "second" in told[0]["body"]["text"]

    run.isolator.integrate()
    integrated = git(repo, "rev-parse", run.integration).strip()
    with pytest.raises(CawError) as paused:
        run.complete("second")
    assert paused.value.code == "MERGE_CONFLICT" and paused.value.details["files"] == ["shared.txt"]
    last = run.events("conflict.detected")[-1]
    assert last["task_id"] == second and last["payload"]["resolution"] == "paused"
    assert last["payload"]["branches"] == sorted([run.integration, run.branch("second")])
    told = [m for m in client.call("message_list", agent_id=run.agents["second"])["messages"]
            if m["message_type"] == "conflict"]
    assert len(told) == 2 and "the integration branch" in told[0]["body"]["text"]
    assert client.call("task_get", id=second)["status"] == "paused"

    context = client.call("task_load_context", task_id=second)["current_task"]["conflict"]
    assert context["files"] == ["shared.txt"]
    hunk = context["hunks"]["shared.txt"]
    assert "TWO by first" in hunk and "TWO by second" in hunk and hunk.startswith("<<<<<<<")

    assert git(repo, "rev-parse", run.integration).strip() == integrated, "the failed rebase moved the integration"
    assert git(repo, "rev-parse", run.branch("second")).strip() == mine, "the failed rebase moved the task branch"
    assert git(second_tree, "status", "--porcelain") == ""
    assert not Path(git(second_tree, "rev-parse", "--git-path", "rebase-merge").strip()).exists()
    assert not [c for c in unreachable_commits(repo) if committed_by_agent(repo, c)]


def test_a_parallel_run_isolates_merges_and_cleans_up_on_either_backend(
        client: caw_lab.Client, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The executor itself, in this process, on the client's database (a SQLite file, or the local
    D1 that workerd serves): agents are git_agent.py processes reaching the same database."""
    wf = make_workflow(client, [{"name": "a", "description": writes("a")},
                                {"name": "b", "description": writes("b"), "depends_on": ["a"]},
                                {"name": "c", "description": writes("c"), "depends_on": ["a"]}], max_parallel_tasks=2)
    client.call("workflow_set_config", id=wf["id"], config={"execution": {
        "runtime": "subprocess", "poll_interval_ms": 30, "alerts": {"log": False}, "isolation": "worktree",
        "merge_style": "rebase"}})
    monkeypatch.chdir(repo)
    monkeypatch.setenv("AGENT_RECORD", str(tmp_path / "record.jsonl"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    target = client.db.url if client.db.url.startswith("d1:") else str(tmp_path / "workflows.db")
    outcome = Executor(target, wf["id"], runtimes={"subprocess": SubprocessRuntime(AGENT)},
                       connect=caw_lab.connect).run()
    assert outcome.status == "completed", outcome
    ran = records(tmp_path)
    assert len({r["cwd"] for r in ran.values()}) >= 2 and all(r["cwd"] != str(repo) for r in ran.values())
    integration = f"caw/{wf['id']}"
    assert {"a.txt", "b.txt", "c.txt"} <= set(git(repo, "ls-tree", "--name-only", integration).split())
    assert git(repo, "rev-list", "--merges", f"main..{integration}") == ""
    assert only_main_worktree(repo)
    assert sorted(git(repo, "branch", "--format=%(refname:short)").split()) == [integration, "main"]
    assert not [c for c in unreachable_commits(repo) if committed_by_agent(repo, c)]
