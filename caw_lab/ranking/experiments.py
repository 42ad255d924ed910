"""Ranking experiments for notebooks: where the benchmark data is, per-target scores of every
ranker, and bootstrap confidence intervals over targets.

``evaluation`` answers "what is the mean?"; a notebook that compares rankers on a sample
of targets also has to answer "how far would it move on another sample?". So scores are
kept per target (``Scores``) and summarised with percentile bootstrap intervals that
resample targets within each repository (``bootstrap``); the overall figure is, as in
``evaluation``, the plain mean over repositories.

The learned model is scored three ways from one pass of feature building
(``training.ranked`` gives exactly what ``caw_lab.ranking.rank`` returns): ``learned`` with
the shipped model (trained on the whole benchmark, these targets included), ``learned-loro``
with a model trained on the sample's other repositories, and ``learned-in-sample`` with a
model trained on the very targets it is scored on: the pure training-set figure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from caw_lab.ranking import evaluation, history, rankers, training
from caw_lab.ranking.rankers import LinearModel

ENV = "CAW_RELEVANCE_DATA"
SAMPLE_ENV = "CAW_EXPERIMENT_TARGETS"
DEFAULT_PER_REPO = 60
CURVE_BUDGETS = (100, 200, 400, 800, 1200, 1600, 2400, 3200)
BASELINES = ("recency", "shortest", "bm25")
LEARNED = ("learned", "learned-in-sample", "learned-loro")

Target = dict[str, Any]
Lists = dict[str, list[list[str]]]  # each ranker's ranked ids, one list per target


@dataclass(frozen=True)
class Location:
    """Where the benchmark data is (``path``), or None, and a sentence saying how it was found or why not."""

    path: Path | None
    note: str


def has_data(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.jsonl.gz"))


def locate(start: Path | None = None) -> Location:
    """The relevance benchmark's directory: ``$CAW_RELEVANCE_DATA`` when set (an installed copy has
    no checkout to look beside), else a ``shared/data/relevance`` above ``start`` (default: the
    working directory) or above this package's source, as in a checkout."""
    configured = os.environ.get(ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if has_data(path):
            return Location(path, f"Relevance data from ${ENV}: {path}")
        return Location(None, f"${ENV} is set to {path}, which holds no relevance data (no *.jsonl.gz files).")
    for base in (start or Path.cwd(), Path(__file__).resolve().parent):
        for folder in [base, *base.parents]:
            if has_data(folder / "shared" / "data" / "relevance"):
                return Location(folder / "shared" / "data" / "relevance", f"Relevance data beside the checkout: "
                                f"{folder / 'shared' / 'data' / 'relevance'}")
    return Location(None, f"No relevance data found: set ${ENV} to the directory holding the benchmark's "
                    "*.jsonl.gz files (its README describes them).")


@dataclass(frozen=True)
class Sample:
    """The targets an experiment runs on, and a sentence saying where they come from (or why there are none)."""

    targets: list[Target]
    note: str


def sample(location: Location, size: int, checkout: Path | None = None) -> Sample:
    """``size`` targets per repository of the benchmark at ``location``; without it, ``size`` targets built
    the benchmark's way from the git history of ``checkout`` (default: the one holding this package), so
    the experiments still run, on one repository; with neither, no targets and the reason."""
    if location.path is not None:
        return Sample(list(evaluation.read_targets(location.path, limit=size)), location.note)
    root = history.toplevel(checkout or Path(__file__).resolve().parent)
    built = list(history.targets(root, limit=size)) if root else []
    if built:
        return Sample(built, f"{location.note} Instead: {len(built)} targets built the benchmark's way from the "
                      f"git history of {root} (`caw_lab.ranking.history`): one repository, so no "
                      "leave-one-repository-out, and not comparable with the benchmark's figures.")
    why = (f"{root} has too short a history for a window of {history.WINDOW} earlier commits" if root
           else "caw-lab is not running from a git checkout, whose history could stand in for it")
    return Sample([], f"**Skipping the ranking experiments.** {location.note} And {why}.")


def per_repo(default: int = DEFAULT_PER_REPO) -> int:
    """Targets to read per repository: ``$CAW_EXPERIMENT_TARGETS`` (the full benchmark has 400) or ``default``,
    which keeps the notebook's run short while its intervals stay narrow enough to compare rankers."""
    raw = os.environ.get(SAMPLE_ENV, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 2:
        raise ValueError(f"${SAMPLE_ENV} must be a whole number of targets per repository, at least 2: {raw!r}")
    return int(raw)


def columns(budgets: Sequence[int] = CURVE_BUDGETS) -> tuple[str, ...]:
    return (*(f"recall@{b}" for b in budgets), "ndcg@10", "mrr")


def metrics(target: Target, ranked: Sequence[str], budgets: Sequence[int] = CURVE_BUDGETS) -> list[float]:
    """``columns(budgets)`` of one ranked list: recall on a finer budget grid than the README's three,
    to draw a curve, and the README's NDCG@10 and MRR."""
    tokens = {c["id"]: c["tokens"] for c in target["candidates"]}
    order = evaluation.clean(ranked, set(tokens))
    relevant = set(target["relevant_ids"])
    recalls = [evaluation.recall_at(order, relevant, tokens, b) for b in budgets]
    return [*recalls, evaluation.ndcg_at(order, relevant), evaluation.mrr(order, relevant)]


@dataclass
class Scores:
    """Per-target metric values: ``values[ranker]`` has a row per target, a column per ``columns`` entry."""

    repos: np.ndarray
    columns: tuple[str, ...]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    models: dict[str, LinearModel] = field(default_factory=dict)

    def column(self, name: str) -> int:
        return self.columns.index(name)


def orders(targets: Sequence[Target], baselines: Sequence[str] = BASELINES) -> tuple[Lists, dict[str, LinearModel]]:
    """Every ranker's list for every target, and the models behind the learned ones.

    Features are built once (``training.examples``); the fold models train on the sample's
    other repositories, so ``learned-loro`` needs two repositories or more.
    """
    examples = training.examples(targets)
    ranked: Lists = {
        name: [rankers.rank(rankers.get(name), *evaluation.visible(t)) for t in targets] for name in baselines
    }
    models: dict[str, LinearModel] = {"learned-in-sample": training.fit(examples)}
    shipped = rankers.load()
    if shipped is not None:
        models["learned"] = shipped
    for name, model in models.items():
        ranked[name] = [training.ranked(model, e) for e in examples]
    if len({e.repo for e in examples}) > 1:
        folds = training.fold_models(examples)
        ranked["learned-loro"] = [training.ranked(folds[e.repo], e) for e in examples]
        models.update({f"without {repo}": model for repo, model in folds.items()})
    ranked["oracle"] = [evaluation.oracle(t) for t in targets]
    return ranked, models


def score(targets: Sequence[Target], baselines: Sequence[str] = BASELINES,
          budgets: Sequence[int] = CURVE_BUDGETS) -> Scores:
    """Per-target scores of the baselines, the learned ranker three ways and the oracle."""
    ranked, models = orders(targets, baselines)
    out = Scores(np.array([t["repo"] for t in targets]), columns(budgets), models=models)
    for name, lists in ranked.items():
        out.values[name] = np.array([metrics(t, r, budgets) for t, r in zip(targets, lists, strict=True)])
    return out


@dataclass(frozen=True)
class Estimate:
    """A mean and its bootstrap interval, one value per column."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    targets: int


def bootstrap(values: np.ndarray, repos: np.ndarray, resamples: int = 1000, level: float = 0.95,
              seed: int = 0) -> dict[str, Estimate]:
    """Mean and percentile interval per repository and ``"overall"`` (the plain mean over repositories).

    Targets are resampled within each repository, so every draw keeps the repositories' sizes
    and the macro mean stays a mean of four. The fixed seed gives every ranker the same draws:
    intervals of rankers scored on the same targets are comparable, and the interval of a
    per-target difference (``values`` of one ranker minus another's) is a paired one.
    """
    rng = np.random.default_rng(seed)
    tails = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    draws: dict[str, np.ndarray] = {}
    out: dict[str, Estimate] = {}
    for repo in sorted(set(repos.tolist())):
        rows = values[repos == repo]
        draws[repo] = rows[rng.integers(0, len(rows), size=(resamples, len(rows)))].mean(axis=1)
        out[repo] = Estimate(rows.mean(axis=0), *np.percentile(draws[repo], tails, axis=0), len(rows))
    overall = np.mean([draws[r] for r in draws], axis=0)
    macro = np.mean([out[r].mean for r in draws], axis=0)
    out["overall"] = Estimate(macro, *np.percentile(overall, tails, axis=0), len(values))
    return out


def summarise(scores: Scores, names: Sequence[str] | None = None, **options: Any) -> dict[str, dict[str, Estimate]]:
    """``bootstrap`` of the rankers ``names`` (default all) that were scored, in that order:
    ``{ranker: {scope: Estimate}}``."""
    chosen = [n for n in names if n in scores.values] if names is not None else list(scores.values)
    return {name: bootstrap(scores.values[name], scores.repos, **options) for name in chosen}


def difference(scores: Scores, a: str, b: str, **options: Any) -> dict[str, Estimate]:
    """Paired bootstrap of ``a`` minus ``b``, target by target: whether a gap outlives resampling."""
    return bootstrap(scores.values[a] - scores.values[b], scores.repos, **options)


def scopes(summary: dict[str, dict[str, Estimate]]) -> list[str]:
    """``overall`` then each repository; just the repository when there is one (its overall is itself)."""
    repos = sorted({scope for by_scope in summary.values() for scope in by_scope} - {"overall"})
    return repos if len(repos) == 1 else ["overall", *repos]


def gap_table(gap: dict[str, Estimate], cols: Sequence[str], all_columns: Sequence[str]) -> str:
    """A markdown table of one paired difference, a row per scope: signed mean and 95% interval."""
    head = "| scope | targets | " + " | ".join(cols) + " |\n|---|---:|" + "---:|" * len(cols)
    rows = []
    for scope in scopes({"gap": gap}):
        e = gap[scope]
        cells = [f"{e.mean[i]:+.3f} [{e.low[i]:+.3f}, {e.high[i]:+.3f}]" for i in map(list(all_columns).index, cols)]
        rows.append(f"| {scope} | {e.targets} | " + " | ".join(cells) + " |")
    return "\n".join([head, *rows])


def table(summary: dict[str, dict[str, Estimate]], cols: Sequence[str], all_columns: Sequence[str],
          scope: str = "overall") -> str:
    """A markdown table, one row per ranker: each cell the mean and its 95% interval."""
    head = "| ranker | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols)
    rows = []
    for name, by_scope in summary.items():
        e = by_scope[scope]
        cells = [f"{e.mean[i]:.3f} [{e.low[i]:.2f}, {e.high[i]:.2f}]" for i in map(list(all_columns).index, cols)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join([head, *rows])
