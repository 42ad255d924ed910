"""After the pull requests open: waiting for their checks, rebasing a branch that conflicts
with its base, pushing what an agent fixed, and closing the issue once its work is merged
(``caw pr``).

A rebase happens in the workspace's own worktree, onto the base branch as the remote has it
now, and is pushed with ``--force-with-lease`` naming the commit it replaced, so work pushed
by anyone else meanwhile is never overwritten. A rebase that conflicts is aborted: the branch,
the worktree and the remote are exactly as before, and REBASE_CONFLICT names the files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caw_lab.engine import sandbox
from caw_lab.engine.worktrees import check_branch, git
from caw_lab.errors import CawError
from caw_lab.gitops.forge import Checks, Forge, Pull
from caw_lab.gitops.remotes import checked_remote
from caw_lab.gitops.work import merged


@dataclass(frozen=True)
class Rebased:
    branch: str
    before: str
    after: str

    @property
    def moved(self) -> bool:
        return self.before != self.after


def rebase_worktree(path: str, remote: str, branch: str, base: str) -> Rebased:
    """Rebase ``branch`` (checked out at ``path``) onto ``remote``'s ``base`` and push it."""
    path = sandbox.user_path(path, "Worktree")
    remote = checked_remote(remote)
    check_branch(branch)
    check_branch(base)
    if git(path, "status", "--porcelain").out.strip():
        raise CawError("WORKTREE_DIRTY", f"{path} has uncommitted changes", recoverable=True,
                       suggestion="Commit or stash them in the worktree, then rebase again.")
    if (on := git(path, "symbolic-ref", "--quiet", "--short", "HEAD").out.strip()) != branch:
        raise CawError("INVALID_STATE", f"{path} has {on or 'a detached HEAD'} checked out, not {branch}",
                       recoverable=False, suggestion="Check out the workspace's branch in its worktree.")
    tracking = f"refs/remotes/{remote}/{base}"
    fetched = git(path, "fetch", "--quiet", remote, f"+refs/heads/{base}:{tracking}")
    if fetched.code:
        raise CawError("GIT_FETCH_FAILED", f"git fetch {remote} {base} failed: {fetched.err}", recoverable=True,
                       suggestion="Check the remote and your credentials for it.")
    before = git(path, "rev-parse", "HEAD").out.strip()
    if git(path, "rebase", "--quiet", tracking).code:
        files = git(path, "diff", "--name-only", "--diff-filter=U").out.split()
        git(path, "rebase", "--abort")
        raise CawError("REBASE_CONFLICT", f"{branch} conflicts with {remote}/{base} in: {', '.join(files) or '?'}",
                       recoverable=True, suggestion="Resolve the conflict in the worktree by hand (or with an "
                                                    "agent), then push; the branch is as it was.")
    after = git(path, "rev-parse", "HEAD").out.strip()
    if after != before:
        pushed = git(path, "push", "--porcelain", f"--force-with-lease=refs/heads/{branch}:{before}", remote,
                     f"refs/heads/{branch}:refs/heads/{branch}")
        if pushed.code:
            git(path, "reset", "--hard", "--quiet", before)
            raise CawError("GIT_PUSH_FAILED", f"git push {remote} {branch} failed: {pushed.err}", recoverable=True,
                           suggestion="Someone pushed to the branch meanwhile; fetch it and look before rebasing.")
    return Rebased(branch, before, after)


def head_of(path: str) -> str:
    """The commit checked out in the worktree at ``path``."""
    return git(sandbox.user_path(path, "Worktree"), "rev-parse", "HEAD").out.strip()


def holds(path: str, ref: str) -> bool:
    """Whether the commit checked out at ``path`` has ``ref``'s commit in its history."""
    return git(sandbox.user_path(path, "Worktree"), "merge-base", "--is-ancestor", ref, "HEAD").code == 0


def push_work(path: str, remote: str, branch: str, before: str) -> Rebased:
    """Push the commits an agent added on ``branch`` (checked out at ``path``) since ``before``.
    ``--force-with-lease`` names ``before``, so work pushed by anyone else meanwhile is never
    overwritten; an agent that rewrote history is pushed only if the remote still has ``before``."""
    path = sandbox.user_path(path, "Worktree")
    remote = checked_remote(remote)
    check_branch(branch)
    if (on := git(path, "symbolic-ref", "--quiet", "--short", "HEAD").out.strip()) != branch:
        raise CawError("INVALID_STATE", f"{path} has {on or 'a detached HEAD'} checked out, not {branch}",
                       recoverable=False, suggestion="Check out the pull request's branch in its worktree.")
    after = git(path, "rev-parse", "HEAD").out.strip()
    if after != before:
        pushed = git(path, "push", "--porcelain", f"--force-with-lease=refs/heads/{branch}:{before}", remote,
                     f"refs/heads/{branch}:refs/heads/{branch}")
        if pushed.code:
            raise CawError("GIT_PUSH_FAILED", f"git push {remote} {branch} failed: {pushed.err}", recoverable=True,
                           suggestion="Someone pushed to the branch meanwhile; fetch it and look before pushing.")
    return Rebased(branch, before, after)


def wait_for_checks(forge: Forge, repo: str, pull: Pull, timeout_s: float, poll_s: float,
                    sleep: Callable[[float], None] = time.sleep) -> Checks:
    """The pull request's checks once none is running, or ``failed`` with "timeout"."""
    deadline = time.monotonic() + timeout_s
    while True:
        checks = forge.checks(repo, pull)
        if checks.state != "pending":
            return checks
        if time.monotonic() + poll_s > deadline:
            return Checks("failed", f"timeout after {timeout_s:g} s ({checks.summary})")
        sleep(poll_s)


def close_issue(forge: Forge, issue: dict[str, Any], url: str, commit: str) -> None:
    """Say where the issue's work was merged, then close it."""
    forge.comment(issue["repo"], int(issue["number"]), merged(url, commit))
    forge.close_issue(issue["repo"], int(issue["number"]))
