"""Comparing rankers on the relevance benchmark: the table ``caw context eval`` prints.

``learned`` is ``caw_lab.context.rank``, the order ``task_load_context`` loads in, with
the shipped model: on the benchmark's own repositories its scores are training-set
scores. ``learned-loro`` ranks with the same function but retrains the model four times,
each time leaving one repository out and scoring only that one: the figure to quote.
``recency``, ``shortest``, ``bm25``, ``bm25-per-token`` and ``tfidf`` are the label-free
baselines; ``oracle`` reads the labels, an upper bound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from caw_lab import context
from caw_lab.context import evaluation, model, rankers

NAMES = ("recency", "shortest", "bm25", "bm25-per-token", "tfidf", "learned", "learned-loro", "oracle")
Table = dict[str, dict[str, float]]
RankIds = Callable[[str, list[dict[str, Any]]], list[str]]


def ranking(name: str, model_path: str | None = None) -> RankIds:
    """The ranker interface function ``name`` stands for: (target text, candidates) -> ids.

    ``learned`` is ``caw_lab.context.rank`` itself (bound to the model at ``model_path``
    when one is given).
    """
    if name == "learned":
        return context.rank if model_path is None else partial(context.rank, model=model.load(model_path))
    return partial(rankers.rank, rankers.get(name))


def run(name: str, targets: Sequence[dict[str, Any]], model_path: str | None = None) -> Table:
    """Scores of ranker ``name`` (one of ``NAMES``) on ``targets``."""
    if name == "oracle":
        return evaluation.evaluate(evaluation.oracle, targets)
    if name == "learned-loro":
        from caw_lab.context import training  # scikit-learn: only leave-one-repo-out trains

        return training.leave_one_repo_out(training.examples(targets))
    ranked = ranking(name, model_path)
    return evaluation.evaluate(lambda t: ranked(*evaluation.visible(t)), targets)


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
