"""Merging a task's branch into an integration branch, and finding conflicts, without a checkout.

Everything here works on objects and refs alone: ``git merge-tree --write-tree`` computes
the merged tree, ``git commit-tree`` makes the commit, and ``git update-ref <ref> <new>
<old>`` moves the integration branch only if it still points where the merge started.
No working tree or index is touched, so a merge that fails (a conflict, a race with
another merge) leaves the integration branch, and every worktree, exactly as before.

The three merge styles:

- ``merge``: a merge commit whose parents are the integration branch and the task's tip,
  so every commit the agent made stays reachable from the integration branch;
- ``squash``: one commit holding the task's change;
- ``rebase``: the task's commits replayed one by one on top of the integration branch
  (each keeps its author, date and message), so the history stays linear.

With ``squash`` and ``rebase`` the agent's own commits are not in the integration branch's
history; the caller keeps them under a backup ref before deleting the task branch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from caw_lab.engine.backups import IDENTITY
from caw_lab.engine.worktrees import git, resolve_commit
from caw_lab.errors import CawError

MERGE_STYLES = ("merge", "squash", "rebase")
HUNK_CHARS = 2_000
"""The most of one file's conflicting hunks kept for a task's context."""
OID = re.compile(r"[0-9a-f]{40,64}")


@dataclass(frozen=True)
class Conflict:
    """Where merging ``branch`` onto ``onto`` would stop: the files, with their conflicting hunks."""

    onto: str
    branch: str
    files: list[str]
    hunks: dict[str, str] = field(default_factory=dict)


def merged_tree(repo: str, ours: str, theirs: str) -> tuple[str, list[str]]:
    """The tree of merging ``theirs`` into ``ours`` and the conflicting files (empty when clean)."""
    done = git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs)
    fields = done.out.split("\0")
    if done.code not in (0, 1) or not OID.fullmatch(fields[0]):
        raise git_error("merge-tree", done.err or "git merge-tree failed")
    return fields[0], sorted({f for f in fields[1:] if f}) if done.code else []


def conflict(repo: str, onto: str, branch: str) -> Conflict | None:
    """Would ``branch`` conflict with ``onto``? None when they merge cleanly."""
    tree, files = merged_tree(repo, onto, branch)
    if not files:
        return None
    return Conflict(onto, branch, files, {name: hunks(repo, tree, name) for name in files})


def hunks(repo: str, tree: str, name: str) -> str:
    """The conflict-marked regions of ``name`` in a merge's tree, as a person resolving it sees them."""
    text = git(repo, "cat-file", "-p", f"{tree}:{name}").out
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("<<<<<<<"):
            inside = True
        if inside:
            kept.append(line)
        if line.startswith(">>>>>>>"):
            inside = False
    return "\n".join(kept)[:HUNK_CHARS]


def merge(repo: str, integration: str, branch: str, style: str, message: str) -> tuple[str, str]:
    """Merge ``branch`` into ``integration`` in ``style``; returns (old, new) tips of the integration
    branch. Raises MERGE_CONFLICT (nothing changed) when it does not merge cleanly."""
    ref = f"refs/heads/{integration}"
    old, tip = resolve_commit(repo, ref), resolve_commit(repo, f"refs/heads/{branch}")
    if old is None or tip is None:
        raise git_error("merge", f"branch {integration if old is None else branch} is missing")
    if is_ancestor(repo, tip, old):
        return old, old
    if style == "rebase":
        new = replay(repo, old, tip)
    else:
        tree, files = merged_tree(repo, old, tip)
        if files:
            raise conflicted(branch, integration, files)
        parents = ["-p", old, *(["-p", tip] if style == "merge" else [])]
        new = commit_tree(repo, tree, parents, message)
    moved = git(repo, "update-ref", "-m", message, ref, new, old)
    if moved.code:
        raise git_error("update-ref", f"{integration} moved while merging; nothing was changed ({moved.err})")
    return old, new


def replay(repo: str, onto: str, tip: str) -> str:
    """``tip``'s commits not in ``onto``, replayed on it one by one; the new tip."""
    commits = git(repo, "rev-list", "--reverse", "--topo-order", "--no-merges", f"{onto}..{tip}").out.split()
    current = onto
    for commit in commits:
        tree, files = merged_tree(repo, *with_base(repo, current, commit))
        if files:
            raise conflicted(commit[:12], onto[:12], files)
        current = commit_tree(repo, tree, ["-p", current], None, source=commit)
    return current


def with_base(repo: str, ours: str, commit: str) -> tuple[str, str]:
    """Stand-ins for ``ours`` and ``commit`` whose only common ancestor has the tree of ``commit``'s
    parent, so that merging them applies just ``commit``'s own change (a cherry-pick). ``git
    merge-tree --merge-base`` says this directly but needs git 2.40; these dangling commits, made
    with caw-lab's identity, work from 2.38 on and are left to ``git gc``."""
    base = commit_tree(repo, f"{commit}~1^{{tree}}", [], "cherry-pick base")
    return (commit_tree(repo, f"{ours}^{{tree}}", ["-p", base], "cherry-pick onto"),
            commit_tree(repo, f"{commit}^{{tree}}", ["-p", base], "cherry-pick of"))


def rebase_branch(repo: str, branch: str, onto: str) -> str | None:
    """Move ``branch`` (checked out nowhere) onto ``onto``; its new tip, or None when it conflicts.
    The old tip stays reachable only if the caller kept it."""
    ref = f"refs/heads/{branch}"
    old = resolve_commit(repo, ref)
    target = resolve_commit(repo, f"refs/heads/{onto}")
    if old is None or target is None:
        return None
    try:
        new = replay(repo, target, old)
    except CawError:
        return None
    return new if git(repo, "update-ref", ref, new, old).code == 0 else None


def commit_tree(repo: str, tree: str, parents: list[str], message: str | None, source: str | None = None) -> str:
    """A commit of ``tree``: caw-lab's own (``message``), or a replay of ``source`` keeping its authorship."""
    env = dict(IDENTITY)
    if source is not None:
        name, email, date, body = git(repo, "log", "-1", "--format=%an%x00%ae%x00%ad%x00%B", source).out.split("\0", 3)
        env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date)
        message = body.rstrip("\n") or "(no message)"
    done = git(repo, "commit-tree", tree, *parents, "-m", message or "caw-lab merge", env=env)
    if done.code:
        raise git_error("commit-tree", done.err)
    return done.out.strip()


def resolve_tip(repo: str, branch: str) -> str | None:
    return resolve_commit(repo, f"refs/heads/{branch}")


def is_ancestor(repo: str, commit: str, of: str) -> bool:
    return git(repo, "merge-base", "--is-ancestor", commit, of).code == 0


def conflicted(branch: str, onto: str, files: list[str]) -> CawError:
    return CawError("MERGE_CONFLICT", f"{branch} does not merge cleanly into {onto}: {', '.join(files[:10])}",
                    recoverable=True, suggestion="Resolve the conflicting files in the task's worktree and commit; "
                    "nothing was merged.", details={"files": files})


def git_error(step: str, err: str) -> CawError:
    return CawError("GIT_ERROR", f"git {step} failed: {err}", recoverable=False,
                    suggestion="See git's message; the integration branch was not changed.")
