"""What the features know about a set of candidates before they see a query, built once per set.

Ranking a task against a workflow's thousand earlier tasks is mostly work that does not
depend on the task: splitting every item into words, BM25's lengths and IDFs, TF-IDF's
term frequencies, which files each item touched and how often the others touch them,
recency. ``of(candidates)`` does that work once and keeps it (``CACHE_SIZE`` sets, keyed
by the candidates' texts, files, ages and lengths), so a reload of an unchanged workflow
only scores the query: a few sparse products instead of Python loops over the items.
The file signals are documented in ``features``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from scipy import sparse

from caw_lab.context.bm25 import BM25
from caw_lab.context.terms import Terms
from caw_lab.context.text import informative, issues, path_words, words
from caw_lab.context.tfidf import TfIdf

CACHE_SIZE = 16
RECENT_SCALE = 10.0

Key = tuple[tuple[str, tuple[str, ...], int, int], ...]


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
            "age": self.ages / max(self.ages.max(), 1.0), "log_age": np.log(self.ages),
            "log_tokens": np.log1p(self.tokens), "n_files": np.log1p(self.file_counts),
            "n_informative": np.log1p(sizes), "no_informative": (sizes == 0).astype(float),
            "hub_prior": 1 - self.files.row_reduce(np.multiply, 1 - shares, 1.0),
            "hub_max": self.files.row_reduce(np.maximum, shares, 0.0),
            "recent_affinity": recent,
        }


def key(candidates: Sequence[dict[str, Any]]) -> Key:
    return tuple((c["text"], tuple(c.get("files") or ()), c["age_rank"], c["tokens"]) for c in candidates)


def of(candidates: Sequence[dict[str, Any]]) -> Corpus:
    return build(key(candidates))


@lru_cache(maxsize=CACHE_SIZE)
def build(items: Key) -> Corpus:
    distinct = set().union(*(files for _, files, _, _ in items))
    kept = set(informative(distinct))
    files = Incidence.of([sorted(kept.intersection(files)) for _, files, _, _ in items])
    return Corpus(
        terms=Terms.of_parts([words(text) for text, _, _, _ in items], [files for _, files, _, _ in items],
                             {f: words(f) for f in distinct}),
        files=files,
        paths=files.through(Incidence.of([path_words(f) for f in files.keys])),
        issues=[frozenset(issues(text)) for text, _, _, _ in items],
        ages=np.array([age for _, _, age, _ in items], dtype=float),
        tokens=np.array([tokens for _, _, _, tokens in items], dtype=float),
        file_counts=np.array([len(files) for _, files, _, _ in items], dtype=float),
    )


def clear() -> None:
    build.cache_clear()
