"""Forge tools: a workflow made from a GitHub issue, a workspace opened as a pull (merge) request."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import workflows
from caw_lab.gitops import pull_requests
from caw_lab.gitops.github import GitHub
from caw_lab.gitops.remotes import Clients
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool
from caw_lab.tools.workflow import WorkflowCreateResult

TITLE_CHARS = 200


class PullRequestOpened(Result):
    success: bool
    workspace_id: str
    pr_url: str
    opened: bool
    number: int | None = None


class WorkflowFromIssue(Params):
    repo: str
    number: int = Field(ge=1)
    max_parallel_tasks: int = Field(1, ge=1, le=1000)


@tool("workflow_from_issue", "Create a workflow from a GitHub issue (repo as owner/name): its title, body and URL "
      "become the workflow's name and source.", read_only=False, open_world=True,
      result=WorkflowCreateResult)
def workflow_from_issue(db: Backend, p: WorkflowFromIssue) -> dict[str, Any]:
    with GitHub() as github:
        issue = github.issue(p.repo, p.number)
    title = (issue.title or f"{p.repo}#{p.number}")[:TITLE_CHARS]
    return workflows.create(db, name=title, source_type="github_issue", source_ref=issue.url,
                            source_content=issue.body or title, max_parallel_tasks=p.max_parallel_tasks)


class WorkspaceOpenPr(Params):
    workspace_id: str
    session_id: str | None = None
    repo: str | None = None
    remote: str = "origin"
    base: str | None = None
    title: str | None = None
    body: str | None = None
    draft: bool = False


@tool("workspace_open_pr", "Push a workspace's branch and open a GitHub pull request (GitLab merge request) into "
      "its base branch, closing its issue; the URL is recorded on the workspace.", lock=("workspace", "workspace_id"),
      read_only=False, open_world=True, result=PullRequestOpened)
def workspace_open_pr(db: Backend, p: WorkspaceOpenPr) -> dict[str, Any]:
    with Clients() as clients:
        return pull_requests.open_pull(db, p.workspace_id, repo=p.repo, remote=p.remote, base=p.base, title=p.title,
                                       body=p.body, draft=p.draft, clients=clients)
