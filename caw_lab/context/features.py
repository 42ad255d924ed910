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
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from caw_lab.context import similarity
from caw_lab.context.similarity import document
from caw_lab.context.text import informative, issues, path_words, words

NAMES = (
    "bm25", "bm25_rank", "bm25_rel", "tfidf", "tfidf_rank", "tfidf_rel",
    "path_match", "path_match_rank", "shared_issue", "query_has_issue", "query_words",
    "age", "log_age", "log_tokens", "n_files", "n_informative", "no_informative",
    "hub_prior", "hub_max", "recent_affinity", "feedback_affinity", "feedback_max",
)
FEEDBACK_K = 5
RECENT_SCALE = 10.0


def within_rank(values: np.ndarray) -> np.ndarray:
    """1.0 for the best value of a task, falling towards 0 for the worst (ties share a rank)."""
    n = len(values)
    if n <= 1:
        return np.ones(n)
    order = (-values).argsort(kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n)
    for value in np.unique(values):
        same = values == value
        ranks[same] = ranks[same].min()
    return 1 - ranks / (n - 1)


def relative(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def file_sets(candidates: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Each item's informative files, deduplicated and sorted: every sum over them then runs in
    one order, so features (and a model trained on them) do not vary with string hashing."""
    return [sorted(set(informative(c.get("files") or []))) for c in candidates]


def hub_features(files: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """How likely a new task touches one of an item's files, judged by how often the others do."""
    n = max(len(files) - 1, 1)
    freq = Counter(f for fs in files for f in fs)
    prior, top = np.zeros(len(files)), np.zeros(len(files))
    for i, fs in enumerate(files):
        shares = [(freq[f] - 1) / n for f in fs]
        prior[i] = 1 - math.prod(1 - s for s in shares) if shares else 0.0
        top[i] = max(shares, default=0.0)
    return prior, top


def affinity(files: list[list[str]], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each item, the weight of the *other* items sharing a file with it: total and largest file."""
    mass: Counter[str] = Counter()
    for fs, w in zip(files, weights):
        for f in fs:
            mass[f] += w
    total = weights.sum() or 1.0
    summed, largest = np.zeros(len(files)), np.zeros(len(files))
    for i, fs in enumerate(files):
        own = weights[i]
        per_file = [(mass[f] - own) / total for f in fs]
        summed[i] = min(sum(per_file), 1.0)
        largest[i] = max(per_file, default=0.0)
    return summed, largest


def feedback_weights(scores: np.ndarray, k: int = FEEDBACK_K) -> np.ndarray:
    """Weights on the ``k`` best-matching items (by score), zero elsewhere and when nothing matches."""
    weights = np.zeros(len(scores))
    if not len(scores) or scores.max() <= 0:
        return weights
    top = (-scores).argsort(kind="stable")[:k]
    weights[top] = np.maximum(scores[top], 0) / scores.max()
    return weights


def path_match(query: set[str], candidates: Sequence[dict[str, Any]], files: list[list[str]]) -> np.ndarray:
    """IDF-weighted share of the query's words that name a part of an item's file paths."""
    paths = [set().union(*(path_words(f) for f in fs)) if fs else set() for fs in files]
    df = Counter(w for p in paths for w in p)
    n = len(candidates)
    out = np.zeros(n)
    for i, p in enumerate(paths):
        out[i] = sum(math.log(1 + n / df[w]) for w in sorted(query & p))
    return out


def matrix(query: str, candidates: Sequence[dict[str, Any]], query_files: Sequence[str] = ()) -> np.ndarray:
    """The feature matrix, one row per candidate, columns as ``NAMES``."""
    n = len(candidates)
    if n == 0:
        return np.zeros((0, len(NAMES)))
    full_query = query + "\n" + " ".join(query_files)
    query_words = set(words(full_query)) | set().union(*(path_words(f) for f in query_files))
    docs = [document(c) for c in candidates]
    bm25 = similarity.bm25(full_query, docs)
    tfidf = similarity.tfidf(full_query, docs)
    files = file_sets(candidates)
    paths = path_match(query_words, candidates, files)
    query_issues = issues(query)
    ages = np.array([c["age_rank"] for c in candidates], dtype=float)
    hub, hub_top = hub_features(files)
    recent, _ = affinity(files, np.exp(-(ages - 1) / RECENT_SCALE))
    declared = set(informative(query_files))
    feedback_w = feedback_weights(bm25 + tfidf * (bm25.max() or 1.0))
    feedback, feedback_top = affinity(files, feedback_w)
    if declared:
        direct = np.array([len(declared.intersection(fs)) / len(declared) for fs in files])
        feedback, feedback_top = np.maximum(feedback, direct), np.maximum(feedback_top, direct)
    columns = {
        "bm25": bm25, "bm25_rank": within_rank(bm25), "bm25_rel": relative(bm25),
        "tfidf": tfidf, "tfidf_rank": within_rank(tfidf), "tfidf_rel": relative(tfidf),
        "path_match": paths, "path_match_rank": within_rank(paths),
        "shared_issue": np.array([float(bool(query_issues & issues(c["text"]))) for c in candidates]),
        "query_has_issue": np.full(n, float(bool(query_issues))),
        "query_words": np.full(n, math.log1p(len(query_words))),
        "age": ages / max(ages.max(), 1.0), "log_age": np.log(ages),
        "log_tokens": np.log1p([c["tokens"] for c in candidates]),
        "n_files": np.log1p([len(c.get("files") or []) for c in candidates]),
        "n_informative": np.log1p([len(fs) for fs in files]),
        "no_informative": np.array([float(not fs) for fs in files]),
        "hub_prior": hub, "hub_max": hub_top, "recent_affinity": recent,
        "feedback_affinity": feedback, "feedback_max": feedback_top,
    }
    return np.column_stack([columns[name] for name in NAMES])
