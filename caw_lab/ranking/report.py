"""Plots of ranking experiments (matplotlib): what a notebook shows of ``experiments`` results.

Each function returns a ``Figure`` made without pyplot's global state, so it can be
drawn headless, saved, or shown by a notebook (``display(fig)``) without piling up open
figures. Every ranker keeps one colour across all plots, so a reader matches a curve to a
bar without the legend. Error bars are the 95% bootstrap intervals of ``experiments.bootstrap``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from caw_lab.ranking.experiments import Estimate, columns, scopes
from caw_lab.ranking.rankers import LinearModel

Summary = dict[str, dict[str, Estimate]]
ORDER = ("recency", "shortest", "bm25", "bm25-per-token", "tfidf", "learned", "learned-in-sample",
         "learned-loro", "oracle")
PALETTE = ("#8c8c8c", "#bcbd22", "#1f77b4", "#17becf", "#9467bd", "#ff7f0e", "#e377c2", "#d62728", "#2ca02c")


def colour(name: str) -> str:
    return PALETTE[ORDER.index(name)] if name in ORDER else "black"


def label(metric: str) -> str:
    return {"ndcg@10": "NDCG@10", "mrr": "MRR"}.get(metric, metric)


def short(scope: str) -> str:
    """A repository's name without its owner: panel titles and tick labels stay readable."""
    return scope.split("/")[-1]


def recall_curves(summary: Summary, budgets: Sequence[int], names: Sequence[str] | None = None) -> Figure:
    """Recall against the token budget, one panel per scope, a line and its shaded interval per ranker."""
    names = list(names or summary)
    panels = scopes(summary)
    fig = Figure(figsize=(1.6 + 3.2 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    cols = [columns(budgets).index(f"recall@{b}") for b in budgets]
    for ax, scope in zip(axes, panels, strict=True):
        for name in names:
            e = summary[name][scope]
            ax.plot(budgets, e.mean[cols], marker=".", color=colour(name), label=name)
            ax.fill_between(budgets, e.low[cols], e.high[cols], color=colour(name), alpha=0.15, linewidth=0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(budgets), [f"{b:,}" for b in budgets], rotation=60, fontsize=7)
        ax.minorticks_off()
        ax.set_title(f"{short(scope)} ({summary[names[0]][scope].targets} targets)", fontsize=9)
        ax.set_xlabel("token budget")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall (share of relevant items loaded)")
    axes[0].set_ylim(0, 1)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    return fig


def bars(ax: Axes, summary: Summary, names: Sequence[str], column: int, groups: Sequence[str]) -> None:
    """Grouped bars: a group per scope, a bar per ranker, each with its interval."""
    width = 0.8 / len(names)
    x = np.arange(len(groups))
    for i, name in enumerate(names):
        e = [summary[name][g] for g in groups]
        mean = np.array([s.mean[column] for s in e])
        err = np.array([[m - s.low[column] for m, s in zip(mean, e, strict=True)],
                        [s.high[column] - m for m, s in zip(mean, e, strict=True)]])
        ax.bar(x + (i - (len(names) - 1) / 2) * width, mean, width, yerr=err, capsize=2, color=colour(name),
               label=name, error_kw={"elinewidth": 0.8})
    ax.set_xticks(x, [short(g) for g in groups])
    ax.grid(axis="y", alpha=0.3)


def metric_bars(summary: Summary, all_columns: Sequence[str], names: Sequence[str] | None = None,
                metrics: Sequence[str] = ("ndcg@10", "mrr")) -> Figure:
    """One panel per metric: bars per ranker for the overall (macro) figure and each repository."""
    names = list(names or summary)
    groups = scopes(summary)
    width = max(1.2 + 0.28 * len(names) * len(groups), 5.0)  # one group alone still gets readable bars
    fig = Figure(figsize=(width, 3.4 * len(metrics)), layout="constrained")
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        bars(ax, summary, names, list(all_columns).index(metric), groups)
        ax.set_ylabel(label(metric))
        ax.set_ylim(0, 1.05)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    return fig


def differences(gaps: dict[str, Summary], all_columns: Sequence[str], metrics: Sequence[str]) -> Figure:
    """Paired differences with their intervals, a panel per metric: a gap whose bar crosses zero
    is not a gap the sample can tell from noise."""
    fig = Figure(figsize=(1.2 + 3.6 * len(metrics), 0.9 + 0.55 * len(next(iter(gaps.values())))),
                 layout="constrained")
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    labels = list(next(iter(gaps.values())))
    y = np.arange(len(labels))
    for ax, metric in zip(axes, metrics, strict=True):
        c = list(all_columns).index(metric)
        for i, (name, gap) in enumerate(gaps.items()):
            e = [gap[s] for s in labels]
            mean = np.array([s.mean[c] for s in e])
            err = np.array([mean - [s.low[c] for s in e], [s.high[c] for s in e] - mean])
            offset = (i - (len(gaps) - 1) / 2) * 0.25
            ax.errorbar(mean, y + offset, xerr=err, fmt="o", capsize=3, label=name)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(5))  # more ticks collide on a narrow panel
        ax.set_title(label(metric), fontsize=9)
        ax.set_xlabel("difference (per target, paired)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [f"{short(s)} ({next(iter(gaps.values()))[s].targets})" for s in labels])
    axes[0].invert_yaxis()
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(gaps), fontsize=8)
    return fig


def weights(model: LinearModel, others: dict[str, LinearModel] | None = None, name: str = "shipped model") -> Figure:
    """The model's coefficients on standardised features (log-odds per standard deviation), largest
    first; ``others`` (e.g. the leave-one-repository-out models) as markers, to show which weights are stable."""
    order = np.argsort(np.abs(model.coef))
    fig = Figure(figsize=(6.5, 1.2 + 0.24 * len(order)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(order))
    ax.barh(y, model.coef[order], color=["#d62728" if w < 0 else "#1f77b4" for w in model.coef[order]],
            alpha=0.8, label=name)
    for i, (name, other) in enumerate((others or {}).items()):
        ax.scatter(other.coef[order], y, marker="oxd+"[i % 4], s=30, facecolors="none" if i % 4 == 0 else None,
                   edgecolors="black" if i % 4 == 0 else None, color="black", label=name, zorder=3, linewidths=1)
    ax.set_yticks(y, [model.names[i] for i in order], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("weight (log-odds of relevance per standard deviation)")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=7)
    return fig


def top_of_list(target: dict[str, Any], order: Sequence[str], count: int = 12) -> str:
    """The first ``count`` items of a ranked list as a markdown table: cost, age, whether the label
    calls it relevant, and the first line of its text, to see what the ranker put on top and why."""
    by_id, relevant = {c["id"]: c for c in target["candidates"]}, set(target["relevant_ids"])
    rows = [f"| {place} | {by_id[cid]['tokens']} | {by_id[cid]['age_rank']} | {'yes' if cid in relevant else ''} | "
            f"{(by_id[cid]['text'].splitlines() or [''])[0][:70].replace('|', '/')} |"
            for place, cid in enumerate(order[:count], 1)]
    first = (target["target_text"].splitlines() or [""])[0]
    head = "| place | tokens | age | relevant | candidate |\n|---:|---:|---:|:---:|---|"
    return f"**{target['repo']}**: {first!r}\n\n" + "\n".join([head, *rows])
