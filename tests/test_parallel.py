"""Isolation by default: each task in its own worktree and branch, merged back in dependency
order, conflicts caught before completion, nothing left behind. Real repositories, real
``caw run`` processes, agents that are small Python scripts doing real git work (git_agent.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from caw_lab.runtimes import Executor
from caw_lab.runtimes.subprocess import SubprocessRuntime
from conftest import make_workflow

TESTS = Path(__file__).resolve().parent
CAW = str(Path(sys.executable).with_name("caw"))
AGENT = [sys.executable, str(TESTS / "git_agent.py")]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for name, text in (files or {"README": "hello\n"}).items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "start")
    return path


@pytest.fixture
def repo(allowed_roots: Path) -> Path:
    return make_repo(allowed_roots / "repo", {"README": "hello\n", "shared.txt": "one\ntwo\nthree\n"})


def runner(tmp_path: Path, repo: Path) -> dict[str, str]:
    config = tmp_path / "runtimes.toml"
    config.write_text(f"[subprocess]\ncommand = {json.dumps(AGENT)}\n")
    env = {**os.environ, "CAW_RUNTIMES": str(config), "AGENT_RECORD": str(tmp_path / "record.jsonl"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    env.pop("CAW_ISOLATION", None)
    return env


def caw_run(db: Path, workflow_id: str, repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAW, "--db", str(db), "run", workflow_id, "--no-watch"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=240)


def workflow(client: caw_lab.Client, tasks: list[dict[str, Any]], **execution: Any) -> dict[str, Any]:
    wf = make_workflow(client, tasks, max_parallel_tasks=3)
    client.call("workflow_set_config", id=wf["id"], config={"execution": {
        "runtime": "subprocess", "poll_interval_ms": 30, "alerts": {"log": False}, **execution}})
    return wf


def records(tmp_path: Path) -> dict[str, dict[str, Any]]:
    lines = (tmp_path / "record.jsonl").read_text().splitlines()
    return {r["task"]: r for r in map(json.loads, lines)}


def events(client: caw_lab.Client, workflow_id: str, kind: str) -> list[dict[str, Any]]:
    feed = client.call("events_list", workflow_id=workflow_id, limit=10_000)["events"]
    return [e for e in feed if e["kind"] == kind]


def writes(name: str) -> str:
    return json.dumps({"write": {f"{name}.txt": f"{name}\n"}})


def only_main_worktree(repo: Path) -> bool:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")] == [f"worktree {repo}"]


DAG = [
    {"name": "a", "description": writes("a")},
    {"name": "b", "description": writes("b"), "depends_on": ["a"]},
    {"name": "c", "description": writes("c"), "depends_on": ["a"]},
    {"name": "d", "description": writes("d"), "depends_on": ["a"]},
    {"name": "e", "description": writes("e"), "depends_on": ["b", "c"]},
    {"name": "f", "description": writes("f"), "depends_on": ["d", "e"]},
]


def test_six_task_dag_runs_each_task_in_its_own_worktree_and_merges_in_dependency_order(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    wf = workflow(client, DAG)
    done = caw_run(db_path, wf["id"], repo, runner(tmp_path, repo))
    assert done.returncode == 0, done.stderr + done.stdout
    ran = records(tmp_path)
    assert len({r["cwd"] for r in ran.values()}) >= 3, "parallel tasks shared a worktree"
    for name, record in ran.items():
        assert record["cwd"] == record["worktree"] and record["cwd"] != str(repo)
        assert record["branch"] == f"caw/{wf['id']}-{wf['tasks'][name]}"
    assert {"a.txt"} <= set(ran["b"]["seen"]) and {"a.txt", "b.txt", "c.txt"} <= set(ran["e"]["seen"])
    assert {"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"} <= set(ran["f"]["seen"])
    integration = f"caw/{wf['id']}"
    history = git(repo, "log", "--format=%s", integration)
    assert all(f"{n}: write {n}.txt" in history for n in "abcdef")
    merged = [e["task_id"] for e in events(client, wf["id"], "task.merged")]
    order = {task_id: i for i, task_id in enumerate(merged)}
    for task in DAG:
        for dep in task.get("depends_on", []):
            assert order[wf["tasks"][dep]] < order[wf["tasks"][task["name"]]]
    assert sorted(git(repo, "ls-tree", "--name-only", integration).split()) == sorted(
        ["README", "shared.txt", *(f"{n}.txt" for n in "abcdef")])
    assert only_main_worktree(repo)
    assert sorted(git(repo, "branch", "--format=%(refname:short)").split()) == [integration, "main"]
    git(repo, "fsck", "--strict")
    assert events(client, wf["id"], "worktree.created") and events(client, wf["id"], "worktree.removed")


def clash(name: str, line: str, **more: Any) -> str:
    return json.dumps({"write": {"shared.txt": f"one\n{line}\nthree\n"}, **more})


@pytest.mark.parametrize("strategy", ["manual", "serialize"])
def test_a_true_conflict_is_detected_before_the_second_completes_and_pauses_it_with_its_files_in_context(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path, strategy: str) -> None:
    marker = tmp_path / "first-done"
    wf = workflow(client, [{"name": "first", "description": clash("first", "TWO by first", touch=str(marker))},
                           {"name": "second", "description": clash("second", "TWO by second", hold=str(marker))}],
                  conflicts=strategy)
    done = caw_run(db_path, wf["id"], repo, runner(tmp_path, repo))
    assert done.returncode == 1 and "stalled" in done.stdout, done.stderr + done.stdout
    first, second = wf["tasks"]["first"], wf["tasks"]["second"]
    feed = client.call("events_list", workflow_id=wf["id"], limit=10_000)["events"]
    detected = [e for e in feed if e["kind"] == "conflict.detected" and e["task_id"] == second]
    assert detected and detected[-1]["payload"]["files"] == ["shared.txt"]
    assert detected[-1]["payload"]["resolution"] == "paused"
    assert not [e for e in feed if e["kind"] == "task.status" and e["task_id"] == second
                and e["payload"]["to"] == "completed"]
    assert client.call("task_get", id=second)["status"] == "paused"
    context = client.call("task_load_context", task_id=second)["current_task"]
    assert context["conflict"]["files"] == ["shared.txt"] and "TWO by second" in context["conflict"]["hunks"][
        "shared.txt"]
    integration = f"caw/{wf['id']}"
    assert "TWO by first" in git(repo, "show", f"{integration}:shared.txt")
    assert "TWO by second" in git(repo, "show", f"caw/{wf['id']}-{second}:shared.txt")
    assert "first: write" in git(repo, "log", "--format=%s", integration)
    assert first in [e["task_id"] for e in feed if e["kind"] == "task.merged"]
    git(repo, "fsck", "--strict")


def all_records(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_executor_killed_mid_run_resumes_with_orphans_cleaned_and_uncommitted_work_kept(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    wf = workflow(client, [
        {"name": "a", "description": writes("a")},
        {"name": "b", "description": json.dumps({"write": {"b.txt": "b\n"}, "dirty": True}), "depends_on": ["a"]},
        {"name": "c", "description": writes("c"), "depends_on": ["a"]},
    ], heartbeat_timeout_ms=600)
    env = runner(tmp_path, repo)
    first = subprocess.Popen([CAW, "--db", str(db_path), "run", wf["id"], "--no-watch"], cwd=repo, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b, c = wf["tasks"]["b"], wf["tasks"]["c"]
    deadline = time.monotonic() + 120
    while not (c in merged_ids(client, wf["id"]) and any(r["task"] == "b" for r in all_records(tmp_path))
               and (Path(branch_worktree(repo, f"caw/{wf['id']}-{b}") or "/nonexistent") / "b.txt").exists()):
        assert time.monotonic() < deadline and first.poll() is None, "the run never reached the middle"
        time.sleep(0.05)
    dirty = branch_worktree(repo, f"caw/{wf['id']}-{b}")
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert (Path(dirty) / "b.txt").exists() and len(worktree_paths(repo)) >= 2
    while client.call("workflow_execution_status", workflow_id=wf["id"])["executorAlive"]:  # its heartbeat lapses
        assert time.monotonic() < deadline, "the killed executor still reads as alive"
        time.sleep(0.1)
    done = caw_run(db_path, wf["id"], repo, env)
    assert done.returncode == 0, done.stderr + done.stdout
    runs = [r for r in all_records(tmp_path) if r["task"] == "b"]
    assert len(runs) == 2 and runs[1]["cwd"] == runs[0]["cwd"] and "b.txt" in runs[1]["seen"]
    removed = events(client, wf["id"], "worktree.removed")
    assert any(e["payload"].get("reason") == "orphaned" for e in removed)
    assert git(repo, "show", f"caw/{wf['id']}:b.txt") == "b\n"
    assert only_main_worktree(repo)
    git(repo, "fsck", "--strict")


def merged_ids(client: caw_lab.Client, workflow_id: str) -> set[str]:
    return {e["task_id"] for e in events(client, workflow_id, "task.merged")}


def worktree_paths(repo: Path) -> list[str]:
    return [line[9:] for line in git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def branch_worktree(repo: Path, branch: str) -> str | None:
    path = None
    for line in git(repo, "worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            path = line[9:]
        if line == f"branch refs/heads/{branch}":
            return path
    return None


def snapshot(repo: Path, client: caw_lab.Client, workflow_id: str) -> tuple[str, str, int]:
    feed = client.call("events_list", workflow_id=workflow_id, limit=10_000)["events"]
    return git(repo, "for-each-ref"), git(repo, "worktree", "list", "--porcelain"), len(feed)


@pytest.mark.parametrize(("setting", "code"), [
    ({"base_branch": "no-such-branch"}, "BASE_BRANCH_NOT_FOUND"),
    ({"integration_branch": "--force"}, "INVALID_INPUT"),
    ({"base_branch": "--upload-pack=touch pwned"}, "INVALID_INPUT"),
    ({"integration_branch": "elsewhere"}, "BRANCH_CHECKED_OUT"),
    ({"isolation": "worktree", "cwd": "OUTSIDE"}, "PATH_OUTSIDE_ROOTS"),
])
def test_bad_isolation_settings_are_refused_with_nothing_changed(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch, setting: dict[str, str], code: str) -> None:
    monkeypatch.delenv("CAW_ISOLATION")
    monkeypatch.chdir(repo)
    git(repo, "worktree", "add", "-q", "-b", "elsewhere", str(repo.parent / "elsewhere"))
    if setting.get("cwd") == "OUTSIDE":
        setting = {**setting, "cwd": str(make_repo(tmp_path_factory.mktemp("outside") / "repo"))}
    wf = workflow(client, [{"name": "a", "description": writes("a")}], **setting)
    before = snapshot(repo, client, wf["id"])
    executor = Executor(str(db_path), wf["id"], runtimes={"subprocess": SubprocessRuntime(AGENT)},
                        connect=caw_lab.connect)
    with pytest.raises(CawError) as refused:
        executor.run()
    assert refused.value.code == code, refused.value
    assert snapshot(repo, client, wf["id"]) == before
    assert client.call("task_get", id=wf["tasks"]["a"])["status"] == "pending"


def test_serialize_runs_tasks_predicted_to_clash_one_after_the_other_and_both_land(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    (repo / "five.txt").write_text("1\n2\n3\n4\n5\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "five")
    edits = [{"name": n, "files_likely_affected": ["five.txt"],
              "description": json.dumps({"replace": {"five.txt": change}})}
             for n, change in (("top", ["1\n", "1 top\n"]), ("bottom", ["5\n", "5 bottom\n"]))]
    wf = workflow(client, [*edits, {"name": "other", "description": writes("other")}])
    predicted = client.call("workflow_conflicts", workflow_id=wf["id"])["predicted"]
    assert predicted == [{"tasks": [wf["tasks"]["top"], wf["tasks"]["bottom"]], "names": ["top", "bottom"],
                          "files": ["five.txt"]}]
    done = caw_run(db_path, wf["id"], repo, runner(tmp_path, repo))
    assert done.returncode == 0, done.stderr + done.stdout
    assert git(repo, "show", f"caw/{wf['id']}:five.txt") == "1 top\n2\n3\n4\n5 bottom\n"
    assert client.call("workflow_conflicts", workflow_id=wf["id"]) == {
        "workflow_id": wf["id"], "conflicts": [], "predicted": []}
    assert only_main_worktree(repo)


def test_a_task_naming_another_repository_runs_in_a_worktree_of_it_with_its_own_integration_branch(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    other = make_repo(tmp_path / "other")
    wf = workflow(client, [
        {"name": "here", "description": writes("here")},
        {"name": "there", "description": writes("there"), "repository_path": str(other)},
        {"name": "after", "description": writes("after"), "depends_on": ["here", "there"]},
    ])
    done = caw_run(db_path, wf["id"], repo, runner(tmp_path, repo))
    assert done.returncode == 0, done.stderr + done.stdout
    ran = records(tmp_path)
    assert ran["there"]["cwd"].startswith(str(other / ".caw" / "worktrees"))
    assert ran["here"]["cwd"].startswith(str(repo / ".caw" / "worktrees"))
    integration = f"caw/{wf['id']}"
    assert sorted(git(other, "ls-tree", "--name-only", integration).split()) == ["README", "there.txt"]
    assert {"here.txt", "after.txt"} <= set(git(repo, "ls-tree", "--name-only", integration).split())
    assert only_main_worktree(repo) and only_main_worktree(other)
    for folder in (repo, other):
        assert sorted(git(folder, "branch", "--format=%(refname:short)").split()) == [integration, "main"]


def test_caw_gc_removes_what_a_finished_workflow_left_but_never_uncommitted_work(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    wf = workflow(client, [{"name": "a"}, {"name": "b"}])
    clean_tree, dirty_tree = repo / ".caw" / "worktrees" / "x1", repo / ".caw" / "worktrees" / "x2"
    for path, task in ((clean_tree, "a"), (dirty_tree, "b")):
        branch = f"caw/{wf['id']}-{wf['tasks'][task]}"
        git(repo, "worktree", "add", "-q", "-b", branch, str(path))
        Path(git(path, "rev-parse", "--absolute-git-dir").strip(), "caw-workspace").write_text(f"pool:{wf['id']}\n")
    (dirty_tree / "wip.txt").write_text("unsaved\n")
    client.call("workflow_update_status", id=wf["id"], status="abandoned")
    env = {**os.environ, "CAW_DB_PATH": str(db_path)}
    done = subprocess.run([CAW, "--db", str(db_path), "gc"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["removed_worktrees"] == [str(clean_tree)] and report["kept_worktrees"] == [str(dirty_tree)]
    assert report["removed_branches"] == [f"caw/{wf['id']}-{wf['tasks']['a']}"]
    assert (dirty_tree / "wip.txt").read_text() == "unsaved\n" and not clean_tree.exists()


def test_a_task_depending_on_another_workflows_task_waits_for_it_and_both_run_in_order(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    first = workflow(client, [{"name": "base", "description": writes("base")}])
    second = workflow(client, [{"name": "later", "description": writes("later"),
                                "depends_on": [{"workflow_id": first["id"], "task": "base"}]},
                               {"name": "free", "description": writes("free")}])
    ready = [t["name"] for t in client.call("workflow_next_tasks", workflow_id=second["id"])["tasks"]]
    assert ready == ["free"]
    env = runner(tmp_path, repo)
    assert caw_run(db_path, first["id"], repo, env).returncode == 0
    ready = [t["name"] for t in client.call("workflow_next_tasks", workflow_id=second["id"])["tasks"]]
    assert "later" in ready
    done = caw_run(db_path, second["id"], repo, env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert client.call("task_get", id=second["tasks"]["later"])["status"] == "completed"
    with pytest.raises(CawError) as refused:
        workflow(client, [{"name": "x", "depends_on": [{"workflow_id": first["id"], "task": "nope"}]}])
    assert refused.value.code == "UNKNOWN_DEPENDENCY"


def test_a_suspended_then_abandoned_workflow_leaves_nothing_behind_but_uncommitted_work(
        client: caw_lab.Client, db_path: Path, repo: Path, tmp_path: Path) -> None:
    wf = workflow(client, [
        {"name": "a", "description": writes("a")},
        {"name": "b", "description": json.dumps({"write": {"b.txt": "b\n"}, "dirty": True}), "depends_on": ["a"]},
        {"name": "c", "description": json.dumps({"write": {"c.txt": "c\n"}, "hold": str(tmp_path / "never")}),
         "depends_on": ["a"]},
    ], stop_grace_ms=300)
    run = subprocess.Popen([CAW, "--db", str(db_path), "run", wf["id"], "--no-watch"], cwd=repo,
                           env=runner(tmp_path, repo), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b_branch, c_branch = (f"caw/{wf['id']}-{wf['tasks'][n]}" for n in "bc")
    deadline = time.monotonic() + 120
    while not ((Path(branch_worktree(repo, b_branch) or "/nonexistent") / "b.txt").exists()
               and "c: write" in subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%s", c_branch],
                                                capture_output=True, text=True).stdout):
        assert time.monotonic() < deadline and run.poll() is None, "the run never reached the middle"
        time.sleep(0.05)
    dirty, c_commit = branch_worktree(repo, b_branch), git(repo, "rev-parse", c_branch).strip()
    client.call("workflow_suspend", workflow_id=wf["id"])
    run.wait(60)
    assert len(worktree_paths(repo)) == 3, "a suspended run keeps its worktrees for its resume"
    client.call("workflow_update_status", id=wf["id"], status="abandoned")
    assert worktree_paths(repo) == [str(repo), dirty] and (Path(dirty) / "b.txt").read_text() == "b\n"
    [report] = [e["payload"] for e in events(client, wf["id"], "worktree.collected")]
    assert report["kept_worktrees"] == [dirty] and report["reason"] == "abandoned"
    assert report["removed_branches"] == [c_branch] and len(report["removed_worktrees"]) == 1
    assert git(repo, "branch", "--list", c_branch) == ""
    git(repo, "merge-base", "--is-ancestor", c_commit, f"refs/caw-backup/{wf['id']}/{wf['tasks']['c']}")
    git(Path(dirty), "add", "-A")  # the person keeps the work that was left, then collects the rest
    git(Path(dirty), "commit", "-q", "-m", "b: kept by hand")
    kept = git(Path(dirty), "rev-parse", "HEAD").strip()
    done = subprocess.run([CAW, "--db", str(db_path), "gc"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["removed_worktrees"] == [dirty], done.stderr
    assert only_main_worktree(repo)
    assert sorted(git(repo, "branch", "--format=%(refname:short)").split()) == [f"caw/{wf['id']}", "main"]
    git(repo, "merge-base", "--is-ancestor", kept, f"refs/caw-backup/{wf['id']}/{wf['tasks']['b']}")
    assert "unreachable commit" not in git(repo, "fsck", "--unreachable", "--no-reflogs", "--no-progress")
    git(repo, "fsck", "--strict", "--no-progress")
