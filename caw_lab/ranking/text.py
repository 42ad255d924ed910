"""How the rankers read text: lowercase word runs, file-path parts, issue references.

One tokenizer for BM25, TF-IDF and the learned ranker's features, so that a word means
the same thing to all of them (the relevance benchmark's baselines use the same rule:
lowercase ``[a-z0-9]+`` runs minus common English stop words).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

WORD = re.compile(r"[a-z0-9]+")
ISSUE = re.compile(r"(?:#|\bgh-|/issues/|/pull/)(\d{1,6})\b", re.IGNORECASE)
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have in into is it its of on or that the their then "
    "there these they this to was were will with".split()
)

UBIQUITOUS = (
    "changelog*",
    "changes*",
    "change_log*",
    "history*",
    "news*",
    "release-notes*",
    "release_notes*",
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "requirements*.txt",
    "*requirements.txt",
    "constraints*.txt",
    "version.py",
    "_version.py",
    "__version__.py",
    "__about__.py",
    "version",
    "version.txt",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "package.json",
    "readme*",
    "mkdocs.yml",
)
"""Basename globs of files that nearly every release touches (changelogs, lockfiles, version
and manifest files, front pages): sharing one says nothing about two tasks' subject."""


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


def issues(text: str) -> set[str]:
    """Issue and pull-request numbers a text refers to (``#123``, ``gh-123``, ``.../issues/123``)."""
    lower = text.lower()
    if "#" not in lower and "gh-" not in lower and "/issues/" not in lower and "/pull/" not in lower:
        return set()  # most texts name none: skip the slower pattern
    return set(ISSUE.findall(text))


UBIQUITOUS_NAME = re.compile("|".join(fnmatch.translate(g) for g in UBIQUITOUS))
DOCS_INDEX = re.compile(fnmatch.translate("docs/index.*"))


def is_ubiquitous(path: str) -> bool:
    lower = path.lower()
    return bool(DOCS_INDEX.match(lower) or UBIQUITOUS_NAME.match(lower.rsplit("/", 1)[-1]))


def informative(files: Iterable[str]) -> list[str]:
    """The files that can tie two tasks together: all but the ubiquitous ones."""
    return [f for f in files if not is_ubiquitous(f)]


def path_words(path: str) -> set[str]:
    """The words of a path: directories, the file's stem and its parts (``_client.py`` -> client)."""
    parts = path.lower().split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    found = set(parts[:-1]) | {stem} | set(WORD.findall(stem))
    for part in parts[:-1]:
        found |= set(WORD.findall(part))
    return {w for w in found if w and w not in STOP_WORDS and len(w) > 1}
