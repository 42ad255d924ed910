"""The executor's side of isolation: where each task's agent works, merging back, cleaning up.

An ``Isolator`` is made once per run. It decides whether the run is isolated (the working
directory is in a git repository and ``execution.isolation`` is not ``shared``), prepares
the integration branch of every repository the workflow's tasks name (all checked before
any is made), and then, turn by turn of the executor's loop:

- ``place`` gives a starting task its worktree (engine/isolation.py: pooled, or the one
  its branch is still checked out in after a crash) and the ``CAW_WORKTREE`` and
  ``CAW_BRANCH`` its agent is told;
- ``integrate`` merges completed tasks' branches into their integration branch in plan
  order (dependencies first), before any dependant may start; a branch that no longer
  merges cleanly (its sibling merged first) is rebased onto the integration branch and
  merged, or, when it truly conflicts, left as it is with a ``conflict.detected`` event;
- ``may_start`` holds back a task while a dependency's work is not merged yet;
- ``finish`` removes the workflow's worktrees and task branches when the run completes,
  fails or is abandoned (a suspended run keeps them for its resume).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caw_lab.engine import conflicts, isolation, merging
from caw_lab.engine.rows import fetch
from caw_lab.errors import CawError
from caw_lab.runtimes.settings import ExecutionSettings
from caw_lab.store.backend import Backend


class Isolator:
    def __init__(self, db: Backend, workflow_id: str, settings: ExecutionSettings, cwd: str) -> None:
        self.db = db
        self.workflow_id = workflow_id
        self.settings = settings
        self.cwd = cwd
        self.layouts: dict[str, isolation.Layout] = {}
        """Repository path -> its side of the workflow; empty when the run is not isolated."""
        self.main: isolation.Layout | None = None
        self.starts: dict[str, str] = {}
        """Repository path -> the commit its integration branch was made from."""
        self.stuck: set[str] = set()
        """Completed tasks whose branch could not be merged (a true conflict): left for a person."""

    @property
    def active(self) -> bool:
        return self.main is not None

    def prepare(self) -> dict[str, Any]:
        """Decide and set up isolation; every repository and branch is checked before anything is made.
        Returns what the recovery of an earlier, killed run cleaned up."""
        mode = self.settings.isolation or isolation.default_mode()
        if mode == "shared":
            return {}
        try:
            repo = isolation.repository(self.cwd)
        except CawError as error:
            if self.settings.isolation == "worktree" or error.code != "NOT_A_GIT_REPOSITORY":
                raise
            return {}
        repos = [repo, *(r for r in self.task_repositories() if r != repo)]
        plans = [isolation.check(self.workflow_id, r, self.settings.integration_branch, self.settings.base_branch)
                 for r in repos]
        for layout, start in plans:
            self.layouts[layout.repo] = isolation.prepare(layout, start)
            self.starts[layout.repo] = start
        self.main = self.layouts[repo]
        unfinished = {t["id"] for t in self.tasks() if t["status"] not in ("completed", "skipped")}
        swept = [isolation.clean(self.db, r, None) for r in self.layouts]
        recovered = [isolation.recover(self.db, layout, unfinished) for layout in self.layouts.values()]
        return {"swept": swept, "recovered": recovered}

    def task_repositories(self) -> list[str]:
        ids = {t["repository_id"] for t in self.tasks() if t.get("repository_id")}
        return [isolation.repository(str(fetch(self.db, "repository", i)["path"])) for i in sorted(ids)]

    def tasks(self) -> list[dict[str, Any]]:
        return isolation.tasks_of(self.db, self.workflow_id)

    def layout(self, task: Mapping[str, Any]) -> isolation.Layout:
        assert self.main is not None
        if not task.get("repository_id"):
            return self.main
        return self.layouts[isolation.repository(str(fetch(self.db, "repository", task["repository_id"])["path"]))]

    def place(self, task: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
        """The task's worktree and the variables its agent gets; None when the run is not isolated
        or the task has a workspace of its own (that one wins)."""
        if not self.active or task.get("workspace_id"):
            return None
        path, branch = isolation.acquire(self.db, self.layout(task), task)
        return path, {"CAW_WORKTREE": path, "CAW_BRANCH": branch}

    def may_start(self, task_id: str) -> bool:
        """Not while a dependency's work is unmerged, nor a task paused for a person to resolve a conflict."""
        if not self.active:
            return True
        if conflicts.held_for_resolution(self.db, task_id):
            return False
        return not isolation.unmerged_dependencies(self.db, task_id)

    def integrate(self) -> None:
        """Merge every completed, isolated, not yet merged task, in plan order."""
        if not self.active:
            return
        done = isolation.merged(self.db, self.workflow_id)
        for task in self.tasks():
            if task["status"] != "completed" or task["id"] in done or task["id"] in self.stuck:
                continue
            if isolation.assignment(self.db, task["id"]) is None:
                continue
            self.merge(task)

    def merge(self, task: dict[str, Any]) -> None:
        layout = self.layout(task)
        try:
            isolation.merge_back(self.db, layout, task, self.settings.merge_style)
            return
        except CawError as error:
            if error.code != "MERGE_CONFLICT":
                raise
        holder = isolation.checked_out_at(layout.repo, layout.branch(task["id"]))
        if holder is not None:
            isolation.park(layout, holder, task["id"])
        tip = merging.resolve_tip(layout.repo, layout.branch(task["id"]))
        rebased = merging.rebase_branch(layout.repo, layout.branch(task["id"]), layout.integration)
        if rebased is not None:
            isolation.keep_commit(layout, task["id"], tip)
            isolation.merge_back(self.db, layout, task, self.settings.merge_style)
            return
        self.stuck.add(task["id"])
        conflicts.detect(self.db, task, stage="merge")

    def finish(self, status: str) -> list[dict[str, Any]]:
        """Clean up after a run that will not resume (completed, failed, abandoned)."""
        if not self.active or status not in ("completed", "failed", "abandoned"):
            return []
        reports = [isolation.clean(self.db, repo, self.workflow_id) for repo in self.layouts]
        for repo, layout in self.layouts.items():
            isolation.drop_unused(layout, self.starts[repo])
        return reports

