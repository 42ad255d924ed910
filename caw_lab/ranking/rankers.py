"""Rankers: order context items by how useful they are to the task at hand, and the order they load in.

A ranker scores candidates (dicts with ``id``, ``text``, ``files``, ``age_rank`` — 1 is
the newest — and ``tokens``) for a query text; ``rank`` sorts by score, ties broken by
recency, which is the relevance benchmark's interface. ``query_files`` are files the
current task is known to touch (its plan, ``files_likely_affected``): the benchmark never
has them, a live workflow often does.

**The learned ranker** is a standardised logistic regression over ``features.matrix``,
shipped as JSON (``LinearModel``, ``caw_lab/models/relevance.json``) rather than a
pickle: it loads with any scikit-learn (or none), cannot run code when read, diffs
readably, and weighs a few kilobytes. The leave-one-repository-out scores of the same
recipe showed a gradient-boosted model no better, so the linear one ships
(docs/context.md). The others are plain score orders; ``shortest`` and
``bm25-per-token`` are the benchmark's label-free length baselines.

**The load order** (``load_order``), for a ranker whose scores are log-odds of relevance
(``per_token``: the learned one, when its model is installed): the ``HEAD`` likeliest items
first, by probability, because an agent reads the top of a list most closely; then the
rest by probability per token, the greedy answer to filling a budget with as many
relevant items as possible, so that three short likely items are not crowded out by one
long one that is only slightly likelier. ``HEAD`` is ten, the depth the relevance
benchmark's NDCG reads, so the top of the list is exactly the model's order.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from caw_lab.ranking import features, similarity
from caw_lab.ranking.similarity import document

Candidate = dict[str, Any]
MODEL_FILE = "relevance.json"
FORMAT = "caw-lab/linear-relevance/1"
HEAD = 10


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


def load_order(log_odds: np.ndarray, costs: Sequence[int], ages: Sequence[int], head: int = HEAD) -> list[int]:
    """Indices in the order to load them (rule in the module docstring); ties keep the newer item."""
    log_odds = np.asarray(log_odds, dtype=float)
    ages_ = np.asarray(ages)
    likeliest = best_first(log_odds, ages_)
    if len(likeliest) <= head:
        return likeliest.tolist()
    per_token = -np.logaddexp(0.0, -log_odds) - np.log(np.maximum(np.asarray(costs, dtype=float), 1.0))
    rest = likeliest[head:]
    rest = rest[best_first(per_token[rest], ages_[rest])]
    return [*likeliest[:head].tolist(), *rest.tolist()]


def best_first(scores: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """Indices by score, highest first; equal scores keep the newer (smaller age), then the earlier index."""
    return np.lexsort((ages, -scores))


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


@dataclass(frozen=True)
class LinearModel:
    """Standardised features times coefficients: the learned ranker's model, as its JSON file holds it."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    def decision(self, features: np.ndarray) -> np.ndarray:
        """The log-odds that each row is relevant."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "features": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model: {data.get('format')!r}")
        arrays = (np.asarray(data[k], dtype=float) for k in ("mean", "scale", "coef"))
        return cls(tuple(data["features"]), *arrays, float(data["intercept"]), data.get("meta", {}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")


def shipped_path() -> Path:
    return Path(str(resources.files("caw_lab") / "models" / MODEL_FILE))


@lru_cache(maxsize=4)
def load(path: str | None = None) -> LinearModel | None:
    """The model at ``path`` (default: the one in the package), or None when there is none."""
    file = Path(path) if path else shipped_path()
    if not file.exists():
        return None
    return LinearModel.from_dict(json.loads(file.read_text()))


class LearnedRanker:
    """The trained model over ``features.matrix``; BM25, with a warning, when no model is installed.

    The model file is read on first use, not at import, so tools that never rank pay nothing.
    """

    name = "learned"

    def __init__(self, path: str | None = None, trained: LinearModel | None = None) -> None:
        self.path = path
        self._model = trained

    @property
    def model(self) -> LinearModel | None:
        if self._model is None:
            self._model = load(self.path)
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
    "recency": Recency,
    "shortest": Shortest,
    "bm25": BM25Ranker,
    "bm25-per-token": BM25PerToken,
    "tfidf": TfidfRanker,
    "learned": LearnedRanker,
}


def get(name: str) -> Ranker:
    try:
        return RANKERS[name]()
    except KeyError:
        raise ValueError(f"unknown ranker {name!r}; choose from {', '.join(RANKERS)}") from None
