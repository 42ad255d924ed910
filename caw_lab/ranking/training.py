"""Training the relevance model, and the honest way to score it: leave one repository out.

The recipe is fixed (standardised features, L2 logistic regression, fixed seed), so
``caw context train`` on the same data writes the same file. Scores of a model on the
repositories it was trained on are training-set numbers; ``leave_one_repo_out`` trains on
all repositories but one and scores the one left out, which is what a new project sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from caw_lab.ranking import evaluation, features
from caw_lab.ranking.rankers import LinearModel, load_order

SEED = 0
C = 1.0


@dataclass
class Example:
    """One target's feature rows and labels, with the target kept for scoring."""

    target: dict[str, Any]
    features: np.ndarray
    labels: np.ndarray

    @property
    def repo(self) -> str:
        return self.target["repo"]


def examples(targets: Iterable[dict[str, Any]]) -> list[Example]:
    out = []
    for target in targets:
        query, candidates = evaluation.visible(target)
        relevant = set(target["relevant_ids"])
        labels = np.array([c["id"] in relevant for c in candidates], dtype=int)
        out.append(Example(target, features.matrix(query, candidates), labels))
    return out


def fit(train: Sequence[Example], meta: dict[str, Any] | None = None) -> LinearModel:
    """The fixed recipe on ``train``. One BLAS thread: with 22 columns the products are too small to
    share, and on a busy two-core machine threads only wait for each other (five times slower)."""
    x = np.vstack([e.features for e in train])
    y = np.concatenate([e.labels for e in train])
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    with threadpool_limits(1):
        clf = LogisticRegression(C=C, max_iter=5000, random_state=SEED).fit((x - scaler.mean_) / scale, y)
    info = {
        "recipe": f"StandardScaler + LogisticRegression(C={C}, lbfgs, random_state={SEED})",
        "scikit_learn": sklearn.__version__,
        "targets": len(train),
        "rows": len(y),
        "repos": sorted({e.repo for e in train}),
        **(meta or {}),
    }
    return LinearModel(features.NAMES, scaler.mean_, scale, clf.coef_[0], float(clf.intercept_[0]), info)


def fold_models(data: Sequence[Example]) -> dict[str, LinearModel]:
    """For each repository, the model trained on all the others: the one that scores it."""
    repos = sorted({e.repo for e in data})
    return {held_out: fit([e for e in data if e.repo != held_out]) for held_out in repos}


def ranked(model: LinearModel, example: Example) -> list[str]:
    """What ``caw_lab.ranking.rank`` returns for the example's target with ``model``, from the
    features already built for training: scoring several models then costs no second feature pass."""
    candidates = example.target["candidates"]
    order = load_order(model.decision(example.features), [c["tokens"] for c in candidates],
                       [c["age_rank"] for c in candidates])
    return [candidates[i]["id"] for i in order]


def leave_one_repo_out(data: Sequence[Example]) -> dict[str, dict[str, float]]:
    """Per-repository scores of models that never saw that repository, plus their macro mean.

    Each held-out target is ranked as the public ``caw_lab.ranking.rank`` ranks it with the
    model of its fold (``ranked``), so these are the figures of the very function
    ``task_load_context`` uses.
    """
    folds = fold_models(data)
    by_target = {id(e.target): ranked(folds[e.repo], e) for e in data}
    return evaluation.evaluate(lambda t: by_target[id(t)], [e.target for e in data])
