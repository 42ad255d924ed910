"""A small client of GitHub's REST API (v2022-11-28): issues, their comments and closing, pull
requests (open, read, merge) and the check runs on their head.

The API root is ``$CAW_GITHUB_API_URL`` or ``$GITHUB_API_URL`` (what GitHub Actions sets;
default ``https://api.github.com``, GitHub Enterprise serves it at ``https://HOST/api/v3``),
the token ``$CAW_GITHUB_TOKEN`` or ``$GITHUB_TOKEN``, sent as a bearer token. A bad repository
name is refused before any request; GitHub's answers map to GITHUB_UNAUTHORIZED (401/403),
GITHUB_NOT_FOUND (404), GITHUB_REFUSED (405/409/422, with GitHub's reasons) and
GITHUB_UNAVAILABLE (unreachable, 5xx, or an answer not shaped as GitHub's).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from caw_lab.errors import invalid_input
from caw_lab.gitops.forge import Checks, Forge, Issue, Pull, env_setting

API_ENVS = ("CAW_GITHUB_API_URL", "GITHUB_API_URL")
API_ENV = API_ENVS[0]
TOKEN_ENVS = ("CAW_GITHUB_TOKEN", "GITHUB_TOKEN")
DEFAULT_API = "https://api.github.com"
MERGE_METHODS = ("squash", "merge", "rebase")

REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")
"""``owner/name`` as GitHub allows them: nothing that could leave the ``/repos/`` path."""


def check_repo(repo: str) -> str:
    if not REPO.fullmatch(repo):
        raise invalid_input(f"{repo!r} is not a GitHub repository (owner/name)",
                            "Name the repository as owner/name, e.g. octocat/hello-world.")
    return repo


class Label(BaseModel):
    name: str


class IssueAnswer(BaseModel):
    number: int
    title: str
    body: str | None = None
    html_url: str
    state: str
    labels: list[Label | str] = []
    pull_request: dict[str, Any] | None = None


class Ref(BaseModel):
    ref: str
    sha: str | None = None


class PullAnswer(BaseModel):
    number: int
    html_url: str
    state: str
    merged: bool = False
    mergeable: bool | None = None
    merge_commit_sha: str | None = None
    head: Ref
    base: Ref


class MergeAnswer(BaseModel):
    sha: str
    merged: bool


class CheckRun(BaseModel):
    name: str
    status: str
    conclusion: str | None = None


class CheckRuns(BaseModel):
    total_count: int
    check_runs: list[CheckRun]


PASSING = {"success", "neutral", "skipped"}


class GitHub(Forge):
    kind = "github"
    label = "GitHub"
    token_envs = TOKEN_ENVS
    api_envs = API_ENVS

    def __init__(self, api: str | None = None, token: str | None = None) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        token = token or env_setting(TOKEN_ENVS)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(api or env_setting(API_ENVS, DEFAULT_API) or DEFAULT_API, headers)

    def issue(self, repo: str, number: int) -> Issue:
        found = self.request("GET", f"repos/{check_repo(repo)}/issues/{number}", IssueAnswer)
        if found.pull_request is not None:
            raise invalid_input(f"{repo}#{number} is a pull request, not an issue", "Pass an issue's number.")
        labels = tuple(label if isinstance(label, str) else label.name for label in found.labels)
        return Issue(found.number, found.title, found.body or "", found.html_url, found.state, labels)

    def comment(self, repo: str, number: int, body: str) -> None:
        self.request("POST", f"repos/{check_repo(repo)}/issues/{number}/comments", json={"body": body})

    def close_issue(self, repo: str, number: int) -> None:
        self.request("PATCH", f"repos/{check_repo(repo)}/issues/{number}",
                     json={"state": "closed", "state_reason": "completed"})

    def open_pull(self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool) -> Pull:
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        return pull_of(self.request("POST", f"repos/{check_repo(repo)}/pulls", PullAnswer, json=payload))

    def pull(self, repo: str, number: int) -> Pull:
        return pull_of(self.request("GET", f"repos/{check_repo(repo)}/pulls/{number}", PullAnswer))

    def merge_pull(self, repo: str, number: int, method: str) -> Pull:
        """Merge by ``method`` (squash, merge or rebase); GitHub's 405 (not mergeable) and 409
        (the head moved) are GITHUB_REFUSED. The answer names the commit; the pull is read again."""
        self.request("PUT", f"repos/{check_repo(repo)}/pulls/{number}/merge", MergeAnswer,
                     json={"merge_method": method})
        return self.pull(repo, number)

    def checks(self, repo: str, pull: Pull) -> Checks:
        runs = [run for page in self.pages(f"repos/{check_repo(repo)}/commits/{pull.head_sha or pull.head}/check-runs",
                                           CheckRuns) for run in page.check_runs]
        return summed([(run.name, run.status == "completed", run.conclusion in PASSING, run.conclusion or run.status)
                       for run in runs])


def pull_of(found: PullAnswer) -> Pull:
    state = "merged" if found.merged else "open" if found.state == "open" else "closed"
    mergeable = "UNKNOWN" if found.mergeable is None else "MERGEABLE" if found.mergeable else "CONFLICTING"
    return Pull(found.number, found.html_url, state, mergeable, found.head.ref, found.base.ref, found.head.sha,
                found.merge_commit_sha if found.merged else None)


def summed(runs: list[tuple[str, bool, bool, str]]) -> Checks:
    """Checks from (name, finished, passed, word) rows: pending while any runs, failed if any failed."""
    if not runs:
        return Checks("passed", "no checks configured")
    if not all(finished for _, finished, _, _ in runs):
        return Checks("pending", f"{sum(not f for _, f, _, _ in runs)} of {len(runs)} check(s) still running")
    failed = [f"{name} ({word})" for name, _, passed, word in runs if not passed]
    if failed:
        return Checks("failed", "failed: " + ", ".join(failed))
    return Checks("passed", f"{len(runs)} check(s) passed")
