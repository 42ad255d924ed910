"""Which forge and repository a piece of text names: a git remote's URL, an issue reference
as people type it (``#12``, ``12``, ``10-14``, ``12,13``, an issue's URL), a pull request's URL.

Everything here is checked before any request or any git command: a reference that is not a
number or a URL of this repository's issues is INVALID_INPUT, so ``caw work`` refuses bad
input before it asks the forge anything or creates anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from caw_lab.engine.worktrees import git
from caw_lab.errors import CawError, invalid_input
from caw_lab.gitops.forge import Forge, env_setting
from caw_lab.gitops.github import API_ENVS, GitHub, check_repo
from caw_lab.gitops.gitlab import GitLab, base_url, check_project

MAX_ISSUES = 100
"""Most issues one ``caw work`` takes (as the reference caps a range)."""

REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SCP_LIKE = re.compile(r"(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^\s]+)")
ISSUE_NUMBER = re.compile(r"#?(?P<number>[1-9][0-9]{0,8})")
ISSUE_RANGE = re.compile(r"#?(?P<start>[1-9][0-9]{0,8})-(?P<end>[1-9][0-9]{0,8})")
ISSUE_PATH = re.compile(r"/(?P<repo>.+?)(?:/-)?/issues/(?P<number>[1-9][0-9]{0,8})/?")
PULL_PATH = re.compile(r"/(?P<repo>.+?)(?:/pull|/-/merge_requests)/(?P<number>[1-9][0-9]{0,8})/?")


@dataclass(frozen=True)
class Hosted:
    """A repository on a forge: ``kind`` (github or gitlab) and its path there."""

    kind: str
    repo: str

    def client(self) -> Forge:
        return client(self.kind)

    @property
    def pull_word(self) -> str:
        return "merge request" if self.kind == "gitlab" else "pull request"


def client(kind: str) -> Forge:
    return GitLab() if kind == "gitlab" else GitHub()


def github_hosts() -> set[str]:
    """github.com, and the host of a GitHub Enterprise API (``https://HOST/api/v3``) when one is set."""
    api = urlsplit(env_setting(API_ENVS) or "")
    return {"github.com"} | ({api.hostname.lower()} if api.hostname and api.path.rstrip("/") == "/api/v3" else set())


def gitlab_host() -> str:
    return (urlsplit(base_url()).hostname or "").lower()


def hosted(url: str) -> Hosted | None:
    """The forge repository a remote's URL points at (``https://``, ``ssh://`` or scp-like
    ``git@host:path``): on github.com (or the configured GitHub Enterprise), or on the
    configured GitLab's host; None otherwise."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    elif match := SCP_LIKE.fullmatch(url):
        host, path = match["host"].lower(), match["path"]
    else:
        return None
    path = path.strip("/").removesuffix(".git")
    if host in github_hosts() and check_quietly(check_repo, path):
        return Hosted("github", path)
    if host == gitlab_host() and check_quietly(check_project, path):
        return Hosted("gitlab", path)
    return None


def check_quietly(check: Callable[[str], str], path: str) -> bool:
    try:
        check(path)
    except CawError:
        return False
    return True


def of_remote(path: str, remote: str) -> Hosted:
    """The forge repository behind a git remote of the repository at ``path``: its URL as
    configured, before ``insteadOf`` rewriting (which may send the bytes to a mirror)."""
    url = git(path, "config", "--get", f"remote.{checked_remote(remote)}.url")
    found = hosted(url.out) if url.code == 0 else None
    if found is None:
        why = (f"its URL {url.out.strip()!r} is on neither github.com nor the GitLab at {base_url()}" if url.code == 0
               else "there is no such remote")
        raise invalid_input(f"No GitHub or GitLab repository for remote {remote!r}: {why}",
                            "Use a remote on github.com, set CAW_GITLAB_URL to your GitLab, or name the repository.")
    return found


def checked_remote(remote: str) -> str:
    if not REMOTE_NAME.fullmatch(remote):
        raise invalid_input(f"{remote!r} is not a git remote name", "Name a remote such as origin.")
    return remote


def issue_numbers(refs: list[str], repo: Hosted) -> list[int]:
    """Issue numbers from references as the reference's ``caw work`` takes them: ``#12``,
    ``12``, ranges ``10-14``, comma lists, or the issue's URL (of ``repo``: the pull requests
    go there). Duplicates are dropped, order kept."""
    tokens = [token for ref in refs for token in re.split(r"[\s,]+", ref) if token]
    if not tokens:
        raise invalid_input("No issue given", "Name issues as #12, 12, 10-14 or an issue's URL.")
    numbers: list[int] = []
    for token in tokens:
        numbers += numbers_of(token, repo)
        if len(numbers) > MAX_ISSUES:
            raise invalid_input(f"More than {MAX_ISSUES} issues", "Work on fewer issues at once.")
    return list(dict.fromkeys(numbers))


def numbers_of(token: str, repo: Hosted) -> list[int]:
    if match := ISSUE_NUMBER.fullmatch(token):
        return [int(match["number"])]
    if match := ISSUE_RANGE.fullmatch(token):
        start, end = int(match["start"]), int(match["end"])
        if start > end or end - start >= MAX_ISSUES:
            raise invalid_input(f"Invalid issue range {token!r}", f"Give start <= end, at most {MAX_ISSUES} issues.")
        return list(range(start, end + 1))
    parts = urlsplit(token)
    match = ISSUE_PATH.fullmatch(parts.path) if parts.scheme in ("http", "https") and parts.hostname else None
    if match is None:
        raise invalid_input(f"{token[:200]!r} is not an issue reference",
                            "Name issues as #12, 12, 10-14 or an issue's URL.")
    if match["repo"].lower() != repo.repo.lower():
        raise invalid_input(f"{token[:200]!r} is an issue of {match['repo']}, not of {repo.repo}",
                            "Run caw work in a clone of the issue's repository.")
    return [int(match["number"])]


def pull_ref(url: str, kind: str | None = None) -> tuple[Hosted, int]:
    """The repository and number of a pull (merge) request from its web URL."""
    parts = urlsplit(url)
    match = PULL_PATH.fullmatch(parts.path) if parts.scheme in ("http", "https") else None
    if match is None:
        raise invalid_input(f"{url[:200]!r} is not a pull or merge request URL",
                            "Give the URL of the pull request, e.g. https://github.com/o/r/pull/12.")
    kind = kind or ("gitlab" if "/-/merge_requests/" in parts.path else "github")
    repo = check_project(match["repo"]) if kind == "gitlab" else check_repo(match["repo"])
    return Hosted(kind, repo), int(match["number"])


class Clients:
    """One client per forge for as long as a command runs, opened when first needed; clients
    handed in (a test's, the executor's) are used but not closed here."""

    def __init__(self, **given: Forge) -> None:
        self.given = {kind: forge for kind, forge in given.items() if forge is not None}
        self.opened: dict[str, Forge] = {}

    def __call__(self, kind: str) -> Forge:
        if kind in self.given:
            return self.given[kind]
        if kind not in self.opened:
            self.opened[kind] = client(kind)
        return self.opened[kind]

    def close(self) -> None:
        for forge in self.opened.values():
            forge.close()
        self.opened.clear()

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
