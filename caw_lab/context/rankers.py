"""Rankers: order context items by how useful they are to the task at hand.

A ranker scores candidates (dicts with ``id``, ``text``, ``files``, ``age_rank`` — 1 is
the newest — and ``tokens``) for a query text; ``rank`` sorts by score, ties broken by
recency, which is the relevance benchmark's interface. ``query_files`` are files the
current task is known to touch (its plan, ``files_likely_affected``): the benchmark never
has them, a live workflow often does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from caw_lab.context import features, model, similarity
from caw_lab.context.similarity import document

Candidate = dict[str, Any]


class Ranker(Protocol):
    name: str

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        """One score per candidate, higher is more useful."""
        ...


def rank(ranker: Ranker, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> list[str]:
    """Candidate ids best first; equal scores keep the newer item first."""
    if not candidates:
        return []
    s = ranker.scores(query, candidates, query_files)
    order = sorted(range(len(candidates)), key=lambda i: (-s[i], candidates[i]["age_rank"]))
    return [candidates[i]["id"] for i in order]


def with_files(query: str, query_files: Sequence[str]) -> str:
    return query + "\n" + " ".join(query_files)


class Recency:
    name = "recency"

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        return -np.array([c["age_rank"] for c in candidates], dtype=float)


class BM25Ranker:
    name = "bm25"

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        return similarity.bm25(with_files(query, query_files), [document(c) for c in candidates])


class TfidfRanker:
    name = "tfidf"

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        return similarity.tfidf(with_files(query, query_files), [document(c) for c in candidates])


class LearnedRanker:
    """The trained model over ``features.matrix``; BM25, with a warning, when no model is installed.

    The model file is read on first use, not at import, so tools that never rank pay nothing.
    """

    name = "learned"

    def __init__(self, path: str | None = None, trained: model.LinearModel | None = None) -> None:
        self.path = path
        self._model = trained

    @property
    def model(self) -> model.LinearModel | None:
        if self._model is None:
            self._model = model.load(self.path)
        return self._model

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        trained = self.model
        if trained is None or trained.names != features.NAMES:
            problem = "No relevance model installed" if trained is None else "The relevance model is for other features"
            warnings.warn(f"{problem}; ranking context with BM25 instead", RuntimeWarning, stacklevel=2)
            return BM25Ranker().scores(query, candidates, query_files)
        return trained.decision(features.matrix(query, candidates, query_files))


RANKERS: dict[str, type] = {"recency": Recency, "bm25": BM25Ranker, "tfidf": TfidfRanker, "learned": LearnedRanker}


def get(name: str) -> Ranker:
    try:
        return RANKERS[name]()
    except KeyError:
        raise ValueError(f"unknown ranker {name!r}; choose from {', '.join(RANKERS)}") from None
