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

The path of a load: on a local file the feed head is read alone first, since an answer kept
at that head (below) needs nothing more; ``surroundings.nearby`` reads the head with what the
task's id leads to (one batch: on D1, where each request is a round trip, the only one for a
kept answer), ``surroundings.gather`` the workflow-sized part when it is not kept at that head
(at most one more); ``material``
turns it into fields and ranked entries (``current_task``, ``relevance``); ``budget``
sizes the slices; ``fit`` fills each slice once: parts that need less than
their slice pass the rest on (``budget.refill``). The assembled payload is counted
exactly and, in the rare case the per-item costs under-counted, refitted with a slightly
smaller budget.

The same question asked again at the same feed head gets the answer already given
(``ANSWERS``), parsed afresh. A load reads and writes nothing in the database.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from caw_lab.context import Include, compression, current_task, relevance
from caw_lab.context import budget as budgets
from caw_lab.context.budget import Entry, Field, Fields, need, pack, whole, within
from caw_lab.context.caches import Kept, of_backend
from caw_lab.context.current_task import Trail
from caw_lab.context.surroundings import Change, Nearby, Surroundings, gather, nearby
from caw_lab.context.tokens import count_json, counter, dumps, with_estimate
from caw_lab.engine import events
from caw_lab.errors import CawError
from caw_lab.json_values import Rendered
from caw_lab.ranking import rankers
from caw_lab.store.backend import Backend
from caw_lab.store.reads import Reads
from caw_lab.telemetry.tool_calls import context_loaded

FRAME_ALLOWANCE = 60
FRESH_SECONDS = 1.0
"""How long an answer is given again at an unchanged head: memories' confidence decays with
the clock, the one input that moves without an event."""


class Answer(NamedTuple):
    """A payload as it was given: its JSON text, the feed head it reflects, and when (monotonic)."""

    text: str
    head: int
    given_at: float


ANSWERS: Kept[Answer] = Kept(256)
"""Answers by (backend, question)."""
SUMMARIES: Kept[str | None] = Kept(64)
"""Compressed sources (``compression.source_summary``) by the source's text."""
LIST_NAMES = {
    "task": "prior_tasks",
    "sibling": "sibling_tasks",
    "dependency": "dependency_outcomes",
    "memory": "memories",
    "message": "messages",
    "checkpoints": "checkpoints",
}
"""The payload's name of each kind of entry, as ``omitted`` counts them."""


@dataclass
class Material:
    """Everything the context could hold, ranked (the trail when its order matters: ``Trail``),
    before any budget is applied."""

    workflow: Fields | None
    task: Fields | None
    checkpoints: Trail = field(default_factory=Trail)
    pool: list[Entry] | None = None
    related: list[Entry] = field(default_factory=list)
    siblings_wanted: bool = True
    dependencies_wanted: bool = True
    list_empty_trail: bool = True

    def wanted(self) -> dict[str, int]:
        """The slice each part needs to hold everything it has."""
        return {
            "workflow": whole(self.workflow),
            "current_task": whole(self.task) + 6 + self.checkpoints.need if self.task else 0,
            "prior_tasks": need(self.pool) + 2 if self.pool else 0,
            "related": need(self.related) + 4,
        }


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
    question = (of_backend(db), task_id, include, max_tokens, since_seq, ranker, counter().name)
    fresh = False
    text = None if db.remote else recall(question, events.head_seq(db))
    if text is None:
        batch = Reads(db)
        head_of, near = nearby(batch, task_id)
        batch.run()
        head = head_of()
        text = recall(question, head)
        if text is None:
            text, fresh = dumps(answer(db, near(), include, max_tokens, since_seq, ranker)), True
            ANSWERS.put(question, Answer(text, head, time.monotonic()))
    loaded = Rendered(text)  # a copy: the caller may change it, the kept answer must not
    context_loaded((time.perf_counter() - start) * 1000, kept=not fresh)
    return loaded


def recall(question: Hashable, head: int) -> str | None:
    """The answer given to ``question`` at ``head`` less than ``FRESH_SECONDS`` ago, as JSON text."""
    kept = ANSWERS.get(question)
    if kept is None or kept.head != head or time.monotonic() - kept.given_at >= FRESH_SECONDS:
        return None
    return kept.text


def answer(
    db: Backend, near: Nearby, include: Include, max_tokens: int | None, since_seq: int | None, ranker: str
) -> dict[str, Any]:
    surroundings = gather(db, near, since_seq)
    change = surroundings.change
    material = material_of(surroundings, include, rankers.get(ranker), change)
    frame: dict[str, Any] = {}
    if change is not None:
        frame = {"delta": True, "since_seq": since_seq}
    frame["cursor"] = change.cursor if change is not None else near.head
    want = material.wanted()
    return fit(material, want, frame, choose_budget(surroundings, want, max_tokens))


def choose_budget(surroundings: Surroundings, want: dict[str, int], max_tokens: int | None) -> budgets.Budget:
    if max_tokens is not None:
        return budgets.fixed(max_tokens)
    plan = compression.plan(surroundings.task.get("plan"))
    full_trail = current_task.checkpoint_entries(surroundings.checkpoints, True)
    return budgets.adaptive(
        complexity=surroundings.task.get("estimated_complexity"),
        plan_tokens=count_json(plan) if plan else 0,
        dependencies=len(surroundings.depends_on),
        trail_tokens=sum(e.tokens - 1 for e in full_trail),  # an entry's cost counts its separator
        need=sum(want.values()) + FRAME_ALLOWANCE,
    )


def fit(material: Material, want: dict[str, int], frame: dict[str, Any], budget: budgets.Budget) -> dict[str, Any]:
    """The payload within ``budget``: each part filled once at its slice (``Sections``), refitted
    smaller only when the exact count of the whole exceeds the budget."""
    overhead = count_json({**assemble(material, Sections(material).empty(), frame), "token_estimate": budget.total})
    if overhead > budget.total:
        raise CawError(
            "BUDGET_TOO_SMALL",
            f"max_tokens={budget.total} cannot hold even the empty context frame ({overhead} tokens)",
            recoverable=True,
            suggestion=f"Ask for at least {overhead + 50} tokens.",
        )
    available = budget.total - overhead
    sections = Sections(material)
    while True:
        slices = budget.slices(available)
        grown = budgets.refill(slices, sections.used(slices, want), want)
        payload = with_estimate(assemble(material, sections.at(grown), frame))
        if payload["token_estimate"] <= budget.total:
            return payload
        available -= payload["token_estimate"] - budget.total
        if available < 0:  # pragma: no cover - the empty frame fits, so shrinking the parts converges
            raise RuntimeError("context did not fit its budget")


class Sections:
    """Each part built inside a slice, once per slice size: measuring what a part uses and
    assembling the payload share the same packing. The lists are grouped by kind."""

    def __init__(self, material: Material) -> None:
        self.material = material
        self._made: dict[tuple[str, int], Any] = {}

    def empty(self) -> dict[str, Any]:
        """Every part at a slice of nothing: what the payload's frame costs on its own."""
        return {
            "workflow": None,
            "current_task": None,
            "prior_tasks": {} if self.material.pool is not None else None,
            "related": {},
        }

    def used(self, slices: dict[str, int], want: dict[str, int]) -> dict[str, int]:
        """What each part uses of its slice. A part that wants more than its slice uses all of it:
        filling it only to learn the few tokens it would leave over would rank its items (the
        trail's ranking is most of a reload) for nothing."""
        out = {}
        for part in budgets.PARTS:
            if want[part] > slices[part]:
                out[part] = slices[part]
            else:
                section = self.of(part, slices[part])
                out[part] = count_json(section) if section is not None else 0
        return out

    def at(self, slices: dict[str, int]) -> dict[str, Any]:
        return {part: self.of(part, slices[part]) for part in budgets.PARTS}

    def of(self, part: str, size: int) -> Any:
        key = (part, size)
        if key not in self._made:
            self._made[key] = getattr(self, part)(size)
        return self._made[key]

    def workflow(self, size: int) -> dict[str, Any] | None:
        return within(self.material.workflow, size)[0]

    def current_task(self, size: int) -> dict[str, Any] | None:
        material = self.material
        task, used = within(material.task, size - 3)
        if task is not None:
            room = size - used - 3
            trail = pack(material.checkpoints.packing_order(room), room)
            if material.checkpoints or material.list_empty_trail:
                task["checkpoints"] = sorted((e.value for e in trail), key=lambda c: c["sequence"])
        return task

    def prior_tasks(self, size: int) -> dict[str, list[Any]] | None:
        return grouped(pack(self.material.pool, size - 2)) if self.material.pool is not None else None

    def related(self, size: int) -> dict[str, list[Any]]:
        return grouped(pack(self.material.related, size - 4))


def assemble(material: Material, sections: dict[str, Any], frame: dict[str, Any]) -> dict[str, Any]:
    """The payload in the reference's field order, extras after, the frame last."""
    payload: dict[str, Any] = {"workflow": sections["workflow"], "current_task": sections["current_task"]}
    pool, related = sections["prior_tasks"], sections["related"]
    payload["prior_tasks"] = pool.get("task", []) if pool is not None else None
    payload["sibling_tasks"] = related.get("sibling", []) if material.siblings_wanted else None
    payload["dependency_outcomes"] = related.get("dependency", []) if material.dependencies_wanted else None
    for kind, key in (("memory", "memories"), ("message", "messages")):
        if pool and pool.get(kind):
            payload[key] = pool[kind]
    missing = omitted(material, sections)
    if missing:
        payload["omitted"] = missing
    return {**payload, **frame}


def grouped(entries: list[Entry]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for e in entries:
        out.setdefault(e.kind, []).append(e.value)
    return out


def omitted(material: Material, sections: dict[str, Any]) -> dict[str, int]:
    """How many items of each list did not fit (nothing when nothing was cut)."""
    have = {
        "checkpoints": len((sections["current_task"] or {}).get("checkpoints") or []),
        **{k: len(v) for k, v in (sections["prior_tasks"] or {}).items()},
        **{k: len(v) for k, v in sections["related"].items()},
    }
    total: dict[str, int] = {"checkpoints": len(material.checkpoints) if material.task else 0}
    for e in (material.pool or []) + material.related:
        total[e.kind] = total.get(e.kind, 0) + 1
    return {LIST_NAMES[k]: n - have.get(k, 0) for k, n in total.items() if n - have.get(k, 0) > 0}


def material_of(
    surroundings: Surroundings, include: Include, ranker: rankers.Ranker, change: Change | None
) -> Material:
    """What the payload could hold: all of it, or for a delta what changed since its cursor."""
    task = surroundings.task
    related_ids = set(surroundings.depends_on) if include.dependency_outcomes else set()
    sibling_ids = {t["id"] for t in surroundings.siblings} if include.sibling_status else set()
    keep = change.keeps if change is not None else (lambda kind, row: True)
    material = Material(
        workflow=workflow_fields(surroundings.workflow, include) if keep("workflow", surroundings.workflow) else None,
        task=current_task.task_fields(task, surroundings.checkpoints) if keep("task", task) else None,
        siblings_wanted=include.sibling_status,
        dependencies_wanted=include.dependency_outcomes,
        list_empty_trail=change is None,
    )
    trail = [c for c in surroundings.checkpoints if keep("checkpoint", c)]
    if trail and material.task is None:
        material.task = current_task.task_fields(task, surroundings.checkpoints)[:4]
    material.checkpoints = current_task.trail_of(ranker, surroundings, trail, include)
    if include.prior_task_outcomes:
        pool = [t for t in surroundings.prior if t["id"] not in related_ids | sibling_ids and keep("task", t)]
        material.pool = relevance.pool(ranker, surroundings, pool, include.prior_task_full, keep)
    deps = [t for t in surroundings.dependencies if t["id"] in related_ids and keep("task", t)]
    sibs = [t for t in surroundings.siblings if t["id"] in sibling_ids and keep("task", t)]
    material.related = relevance.related(ranker, surroundings, deps, sibs)
    return material


def workflow_fields(workflow: dict[str, Any], include: Include) -> Fields | None:
    if not (include.workflow_plan or include.workflow_summary):
        return None
    shown = [Field("id", workflow["id"]), Field("name", workflow["name"]), Field("status", workflow["status"])]
    plan = workflow.get("initial_plan") if isinstance(workflow.get("initial_plan"), dict) else {}
    if include.workflow_plan:
        shown.append(Field("plan_summary", workflow.get("plan_summary")))
        if plan.get("approach"):
            shown.append(Field("approach", plan["approach"]))
    if include.workflow_summary:
        shown.append(Field("source_summary", source_summary(workflow.get("source_content"))))
    return shown


def source_summary(text: str | None) -> str | None:
    """The source's key requirements (``compression.source_summary``), compressed once per text."""
    if not text:
        return compression.source_summary(text)
    found = SUMMARIES.get(text)
    return found if found is not None else SUMMARIES.put(text, compression.source_summary(text))
