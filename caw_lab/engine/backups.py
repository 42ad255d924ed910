"""Keeping work before caw-lab discards it.

Rolling a workspace back (``git reset --hard``, ``git clean -fd``) or removing a worktree
destroys uncommitted changes and untracked files. caw-lab never does that silently: a tree
holding such work is refused (WORKTREE_DIRTY) unless the caller passes ``force``, and even
then the work is first saved as a commit under ``refs/caw-backup/<workspace id>/<ms>``,
whose name the result reports.

The commit is built through a private copy of the index (``GIT_INDEX_FILE``), so saving
touches neither the working tree, nor the real index, nor the stash list; refs live in the
repository's common directory, so a backup outlives the worktree it came from. Its tree is
the working tree as ``git status`` sees it (untracked files included, ignored ones not, as
``git clean -fd`` spares them), its parent the commit that was checked out. Bring the work
back with ``git restore --source=<ref> --worktree -- :/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from caw_lab.engine.worktrees import GitResult, git, resolve_commit
from caw_lab.errors import CawError
from caw_lab.ids import now_ms

REF_PREFIX = "refs/caw-backup"
IDENTITY = {
    "GIT_AUTHOR_NAME": "caw-lab",
    "GIT_AUTHOR_EMAIL": "caw-lab@localhost",
    "GIT_COMMITTER_NAME": "caw-lab",
    "GIT_COMMITTER_EMAIL": "caw-lab@localhost",
}
SHOWN_CHANGES = 5


@dataclass(frozen=True)
class Kept:
    """What a discard in ``path`` can be undone from: the commit checked out before it, and
    the backup ref of the uncommitted work (None when there was none)."""

    path: str
    head: str | None
    ref: str | None


def keep(path: str, owner: str, why: str, force: bool) -> Kept:
    """Before discarding the work in ``path``: refuse if there is any and ``force`` is not
    given, else save it under a backup ref named for ``owner``."""
    changes = pending(path)
    if changes and not force:
        raise dirty(path, changes)
    head = resolve_commit(path, "HEAD")
    return Kept(path, head, save(path, f"{REF_PREFIX}/{owner}/{now_ms()}", why, head) if changes else None)


def pending(path: str) -> list[str]:
    """Uncommitted changes and untracked files, one ``git status --porcelain`` line each."""
    return checked(git(path, "status", "--porcelain"), "status", path).splitlines()


def dirty(path: str, changes: list[str]) -> CawError:
    shown = ", ".join(line[3:] for line in changes[:SHOWN_CHANGES]) + (", ..." if len(changes) > SHOWN_CHANGES else "")
    return CawError(
        "WORKTREE_DIRTY",
        f"{path} has uncommitted or untracked work ({len(changes)}: {shown})",
        recoverable=True,
        suggestion="Commit it first, or pass force=true: caw-lab then saves it under "
        f"{REF_PREFIX}/... before discarding it, and names the ref in the result.",
    )


def save(path: str, ref: str, why: str, head: str | None) -> str:
    message = f"caw-lab: work kept before {why}"
    with tempfile.TemporaryDirectory(prefix="caw-backup-") as folder:
        index = os.path.join(folder, "index")
        real = checked(git(path, "rev-parse", "--path-format=absolute", "--git-path", "index"), "rev-parse", path)
        if os.path.exists(real.strip()):
            shutil.copyfile(real.strip(), index)
        env = {"GIT_INDEX_FILE": index, **IDENTITY}
        checked(git(path, "add", "--all", "--", ":/", env=env), "add", path)
        tree = checked(git(path, "write-tree", env=env), "write-tree", path).strip()
        parents = ["-p", head] if head else []
        commit = checked(git(path, "commit-tree", tree, *parents, "-m", message, env=env), "commit-tree", path)
    checked(git(path, "update-ref", "-m", message, ref, commit.strip(), ""), "update-ref", path)
    return ref


def drop(kept: Kept) -> None:
    """Forget a backup whose discard did not happen: the work is still in the tree."""
    if kept.ref:
        git(kept.path, "update-ref", "-d", kept.ref)


def undo(kept: Kept) -> None:
    """Put ``kept.path`` back as it was before a discard whose change was then refused: its
    commit, then its saved work (as unstaged changes: what was staged is not told apart),
    after which the backup is no longer needed."""
    try:
        if kept.head:
            checked(git(kept.path, "reset", "--hard", "--quiet", kept.head), "reset", kept.path)
        if kept.ref:
            checked(git(kept.path, "restore", f"--source={kept.ref}", "--worktree", "--", ":/"), "restore", kept.path)
    except CawError as error:
        raise still_kept(kept, error) from None
    drop(kept)


def still_kept(kept: Kept, error: CawError) -> CawError:
    """``error``, telling where the work it may have cost is kept."""
    if not kept.ref:
        return error
    return CawError(
        error.code,
        f"{error.message} (the work is kept under {kept.ref})",
        error.recoverable,
        f"{error.suggestion} Bring the work back with git restore --source={kept.ref} --worktree -- :/",
        {**error.details, "backup_ref": kept.ref},
    )


def checked(done: GitResult, step: str, path: str) -> str:
    if done.code:
        raise git_failed(step, path, done.err)
    return done.out


def git_failed(step: str, path: str, err: str) -> CawError:
    return CawError(
        "GIT_FAILED",
        f"git {step} failed in {path}: {err}",
        recoverable=True,
        suggestion="Fix what git reports (e.g. remove a stale .git/index.lock) and call again; nothing was changed.",
    )
