"""The relevance benchmark: its data files, its metrics exactly as its README defines them, and
the table comparing rankers that ``caw context eval`` prints.

A *target* is one line of ``/work/shared/data/relevance/*.jsonl.gz``: a task's text, the
150 earlier tasks (candidates) and the ids of the relevant ones. Rankers only ever see
``CANDIDATE_FIELDS`` of each candidate and the target's text (``visible``): the target's
files are the label. Each metric is averaged over a repository's targets, and the overall
figure is the plain mean over repositories.

In the comparison, ``learned`` is ``caw_lab.ranking.rank``, the order ``task_load_context``
loads in, with the shipped model: on the benchmark's own repositories its scores are
training-set scores. ``learned-loro`` ranks with the same function but retrains the model
four times, each time leaving one repository out and scoring only that one: the figure to
quote. ``recency``, ``shortest``, ``bm25``, ``bm25-per-token`` and ``tfidf`` are the
label-free baselines; ``oracle`` reads the labels, an upper bound.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from caw_lab import ranking
from caw_lab.errors import CawError
from caw_lab.ranking import rankers

BUDGETS = (400, 800, 1600)
METRICS = ("recall@400", "recall@800", "recall@1600", "ndcg@10", "mrr")
CANDIDATE_FIELDS = ("id", "text", "files", "age_rank", "tokens")
NAMES = ("recency", "shortest", "bm25", "bm25-per-token", "tfidf", "learned", "learned-loro", "oracle")

Target = dict[str, Any]
RankFn = Callable[[Target], list[str]]
Table = dict[str, dict[str, float]]
RankIds = Callable[[str, list[dict[str, Any]]], list[str]]


def files_in(path: str | Path) -> list[Path]:
    """The data files a path names: one ``.jsonl.gz`` (or ``.jsonl``) or every one in a directory."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.jsonl.gz")) + sorted(path.glob("*.jsonl"))
    else:
        found = [path] if path.exists() else []
    if not found:
        raise CawError(
            "DATA_NOT_FOUND", f"No relevance data at {path}", suggestion="Pass a .jsonl.gz file or its directory."
        )
    return found


def read_targets(path: str | Path, limit: int | None = None) -> Iterator[Target]:
    """Targets of every file under ``path``, newest first within a file; ``limit`` per file."""
    for file in files_in(path):
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8") as lines:
            for i, line in enumerate(lines):
                if limit is not None and i >= limit:
                    break
                yield json.loads(line)


def visible(target: Target) -> tuple[str, list[dict[str, Any]]]:
    """What a ranker may see of a target: its text and the candidates' allowed fields."""
    return target["target_text"], [{k: c[k] for k in CANDIDATE_FIELDS} for c in target["candidates"]]


def clean(ranked: Iterable[str], candidate_ids: set[str]) -> list[str]:
    """The ranked list as the metrics read it: unknown ids refused, repeats kept at their first place."""
    out: list[str] = []
    seen: set[str] = set()
    for cid in ranked:
        if cid not in candidate_ids:
            raise ValueError(f"ranker returned {cid!r}, which is not a candidate")
        if cid not in seen:
            seen.add(cid)
            out.append(cid)
    return out


def recall_at(ranked: Sequence[str], relevant: set[str], tokens: dict[str, int], budget: int) -> float:
    """Greedy packing in rank order, skipping what does not fit: the share of relevant items loaded."""
    used = hit = 0
    for cid in ranked:
        if used + tokens[cid] <= budget:
            used += tokens[cid]
            hit += cid in relevant
    return hit / len(relevant)


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, cid in enumerate(ranked[:k]) if cid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def mrr(ranked: Sequence[str], relevant: set[str]) -> float:
    return next((1 / (i + 1) for i, cid in enumerate(ranked) if cid in relevant), 0.0)


def score(target: Target, ranked: Iterable[str]) -> dict[str, float]:
    """Every metric of one ranked list for one target."""
    tokens = {c["id"]: c["tokens"] for c in target["candidates"]}
    order = clean(ranked, set(tokens))
    relevant = set(target["relevant_ids"])
    out = {f"recall@{b}": recall_at(order, relevant, tokens, b) for b in BUDGETS}
    out["ndcg@10"] = ndcg_at(order, relevant)
    out["mrr"] = mrr(order, relevant)
    return out


def evaluate(rank: RankFn, targets: Iterable[Target]) -> dict[str, dict[str, float]]:
    """Per-repository means of every metric, plus ``"overall"``: the plain mean over repositories."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(METRICS, 0.0))
    counts: dict[str, int] = defaultdict(int)
    for target in targets:
        repo = target["repo"]
        counts[repo] += 1
        for metric, value in score(target, rank(target)).items():
            sums[repo][metric] += value
    table = {repo: {m: v / counts[repo] for m, v in sums[repo].items()} for repo in sorted(sums)}
    if table:
        table["overall"] = {m: sum(table[r][m] for r in sums) / len(sums) for m in METRICS}
        table["overall"]["targets"] = float(sum(counts.values()))
    for repo in sums:
        table[repo]["targets"] = float(counts[repo])
    return table


def oracle(target: Target) -> list[str]:
    """The upper bound: relevant candidates first (shortest first), then the rest by recency."""
    relevant = set(target["relevant_ids"])
    cands = target["candidates"]
    first = sorted((c for c in cands if c["id"] in relevant), key=lambda c: (c["tokens"], c["age_rank"]))
    rest = sorted((c for c in cands if c["id"] not in relevant), key=lambda c: c["age_rank"])
    return [c["id"] for c in first + rest]


def rank_function(name: str, model_path: str | None = None) -> RankIds:
    """The ranker interface function ``name`` stands for: (target text, candidates) -> ids.

    ``learned`` is ``caw_lab.ranking.rank`` itself (bound to the model at ``model_path``
    when one is given).
    """
    if name == "learned":
        return ranking.rank if model_path is None else partial(ranking.rank, model=rankers.load(model_path))
    return partial(rankers.rank, rankers.get(name))


def run(name: str, targets: Sequence[dict[str, Any]], model_path: str | None = None) -> Table:
    """Scores of ranker ``name`` (one of ``NAMES``) on ``targets``."""
    if name == "oracle":
        return evaluate(oracle, targets)
    if name == "learned-loro":
        from caw_lab.ranking import training  # scikit-learn: only leave-one-repo-out trains

        return training.leave_one_repo_out(training.examples(targets))
    ranked = rank_function(name, model_path)
    return evaluate(lambda t: ranked(*visible(t)), targets)


def compare(names: Sequence[str], targets: Sequence[dict[str, Any]], model_path: str | None = None) -> dict[str, Table]:
    repos = {t["repo"] for t in targets}
    chosen = [n for n in names if n != "learned-loro" or len(repos) > 1]
    return {name: run(name, targets, model_path) for name in chosen}


def markdown(results: dict[str, Table], scope: str = "overall") -> str:
    """One row per ranker for ``scope`` (a repository or ``overall``), metrics as the data README orders them."""
    head = "| ranker | " + " | ".join(METRICS) + " |"
    rule = "|---|" + "---:|" * len(METRICS)
    rows = [
        f"| {name} | " + " | ".join(f"{table[scope][m]:.3f}" for m in METRICS) + " |"
        for name, table in results.items()
        if scope in table
    ]
    return "\n".join([head, rule, *rows])


def scopes(results: dict[str, Table]) -> list[str]:
    found = {scope for table in results.values() for scope in table}
    return ["overall", *sorted(found - {"overall"})]
