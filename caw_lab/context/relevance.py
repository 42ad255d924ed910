"""Ranking a live workflow's context items for its current task.

The ranker sees each item as the relevance benchmark's candidates look (text, files,
recency, tokens) and the current task as its query: name, description, plan approach
and steps, plus the files it declares (``files_likely_affected``, the plan's files) as
``query_files``. Then a few workflow facts the benchmark cannot teach are added to the
score as fixed priors (log-odds, documented in docs/context.md):

- a task the current one depends on: +2 / DAG distance (+2 direct, +1 two steps up);
- a task named in the current task's ``context_from``: +3;
- a task with neither outcome nor error yet: -1 (its name is all it can tell);
- a memory: + ln(confidence), so a faded memory sinks (confidence 1.0 adds nothing);
- an older checkpoint of type decision, error or replan: +1 (they explain the present).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from caw_lab.context import rankers
from caw_lab.context.packing import Entry
from caw_lab.limits import MAX_RANKED_ITEMS

TELLING_CHECKPOINTS = frozenset({"decision", "error", "replan"})
Item = tuple[Entry, str, list[str], int, dict[str, Any]]


def query_of(task: dict[str, Any]) -> tuple[str, list[str]]:
    """The current task as a query: its words, and the files it says it will touch."""
    plan = task.get("plan") if isinstance(task.get("plan"), dict) else {}
    steps = plan.get("steps") or []
    text = "\n".join(
        str(x) for x in (task["name"], task.get("description"), plan.get("approach"), *steps) if x
    )
    files = [*(task.get("files_likely_affected") or []), *(plan.get("files_to_modify") or []),
             *(plan.get("files_to_create") or [])]
    return text, list(dict.fromkeys(f for f in files if isinstance(f, str)))


def task_text(task: dict[str, Any]) -> str:
    return "\n".join(x for x in (task["name"], task.get("description"), task.get("outcome")) if x)


def task_files(task: dict[str, Any]) -> list[str]:
    plan = task.get("plan") if isinstance(task.get("plan"), dict) else {}
    found = [*(task.get("files_changed") or []), *(task.get("files_likely_affected") or []),
             *(plan.get("files_to_modify") or []), *(plan.get("files_to_create") or [])]
    return list(dict.fromkeys(f for f in found if isinstance(f, str)))


def candidates(items: Sequence[tuple[Entry, str, list[str], int]]) -> list[dict[str, Any]]:
    """Benchmark-shaped candidates from (entry, text, files, timestamp); newest is age_rank 1.

    ``tokens`` is what the entry costs in the payload, as a benchmark candidate's tokens are
    what it costs to load: the packing order weighs relevance against it.
    """
    stamps = np.array([at for _, _, _, at in items], dtype=float)
    age = np.empty(len(items), dtype=np.int64)
    age[np.argsort(-stamps, kind="stable")] = np.arange(1, len(items) + 1)
    return [
        {"id": entry.key, "text": text, "files": files, "age_rank": int(a), "tokens": entry.tokens}
        for (entry, text, files, _), a in zip(items, age.tolist(), strict=True)
    ]


def prior(entry: Entry, raw: dict[str, Any], distance: dict[str, int], context_from: Sequence[str]) -> float:
    bonus = 0.0
    if entry.kind == "task":
        bonus += 2.0 / distance[raw["id"]] if raw["id"] in distance else 0.0
        bonus += 3.0 if raw["id"] in context_from else 0.0
        bonus -= 1.0 if not (raw.get("outcome") or raw.get("error")) else 0.0
    elif entry.kind == "memory":
        bonus += math.log(max(raw.get("confidence", 1.0), 1e-3))
    elif entry.kind == "checkpoints" and raw.get("checkpoint_type") in TELLING_CHECKPOINTS:
        bonus += 1.0
    return bonus


def order(
    ranker: rankers.Ranker,
    task: dict[str, Any],
    items: Sequence[Item],
    distance: dict[str, int] | None = None,
    memo: dict[Any, Any] | None = None,
) -> list[Entry]:
    """The entries in load order (``rankers.order``) of ranker score plus the workflow priors.
    Only the ``MAX_RANKED_ITEMS`` newest items are ranked, so ranking costs what it does in a
    young workflow however long the trail grows; older ones are left out."""
    if not items:
        return []
    if len(items) > MAX_RANKED_ITEMS:
        newest = sorted(sorted(range(len(items)), key=lambda i: items[i][3])[-MAX_RANKED_ITEMS:])
        items = [items[i] for i in newest]
    cands, scores = scored(ranker, task, items, memo)
    context_from = task.get("context_from") or []
    scores = scores + np.array([prior(e, raw, distance or {}, context_from) for e, _, _, _, raw in items])
    return [items[i][0] for i in rankers.order(ranker, scores, cands)]


def scored(
    ranker: rankers.Ranker, task: dict[str, Any], items: Sequence[Item], memo: dict[Any, Any] | None
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The items as candidates and the ranker's scores for them.

    ``memo`` is a workflow snapshot's (``sources``): while the change feed stands still an
    item's id fixes its text and files, so the same query, ids, timestamps and costs score
    the same, and a reload reuses the scores.
    """
    query, query_files = query_of(task)
    key = ("scores", ranker.name, ranker.per_token, query, tuple(query_files),
           tuple((e.key, at, e.tokens) for e, _, _, at, _ in items))
    found = memo.get(key) if memo is not None else None
    if found is None:
        cands = candidates([(e, text, files, at) for e, text, files, at, _ in items])
        found = (cands, np.asarray(ranker.scores(query, cands, query_files), dtype=float))
        if memo is not None:
            memo[key] = found
    return found
