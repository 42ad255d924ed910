"""What a DAG widget shows on a page: each drawn task with its status and the colours it
was painted in (its box and the stripe at its left edge; the border is the selection's),
compared with the palette of extension/src/colors.js (not a test module)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

PLAN = [
    {"name": "design schema"},
    {"name": "api endpoints", "depends_on": ["design schema"], "parallel_group": "build"},
    {"name": "web ui", "depends_on": ["design schema"], "parallel_group": "build"},
    {"name": "docs", "depends_on": ["api endpoints"]},
    {"name": "ship", "depends_on": ["docs", "web ui"]},
]
"""The plan every browser test draws: a chain, a parallel group of two and a join, small
enough to see whole and shaped so lineage, grouping and every status show."""
READY = '.caw-dag[data-ready="1"]'
"""A DAG widget that has drawn its first frame."""
COLORS_JS = Path(__file__).resolve().parents[1] / "extension" / "src" / "colors.js"
DRAWN = """(scope) => Object.fromEntries(
  [...document.querySelectorAll(`${scope} .caw-dag g.caw-node-task`)].map(g => {
    const [box, stripe] = [...g.querySelectorAll(':scope > rect')].map(r => getComputedStyle(r).fill);
    return [g.dataset.name, {id: g.dataset.id, status: g.dataset.status, fill: box, stripe}];
  }))"""
PAINTED = """({id, fill, stripe}) => {
  const rects = document.querySelectorAll(`.caw-node[data-id="${id}"] > rect`);
  const [box, bar] = [...rects].map(r => getComputedStyle(r).fill);
  return box === fill && bar === stripe;
}"""


OUT_OF_VIEW = """(scope) => {
  const root = document.querySelector(`${scope} .caw-dag`);
  const stage = root.querySelector('.caw-dag-stage').getBoundingClientRect();
  const panel = root.querySelector('.caw-dag-panel');
  const right = panel && !panel.hidden ? panel.getBoundingClientRect().left : stage.right;
  return [...root.querySelectorAll('g.caw-node-task')].filter(g => {
    const r = g.getBoundingClientRect();
    return r.left < stage.left || r.right > right || r.top < stage.top || r.bottom > stage.bottom;
  }).map(g => g.dataset.name).sort();
}"""


def rgb(hex_colour: str) -> str:
    """``#e8f5e9`` as the browser reports a computed colour: ``rgb(232, 245, 233)``."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


def palette(dark: bool = False) -> dict[str, dict[str, str]]:
    """Each status's box fill and stripe colour (its stroke), read from the front end's own table
    (the light one, or with ``dark`` the dark theme's)."""
    light, dark_table = COLORS_JS.read_text().split("DARK_STATUS_COLORS", 1)
    entries = re.findall(r'(\w+): \{ stroke: "#(\w{6})", fill: "#(\w{6})"', dark_table if dark else light)
    return {status: {"fill": rgb(fill), "stripe": rgb(stroke)} for status, stroke, fill in entries}


def drawn_tasks(page: Any, scope: str = "") -> dict[str, dict[str, str]]:
    """Task name -> id, status, fill and stripe of every task node the SVG renderer drew
    inside ``scope`` (a CSS selector), as on screen."""
    return page.evaluate(DRAWN, scope)


def drawn_when(page: Any, scope: str, statuses: dict[str, str], timeout: float = 10) -> dict[str, dict[str, str]]:
    """The drawn tasks once exactly ``statuses`` (name -> status) are drawn, or as they are
    after ``timeout`` seconds: the kernel's update may still be on its way."""
    stop = time.monotonic() + timeout
    while True:
        drawn = drawn_tasks(page, scope)
        if {name: task["status"] for name, task in drawn.items()} == statuses or time.monotonic() > stop:
            return drawn
        time.sleep(0.1)


def miscoloured(drawn: dict[str, dict[str, str]], dark: bool = False) -> dict[str, dict[str, str]]:
    """The drawn tasks whose colours are not their status's (in the dark theme's set with ``dark``)."""
    colours = palette(dark)
    return {name: task for name, task in drawn.items()
            if colours.get(task["status"]) != {"fill": task["fill"], "stripe": task["stripe"]}}


def wait_until_painted(page: Any, task_id: str, status: str, timeout_ms: int = 5_000) -> None:
    """Returns (within one 20 ms poll) once task ``task_id`` is drawn in ``status``'s colours."""
    page.wait_for_function(PAINTED, arg={"id": task_id, **palette()[status]}, timeout=timeout_ms, polling=20)


def out_of_view(page: Any, scope: str = "") -> list[str]:
    """Names of the drawn tasks not wholly inside the stage, left of the task panel when it is open."""
    return page.evaluate(OUT_OF_VIEW, scope)


DRAWN_RECTS = """(scope) => {
  const root = document.querySelector(`${scope} .caw-dag`);
  const stage = root.querySelector('.caw-dag-stage').getBoundingClientRect();
  const panel = root.querySelector('.caw-dag-panel');
  const free = panel && !panel.hidden ? panel.getBoundingClientRect().left : stage.right;
  return {free, stage: {left: stage.left, top: stage.top, right: stage.right, bottom: stage.bottom},
          tasks: root.cawDrawnRects().filter(r => r.kind === 'task').map(r => ({
            id: r.id, x: stage.left + r.x + r.w / 2, y: stage.top + r.y + r.h / 2}))};
}"""
HIT_STATE = """(scope) => {
  const root = document.querySelector(`${scope} .caw-dag`);
  const tip = root.querySelector('.caw-dag-tooltip');
  return {selected: root.dataset.selected || '', tip: tip.hidden ? '' : tip.dataset.id};
}"""


def hit_every_task(page: Any, ids: set[str], scope: str = "") -> None:
    """Hover, then click, the centre of each task of the DAG widget in ``scope`` as the renderer last
    drew it: the tooltip and the selection are exactly that task, and every centre is on the stage,
    clear of the open panel."""
    drawn = page.evaluate(DRAWN_RECTS, scope)
    assert {t["id"] for t in drawn["tasks"]} == ids
    for task in drawn["tasks"]:
        assert drawn["stage"]["left"] < task["x"] < drawn["free"], (task, drawn["free"])
        assert drawn["stage"]["top"] < task["y"] < drawn["stage"]["bottom"], task
        page.mouse.move(task["x"], task["y"], steps=2)
        page.wait_for_function(f"(scope) => ({HIT_STATE})(scope).tip === {task['id']!r}", arg=scope, timeout=3_000)
        page.mouse.click(task["x"], task["y"])
        page.wait_for_function(f"(scope) => ({HIT_STATE})(scope).selected === {task['id']!r}", arg=scope,
                               timeout=3_000)
