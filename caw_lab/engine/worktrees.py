"""Git worktrees and merge checks, through the real ``git`` command.

Every name and path is checked before git runs: branch names as git itself would
(``git check-ref-format``), worktree paths against the sandbox's worktree roots after
resolving symlinks, so neither a hostile parameter nor a symlink committed into a
repository can make us create or delete a directory elsewhere.

Worktrees may live under the repository's ``.caw/worktrees/`` (the default), under
``<repository>-worktrees/`` (where the reference puts them), or under a directory listed
in ``CAW_WORKTREE_ROOTS`` (``os.pathsep``-separated). A worktree caw-lab makes carries a
mark in its private git directory (``.git/worktrees/<name>/caw-workspace``, holding the
workspace id): only a worktree so marked is ever removed, so one a person made by hand,
even at the same path, is never taken for ours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from caw_lab.engine import sandbox
from caw_lab.errors import CawError, invalid_input

GIT_TIMEOUT_S = 120
MARK = "caw-workspace"


@dataclass(frozen=True)
class GitResult:
    code: int
    out: str
    err: str


LOCATING_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
                "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX")
"""Variables that make git act on another repository than the one ``-C`` names (a server
started from a git hook inherits them): removed, so the checked path is the one acted on."""


def git(repo: str, *args: str, env: dict[str, str] | None = None) -> GitResult:
    """Run git in ``repo``; never prompts, never reads the caller's stdin."""
    if shutil.which("git") is None:
        raise CawError("GIT_UNAVAILABLE", "git is not installed", recoverable=False,
                       suggestion="Install git (2.38 or newer) to use worktrees and merge checks.")
    inherited = {k: v for k, v in os.environ.items() if k not in LOCATING_ENV}
    env = {**inherited, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    done = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False)
    return GitResult(done.returncode, done.stdout, done.stderr.strip())


def check_branch(name: str) -> None:
    """Refuse a branch name git would reject, or one that would read as an option."""
    if name.startswith("-") or name == "HEAD" or sandbox.path_problem(name):
        raise bad_branch(name)
    if git(os.path.abspath(os.sep), "check-ref-format", f"refs/heads/{name}").code:
        raise bad_branch(name)


def bad_branch(name: str) -> CawError:
    return invalid_input(f"Invalid branch name: {name[:200]!r}",
                         "Use a name git accepts (git check-ref-format), e.g. caw/feature-x.")


def check_revision(name: str) -> None:
    if not name.strip() or name.startswith("-") or sandbox.path_problem(name) or re.search(r"\s", name):
        raise invalid_input(f"Invalid base branch: {name[:200]!r}", "Name an existing branch or commit.")


def toplevel(path: str) -> str:
    """The root of the git repository containing ``path``."""
    problem = sandbox.path_problem(path)
    if problem or not os.path.isdir(path):
        raise not_a_repository(path, problem or "is not a directory")
    found = git(path, "rev-parse", "--show-toplevel")
    if found.code:
        raise not_a_repository(path, "is not inside a git repository")
    return os.path.realpath(found.out.strip())


def not_a_repository(path: str, why: str) -> CawError:
    return CawError("NOT_A_GIT_REPOSITORY", f"{path[:200]!r} {why}", recoverable=True,
                    suggestion="Pass repo_path pointing at a git repository.")


def common_repository(worktree: str) -> str:
    """The main repository a worktree belongs to."""
    found = git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir")
    if found.code:
        raise not_a_repository(worktree, "is not a git worktree")
    return toplevel(os.path.dirname(found.out.strip()))


def current_branch(repo: str) -> str | None:
    found = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    return (found.out.strip() or None) if found.code == 0 else None


def resolve_commit(repo: str, revision: str) -> str | None:
    found = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    return found.out.strip() if found.code == 0 else None


def branch_exists(repo: str, branch: str) -> bool:
    return git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}").code == 0


def worktree_path(repo: str, branch: str, path: str | None) -> str:
    """Where to put the worktree: ``path`` (relative to the repository) or a default from the branch.

    The fully resolved target must lie strictly inside one of the repository's worktree
    roots and be absent or an empty directory; otherwise nothing is created.
    """
    if path is None:
        path = os.path.join(sandbox.WORKTREE_DIR,
                            re.sub(r"[^A-Za-z0-9._-]", "-", branch).lstrip(".-") or "worktree")
    target = sandbox.require(sandbox.resolve(path, "Worktree path", base=repo), sandbox.worktree_roots(repo),
                             "Worktree path", strictly=True)
    if os.path.lexists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise CawError("PATH_EXISTS", f"Worktree path {target!r} already exists", recoverable=True,
                       suggestion="Choose another path or branch name, or remove the old directory.")
    return target


def add(repo: str, path: str, branch: str, base: str) -> None:
    """Create branch ``branch`` at ``base`` checked out in a new worktree at ``path``."""
    root = os.path.join(repo, sandbox.WORKTREE_DIR)
    if sandbox.within(path, root):
        os.makedirs(root, exist_ok=True)
        ignore = os.path.join(root, ".gitignore")
        if not os.path.exists(ignore):
            with open(ignore, "w", encoding="utf-8") as f:
                f.write("# caw worktrees: keep them out of the repository's status\n*\n")
    attach(repo, path, base, "-b", branch)


def attach(repo: str, path: str, start: str, *options: str) -> None:
    """``git worktree add [options] -- path start``."""
    done = git(repo, "worktree", "add", *options, "--", path, start)
    if done.code:
        raise CawError("GIT_ERROR", f"git worktree add failed: {done.err}", recoverable=False,
                       suggestion="See git's message; nothing was recorded.")


def mark(path: str, workspace_id: str) -> None:
    """Record in the new worktree at ``path`` that caw-lab made it for ``workspace_id``."""
    with open(os.path.join(private_dir(path), MARK), "w", encoding="utf-8") as f:
        f.write(workspace_id + "\n")


def private_dir(path: str) -> str:
    """A worktree's own git directory (``.git/worktrees/<name>``; ``.git`` for a main checkout)."""
    found = git(path, "rev-parse", "--absolute-git-dir")
    if found.code:
        raise not_a_repository(path, "is not a git worktree")
    return found.out.strip()


def made_for(path: str) -> str | None:
    """The id of the workspace caw-lab made the worktree at ``path`` for; None when caw-lab
    did not make it (no mark, a main checkout, or ``path`` is not the worktree's top)."""
    if toplevel(path) != os.path.realpath(path):
        return None
    gitdir = private_dir(path)
    common = git(path, "rev-parse", "--path-format=absolute", "--git-common-dir").out.strip()
    if os.path.realpath(gitdir) == os.path.realpath(common):
        return None
    try:
        with open(os.path.join(gitdir, MARK), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def remove(repo: str, path: str, force: bool) -> None:
    """``git worktree remove``; ``force`` also drops uncommitted work, so only after it was kept."""
    done = git(repo, "worktree", "remove", *(["--force"] if force else []), "--", path)
    if done.code:
        raise CawError("GIT_ERROR", f"git worktree remove failed: {done.err}", recoverable=False,
                       suggestion="See git's message; the workspace was not changed.")


def delete_branch(repo: str, branch: str) -> None:
    git(repo, "branch", "-D", "--", branch)


def merge_check(repo: str, base: str, branch: str) -> dict[str, object]:
    """Would ``branch`` merge cleanly into ``base``? Uses ``git merge-tree --write-tree``,
    which touches neither the working tree nor any ref."""
    missing = [name for name in (base, branch) if resolve_commit(repo, name) is None]
    if missing:
        return {"mergeable": False, "conflicts": [], "error": f"Unknown revision: {', '.join(missing)}"}
    ahead = git(repo, "rev-list", "--count", f"{base}..{branch}")
    done = git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", base, branch)
    fields = done.out.split("\0")
    if done.code not in (0, 1) or not re.fullmatch(r"[0-9a-f]{40,64}", fields[0]):
        return {"mergeable": False, "conflicts": [], "error": done.err or "git merge-tree failed"}
    return {
        "mergeable": done.code == 0,
        "conflicts": sorted({f for f in fields[1:] if f}),
        "merged_tree": fields[0] if done.code == 0 else None,
        "commits_ahead": int(ahead.out.strip() or 0) if ahead.code == 0 else None,
    }
