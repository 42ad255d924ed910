"""A small client of GitHub's REST API (v2022-11-28): read an issue, open a pull request.

The API root is ``$CAW_GITHUB_API_URL`` (default ``https://api.github.com``; GitHub
Enterprise serves it at ``https://HOST/api/v3``), the token ``$CAW_GITHUB_TOKEN`` or
``$GITHUB_TOKEN``. Every failure is a CawError an agent can act on: a bad repository name is
refused before any request, and GitHub's answers map to GITHUB_UNAUTHORIZED (401/403),
GITHUB_NOT_FOUND (404), GITHUB_REFUSED (422, with GitHub's reasons) and GITHUB_UNAVAILABLE.
"""

from __future__ import annotations

import os
import re
from typing import Any

import httpx

from caw_lab.errors import CawError, invalid_input

API_ENV = "CAW_GITHUB_API_URL"
TOKEN_ENVS = ("CAW_GITHUB_TOKEN", "GITHUB_TOKEN")
DEFAULT_API = "https://api.github.com"
TIMEOUT_S = 30

REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")
"""``owner/name`` as GitHub allows them: nothing that could leave the ``/repos/`` path."""


def check_repo(repo: str) -> str:
    if not REPO.fullmatch(repo):
        raise invalid_input(f"{repo!r} is not a GitHub repository (owner/name)",
                            "Name the repository as owner/name, e.g. octocat/hello-world.")
    return repo


class GitHub:
    def __init__(self, api: str | None = None, token: str | None = None) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "caw-lab"}
        token = token or next((os.environ[name] for name in TOKEN_ENVS if os.environ.get(name)), None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=api or os.environ.get(API_ENV) or DEFAULT_API, headers=headers,
                                 timeout=TIMEOUT_S)

    def issue(self, repo: str, number: int) -> dict[str, Any]:
        found = self.request("GET", f"/repos/{check_repo(repo)}/issues/{number}")
        if "pull_request" in found:
            raise invalid_input(f"{repo}#{number} is a pull request, not an issue", "Pass an issue's number.")
        return found

    def open_pull(self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool) -> dict[str, Any]:
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        return self.request("POST", f"/repos/{check_repo(repo)}/pulls", payload)

    def request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, json=payload)
        except httpx.HTTPError as exc:
            raise CawError("GITHUB_UNAVAILABLE", f"GitHub could not be reached: {exc}", recoverable=True,
                           suggestion=f"Check the network, or {API_ENV} for GitHub Enterprise.") from None
        if response.is_success:
            return response.json()
        raise refusal(response)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def refusal(response: httpx.Response) -> CawError:
    """GitHub's error answer as the CawError an agent can act on; its own words are kept."""
    try:
        said = response.json()
    except ValueError:
        said = {}
    reasons = [e.get("message") or e.get("code", "") for e in said.get("errors", []) if isinstance(e, dict)]
    message = "; ".join(filter(None, [said.get("message", response.reason_phrase), *reasons]))
    if response.status_code in (401, 403):
        return CawError("GITHUB_UNAUTHORIZED", f"GitHub refused the credentials: {message}", recoverable=True,
                        suggestion=f"Set {TOKEN_ENVS[0]} or {TOKEN_ENVS[1]} to a token with repo access.")
    if response.status_code == 404:
        return CawError("GITHUB_NOT_FOUND", f"GitHub has no such resource: {message}", recoverable=False,
                        suggestion="Check the repository and number (a private repository needs a token).")
    if response.status_code == 422:
        return CawError("GITHUB_REFUSED", f"GitHub refused the request: {message}", recoverable=True,
                        suggestion="Read GitHub's reason; a pull request may already exist for the branch.")
    return CawError("GITHUB_UNAVAILABLE", f"GitHub answered {response.status_code}: {message}", recoverable=True,
                    suggestion="Try again later.")
