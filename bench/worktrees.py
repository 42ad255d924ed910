"""Worktree isolation costs: ``python -m bench.worktrees``.

On a real repository of 10,000 files (100 folders of 100 small files, one commit):

- **task start**: ``isolation.acquire`` (what the executor does before starting an agent):
  *fresh*, every task gets a new worktree (``git worktree add`` checks out all 10,000 files);
  *pooled*, a finished task's worktree is detached and reused, so starting the next task is
  ``git switch -c`` (only the files that differ are touched). Untimed between samples: the
  worktree is removed (fresh) or parked (pooled), as the executor does after a merge.
- **conflict check**: ``merging.conflict`` (``git merge-tree --write-tree``) of a task branch
  that changed one file against an integration branch that changed another (clean), and
  against one that changed the same lines (a conflict, hunks read from the merged tree).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import caw_lab
from bench.engine import machine, timed
from caw_lab.engine import isolation, merging, worktrees
from caw_lab.store import open_backend

FILES = 10_000
SAMPLES = 15
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "b@x"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}).stdout


def make_repo(repo: Path) -> None:
    for i in range(FILES):
        folder = repo / f"d{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i % 100:03d}.txt").write_text(f"file {i}\nline two\nline three\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "10,000 files")


def commit_change(repo: Path, branch: str, name: str, text: str) -> None:
    """A commit on ``branch`` changing one file, made without a checkout."""
    blob = subprocess.run(["git", "-C", str(repo), "hash-object", "-w", "--stdin"], input=text, check=True,
                          capture_output=True, text=True).stdout.strip()
    index = repo / ".git" / "bench-index"
    env = {**os.environ, **IDENTITY, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "-C", str(repo), "read-tree", branch], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "update-index", "--cacheinfo", f"100644,{blob},{name}"], check=True,
                   env=env)
    tree = subprocess.run(["git", "-C", str(repo), "write-tree"], check=True, env=env, capture_output=True,
                          text=True).stdout.strip()
    new = git(repo, "commit-tree", tree, "-p", branch, "-m", f"change {name}").strip()
    git(repo, "update-ref", f"refs/heads/{branch}", new)
    index.unlink()


def task_start(db_path: str, repo: Path, pooled: bool) -> tuple[float, float]:
    with caw_lab.connect(db_path) as client:
        wf = client.call("workflow_create", name="bench", source_type="prompt", source_content="bench")
    db = open_backend(db_path)
    layout, start = isolation.check(wf["id"], str(repo), None, "main")
    isolation.prepare(layout, start)
    counter = iter(range(10_000))
    held: list[tuple[str, str]] = []

    def one() -> None:
        if held:
            path, branch = held.pop()
            if pooled:
                isolation.park(layout, path, "bench")
            else:
                worktrees.remove(str(repo), path, force=True)
            worktrees.delete_branch(str(repo), branch)
        held.append(isolation.acquire(db, layout, {"id": f"tk_bench{next(counter):06d}", "name": "t"}))

    result = timed(one, SAMPLES)
    isolation.clean(db, str(repo), wf["id"])
    db.close()
    return result


def conflict_checks(repo: Path) -> dict[str, tuple[float, float]]:
    for branch in ("integration", "task", "clash"):
        git(repo, "branch", branch, "main")
    commit_change(repo, "integration", "d000/f000.txt", "file 0\nchanged by integration\nline three\n")
    commit_change(repo, "task", "d099/f099.txt", "file 9999\nchanged by the task\nline three\n")
    commit_change(repo, "clash", "d000/f000.txt", "file 0\nchanged by the clash\nline three\n")
    assert merging.conflict(str(repo), "integration", "task") is None
    assert merging.conflict(str(repo), "integration", "clash") is not None
    return {"clean": timed(lambda: merging.conflict(str(repo), "integration", "task"), SAMPLES * 4),
            "conflicting": timed(lambda: merging.conflict(str(repo), "integration", "clash"), SAMPLES * 4)}


def main() -> None:
    print(machine())
    with tempfile.TemporaryDirectory(prefix="caw-bench-worktrees-") as folder:
        os.environ["CAW_ALLOWED_ROOTS"] = folder
        repo = Path(folder) / "repo"
        make_repo(repo)
        db = str(Path(folder) / "bench.db")
        rows = {"fresh": task_start(db, repo, pooled=False), "pooled": task_start(db, repo, pooled=True)}
        checks = conflict_checks(repo)
    print(f"\nTask start on a {FILES:,}-file repository, ms p50 (p95), {SAMPLES} tasks")
    for name, (p50, p95) in rows.items():
        print(f"| {name} | {p50:.0f} ({p95:.0f}) |")
    print(f"\nConflict check (git merge-tree) on a {FILES:,}-file repository, ms p50 (p95)")
    for name, (p50, p95) in checks.items():
        print(f"| {name} | {p50:.1f} ({p95:.1f}) |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
