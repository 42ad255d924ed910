"""A still picture of a workflow's DAG, as SVG, for the places no widget runs.

A saved notebook opened without its kernel, nbviewer, GitHub and ``nbconvert`` show a
widget's output only through the other types in its bundle, so the DAG widget and the
Workbench add this picture there (``image/svg+xml``). The layout is deliberately simple and
dependency-free: each task sits in the column of its longest chain of upstream tasks, in
plan order within the column; the browser's dagre layout is for the live view.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from caw_lab.lab.dag_state import Dag

STATUS_COLORS = {
    "pending": ("#78909c", "#eceff1", "#263238"),
    "blocked": ("#b0bec5", "#f5f7f8", "#78909c"),
    "planning": ("#8e24aa", "#f3e5f5", "#4a148c"),
    "in_progress": ("#1e88e5", "#e3f2fd", "#0d47a1"),
    "paused": ("#fb8c00", "#fff3e0", "#e65100"),
    "completed": ("#43a047", "#e8f5e9", "#1b5e20"),
    "failed": ("#e53935", "#ffebee", "#b71c1c"),
    "skipped": ("#a1887f", "#efebe9", "#4e342e"),
}
"""Status -> (stroke, fill, text): the light set of extension/src/colors.js (a test keeps them equal)."""
UNKNOWN = ("#9e9e9e", "#fafafa", "#212121")
NODE_W, NODE_H, GAP_X, GAP_Y, PAD, HEADER = 160, 30, 56, 12, 16, 28
LABELS_UP_TO = 600
"""Above this many tasks nodes shrink to dots, unlabelled and without edges, so the picture
stays small enough to save in a notebook (10,000 tasks make about 0.6 MB)."""
DOT = 6
FONT = 'font-family="sans-serif" font-size="12"'


def columns(dag: Dag) -> list[list[str]]:
    """Task ids by column: a task's column is the length of its longest upstream chain."""
    preds: dict[str, list[str]] = defaultdict(list)
    for up, down in dag.edges:
        preds[down].append(up)
    depth: dict[str, int] = {}
    for task in dag.rows:
        stack = [task]
        while stack:
            top = stack[-1]
            waiting = [p for p in preds[top] if p not in depth]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            depth[top] = 1 + max((depth[p] for p in preds[top]), default=-1)
    out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for task in dag.rows:
        out[depth[task]].append(task)
    return out


def dag_svg(dag: Dag, title: str) -> str:
    """The whole graph, every task coloured by its status, with a title and status counts."""
    cols = columns(dag)
    labelled = len(dag.rows) <= LABELS_UP_TO
    w, h, gx, gy = (NODE_W, NODE_H, GAP_X, GAP_Y) if labelled else (DOT, DOT, 4, 2)
    tallest = max((len(c) for c in cols), default=0)
    width = max(360, 2 * PAD + len(cols) * (w + gx) - gx)
    height = 2 * PAD + HEADER + max(1, tallest) * (h + gy)
    at = {t: (PAD + i * (w + gx), PAD + HEADER + j * (h + gy)) for i, col in enumerate(cols) for j, t in enumerate(col)}
    counts: dict[str, int] = defaultdict(int)
    for row in dag.rows.values():
        counts[row.status] += 1
    summary = " · ".join(f"{s.replace('_', ' ')} {n}" for s, n in counts.items())
    head = f'width="{width}" height="{height}"'
    heading = f"{escape(title)} · {len(dag.rows)} tasks"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" {head} viewBox="0 0 {width} {height}" {FONT}>',
             f'<rect {head} fill="#fff"/>',
             f'<text x="{PAD}" y="{PAD + 4}" font-weight="600" fill="#263238">{heading}</text>',
             f'<text x="{PAD}" y="{PAD + 20}" fill="#546e7a">{escape(summary)}</text>']
    if labelled:
        for up, down in sorted(dag.edges):
            (x0, y0), (x1, y1) = at[up], at[down]
            a, b, c = x0 + w, y0 + h / 2, y1 + h / 2
            mid = (a + x1) / 2
            parts.append(f'<path d="M{a},{b}C{mid},{b} {mid},{c} {x1},{c}" fill="none" stroke="#b0b7bd"/>')
    for task, row in dag.rows.items():
        stroke, fill, text = STATUS_COLORS.get(row.status, UNKNOWN)
        x, y = at[task]
        tip = f"<title>{escape(row.name)} · {row.status}</title>"
        if not labelled:
            parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{stroke}">{tip}</rect>')
            continue
        name = row.name if len(row.name) <= 22 else row.name[:21] + "…"
        parts.append(f'<g transform="translate({x},{y})">{tip}<rect width="{w}" height="{h}" rx="6" fill="{fill}" '
                     f'stroke="{stroke}"/><rect width="5" height="{h}" rx="2" fill="{stroke}"/>'
                     f'<text x="12" y="{h / 2 + 4}" fill="{text}">{escape(name)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
