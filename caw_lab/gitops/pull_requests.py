"""A workspace's branch pushed and opened as a pull request (GitHub) or merge request
(GitLab), its URL recorded on the workspace: what finishing a workflow's work in a
repository means to a team.

The pull request closes the issue the work came from (``Closes #N``) when both are in the
same repository: the issue ``caw work`` linked to the workspace (its config's ``issue``), or
the one the workflow was made from. It lists the tasks completed with their outcomes.
Opening it again gives the recorded URL instead of a second request.
"""

from __future__ import annotations

import re
from typing import Any

from caw_lab.engine import workflows, workspaces
from caw_lab.engine.rows import fetch
from caw_lab.engine.worktrees import check_branch, git
from caw_lab.errors import CawError, invalid_input
from caw_lab.gitops.github import GitHub, check_repo
from caw_lab.gitops.remotes import Clients, Hosted, checked_remote, of_remote
from caw_lab.store.backend import Backend

ISSUE_URL = re.compile(r"https://github\.com/(?P<repo>[^/\s]+/[^/\s]+)/issues/(?P<number>\d+)")


def open_pull(
    db: Backend,
    workspace_id: str,
    *,
    repo: str | None = None,
    remote: str = "origin",
    base: str | None = None,
    title: str | None = None,
    body: str | None = None,
    draft: bool = False,
    clients: Clients,
) -> dict[str, Any]:
    workspace = fetch(db, "workspace", workspace_id)
    if workspace["pr_url"]:
        return {"success": True, "workspace_id": workspace_id, "pr_url": workspace["pr_url"], "opened": False}
    if workspace["status"] != "active":
        raise CawError("INVALID_STATE", f"Workspace {workspace_id} is {workspace['status']}", recoverable=False,
                       suggestion="Open pull requests from active workspaces.")
    base = base or workspace["base_branch"]
    if not base:
        raise invalid_input(f"Workspace {workspace_id} has no base branch", "Pass base: the branch to merge into.")
    check_branch(base)
    path = workspaces.checked_path(db, workspace)
    target = Hosted("github", check_repo(repo)) if repo else of_remote(path, remote)
    push(path, remote, workspace["branch"])
    workflow = workflows.get(db, workspace["workflow_id"], include_tasks=body is None)
    issue = linked_issue(workspace, workflow)
    pull = clients(target.kind).open_pull(
        target.repo, head=workspace["branch"], base=base, title=title or workflow["name"], draft=draft,
        body=body if body is not None else describe(workflow, target, issue, workspace["id"]))
    workspaces.update_workspace(db, workspace_id, pr_url=pull.url)
    return {"success": True, "workspace_id": workspace_id, "pr_url": pull.url, "number": pull.number,
            "opened": True}


def open_all(db: Backend, workflow_id: str, github: GitHub | None = None) -> dict[str, Any]:
    """A pull request for each active workspace of a finished workflow that has none yet. A
    refusal is reported beside the others, not raised: the workflow's work is done either way."""
    opened, refused = [], []
    with Clients(github=github) as clients:
        for workspace in workspaces.list_workspaces(db, workflow_id, ["active"])["workspaces"]:
            try:
                opened.append(open_pull(db, workspace["id"], clients=clients))
            except CawError as err:
                refused.append({"workspace_id": workspace["id"], **err.to_dict()})
    return {"pull_requests": [pull["pr_url"] for pull in opened], "pull_request_errors": refused}


def linked_issue(workspace: dict[str, Any], workflow: dict[str, Any]) -> dict[str, Any] | None:
    """The issue a workspace's work resolves: ``{"kind", "repo", "number"}``, or None."""
    issue = (workspace.get("config") or {}).get("issue")
    if isinstance(issue, dict) and {"kind", "repo", "number"} <= issue.keys():
        return issue
    found = ISSUE_URL.fullmatch(workflow.get("source_ref") or "")
    return {"kind": "github", "repo": found["repo"], "number": int(found["number"])} if found else None


def push(path: str, remote: str, branch: str) -> None:
    pushed = git(path, "push", "--porcelain", checked_remote(remote), f"refs/heads/{branch}:refs/heads/{branch}")
    if pushed.code != 0:
        raise CawError("GIT_PUSH_FAILED", f"git push {remote} {branch} failed: {pushed.err}", recoverable=True,
                       suggestion="Check the remote and your credentials for it; the branch must be pushable.")


def describe(workflow: dict[str, Any], target: Hosted, issue: dict[str, Any] | None, workspace_id: str) -> str:
    """The description: the plan's summary, the tasks completed (of this workspace, when it
    has tasks) with their outcomes, and ``Closes #N`` for the linked issue of ``target``."""
    lines = [workflow.get("plan_summary") or workflow["name"]]
    done = [t for t in workflow["tasks"] if t["status"] == "completed"
            and t.get("workspace_id") in (None, workspace_id)]
    if done:
        lines += ["", "Tasks completed:", *(f"- {t['name']}: {t.get('outcome') or 'done'}" for t in done)]
    if issue and issue["kind"] == target.kind and str(issue["repo"]).lower() == target.repo.lower():
        lines += ["", f"Closes #{issue['number']}"]
    lines += ["", f"Opened by caw-lab for workflow {workflow['id']}."]
    return "\n".join(lines)
