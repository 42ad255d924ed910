"""``task_load_context``: the most useful context for a task that fits its token budget.

The payload has the reference's fields — ``workflow``, ``current_task``, ``prior_tasks``,
``sibling_tasks``, ``dependency_outcomes``, ``token_estimate`` — plus ``memories`` and
``messages`` when there are any, ``omitted`` (how many items of each list did not fit,
so the agent knows to ask for them with task_get or checkpoint_list), and ``cursor``
(the change-feed position it reflects, for a later ``since_seq`` delta).

``token_estimate`` is the exact token count (``tokens.counter()``, cl100k by default)
of the compact JSON serialisation — ``json.dumps(payload, ensure_ascii=False,
separators=(",", ":"))`` — of the whole returned payload, ``token_estimate`` included;
it never exceeds the budget. A budget too small for even the empty frame is refused.

Each part is built inside its slice (``budget``): fixed fields first, then lists packed
in ranked order (``relevance``, ``packing``). Parts that need less than their slice pass
the rest on (``budget.refill``). The assembled payload is counted exactly and, in the
rare case the per-item costs under-counted, rebuilt with a slightly smaller budget.

The same question asked again at the same feed head gets the answer already given
(``answers``), parsed afresh.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from caw_lab.context import answers, compression, delta, fields, rankers, relevance, summaries, trail_entries
from caw_lab.context import budget as budgets
from caw_lab.context.fields import Field, Fields
from caw_lab.context.include import Include
from caw_lab.context.packing import Entry, need, pack
from caw_lab.context.sources import Surroundings, gather
from caw_lab.context.tokens import count_json, counter, dumps, with_estimate
from caw_lab.context.trail import Trail
from caw_lab.engine.events import head_seq
from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.telemetry import context_loads

ITEM_TEXT_TOKENS = 300
FRAME_ALLOWANCE = 60


@dataclass
class Parts:
    """Everything the context could hold, ranked (the trail when its order matters: ``trail``),
    before any budget is applied."""

    workflow: Fields | None
    task: Fields | None
    checkpoints: Trail = field(default_factory=Trail)
    pool: list[Entry] | None = None
    related: list[Entry] = field(default_factory=list)
    siblings_wanted: bool = True
    dependencies_wanted: bool = True
    list_empty_trail: bool = True


def load(
    db: Backend,
    task_id: str,
    include: Include | None = None,
    max_tokens: int | None = None,
    since_seq: int | None = None,
    ranker: str = "learned",
) -> dict[str, Any]:
    start = time.perf_counter()
    include = include or Include()
    head = head_seq(db)
    question = (task_id, include, max_tokens, since_seq, ranker, counter().name)
    fresh = (kept := answers.recall(db, question, head)) is None
    if fresh:
        kept = dumps(answer(db, task_id, head, include, max_tokens, since_seq, ranker))
        answers.keep(db, question, head, kept)
    loaded = json.loads(kept)  # a copy: the caller may change it, the kept rows and answer must not
    context_loads.record((time.perf_counter() - start) * 1000, kept=not fresh)
    return loaded


def answer(
    db: Backend, task_id: str, head: int, include: Include, max_tokens: int | None, since_seq: int | None, ranker: str
) -> dict[str, Any]:
    around = gather(db, task_id, head)
    change = delta.since(db, around, since_seq) if since_seq is not None else None
    parts = build_parts(db, around, include, rankers.get(ranker), change)
    frame: dict[str, Any] = {}
    if change is not None:
        frame = {"delta": True, "since_seq": since_seq}
    frame["cursor"] = change.cursor if change is not None else head
    return fit(parts, frame, choose_budget(around, parts, max_tokens))


def choose_budget(around: Surroundings, parts: Parts, max_tokens: int | None) -> budgets.Budget:
    if max_tokens is not None:
        return budgets.fixed(max_tokens)
    plan = compression.plan(around.task.get("plan"))
    encoding = counter().name
    full_trail = (trail_entries.entry(c, True, encoding) for c in around.checkpoints)
    return budgets.adaptive(
        complexity=around.task.get("estimated_complexity"),
        plan_tokens=count_json(plan) if plan else 0,
        dependencies=len(around.depends_on),
        trail_tokens=sum(e.tokens - 1 for e in full_trail),  # an entry's cost counts its separator
        need=sum(wanted(parts).values()) + FRAME_ALLOWANCE,
    )


def fit(parts: Parts, frame: dict[str, Any], budget: budgets.Budget) -> dict[str, Any]:
    empty = assemble(parts, dict.fromkeys(budgets.PARTS, 0), frame)
    overhead = count_json({**empty, "token_estimate": budget.total})
    if overhead > budget.total:
        raise CawError(
            "BUDGET_TOO_SMALL",
            f"max_tokens={budget.total} cannot hold even the empty context frame ({overhead} tokens)",
            recoverable=True,
            suggestion=f"Ask for at least {overhead + 50} tokens.",
        )
    available = budget.total - overhead
    want = wanted(parts)
    while True:
        slices = budget.slices(available)
        grown = budgets.refill(slices, measure(parts, slices, want), want)
        payload = with_estimate(assemble(parts, grown, frame))
        if payload["token_estimate"] <= budget.total:
            return payload
        available -= payload["token_estimate"] - budget.total
        if available < 0:  # pragma: no cover - the empty frame fits, so shrinking the parts converges
            raise RuntimeError("context did not fit its budget")


def wanted(parts: Parts) -> dict[str, int]:
    """The slice each part needs to hold everything it has (what ``sections_of`` packs against)."""
    return {
        "workflow": fields.whole(parts.workflow),
        "current_task": fields.whole(parts.task) + 6 + parts.checkpoints.need if parts.task else 0,
        "prior_tasks": need(parts.pool) + 2 if parts.pool else 0,
        "related": need(parts.related) + 4,
    }


def measure(parts: Parts, slices: dict[str, int], want: dict[str, int]) -> dict[str, int]:
    """What each part uses of its slice. A part that wants more than its slice uses all of it:
    packing it only to learn the few tokens it would leave over would rank its items (the
    trail's ranking is most of a reload) for nothing."""
    short = {p for p in budgets.PARTS if want[p] > slices[p]}
    sections = sections_of(parts, {p: 0 if p in short else slices[p] for p in budgets.PARTS})
    return {p: slices[p] if p in short else count_json(sections[p]) if sections[p] is not None else 0
            for p in budgets.PARTS}


def assemble(parts: Parts, slices: dict[str, int], frame: dict[str, Any]) -> dict[str, Any]:
    """The payload in the reference's field order, extras after, the frame last."""
    sections = sections_of(parts, slices)
    payload: dict[str, Any] = {"workflow": sections["workflow"], "current_task": sections["current_task"]}
    pool, related = sections["prior_tasks"], sections["related"]
    payload["prior_tasks"] = pool.get("task", []) if pool is not None else None
    payload["sibling_tasks"] = related.get("sibling", []) if parts.siblings_wanted else None
    payload["dependency_outcomes"] = related.get("dependency", []) if parts.dependencies_wanted else None
    for kind, key in (("memory", "memories"), ("message", "messages")):
        if pool and pool.get(kind):
            payload[key] = pool[kind]
    missing = omitted(parts, sections)
    if missing:
        payload["omitted"] = missing
    return {**payload, **frame}


def sections_of(parts: Parts, slices: dict[str, int]) -> dict[str, Any]:
    """Each part built inside its slice; the lists grouped by kind."""
    task, used = fields.within(parts.task, slices["current_task"] - 3)
    if task is not None:
        room = slices["current_task"] - used - 3
        trail, _ = pack(parts.checkpoints.packing_order(room), room)
        if parts.checkpoints or parts.list_empty_trail:
            task["checkpoints"] = sorted((e.value for e in trail), key=lambda c: c["sequence"])
    pool = grouped(pack(parts.pool, slices["prior_tasks"] - 2)[0]) if parts.pool is not None else None
    return {
        "workflow": fields.within(parts.workflow, slices["workflow"])[0],
        "current_task": task,
        "prior_tasks": pool,
        "related": grouped(pack(parts.related, slices["related"] - 4)[0]),
    }


def grouped(entries: list[Entry]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for e in entries:
        out.setdefault(e.kind, []).append(e.value)
    return out


def omitted(parts: Parts, sections: dict[str, Any]) -> dict[str, int]:
    """How many items of each list did not fit (nothing when nothing was cut)."""
    have = {
        "checkpoints": len((sections["current_task"] or {}).get("checkpoints") or []),
        **{k: len(v) for k, v in (sections["prior_tasks"] or {}).items()},
        **{k: len(v) for k, v in sections["related"].items()},
    }
    total: dict[str, int] = {"checkpoints": len(parts.checkpoints) if parts.task else 0}
    for e in (parts.pool or []) + parts.related:
        total[e.kind] = total.get(e.kind, 0) + 1
    names = {"task": "prior_tasks", "sibling": "sibling_tasks", "dependency": "dependency_outcomes",
             "memory": "memories", "message": "messages", "checkpoints": "checkpoints"}
    return {names[k]: n - have.get(k, 0) for k, n in total.items() if n - have.get(k, 0) > 0}


def build_parts(
    db: Backend, around: Surroundings, include: Include, ranker: rankers.Ranker, change: delta.Change | None
) -> Parts:
    task = around.task
    related_ids = set(around.depends_on) if include.dependency_outcomes else set()
    sibling_ids = {t["id"] for t in around.siblings} if include.sibling_status else set()
    keep = change.keeps if change is not None else (lambda kind, row: True)
    parts = Parts(
        workflow=workflow_fields(db, around, include) if keep("workflow", around.workflow) else None,
        task=task_fields(task) if keep("task", task) else None,
        siblings_wanted=include.sibling_status,
        dependencies_wanted=include.dependency_outcomes,
        list_empty_trail=change is None,
    )
    trail = [c for c in around.checkpoints if keep("checkpoint", c)]
    if trail and parts.task is None:
        parts.task = task_fields(task)[:4]
    parts.checkpoints = checkpoint_entries(ranker, around, trail, include)
    if include.prior_task_outcomes:
        pool = [t for t in around.prior if t["id"] not in related_ids | sibling_ids and keep("task", t)]
        parts.pool = pool_entries(ranker, around, pool, include, keep)
    deps = [t for t in around.dependencies if t["id"] in related_ids and keep("task", t)]
    sibs = [t for t in around.siblings if t["id"] in sibling_ids and keep("task", t)]
    parts.related = [Entry(t["id"], dependency_item(t), "dependency") for t in deps] + relevance.order(
        ranker, task, task_items(around, sibs, "sibling", sibling_item), memo=around.memo,
    )
    return parts


def workflow_fields(db: Backend, around: Surroundings, include: Include) -> Fields | None:
    if not (include.workflow_plan or include.workflow_summary):
        return None
    wf = around.workflow
    shown = [Field("id", wf["id"]), Field("name", wf["name"]), Field("status", wf["status"])]
    plan = wf.get("initial_plan") if isinstance(wf.get("initial_plan"), dict) else {}
    if include.workflow_plan:
        shown.append(Field("plan_summary", wf.get("plan_summary")))
        if plan.get("approach"):
            shown.append(Field("approach", plan["approach"]))
    if include.workflow_summary:
        shown.append(Field("source_summary", summaries.source_summary(db, wf.get("source_content"))))
    return shown


def task_fields(task: dict[str, Any]) -> Fields:
    plan = compression.plan(task.get("plan"))
    smaller_plan = {"approach": plan["approach"]} if isinstance(plan, dict) and plan.get("approach") else None
    return [
        Field("id", task["id"]), Field("name", task["name"]), Field("status", task["status"]),
        Field("sequence", task["sequence"]), Field("description", task.get("description")),
        Field("plan", plan, smaller_plan), Field("resume", task.get("resume"), brief_resume(task.get("resume"))),
        Field("context", task.get("context")),
        Field("files_likely_affected", compression.file_list(task.get("files_likely_affected"))),
    ]


def brief_resume(resume: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where to pick up, when the whole resume point (context/resume.py) does not fit."""
    return {k: resume[k] for k in ("attempt", "last_error", "next_step")} if resume else None


def checkpoint_entries(
    ranker: rankers.Ranker, around: Surroundings, trail: list[dict[str, Any]], include: Include
) -> Trail:
    """The newest ``recent_checkpoints`` in full, newest first (each may shrink to one line), then
    the older ones as one line each, best first; every checkpoint in full with ``all_checkpoints``."""
    encoding = counter().name
    if include.all_checkpoints:
        return Trail([trail_entries.entry(c, True, encoding) for c in reversed(trail)])
    cut = max(len(trail) - include.recent_checkpoints, 0)
    recent = [trail_entries.entry(c, True, encoding) for c in reversed(trail[cut:])]
    older = [(trail_entries.entry(c, False, encoding), c["summary"], c.get("files_changed") or [], c["sequence"], c)
             for c in trail[:cut]]
    return Trail(recent, [item[0] for item in older],
                 lambda: relevance.order(ranker, around.task, older, memo=around.memo))


def pool_entries(
    ranker: rankers.Ranker, around: Surroundings, pool: list[dict[str, Any]], include: Include, keep: Any
) -> list[Entry]:
    """Prior tasks, memories and messages ranked together for the prior-tasks slice."""
    full = include.prior_task_full
    items = task_items(around, pool, "task", prior_item_full if full else prior_item_short, variant=str(full))
    items += [(Entry(m["id"], memory_item(m), "memory"), f"{m['topic']}\n{m['content']}",
               memory_files(m), m["updated_at"], m) for m in around.memories if keep("memory", m)]
    items += [(Entry(m["id"], message_item(m), "message"), f"{m.get('subject') or ''}\n{m['body']}",
               [], m["created_at"], m) for m in around.messages if keep("message", m)]
    return relevance.order(ranker, around.task, items, around.distance, around.memo)


def task_items(
    around: Surroundings, tasks: list[dict[str, Any]], kind: str, make: Callable[[dict[str, Any]], Any],
    variant: str = "",
) -> list[relevance.Item]:
    """Tasks as rankable items (entry, text, files, timestamp, row), each built once per task
    row (``sources``: kept while the row is): a reload reuses entries whose token costs are
    known. Keyed by the encoding too, since costs and cut texts depend on it."""
    key = (kind, variant, counter().name)
    out = []
    for t in tasks:
        kept = around.per_task.setdefault(t["id"], {})
        item = kept.get(key)
        if item is None:
            item = kept[key] = (Entry(t["id"], make(t), kind), relevance.task_text(t),
                                relevance.task_files(t), t["updated_at"], t)
        out.append(item)
    return out


def short(text: Any) -> Any:
    return counter().truncate(text, ITEM_TEXT_TOKENS) if isinstance(text, str) else text


def prior_item(task: dict[str, Any], full: bool) -> dict[str, Any]:
    item = compression.outcome(task, full)
    item["outcome"] = short(item["outcome"]) if not full else item["outcome"]
    return item


def prior_item_full(task: dict[str, Any]) -> dict[str, Any]:
    return prior_item(task, True)


def prior_item_short(task: dict[str, Any]) -> dict[str, Any]:
    return prior_item(task, False)


def dependency_item(task: dict[str, Any]) -> dict[str, Any]:
    return {"id": task["id"], "name": task["name"], "status": task["status"], "outcome": short(task.get("outcome"))}


def sibling_item(task: dict[str, Any]) -> dict[str, Any]:
    return {"id": task["id"], "name": task["name"], "status": task["status"], "outcome": short(task.get("outcome"))}


def memory_item(memory: dict[str, Any]) -> dict[str, Any]:
    return {"id": memory["id"], "topic": memory["topic"], "type": memory["memory_type"],
            "content": short(memory["content"]), "confidence": round(memory["confidence"], 2)}


def memory_files(memory: dict[str, Any]) -> list[str]:
    meta = memory.get("metadata") if isinstance(memory.get("metadata"), dict) else {}
    files = meta.get("files") or meta.get("files_changed") or []
    return [f for f in files if isinstance(f, str)]


def message_item(message: dict[str, Any]) -> dict[str, Any]:
    return {"id": message["id"], "from": message.get("sender_id"), "type": message["message_type"],
            "subject": message.get("subject"), "body": short(message["body"])}
