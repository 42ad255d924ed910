"""Comparing rankers on the relevance benchmark: the table ``caw context eval`` prints.

``learned`` is the shipped model: on the benchmark's own repositories its scores are
training-set scores. ``learned-loro`` retrains the same recipe four times, each time
leaving one repository out and scoring only that one: the figure to quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from caw_lab.context import evaluation, rankers, training

NAMES = ("recency", "bm25", "tfidf", "learned", "learned-loro", "oracle")
Table = dict[str, dict[str, float]]


def run(name: str, targets: Sequence[dict[str, Any]], model_path: str | None = None) -> Table:
    """Scores of ranker ``name`` (one of ``NAMES``) on ``targets``."""
    if name == "oracle":
        return evaluation.evaluate(evaluation.oracle, targets)
    if name == "learned-loro":
        return training.leave_one_repo_out(training.examples(targets))
    ranker = rankers.LearnedRanker(model_path) if name == "learned" else rankers.get(name)
    return evaluation.evaluate(lambda t: rankers.rank(ranker, *evaluation.visible(t)), targets)


def compare(names: Sequence[str], targets: Sequence[dict[str, Any]], model_path: str | None = None) -> dict[str, Table]:
    repos = {t["repo"] for t in targets}
    chosen = [n for n in names if n != "learned-loro" or len(repos) > 1]
    return {name: run(name, targets, model_path) for name in chosen}


def markdown(results: dict[str, Table], scope: str = "overall") -> str:
    """One row per ranker for ``scope`` (a repository or ``overall``), metrics as the data README orders them."""
    head = "| ranker | " + " | ".join(evaluation.METRICS) + " |"
    rule = "|---|" + "---:|" * len(evaluation.METRICS)
    rows = [
        f"| {name} | " + " | ".join(f"{table[scope][m]:.3f}" for m in evaluation.METRICS) + " |"
        for name, table in results.items() if scope in table
    ]
    return "\n".join([head, rule, *rows])


def scopes(results: dict[str, Table]) -> list[str]:
    found = {scope for table in results.values() for scope in table}
    return ["overall", *sorted(found - {"overall"})]
