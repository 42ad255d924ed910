"""Features of (task, context item) pairs for the learned ranker.

Every feature is computed from what a ranker may see — the task's text (and, in a live
workflow, the files it declares), the items' texts, files, recency and lengths — never
from the task's own changed files, which are the benchmark's label. Scores are also
given as within-task ranks so that one model fits short and long queries alike.

The strongest signals are about files rather than words. An item is likely relevant when
its files are (a) often touched by the other items (hub files: the next task probably
touches them too), (b) touched by the items that match the task's text best
(pseudo-relevance feedback: their files are a guess at the task's files), (c) touched by
the most recent work, or (d) named in the task's text. Files every release touches
(``is_ubiquitous``) tie nothing together and are left out of all four.
A path is also read as its words (``path_words``: ``src/_client.py`` -> src, client), to
match the task's text, and a text as the issue numbers it cites (``issues``).

**Built once per set of items.** Ranking a task against a workflow's thousand earlier
tasks is mostly work that does not depend on the task: splitting every item into words,
BM25's lengths and IDFs, TF-IDF's term frequencies, which files each item touched and how
often the others touch them, recency. ``corpus(candidates)`` does that work once and keeps
it (``CORPORA`` sets, keyed by the candidates' texts, files, ages and lengths), so a reload
of an unchanged workflow only scores the query (``matrix``): a few sparse products instead
of Python loops over the items.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from caw_lab.ranking.similarity import BM25, STOP_WORDS, WORD, Terms, TfIdf, words

NAMES = (
    "bm25",
    "bm25_rank",
    "bm25_rel",
    "tfidf",
    "tfidf_rank",
    "tfidf_rel",
    "path_match",
    "path_match_rank",
    "shared_issue",
    "query_has_issue",
    "query_words",
    "age",
    "log_age",
    "log_tokens",
    "n_files",
    "n_informative",
    "no_informative",
    "hub_prior",
    "hub_max",
    "recent_affinity",
    "feedback_affinity",
    "feedback_max",
)
FEEDBACK_K = 5
CORPORA = 16
RECENT_SCALE = 10.0
ISSUE = re.compile(r"(?:#|\bgh-|/issues/|/pull/)(\d{1,6})\b", re.IGNORECASE)
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


@dataclass(frozen=True)
class Incidence:
    """Which items hold which keys (files, path words): a 0/1 sparse matrix, keys sorted."""

    keys: dict[str, int]
    matrix: sparse.csr_matrix

    @classmethod
    def of(cls, rows: Sequence[Sequence[str]]) -> Incidence:
        keys = {k: i for i, k in enumerate(sorted(set().union(*rows)))}
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(r) for r in rows])
        indices = np.array([keys[k] for r in rows for k in sorted(r)], dtype=np.int64)
        matrix = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), len(keys)))
        return cls(keys, matrix)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.matrix.indptr)

    def through(self, keys_of: Incidence) -> Incidence:
        """Which items hold which keys of their keys (``keys_of`` has a row per key of this one)."""
        matrix = (self.matrix @ keys_of.matrix).tocsr()
        matrix.data[:] = 1.0
        matrix.sort_indices()
        return Incidence(keys_of.keys, matrix)

    def indicator(self, wanted: set[str]) -> np.ndarray:
        out = np.zeros(len(self.keys))
        out[[self.keys[k] for k in sorted(wanted) if k in self.keys]] = 1.0
        return out

    def row_reduce(self, ufunc: np.ufunc, per_key: np.ndarray, empty: float) -> np.ndarray:
        """``ufunc`` over each item's keys' values, in key order; ``empty`` for an item with none."""
        out = np.full(self.matrix.shape[0], empty)
        held = self.sizes > 0
        if held.any():
            out[held] = ufunc.reduceat(per_key[self.matrix.indices], self.matrix.indptr[:-1][held])
        return out


@dataclass(frozen=True)
class Corpus:
    """The query-free half of the features of one set of candidates."""

    terms: Terms
    files: Incidence
    paths: Incidence
    issues: list[frozenset[str]]
    ages: np.ndarray
    tokens: np.ndarray
    file_counts: np.ndarray

    @cached_property
    def bm25(self) -> BM25:
        return BM25(self.terms)

    @cached_property
    def tfidf(self) -> TfIdf:
        return TfIdf(self.terms)

    @cached_property
    def path_idf(self) -> np.ndarray:
        df = np.asarray(self.paths.matrix.sum(axis=0)).ravel()
        return np.log(1 + len(self.ages) / np.maximum(df, 1))

    def path_match(self, query_words: set[str]) -> np.ndarray:
        """IDF-weighted share of the query's words that name a part of an item's file paths."""
        return self.paths.matrix @ (self.paths.indicator(query_words) * self.path_idf)

    def affinity(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each item, the weight of the *other* items sharing a file with it: total and largest file."""
        mass = self.files.matrix.T @ weights
        total = weights.sum() or 1.0
        sizes = self.files.sizes
        summed = np.minimum((self.files.matrix @ mass - weights * sizes) / total, 1.0)
        largest = np.where(sizes > 0, (self.files.row_reduce(np.maximum, mass, 0.0) - weights) / total, 0.0)
        return summed, largest

    @cached_property
    def static(self) -> dict[str, np.ndarray]:
        """The feature columns that do not depend on the query."""
        n = len(self.ages)
        shares = (np.asarray(self.files.matrix.sum(axis=0)).ravel() - 1) / max(n - 1, 1)
        sizes = self.files.sizes
        recent, _ = self.affinity(np.exp(-(self.ages - 1) / RECENT_SCALE))
        return {
            "age": self.ages / max(self.ages.max(), 1.0),
            "log_age": np.log(self.ages),
            "log_tokens": np.log1p(self.tokens),
            "n_files": np.log1p(self.file_counts),
            "n_informative": np.log1p(sizes),
            "no_informative": (sizes == 0).astype(float),
            "hub_prior": 1 - self.files.row_reduce(np.multiply, 1 - shares, 1.0),
            "hub_max": self.files.row_reduce(np.maximum, shares, 0.0),
            "recent_affinity": recent,
        }


class Columns(NamedTuple):
    """What the query-free features read of a set of candidates, field by field: a corpus's key."""

    texts: tuple[str, ...]
    files: tuple[tuple[str, ...], ...]
    age_ranks: tuple[int, ...]
    tokens: tuple[int, ...]


def corpus(candidates: Sequence[dict[str, Any]]) -> Corpus:
    """The candidates' corpus, built once per distinct set (``CORPORA`` kept, least recently used forgotten)."""
    return build(
        Columns(
            tuple([c["text"] for c in candidates]),
            tuple([tuple(c.get("files") or ()) for c in candidates]),
            tuple([c["age_rank"] for c in candidates]),
            tuple([c["tokens"] for c in candidates]),
        )
    )


@lru_cache(maxsize=CORPORA)
def build(items: Columns) -> Corpus:
    distinct = set().union(*items.files)
    kept = set(informative(distinct))
    files = Incidence.of([sorted(kept.intersection(held)) for held in items.files])
    return Corpus(
        terms=Terms.of_parts([words(text) for text in items.texts], items.files, {f: words(f) for f in distinct}),
        files=files,
        paths=files.through(Incidence.of([path_words(f) for f in files.keys])),
        issues=[frozenset(issues(text)) for text in items.texts],
        ages=np.array(items.age_ranks, dtype=float),
        tokens=np.array(items.tokens, dtype=float),
        file_counts=np.array([len(held) for held in items.files], dtype=float),
    )


def within_rank(values: np.ndarray) -> np.ndarray:
    """1.0 for the best value of a task, falling towards 0 for the worst (ties share a rank)."""
    n = len(values)
    if n <= 1:
        return np.ones(n)
    better = n - np.searchsorted(np.sort(values), values, side="right")
    return 1 - better / (n - 1)


def relative(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def feedback_weights(scores: np.ndarray, k: int = FEEDBACK_K) -> np.ndarray:
    """Weights on the ``k`` best-matching items (by score), zero elsewhere and when nothing matches."""
    weights = np.zeros(len(scores))
    if not len(scores) or scores.max() <= 0:
        return weights
    top = (-scores).argsort(kind="stable")[:k]
    weights[top] = np.maximum(scores[top], 0) / scores.max()
    return weights


def shared_issue(query_issues: set[str], found: Sequence[frozenset[str]]) -> np.ndarray:
    if not query_issues:
        return np.zeros(len(found))
    return np.array([float(not query_issues.isdisjoint(f)) for f in found])


def matrix(query: str, candidates: Sequence[dict[str, Any]], query_files: Sequence[str] = ()) -> np.ndarray:
    """The feature matrix, one row per candidate, columns as ``NAMES``."""
    n = len(candidates)
    if n == 0:
        return np.zeros((0, len(NAMES)))
    items = corpus(candidates)
    query_terms = words(query + "\n" + " ".join(query_files))
    query_words = set(query_terms).union(*(path_words(f) for f in query_files))
    bm25 = items.bm25.scores(query_terms)
    tfidf = items.tfidf.scores(query_terms)
    paths = items.path_match(query_words)
    query_issues = issues(query)
    feedback, feedback_top = items.affinity(feedback_weights(bm25 + tfidf * (bm25.max() or 1.0)))
    declared = set(informative(query_files))
    if declared:
        direct = (items.files.matrix @ items.files.indicator(declared)) / len(declared)
        feedback, feedback_top = np.maximum(feedback, direct), np.maximum(feedback_top, direct)
    columns = {
        "bm25": bm25,
        "bm25_rank": within_rank(bm25),
        "bm25_rel": relative(bm25),
        "tfidf": tfidf,
        "tfidf_rank": within_rank(tfidf),
        "tfidf_rel": relative(tfidf),
        "path_match": paths,
        "path_match_rank": within_rank(paths),
        "shared_issue": shared_issue(query_issues, items.issues),
        "query_has_issue": np.full(n, float(bool(query_issues))),
        "query_words": np.full(n, math.log1p(len(query_words))),
        **items.static,
        "feedback_affinity": feedback,
        "feedback_max": feedback_top,
    }
    return np.column_stack([columns[name] for name in NAMES])
