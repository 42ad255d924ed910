"""Rich HTML for tool results and refusals, shared by the ``%caw`` magics and the panels.

A magic returns a :class:`Result`: the tool's own dict (so ``wf = %caw new x`` gives
``wf["id"]``) that also knows how to draw itself in a notebook. Every string that came
from the database is escaped: task names and summaries are written by agents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any

from caw_lab.engine.states import DONE_TASK_STATUSES
from caw_lab.errors import CawError
from caw_lab.ids import now_ms

STATUS_COLOURS = {
    "pending": "#9e9e9e", "blocked": "#b0855b", "planning": "#7e57c2", "ready": "#5c6bc0",
    "in_progress": "#1e88e5", "paused": "#f9a825", "completed": "#43a047", "skipped": "#78909c",
    "failed": "#e53935", "abandoned": "#616161", "awaiting_merge": "#00897b",
    "online": "#43a047", "busy": "#1e88e5", "offline": "#9e9e9e",
    "unread": "#1e88e5", "read": "#9e9e9e", "archived": "#616161",
    "idle": "#9e9e9e", "running": "#1e88e5", "suspended": "#f9a825",
}
BOX = ("font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; line-height: 1.4; max-width: 100%; "
       "overflow-x: auto;")
TABLE = "border-collapse: collapse; font-size: 12px;"
CELL = "padding: 2px 8px; border-bottom: 1px solid #e0e0e0; text-align: left; vertical-align: top;"


SHOW_ROWS = 50
"""Task rows ``%caw show`` draws before the "N more" line (``--all`` draws every one)."""
TEXT_CHARS = 4000
"""The plain-text form of a result is cut here: it is for logs and terminals, not for reading 10,000 rows."""


class Result(dict[str, Any]):
    """A tool result that is still a plain dict, drawn by ``render`` in a notebook."""

    def __init__(self, data: Mapping[str, Any], render: Callable[[Mapping[str, Any]], str], label: str) -> None:
        super().__init__(data)
        self._render = render
        self._label = label

    def _repr_html_(self) -> str:
        return self._render(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        text = json.dumps(dict(self), indent=2, default=str)
        if len(text) > TEXT_CHARS:
            text = f"{text[:TEXT_CHARS]}\n… {len(text) - TEXT_CHARS:,} more characters (the value holds them all)"
        p.text(f"<caw {self._label}>" if cycle else text)


class ErrorView:
    """A refused request shown as what happened and what to do, never as a traceback."""

    def __init__(self, error: CawError) -> None:
        self.error = error

    def _repr_html_(self) -> str:
        return error_html(self.error)

    def __repr__(self) -> str:
        err = self.error
        tip = f"\n  -> {err.suggestion}" if err.suggestion else ""
        return f"{err.code}: {err.message}{tip}"


def error_html(err: CawError) -> str:
    tip = (
        f"<div style='margin-top:4px; white-space:pre-wrap'>&#8594; {escape(err.suggestion)}</div>"
        if err.suggestion else ""
    )
    again = " (recoverable)" if err.recoverable else ""
    head, _, rest = err.message.partition("\n")
    # A multi-line message (a YAML error with its caret under the bad column) keeps its lines and columns.
    more = f"<pre class='caw-error-detail' style='margin:4px 0 0; overflow-x:auto'>{escape(rest)}</pre>"
    return (
        f"<div class='caw-error' style='{BOX} border-left: 4px solid #e53935; background: #fdecea; "
        f"padding: 6px 10px; color: #611a15;'><b>{escape(err.code)}</b>{again}: {escape(head)}"
        f"{more if rest else ''}{tip}</div>"
    )


def badge(status: str | None) -> str:
    text = status or "?"
    colour = STATUS_COLOURS.get(text, "#757575")
    return (
        f"<span class='caw-badge' style='background:{colour}; color:white; border-radius:8px; "
        f"padding:0 6px; font-size:11px; white-space:nowrap'>{escape(text)}</span>"
    )


def progress_bar(done: int, total: int) -> str:
    pct = 0 if not total else round(100 * done / total)
    return (
        "<span style='display:inline-block; width:80px; height:8px; background:#e0e0e0; border-radius:4px; "
        f"vertical-align:middle'><span style='display:block; width:{pct}%; height:100%; background:#43a047; "
        f"border-radius:4px'></span></span> {done}/{total}"
    )


def age(ms: int | None) -> str:
    """How long ago ``ms`` was, the way people say it: "12s ago", "3m ago"."""
    if not ms:
        return "never"
    seconds = max(0, (now_ms() - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """Rows of already-escaped HTML cells."""
    head = "".join(f"<th style='{CELL}'>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='{CELL}'>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table style='{TABLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def box(title: str, body: str) -> str:
    return (
        f"<div class='caw-result' style='{BOX}'>"
        f"<div style='font-weight:600; margin-bottom:4px'>{title}</div>{body}</div>"
    )


def code(value: Any) -> str:
    return f"<code>{escape(str(value))}</code>"


def pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return f"<pre style='white-space:pre-wrap; margin:2px 0; font-size:12px'>{escape(text)}</pre>"


def fields_html(data: Mapping[str, Any]) -> str:
    """Any result as a two-column table: the fallback for tools without a dedicated view."""
    rows = [(escape(str(k)), pre(v) if isinstance(v, (dict, list)) else escape(str(v))) for k, v in data.items()]
    return box("Result", table(("field", "value"), rows))


def workflow_html(wf: Mapping[str, Any], limit: int | None = None) -> str:
    """The workflow and its tasks; with ``limit``, the first ``limit`` rows and a line saying how
    to see the rest (a 10,000-row table takes seconds to draw and says little)."""
    tasks = wf.get("tasks") or []
    done = sum(t.get("status") in DONE_TASK_STATUSES for t in tasks)
    head = f"{escape(str(wf.get('name', '')))} {badge(wf.get('status'))} {code(wf.get('id'))}"
    summary = f"<div>{escape(wf['plan_summary'])}</div>" if wf.get("plan_summary") else ""
    progress = f"<div>{progress_bar(done, len(tasks))}</div>" if tasks else ""
    rows = tasks if limit is None else tasks[:limit]
    everything = f"<code>%caw show {escape(str(wf.get('id')))} --all</code>"
    more = (f"<div class='caw-more'>… {len(tasks) - len(rows):,} more tasks. {everything} shows every one; "
            "the value returned holds them all.</div>") if len(rows) < len(tasks) else ""
    return box(head, summary + progress + (tasks_table(rows) if tasks else "") + more)


def tasks_table(tasks: list[Mapping[str, Any]]) -> str:
    names = {t["id"]: t.get("name", t["id"]) for t in tasks if "id" in t}
    rows = [
        (
            escape(str(t.get("sequence", ""))), escape(str(t.get("name", ""))), badge(t.get("status")),
            code(t.get("id")), escape(", ".join(names.get(d, d) for d in t.get("depends_on") or [])),
            escape(str(t.get("assigned_agent_id") or "")),
        )
        for t in tasks
    ]
    return table(("#", "task", "status", "id", "depends on", "agent"), rows)


def workflows_html(data: Mapping[str, Any]) -> str:
    rows = [
        (
            escape(str(w.get("name", ""))), badge(w.get("status")),
            progress_bar(int(w.get("completed_count") or 0), int(w.get("task_count") or 0)), code(w.get("id")),
        )
        for w in data.get("workflows", [])
    ]
    return box(f"Workflows ({data.get('total', len(rows))})", table(("name", "status", "progress", "id"), rows))


def created_html(data: Mapping[str, Any]) -> str:
    wf_id = data.get("id") or data.get("workflow_id")
    return box(f"Created workflow {escape(str(data.get('name', '')))} {badge(data.get('status'))} {code(wf_id)}", "")


def plan_set_html(data: Mapping[str, Any]) -> str:
    tasks = data.get("tasks") or []
    rows = [(escape(str(t.get("sequence", ""))), escape(str(t.get("name", ""))), code(t.get("id"))) for t in tasks]
    title = f"Plan set: {data.get('tasks_created', len(tasks))} tasks {badge(data.get('status'))}"
    return box(title, table(("#", "task", "id"), rows))


def next_tasks_html(data: Mapping[str, Any]) -> str:
    tasks = data.get("tasks") or []
    rows = [(escape(str(t.get("name", ""))), code(t.get("id")), escape(str(t.get("description") or ""))) for t in tasks]
    done = " &#10003; all complete" if data.get("all_complete") else ""
    recommended = escape(str(data.get("recommended_count", len(tasks))))
    title = f"Next tasks: {len(tasks)} ready, recommended {recommended}{done}"
    return box(title, table(("task", "id", "description"), rows) if rows else "")


def checkpoints_html(checkpoints: list[Mapping[str, Any]]) -> str:
    """A vertical timeline: one dot per checkpoint, oldest first."""
    if not checkpoints:
        return "<div style='color:#757575'>No checkpoints yet.</div>"
    items = "".join(
        "<li style='margin:0 0 4px 0'>"
        f"<b>{escape(str(c.get('checkpoint_type') or c.get('type') or ''))}</b> "
        f"<span style='color:#757575'>#{escape(str(c.get('sequence', '')))} &middot; {age(c.get('created_at'))}</span>"
        f"<div>{escape(str(c.get('summary', '')))}</div></li>"
        for c in checkpoints
    )
    return (
        "<ol class='caw-timeline' style='border-left:2px solid #90caf9; padding-left:10px; margin:4px 0; "
        f"list-style:none'>{items}</ol>"
    )


def task_html(task: Mapping[str, Any]) -> str:
    parts = []
    if task.get("description"):
        parts.append(f"<div>{escape(task['description'])}</div>")
    if task.get("plan"):
        parts.append("<div><b>Plan</b></div>" + pre(task["plan"]))
    if "checkpoints" in task:
        parts.append("<div><b>Checkpoints</b></div>" + checkpoints_html(task.get("checkpoints") or []))
    if task.get("outcome"):
        parts.append(f"<div><b>Outcome</b>: {escape(str(task['outcome']))}</div>")
    if task.get("error"):
        parts.append(f"<div style='color:#c62828'><b>Error</b>: {escape(str(task['error']))}</div>")
    head = f"{escape(str(task.get('name', '')))} {badge(task.get('status'))} {code(task.get('id'))}"
    return box(head, "".join(parts))


def claim_html(data: Mapping[str, Any]) -> str:
    if data.get("success"):
        return box(f"Claimed {code(data.get('task_id'))} for {code(data.get('agent_id'))}", "")
    return box(f"Not claimed: already claimed by {code(data.get('already_claimed_by'))}", "")


def checkpoint_html(data: Mapping[str, Any]) -> str:
    return box(f"Checkpoint #{escape(str(data.get('sequence', '')))} recorded {code(data.get('id'))}", "")


def done_html(data: Mapping[str, Any]) -> str:
    path = " &#8594; ".join(badge(s) for s in data.get("path", []))
    return box(f"Task {code(data.get('task_id'))} {badge(data.get('status'))}", f"<div>{path}</div>")


def context_html(ctx: Mapping[str, Any]) -> str:
    """The loaded context: its exact token count, then each section folded."""
    sections = "".join(
        f"<details{' open' if key == 'current_task' else ''}><summary>{escape(key.replace('_', ' '))}</summary>"
        f"{pre(value)}</details>"
        for key, value in ctx.items()
        if key != "token_estimate" and value not in (None, [], {})
    )
    return box(f"Context: {escape(str(ctx.get('token_estimate', '?')))} tokens", sections)


def messages_table(data: Mapping[str, Any]) -> str:
    rows = [
        (
            badge(m.get("status")), escape(str(m.get("priority", ""))), escape(str(m.get("sender_id") or "")),
            escape(str(m.get("subject") or "")), pre(m.get("body", "")), age(m.get("created_at")),
        )
        for m in data.get("messages", [])
    ]
    if not rows:
        return "<i>No messages.</i>"
    return f"<div style='{BOX}'>{table(('', 'priority', 'from', 'subject', 'body', 'when'), rows)}</div>"


def messages_html(data: Mapping[str, Any]) -> str:
    unread = data.get("unread_count")
    title = f"Inbox: {len(data.get('messages', []))} messages" + (f", {unread} unread" if unread is not None else "")
    return box(title, messages_table(data))


def agents_table(data: Mapping[str, Any]) -> str:
    rows = [
        (
            escape(str(a.get("name", ""))), badge(a.get("status")), escape(str(a.get("runtime", ""))),
            age(a.get("last_heartbeat")), code(a.get("current_task_id") or "-"),
        )
        for a in data.get("agents", [])
    ]
    return f"<div style='{BOX}'>{table(('name', 'status', 'runtime', 'heartbeat', 'task'), rows)}</div>"


def agents_html(data: Mapping[str, Any]) -> str:
    return box(f"Agents ({len(data.get('agents', []))})", agents_table(data))


def handles_table(agents: list[Mapping[str, Any]]) -> str:
    rows = [(code(a.get("agentId")), code(a.get("taskId")), badge(a.get("status")), escape(str(a.get("runtime", ""))))
            for a in agents]
    return table(("agent", "task", "status", "runtime"), rows) if rows else ""


def started_html(data: Mapping[str, Any]) -> str:
    agents = data.get("agentHandles") or []
    title = f"Started {len(agents)} agents ({escape(str(data.get('runtime', '')))})"
    return box(title, handles_table(agents))


def execution_html(data: Mapping[str, Any]) -> str:
    progress = data.get("progress") or {}
    bar = progress_bar(int(progress.get("completed") or 0), int(progress.get("totalTasks") or 0)) if progress else ""
    dead = data.get("deadLetters") or []
    dead_line = f"<div style='color:#c62828'>{len(dead)} dead-lettered tasks</div>" if dead else ""
    title = f"Execution {badge(data.get('status'))} {escape(str(data.get('runtime') or ''))}"
    return box(title, f"<div>{bar}</div>{dead_line}{handles_table(data.get('agents') or [])}")


def metrics_html(data: Mapping[str, Any]) -> str:
    counts = table(("status", "tasks"), [(badge(status), str(n)) for status, n in sorted(data["tasks"].items())])
    rate = "no task finished yet" if data["failure_rate"] is None else f"{data['failure_rate']:.0%}"
    spread = data["duration_ms"]
    took = "no task completed yet" if spread is None else (
        f"p50 {duration(spread['p50'])}, p95 {duration(spread['p95'])}, max {duration(spread['max'])} "
        f"(tasks completed: {spread['count']})")
    scope = code(data["workflow_id"]) if data.get("workflow_id") else "all workflows"
    return box(f"Task metrics: {scope}", f"{counts}<div>Failure rate: {rate}</div><div>Duration: {took}</div>")


def hints_html(data: Mapping[str, Any]) -> str:
    def row(name: str, f: Mapping[str, Any]) -> tuple[str, ...]:
        took = "-" if f["mean_ms"] is None else f"{duration(f['mean_ms'])} / {duration(f['p90_ms'])}"
        drain = "-" if f["drain_ms"] is None else duration(f["drain_ms"])
        return (escape(name), str(f["ready"]), f"{f['busy']} / {f['idle']}", took,
                f"{f['arrival_rate_per_min']:.2f}", drain, f"<b>{f['recommended']}</b>")

    rows = [row("all tasks", data["total"]), *(row(c["capability"], c) for c in data["capabilities"])]
    head = ("capability", "ready", "busy / idle", "mean / p90", "arrivals/min", "drain", "recommended")
    note = (f"<div style='color:#616161'>Recommended within {data['max_agents']} agents, to drain the queue in "
            f"{duration(data['target_drain_ms'])}: {escape(data['method'])}.</div>")
    return box(f"Scaling hints: {code(data['workflow_id'])}", table(head, rows) + note)


def duration(ms: float) -> str:
    """Milliseconds the way people say a task's length: "850ms", "42s", "3m 20s"."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = round(ms / 1000)
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m {seconds % 60}s"
