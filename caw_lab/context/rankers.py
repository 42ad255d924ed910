"""Rankers: order context items by how useful they are to the task at hand.

A ranker scores candidates (dicts with ``id``, ``text``, ``files``, ``age_rank`` — 1 is
the newest — and ``tokens``) for a query text; ``rank`` sorts by score, ties broken by
recency, which is the relevance benchmark's interface. ``query_files`` are files the
current task is known to touch (its plan, ``files_likely_affected``): the benchmark never
has them, a live workflow often does.

A ranker whose scores are log-odds of relevance (``per_token``: the learned one, when its
model is installed) is loaded in ``packing.load_order``: the likeliest first, then
relevance per token. The others are plain score orders; ``shortest`` and
``bm25-per-token`` are the benchmark's label-free length baselines.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from caw_lab.context import features, model, similarity
from caw_lab.context.packing import best_first, load_order
from caw_lab.context.similarity import document

Candidate = dict[str, Any]


class Ranker(Protocol):
    name: str
    per_token: bool

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        """One score per candidate, higher is more useful."""
        ...


def rank(ranker: Ranker, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> list[str]:
    """Candidate ids in the order they would be loaded."""
    if not candidates:
        return []
    scores = np.asarray(ranker.scores(query, candidates, query_files), dtype=float)
    return [candidates[i]["id"] for i in order(ranker, scores, candidates)]


def order(ranker: Ranker, scores: np.ndarray, candidates: Sequence[Candidate]) -> list[int]:
    """Indices in load order: by relevance per token past the head for log-odds scores, else by
    score; equal scores keep the newer item first. ``scores`` may carry priors added to the ranker's."""
    ages = [c["age_rank"] for c in candidates]
    if ranker.per_token:
        return load_order(scores, [c["tokens"] for c in candidates], ages)
    return best_first(np.asarray(scores, dtype=float), np.asarray(ages)).tolist()


def with_files(query: str, query_files: Sequence[str]) -> str:
    return query + "\n" + " ".join(query_files)


class Recency:
    name = "recency"
    per_token = False

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        return -np.array([c["age_rank"] for c in candidates], dtype=float)


class Shortest:
    name = "shortest"
    per_token = False

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        return -np.array([c["tokens"] for c in candidates], dtype=float)


class BM25Ranker:
    name = "bm25"
    per_token = False

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        return similarity.bm25(with_files(query, query_files), [document(c) for c in candidates])


class BM25PerToken:
    """BM25 divided by length: the label-free counterpart of packing by relevance per token."""

    name = "bm25-per-token"
    per_token = False

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        lengths = np.array([max(c["tokens"], 1) for c in candidates], dtype=float)
        return BM25Ranker().scores(query, candidates, query_files) / lengths


class TfidfRanker:
    name = "tfidf"
    per_token = False

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

    @property
    def per_token(self) -> bool:
        """Whether scores are the model's log-odds (not the BM25 fallback's)."""
        trained = self.model
        return trained is not None and trained.names == features.NAMES

    def scores(self, query: str, candidates: Sequence[Candidate], query_files: Sequence[str] = ()) -> np.ndarray:
        trained = self.model
        if trained is None or trained.names != features.NAMES:
            problem = "No relevance model installed" if trained is None else "The relevance model is for other features"
            warnings.warn(f"{problem}; ranking context with BM25 instead", RuntimeWarning, stacklevel=2)
            return BM25Ranker().scores(query, candidates, query_files)
        return trained.decision(features.matrix(query, candidates, query_files))


RANKERS: dict[str, type] = {
    "recency": Recency, "shortest": Shortest, "bm25": BM25Ranker, "bm25-per-token": BM25PerToken,
    "tfidf": TfidfRanker, "learned": LearnedRanker,
}


def get(name: str) -> Ranker:
    try:
        return RANKERS[name]()
    except KeyError:
        raise ValueError(f"unknown ranker {name!r}; choose from {', '.join(RANKERS)}") from None
