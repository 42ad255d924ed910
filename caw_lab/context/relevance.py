"""The payload's lists as ranked items: prior tasks, memories, messages, siblings, dependency outcomes,
and the older checkpoints of the trail.

The ranking library (``caw_lab.ranking``) sees each item as the relevance benchmark's
candidates look (text, files, recency, tokens) and the current task as its query: name,
description, plan approach and steps, plus the files it declares
(``files_likely_affected``, the plan's files) as ``query_files``. Then a few workflow facts
the benchmark cannot teach are added to the score as fixed priors (log-odds, documented in
docs/context.md):

- a task the current one depends on: +2 / DAG distance (+2 direct, +1 two steps up);
- a task named in the current task's ``context_from``: +3;
- a task with neither outcome nor error yet: -1 (its name is all it can tell);
- a memory: + ln(confidence), so a faded memory sinks (confidence 1.0 adds nothing);
- an older checkpoint of type decision, error or replan: +1 (they explain the present).

Each item's text in the payload (an outcome, a memory, a message body) is cut at
``ITEM_TEXT_TOKENS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from caw_lab.context import compression
from caw_lab.context.budget import Entry
from caw_lab.context.surroundings import Surroundings
from caw_lab.context.tokens import counter
from caw_lab.limits import MAX_RANKED_ITEMS
from caw_lab.ranking import rankers

ITEM_TEXT_TOKENS = 300
TELLING_CHECKPOINTS = frozenset({"decision", "error", "replan"})
CHECKPOINT = "checkpoints"
"""The kind of a checkpoint's entry."""


class Item(NamedTuple):
    """A rankable item: its payload entry, what the ranker reads (text, files, when), and its row."""

    entry: Entry
    text: str
    files: list[str]
    at: int
    row: dict[str, Any]


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
        newest = sorted(sorted(range(len(items)), key=lambda i: items[i].at)[-MAX_RANKED_ITEMS:])
        items = [items[i] for i in newest]
    cands, scores = scored(ranker, task, items, memo)
    context_from = task.get("context_from") or []
    scores = scores + np.array([prior(item, distance or {}, context_from) for item in items])
    return [items[i].entry for i in rankers.order(ranker, scores, cands)]


def scored(
    ranker: rankers.Ranker, task: dict[str, Any], items: Sequence[Item], memo: dict[Any, Any] | None
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The items as candidates and the ranker's scores for them.

    ``memo`` is a kept workflow's (``surroundings``): while the change feed stands still an
    item's id fixes its text and files, so the same query, ids, timestamps and costs score
    the same, and a reload reuses the scores.
    """
    query, query_files = query_of(task)
    key = (
        "scores",
        ranker.name,
        ranker.per_token,
        query,
        tuple(query_files),
        tuple((item.entry.key, item.at, item.entry.tokens) for item in items),
    )
    found = memo.get(key) if memo is not None else None
    if found is None:
        cands = candidates(items)
        found = (cands, np.asarray(ranker.scores(query, cands, query_files), dtype=float))
        if memo is not None:
            memo[key] = found
    return found


def query_of(task: dict[str, Any]) -> tuple[str, list[str]]:
    """The current task as a query: its words, and the files it says it will touch."""
    plan = task.get("plan") if isinstance(task.get("plan"), dict) else {}
    steps = plan.get("steps") or []
    text = "\n".join(str(x) for x in (task["name"], task.get("description"), plan.get("approach"), *steps) if x)
    files = [
        *(task.get("files_likely_affected") or []),
        *(plan.get("files_to_modify") or []),
        *(plan.get("files_to_create") or []),
    ]
    return text, list(dict.fromkeys(f for f in files if isinstance(f, str)))


def candidates(items: Sequence[Item]) -> list[dict[str, Any]]:
    """Benchmark-shaped candidates of the items; the newest is age_rank 1.

    ``tokens`` is what the entry costs in the payload, as a benchmark candidate's tokens are
    what it costs to load: the load order weighs relevance against it.
    """
    stamps = np.array([item.at for item in items], dtype=float)
    age = np.empty(len(items), dtype=np.int64)
    age[np.argsort(-stamps, kind="stable")] = np.arange(1, len(items) + 1)
    return [
        {"id": item.entry.key, "text": item.text, "files": item.files, "age_rank": int(a), "tokens": item.entry.tokens}
        for item, a in zip(items, age.tolist(), strict=True)
    ]


def prior(item: Item, distance: dict[str, int], context_from: Sequence[str]) -> float:
    """The workflow facts' log-odds for one item (rule in the module docstring)."""
    kind, raw = item.entry.kind, item.row
    bonus = 0.0
    if kind == "task":
        bonus += 2.0 / distance[raw["id"]] if raw["id"] in distance else 0.0
        bonus += 3.0 if raw["id"] in context_from else 0.0
        bonus -= 1.0 if not (raw.get("outcome") or raw.get("error")) else 0.0
    elif kind == "memory":
        bonus += math.log(max(raw.get("confidence", 1.0), 1e-3))
    elif kind == CHECKPOINT and raw.get("checkpoint_type") in TELLING_CHECKPOINTS:
        bonus += 1.0
    return bonus


def pool(
    ranker: rankers.Ranker,
    surroundings: Surroundings,
    tasks: list[dict[str, Any]],
    full: bool,
    wanted: Callable[[str, dict[str, Any]], bool],
) -> list[Entry]:
    """Prior tasks, memories and messages ranked together for the prior-tasks slice; ``full`` shows
    the tasks' outcome details, ``wanted(kind, row)`` picks the memories and messages."""
    items = task_items(surroundings, tasks, "task", prior_item_full if full else prior_item_short, variant=str(full))
    items += [
        Item(
            Entry(m["id"], memory_item(m), "memory"),
            f"{m['topic']}\n{m['content']}",
            memory_files(m),
            m["updated_at"],
            m,
        )
        for m in surroundings.memories
        if wanted("memory", m)
    ]
    items += [
        Item(
            Entry(m["id"], message_item(m), "message"), f"{m.get('subject') or ''}\n{m['body']}", [], m["created_at"], m
        )
        for m in surroundings.messages
        if wanted("message", m)
    ]
    return order(ranker, surroundings.task, items, surroundings.distance, surroundings.memo)


def related(
    ranker: rankers.Ranker,
    surroundings: Surroundings,
    dependencies: list[dict[str, Any]],
    siblings: list[dict[str, Any]],
) -> list[Entry]:
    """Dependency outcomes in the order the edges were added, then siblings ranked."""
    ranked = order(
        ranker, surroundings.task, task_items(surroundings, siblings, "sibling", status_item), memo=surroundings.memo
    )
    return [Entry(t["id"], status_item(t), "dependency") for t in dependencies] + ranked


def task_items(
    surroundings: Surroundings,
    tasks: list[dict[str, Any]],
    kind: str,
    make: Callable[[dict[str, Any]], Any],
    variant: str = "",
) -> list[Item]:
    """Tasks as rankable items, each built once per task row (``surroundings``: kept while the
    row is): a reload reuses entries whose token costs are known. Keyed by the encoding too,
    since costs and cut texts depend on it."""
    key = (kind, variant, counter().name)
    out = []
    for t in tasks:
        kept = surroundings.per_task.setdefault(t["id"], {})
        item = kept.get(key)
        if item is None:
            item = kept[key] = Item(Entry(t["id"], make(t), kind), task_text(t), task_files(t), t["updated_at"], t)
        out.append(item)
    return out


def task_text(task: dict[str, Any]) -> str:
    return "\n".join(x for x in (task["name"], task.get("description"), task.get("outcome")) if x)


def task_files(task: dict[str, Any]) -> list[str]:
    plan = task.get("plan") if isinstance(task.get("plan"), dict) else {}
    found = [
        *(task.get("files_changed") or []),
        *(task.get("files_likely_affected") or []),
        *(plan.get("files_to_modify") or []),
        *(plan.get("files_to_create") or []),
    ]
    return list(dict.fromkeys(f for f in found if isinstance(f, str)))


def short(text: Any) -> Any:
    return counter().truncate(text, ITEM_TEXT_TOKENS) if isinstance(text, str) else text


def prior_item(task: dict[str, Any], full: bool) -> dict[str, Any]:
    """A prior task by its outcome (``compression.outcome``), cut unless shown in full."""
    item = compression.outcome(task, full)
    item["outcome"] = short(item["outcome"]) if not full else item["outcome"]
    return item


def prior_item_full(task: dict[str, Any]) -> dict[str, Any]:
    return prior_item(task, True)


def prior_item_short(task: dict[str, Any]) -> dict[str, Any]:
    return prior_item(task, False)


def status_item(task: dict[str, Any]) -> dict[str, Any]:
    """A sibling or a dependency: where it stands and what it produced."""
    return {"id": task["id"], "name": task["name"], "status": task["status"], "outcome": short(task.get("outcome"))}


def memory_item(memory: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": memory["id"],
        "topic": memory["topic"],
        "type": memory["memory_type"],
        "content": short(memory["content"]),
        "confidence": round(memory["confidence"], 2),
    }


def memory_files(memory: dict[str, Any]) -> list[str]:
    meta = memory.get("metadata") if isinstance(memory.get("metadata"), dict) else {}
    files = meta.get("files") or meta.get("files_changed") or []
    return [f for f in files if isinstance(f, str)]


def message_item(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message["id"],
        "from": message.get("sender_id"),
        "type": message["message_type"],
        "subject": message.get("subject"),
        "body": short(message["body"]),
    }
