"""The sandbox: every filesystem path caw-lab touches resolves inside an allowed root.

A path reaches caw-lab from an agent, a web page or a bundle as easily as from its user,
so where it points is decided after resolving it the way the operating system will
(``~`` expanded, ``..`` collapsed, every symlink followed), never by its spelling. It
must then lie inside one of:

- the user's roots: ``CAW_ALLOWED_ROOTS`` (``os.pathsep``-separated) when set, else the
  home directory and the git repository holding ``CAW_REPO_PATH`` or the working
  directory (the project whose per-repo database caw-lab opens). The filesystem root is
  never a default: a server started in ``/`` must not be allowed everything;
- the worktree roots of the workflow's registered repositories (``<repo>/.caw/worktrees``,
  ``<repo>-worktrees``) and those listed in ``CAW_WORKTREE_ROOTS``: the places where
  caw-lab makes worktrees.

A registered repository counts only while it is itself inside the user's roots: rows can
come from an import, another machine or an older version, and must not widen the
sandbox. Paths are therefore checked when used, not only when stored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from caw_lab.errors import CawError, invalid_input
from caw_lab.store.location import repo_root

ROOTS_ENV = "CAW_ALLOWED_ROOTS"
WORKTREE_ROOTS_ENV = "CAW_WORKTREE_ROOTS"
WORKTREE_DIR = os.path.join(".caw", "worktrees")
MAX_PATH_BYTES = 4096
"""Linux's PATH_MAX: no real path is longer."""


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot be used at all: paths end up in git command lines, logs and
    terminals, so control characters (NUL, newlines, escape sequences) are refused."""
    if not path.strip():
        return "is empty"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "contains control characters"
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    return None


def resolve(path: str, what: str, base: str | None = None) -> str:
    """``path`` as the operating system will find it: absolute (relative to ``base`` or the
    working directory), ``~`` expanded, ``..`` collapsed, symlinks followed."""
    problem = path_problem(path)
    if problem:
        raise invalid_input(f"{what} {path[:200]!r} {problem}", "Pass a plain filesystem path.")
    return os.path.realpath(os.path.join(base or os.getcwd(), os.path.expanduser(path)))


def user_roots() -> list[str]:
    """The roots the user allows: ``CAW_ALLOWED_ROOTS``, or the defaults when it is unset or empty."""
    listed = [p for p in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    if listed:
        return unique(os.path.realpath(os.path.expanduser(p)) for p in listed)
    project = repo_root(Path(os.environ.get("CAW_REPO_PATH") or os.getcwd()).resolve())
    defaults = [os.path.realpath(os.path.expanduser("~")), *([str(project)] if (project / ".git").exists() else [])]
    return unique(p for p in defaults if p != os.path.abspath(os.sep))


def worktree_roots(repo: str) -> list[str]:
    """Where worktrees of ``repo`` may be made. Lexical below the repository: a symlinked
    ``.caw`` leads a resolved path out of these roots instead of widening them."""
    return unique([os.path.join(repo, WORKTREE_DIR), repo + "-worktrees", *listed_worktree_roots()])


def listed_worktree_roots() -> list[str]:
    entries = os.environ.get(WORKTREE_ROOTS_ENV, "").split(os.pathsep)
    return [os.path.realpath(os.path.expanduser(p)) for p in entries if p.strip()]


def roots(repositories: Iterable[str] = ()) -> list[str]:
    """Every root a workflow spanning ``repositories`` may touch (see the module docstring)."""
    user = user_roots()
    trusted = [os.path.realpath(r) for r in repositories if within_any(os.path.realpath(r), user)]
    return unique([*user, *(root for repo in trusted for root in worktree_roots(repo)), *listed_worktree_roots()])


def within(path: str, root: str, strictly: bool = False) -> bool:
    """``path`` is ``root`` or below it (strictly: below it); both already resolved."""
    return os.path.commonpath([path, root]) == root and not (strictly and path == root)


def within_any(path: str, allowed: Sequence[str], strictly: bool = False) -> bool:
    return any(within(path, root, strictly) for root in allowed)


def require(path: str, allowed: Sequence[str], what: str, strictly: bool = False) -> str:
    """``path`` (resolved) when it lies inside one of ``allowed``; PATH_OUTSIDE_ROOTS otherwise."""
    if within_any(path, allowed, strictly):
        return path
    shown = ", ".join(allowed[:8]) + (", ..." if len(allowed) > 8 else "") or "none"
    raise CawError(
        "PATH_OUTSIDE_ROOTS",
        f"{what} {path[:300]!r} resolves outside the allowed roots ({shown})",
        recoverable=False,
        suggestion=f"Use a path inside an allowed root, or list the directory in {ROOTS_ENV} "
        f"(separated by {os.pathsep!r}) for the process running caw-lab.",
    )


def user_path(path: str, what: str) -> str:
    """A path the user's roots must hold: a repository to register, a file to export to or
    import from, a template folder. Resolved, so what was checked is what gets used."""
    return require(resolve(path, what), user_roots(), what)


def unique(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(paths))
