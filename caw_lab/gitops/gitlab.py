"""A small client of GitLab's REST API (v4): issues, their notes and closing, merge requests
(open, read, merge) and the pipelines on them.

GitLab is at ``$CAW_GITLAB_URL`` or ``$GITLAB_URL`` (default ``https://gitlab.com``; the API
is its ``/api/v4``), the token ``$CAW_GITLAB_TOKEN`` or ``$GITLAB_TOKEN``, sent as GitLab's
``PRIVATE-TOKEN`` header. A project is named by its full path (``group/subgroup/project``),
sent URL-encoded as GitLab wants it. Errors as GitHub's, coded GITLAB_*.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from pydantic import BaseModel

from caw_lab.errors import invalid_input
from caw_lab.gitops.forge import Checks, Forge, Issue, Pull, env_setting

URL_ENVS = ("CAW_GITLAB_URL", "GITLAB_URL")
TOKEN_ENVS = ("CAW_GITLAB_TOKEN", "GITLAB_TOKEN")
DEFAULT_URL = "https://gitlab.com"

SEGMENT = r"(?!\.\.?/)(?!\.\.?$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}"
PROJECT = re.compile(rf"{SEGMENT}(?:/{SEGMENT}){{1,19}}")
"""``group[/subgroup...]/project``: no empty, ``.`` or ``..`` segment, nothing that leaves the path."""


def check_project(project: str) -> str:
    if not PROJECT.fullmatch(project) or any(part in (".", "..") for part in project.split("/")):
        raise invalid_input(f"{project!r} is not a GitLab project (group/project)",
                            "Name the project by its path, e.g. my-group/my-project.")
    return project


def base_url() -> str:
    return (env_setting(URL_ENVS, DEFAULT_URL) or DEFAULT_URL).rstrip("/")


class IssueAnswer(BaseModel):
    iid: int
    title: str
    description: str | None = None
    web_url: str
    state: str
    labels: list[str] = []


class MergeRequestAnswer(BaseModel):
    iid: int
    web_url: str
    state: str
    source_branch: str
    target_branch: str
    sha: str | None = None
    has_conflicts: bool = False
    merge_status: str | None = None
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None


class PipelineAnswer(BaseModel):
    id: int
    status: str


PIPELINE_PASSED = {"success", "skipped"}
PIPELINE_FAILED = {"failed", "canceled"}
MERGEABLE_STATUS = {"can_be_merged": "MERGEABLE", "cannot_be_merged": "CONFLICTING"}


class GitLab(Forge):
    kind = "gitlab"
    label = "GitLab"
    token_envs = TOKEN_ENVS
    api_envs = URL_ENVS
    refused_codes = frozenset({400, 406, 409, 422})
    pull_word = "merge request"

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        token = token or env_setting(TOKEN_ENVS)
        super().__init__(f"{(url or base_url()).rstrip('/')}/api/v4", {"PRIVATE-TOKEN": token} if token else {})

    def project(self, project: str) -> str:
        return f"projects/{quote(check_project(project), safe='')}"

    def issue(self, repo: str, number: int) -> Issue:
        found = self.request("GET", f"{self.project(repo)}/issues/{number}", IssueAnswer)
        state = "open" if found.state == "opened" else found.state
        return Issue(found.iid, found.title, found.description or "", found.web_url, state, tuple(found.labels))

    def comment(self, repo: str, number: int, body: str) -> None:
        self.request("POST", f"{self.project(repo)}/issues/{number}/notes", json={"body": body})

    def close_issue(self, repo: str, number: int) -> None:
        self.request("PUT", f"{self.project(repo)}/issues/{number}", json={"state_event": "close"})

    def open_pull(self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool) -> Pull:
        payload = {"source_branch": head, "target_branch": base, "title": f"Draft: {title}" if draft else title,
                   "description": body}
        return pull_of(self.request("POST", f"{self.project(repo)}/merge_requests", MergeRequestAnswer,
                                    json=payload))

    def pull(self, repo: str, number: int) -> Pull:
        return pull_of(self.request("GET", f"{self.project(repo)}/merge_requests/{number}", MergeRequestAnswer))

    def merge_pull(self, repo: str, number: int, method: str) -> Pull:
        """Accept the merge request; ``squash`` squashes, ``merge`` and ``rebase`` keep the
        commits (how they land is the project's merge method, a GitLab project setting)."""
        return pull_of(self.request("PUT", f"{self.project(repo)}/merge_requests/{number}/merge",
                                    MergeRequestAnswer, json={"squash": method == "squash"}))

    def checks(self, repo: str, pull: Pull) -> Checks:
        """The latest pipeline of the merge request (GitLab lists them newest first)."""
        latest = self.request("GET", f"{self.project(repo)}/merge_requests/{pull.number}/pipelines",
                              list[PipelineAnswer], params={"per_page": 1})
        if not latest:
            return Checks("passed", "no pipelines")
        status = latest[0].status
        if status in PIPELINE_PASSED:
            return Checks("passed", f"pipeline {latest[0].id} {status}")
        if status in PIPELINE_FAILED:
            return Checks("failed", f"failed: pipeline {latest[0].id} ({status})")
        return Checks("pending", f"pipeline {latest[0].id} {status}")


def pull_of(found: MergeRequestAnswer) -> Pull:
    state = "merged" if found.state == "merged" else "open" if found.state == "opened" else "closed"
    mergeable = "CONFLICTING" if found.has_conflicts else MERGEABLE_STATUS.get(found.merge_status or "", "UNKNOWN")
    commit = (found.merge_commit_sha or found.squash_commit_sha or found.sha) if state == "merged" else None
    return Pull(found.iid, found.web_url, state, mergeable, found.source_branch,
                found.target_branch, found.sha, commit)
