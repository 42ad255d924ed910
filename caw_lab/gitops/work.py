"""``caw work``'s parts that know git and the forge: issues in, a plan out, and the words
written back on the issues as the work goes.

Everything that can refuse is done before anything is created: the repository and its
remote, the issue references, every branch name (git's rules, no leading ``-``, not an
existing branch), the base branch, and every issue read from the forge. Only then does the
command create the workflow, its plan and a worktree per issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caw_lab.engine import sandbox, worktrees
from caw_lab.errors import CawError, invalid_input
from caw_lab.gitops.forge import Forge, Issue
from caw_lab.gitops.remotes import Hosted, issue_numbers, of_remote

DESCRIPTION_CHARS = 20_000
NAME_CHARS = 80


@dataclass(frozen=True)
class Work:
    """What ``caw work`` will do, all of it checked: the repository, where its issues and pull
    requests live, its base branch, and a branch per issue."""

    repo_path: str
    hosted: Hosted
    remote: str
    base: str
    branches: dict[int, str]


def prepare(cwd: str, refs: list[str], branch: str | None, remote: str) -> Work:
    """Check everything ``caw work`` was given, without asking the forge anything yet."""
    repo_path = worktrees.toplevel(sandbox.user_path(cwd, "Repository"))
    hosted = of_remote(repo_path, remote)
    numbers = issue_numbers(refs, hosted)
    if branch is not None:
        worktrees.check_branch(branch)
    branches = {n: (f"{branch}-{n}" if branch and len(numbers) > 1 else branch) or f"caw/issue-{n}"
                for n in numbers}
    for name in branches.values():
        worktrees.check_branch(name)
        if worktrees.branch_exists(repo_path, name):
            raise CawError("BRANCH_EXISTS", f"Branch {name!r} already exists in {repo_path}", recoverable=True,
                           suggestion="Pass --branch with another name, or delete the old branch.")
    base = worktrees.current_branch(repo_path)
    if base is None:
        raise invalid_input(f"{repo_path} is not on a branch (detached HEAD)",
                            "Check out the branch the work should start from.")
    return Work(repo_path, hosted, remote, base, branches)


def read_issues(forge: Forge, work: Work) -> list[Issue]:
    """Every issue, read before anything is made; a closed one is refused (its work is done)."""
    issues = [forge.issue(work.hosted.repo, number) for number in work.branches]
    if closed := [f"#{issue.number}" for issue in issues if issue.state != "open"]:
        raise invalid_input(f"Issue(s) {', '.join(closed)} of {work.hosted.repo} are closed",
                            "Reopen them, or leave them out.")
    return issues


def workflow_name(issues: list[Issue]) -> str:
    if len(issues) == 1:
        return f"Work on #{issues[0].number}: {issues[0].title}"[:NAME_CHARS]
    return f"Work on {', '.join(f'#{i.number}' for i in issues)}"[:NAME_CHARS]


def source(issues: list[Issue]) -> str:
    """The issues as the planner and every agent read them (the workflow's source content)."""
    return "\n\n".join(f"### Issue #{i.number}: {i.title}{labels(i)}\n{i.body or 'No description.'}"
                       for i in issues)[:DESCRIPTION_CHARS]


def labels(issue: Issue) -> str:
    return f" [{', '.join(issue.labels)}]" if issue.labels else ""


def plan(issues: list[Issue], work: Work) -> dict[str, Any]:
    """One task per issue, in its own branch and worktree, the issues' tasks free to run side
    by side: the reference's planner's usual scoping (one pull request per issue), made
    without a model. Agents split a task further with the replanning tools."""
    tasks = [{"name": f"#{i.number}: {i.title}"[:NAME_CHARS],
              "description": f"Resolve issue #{i.number} of {work.hosted.repo} ({i.url}) in branch "
                             f"{work.branches[i.number]}; commit your changes there.\n\n{i.body}"[:DESCRIPTION_CHARS],
              "parallel_group": "issues"} for i in issues]
    return {"summary": f"Resolve {', '.join(f'#{i.number}' for i in issues)} of {work.hosted.repo}",
            "tasks": tasks}


def started(workflow_id: str, branch: str) -> str:
    return f"caw-lab is working on this issue: workflow `{workflow_id}`, branch `{branch}`."


def opened(pull_word: str, url: str) -> str:
    return f"caw-lab finished the work and opened a {pull_word}: {url}"


def stopped(status: str, message: str, why: str | None = None) -> str:
    return f"caw-lab stopped without a pull request ({status}: {message}){f': {why}' if why else ''}."


def merged(url: str, commit: str) -> str:
    return f"Merged in {url} (commit {commit[:12]}); caw-lab closes this issue."
