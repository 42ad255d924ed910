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
(``text.is_ubiquitous``) tie nothing together and are left out of all four.

Everything that does not depend on the task is computed once per set of items and
cached (``corpus``); per task, only the query is scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from caw_lab.context import corpus
from caw_lab.context.text import informative, issues, path_words, words

NAMES = (
    "bm25", "bm25_rank", "bm25_rel", "tfidf", "tfidf_rank", "tfidf_rel",
    "path_match", "path_match_rank", "shared_issue", "query_has_issue", "query_words",
    "age", "log_age", "log_tokens", "n_files", "n_informative", "no_informative",
    "hub_prior", "hub_max", "recent_affinity", "feedback_affinity", "feedback_max",
)
FEEDBACK_K = 5


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
    items = corpus.of(candidates)
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
        "bm25": bm25, "bm25_rank": within_rank(bm25), "bm25_rel": relative(bm25),
        "tfidf": tfidf, "tfidf_rank": within_rank(tfidf), "tfidf_rel": relative(tfidf),
        "path_match": paths, "path_match_rank": within_rank(paths),
        "shared_issue": shared_issue(query_issues, items.issues),
        "query_has_issue": np.full(n, float(bool(query_issues))),
        "query_words": np.full(n, math.log1p(len(query_words))),
        **items.static,
        "feedback_affinity": feedback, "feedback_max": feedback_top,
    }
    return np.column_stack([columns[name] for name in NAMES])
