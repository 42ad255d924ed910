"""A workspace's branch pushed and opened as a pull request on GitHub, its URL recorded on the
workspace: what finishing a workflow's work in a repository means to a team.

The pull request closes the issue the workflow was made from (``Closes #N``) when both are
in the same repository, and lists the tasks completed with their outcomes. Opening it again
gives the recorded URL instead of a second request.
"""

from __future__ import annotations

import re
from typing import Any

from caw_lab.engine import workflows, workspaces
from caw_lab.engine.rows import fetch
from caw_lab.engine.worktrees import check_branch, git
from caw_lab.errors import CawError, invalid_input
from caw_lab.gitops.github import GitHub, check_repo
from caw_lab.store.backend import Backend

GITHUB_REMOTE = re.compile(r"(?:https://github\.com/|ssh://git@github\.com/|git@github\.com:)"
                           r"(?P<repo>[^/\s]+/[^/\s]+?)(?:\.git)?/?")
ISSUE_URL = re.compile(r"https://github\.com/(?P<repo>[^/\s]+/[^/\s]+)/issues/(?P<number>\d+)")
REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


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
    github: GitHub,
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
    slug = check_repo(repo) if repo else repository_of_remote(path, remote)
    push(path, remote, workspace["branch"])
    workflow = workflows.get(db, workspace["workflow_id"], include_tasks=body is None)
    pull = github.open_pull(slug, head=workspace["branch"], base=base, title=title or workflow["name"],
                            body=body if body is not None else describe(workflow, slug), draft=draft)
    workspaces.update_workspace(db, workspace_id, pr_url=pull["html_url"])
    return {"success": True, "workspace_id": workspace_id, "pr_url": pull["html_url"], "number": pull["number"],
            "opened": True}


def open_all(db: Backend, workflow_id: str, github: GitHub) -> dict[str, Any]:
    """A pull request for each active workspace of a finished workflow that has none yet. A
    refusal is reported beside the others, not raised: the workflow's work is done either way."""
    opened, refused = [], []
    for workspace in workspaces.list_workspaces(db, workflow_id, ["active"])["workspaces"]:
        try:
            opened.append(open_pull(db, workspace["id"], github=github))
        except CawError as err:
            refused.append({"workspace_id": workspace["id"], **err.to_dict()})
    return {"pull_requests": [pull["pr_url"] for pull in opened], "pull_request_errors": refused}


def repository_of_remote(path: str, remote: str) -> str:
    """``owner/name`` from the remote's (fetch) URL, when it is on github.com."""
    url = git(path, "remote", "get-url", checked_remote(remote))
    match = GITHUB_REMOTE.fullmatch(url.out.strip()) if url.code == 0 else None
    if match is None:
        why = url.err or f"its URL {url.out.strip()!r} is not on github.com"
        raise invalid_input(f"No GitHub repository for remote {remote!r}: {why}", "Pass repo as owner/name.")
    return check_repo(match["repo"])


def push(path: str, remote: str, branch: str) -> None:
    pushed = git(path, "push", "--porcelain", checked_remote(remote), f"refs/heads/{branch}:refs/heads/{branch}")
    if pushed.code != 0:
        raise CawError("GIT_PUSH_FAILED", f"git push {remote} {branch} failed: {pushed.err}", recoverable=True,
                       suggestion="Check the remote and your credentials for it; the branch must be pushable.")


def checked_remote(remote: str) -> str:
    if not REMOTE_NAME.fullmatch(remote):
        raise invalid_input(f"{remote!r} is not a git remote name", "Name a remote such as origin.")
    return remote


def describe(workflow: dict[str, Any], repo: str) -> str:
    """The pull request's body, from the workflow with its tasks: the plan's summary, the tasks
    completed with their outcomes, and ``Closes #N`` for the issue the workflow came from when
    it is in ``repo``."""
    lines = [workflow.get("plan_summary") or workflow["name"]]
    done = [t for t in workflow["tasks"] if t["status"] == "completed"]
    if done:
        lines += ["", "Tasks completed:", *(f"- {t['name']}: {t.get('outcome') or 'done'}" for t in done)]
    issue = ISSUE_URL.fullmatch(workflow.get("source_ref") or "")
    if issue and issue["repo"].lower() == repo.lower():
        lines += ["", f"Closes #{issue['number']}"]
    lines += ["", f"Opened by caw-lab for workflow {workflow['id']}."]
    return "\n".join(lines)
