"""A workflow's work over time, rebuilt from the change feed: one bar per attempt at a task.

The tasks table keeps only a task's present (``claimed_at``, its status now); how long an
attempt took, who did it and what came of it is only in the events. So the timeline
replays them: a bar opens when a task is claimed or moves into work (``planning``,
``in_progress``), follows its status while it runs (``paused`` keeps it open), and closes
when the task settles (``completed``, ``failed``, ``skipped``), is released, or its agent
goes offline and gives it back. A failed task retried later gets a second bar. A task
skipped before anyone started it did no work and has no bar.

Bars are laid out in lanes, one per agent (tasks no agent held share a last lane), and
within a lane in rows, so bars that overlap in time never cover each other (overlap is
judged by the order of the events, which is exact where millisecond times tie). A bar still
running has no end yet: it holds its row until it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from caw_lab.engine.states import ACTIVE_TASK_STATUSES, SETTLED_TASK_STATUSES
from caw_lab.tools.client import Client

RUNNING = (*ACTIVE_TASK_STATUSES, "paused")
"""Statuses of a task someone is working on (a paused task keeps its bar open)."""
GIVING_BACK = ("agent.unregistered", "agent.stale", "agent.lost", "agent.stopped")
"""Agent events whose ``payload.released_task_ids`` end those tasks' attempts."""
KINDS = ["task.claimed", "task.status", "task.released", *GIVING_BACK]
"""The events a timeline reads; every other kind leaves it as it was."""
NO_AGENT = ""
HISTORY_PAGE = 5000


@dataclass
class Bar:
    """One attempt at a task: from its claim or start to its end (``None`` while it runs)."""

    task_id: str
    agent: str
    status: str
    start: int
    end: int | None = None
    released: bool = False
    """Ended because the task was given back (released, or its agent went offline), not settled."""
    opened: int = 0
    closed: int | None = None
    """The ``seq`` of the events that opened and closed it: the order of a feed, exact where
    millisecond times tie."""

    @property
    def duration(self) -> int | None:
        return None if self.end is None else self.end - self.start


class TimelineColumns(TypedDict):
    """The synced ``bars`` trait: one entry per bar, in start order (``ends[i]`` is 0 while it runs)."""

    tasks: list[str]
    names: list[str]
    agents: list[str]
    statuses: list[str]
    starts: list[int]
    ends: list[int]
    lanes: list[int]
    rows: list[int]
    released: list[bool]
    lane_names: list[str]
    """Lane ``i``'s label: the agent's name (or id), ``""`` for work no agent held."""
    lane_rows: list[int]
    """How many rows lane ``i`` needs."""


@dataclass
class Timeline:
    """Bars of one workflow, fed events in feed order (``apply``); events seen before are ignored."""

    workflow_id: str
    bars: list[Bar] = field(default_factory=list)
    running: dict[str, int] = field(default_factory=dict)
    """Task id -> index in ``bars`` of its open bar."""
    status: dict[str, str] = field(default_factory=dict)
    seq: int = 0
    """The last event applied."""

    def apply(self, events: Iterable[Mapping[str, Any]]) -> bool:
        """Apply the events of this workflow after ``seq``; says whether any bar changed."""
        changed = False
        for event in events:
            if event.get("seq", 0) <= self.seq or event.get("workflow_id") != self.workflow_id:
                continue
            self.seq = event["seq"]
            changed = self.step(event) or changed
        return changed

    def step(self, event: Mapping[str, Any]) -> bool:
        kind, task_id, at = event["kind"], event.get("task_id"), event["at"]
        agent = event.get("agent_id") or NO_AGENT
        if kind in GIVING_BACK:
            ids = (event.get("payload") or {}).get("released_task_ids") or []
            closed = [self.close(t, at, released=True) for t in ids]  # every one, not up to the first
            return any(closed)
        if not task_id:
            return False
        if kind == "task.claimed":
            return self.open(task_id, agent, at)
        if kind == "task.released":
            return self.close(task_id, at, released=True)
        if kind == "task.status":
            to = (event.get("payload") or {}).get("to", "")
            self.status[task_id] = to
            if to in RUNNING:
                self.open(task_id, agent, at)
                self.bars[self.running[task_id]].status = to
                return True
            return self.close(task_id, at, status=to)
        return False

    def open(self, task_id: str, agent: str, at: int) -> bool:
        """Start an attempt, unless one is under way (then only learn its agent, if it had none)."""
        if task_id in self.running:
            bar = self.bars[self.running[task_id]]
            if bar.agent or not agent:
                return False
            bar.agent = agent
            return True
        self.running[task_id] = len(self.bars)
        self.bars.append(Bar(task_id, agent, self.status.get(task_id) or "pending", at, opened=self.seq))
        return True

    def close(self, task_id: str, at: int, status: str | None = None, released: bool = False) -> bool:
        index = self.running.pop(task_id, None)
        if index is None:
            return False
        bar = self.bars[index]
        bar.end, bar.closed, bar.released = at, self.seq, released
        if status:
            bar.status = status
        return True

    def durations(self) -> dict[str, int]:
        """Task id -> milliseconds its last attempt took, for tasks that attempt settled."""
        last = {bar.task_id: bar for bar in self.bars}
        return {t: bar.end - bar.start for t, bar in last.items()
                if bar.end is not None and bar.status in SETTLED_TASK_STATUSES}

    def lanes(self) -> tuple[list[str], list[int], list[int], list[int]]:
        """Each agent's lane in order of its first bar (no agent last), each bar's lane and row in
        it, and how many rows each lane needs."""
        first = list(dict.fromkeys(b.agent for b in self.bars))  # bars are in start order, exact where times tie
        order = [a for a in first if a != NO_AGENT] + [a for a in first if a == NO_AGENT]
        lane_of = {agent: i for i, agent in enumerate(order)}
        row_ends: list[list[float]] = [[] for _ in order]
        lanes, rows = [], []
        for bar in self.bars:
            lane = lane_of[bar.agent]
            ends = row_ends[lane]
            end = float("inf") if bar.closed is None else bar.closed
            row = next((r for r, e in enumerate(ends) if e < bar.opened), len(ends))
            if row == len(ends):
                ends.append(end)
            else:
                ends[row] = end
            lanes.append(lane)
            rows.append(row)
        return order, lanes, rows, [len(ends) for ends in row_ends]

    def columns(self, names: Mapping[str, str], agent_names: Mapping[str, str]) -> TimelineColumns:
        """The bars as the widget's synced columns; ``names`` and ``agent_names`` label them."""
        order, lanes, rows, counts = self.lanes()
        bars = self.bars
        return {
            "tasks": [b.task_id for b in bars], "names": [names.get(b.task_id, b.task_id) for b in bars],
            "agents": [b.agent for b in bars], "statuses": [b.status for b in bars],
            "starts": [b.start for b in bars], "ends": [b.end or 0 for b in bars],
            "lanes": lanes, "rows": rows, "released": [b.released for b in bars],
            "lane_names": [agent_names.get(a, a) for a in order],
            "lane_rows": counts,
        }


def read_history(client: Client, timeline: Timeline, until: int) -> None:
    """Apply every event of the timeline's workflow up to ``until`` (the live feed's cursor, so the
    feed goes on exactly where the history stops)."""
    cursor = timeline.seq
    while cursor < until:
        page = client.call("events_list", since_seq=cursor, workflow_id=timeline.workflow_id, kinds=KINDS,
                           limit=HISTORY_PAGE)
        timeline.apply(e for e in page["events"] if e["seq"] <= until)
        if page["cursor"] <= cursor:
            break
        cursor = page["cursor"]
