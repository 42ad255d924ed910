"""DAG widget in real JupyterLab and headless Chromium: first paint, pan and zoom, live updates.

``python -m bench.widget [--sizes 2000 10000] [--changes 10] [--out bench/out]``. Each
workflow is ``size / 50`` stages of 50 tasks, each task waiting on one or two tasks of the
stage before, every odd stage a parallel group (collapsed at first, as the widget does
above 400 tasks). Measured per size:

- *first paint*: wall time from clicking Run All (kernel already up) to the graph drawn,
  and inside the browser from the view's creation to the first drawn frame;
- *pan and zoom*: 20 wheel steps and a 40-step drag, as Playwright's mouse sends them,
  with the groups collapsed and then expanded: from each event to the end of the frame
  that shows it, the Canvas draw time per frame, the longest gap between frames;
- *live*: from another process's ``task_update_status`` returning to the task's pixel on
  the canvas turning the new status's colour, over ``--changes`` changes.

Needs /usr/bin/chromium, playwright and JupyterLab (``make bench-widget``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import caw_lab
from tests.dag_screen import palette
from tests.jupyter_lab import LabServer, launch, missing, open_notebook

WIDTH = 50
READY = '.caw-dag[data-ready="1"]'
RECORD = """() => {
  const root = document.querySelector('.caw-dag'), stage = root.querySelector('.caw-dag-stage');
  const rec = window.cawRecord = {events: {wheel: [], pointermove: []}, gaps: [], draws: [], stop: false};
  const seen = (event) => {
    const r = stage.getBoundingClientRect();
    if (event.clientX < r.left || event.clientX > r.right || event.clientY < r.top || event.clientY > r.bottom) return;
    const handled = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      const now = performance.now();
      rec.events[event.type].push([now - event.timeStamp, now - handled]);
    }));
  };
  window.addEventListener('wheel', seen);
  window.addEventListener('pointermove', seen);
  rec.cleanup = () => { window.removeEventListener('wheel', seen); window.removeEventListener('pointermove', seen); };
  new MutationObserver(() => rec.draws.push(+root.dataset.drawMs))
    .observe(root, {attributes: true, attributeFilter: ['data-draw-ms']});
  let last = performance.now();
  const tick = (now) => { rec.gaps.push(now - last); last = now; if (!rec.stop) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
"""Records, for each wheel and pointer move over the stage, the time from the event (as the
browser stamped it) and from the widget having handled it to the end of the frame showing it
(a listener on window runs after the widget's own on the stage); every Canvas draw's cost;
the gaps between frames."""
STOP = "() => { const r = window.cawRecord; r.stop = true; r.cleanup(); return r; }"
EMPTY_SPOT = """() => {
  const canvas = document.querySelector('.caw-dag-canvas'), box = canvas.getBoundingClientRect();
  const {width, height} = canvas, pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const clear = (x, y) => { for (let dy = -6; dy <= 6; dy++) for (let dx = -6; dx <= 6; dx++)
    if (pixels[((y + dy) * width + x + dx) * 4 + 3] !== 0) return false; return true; };
  for (let y = 40; y < height - 40; y += 8) for (let x = 40; x < width * 0.6; x += 8)
    if (clear(x, y)) return [box.left + x / devicePixelRatio, box.top + y / devicePixelRatio];
  return null;
}"""
"""Where a press pans: a spot (in the left part, so the drag stays on the canvas) with no
task drawn within 6 px. Pressing on a task and dropping it on another would add a dependency."""
WATCH = """([before, after]) => {
  const canvas = document.querySelector('.caw-dag-canvas'), ctx = canvas.getContext('2d');
  const [x, y] = [Math.round(canvas.width / 2), Math.round(canvas.height / 2)];
  const colour = () => { const d = ctx.getImageData(x, y, 1, 1).data; return `rgb(${d[0]}, ${d[1]}, ${d[2]})`; };
  if (colour() !== before) return `the centre of the canvas is ${colour()}, not the task's ${before}`;
  const stop = performance.now() + 10000;
  window.cawChanged = new Promise((resolve) => {
    const check = () => colour() === after ? resolve(Date.now())
      : performance.now() > stop ? resolve(null) : requestAnimationFrame(() => setTimeout(check));
    check();
  });
  return "";
}"""
"""Watches the pixel at the canvas's centre (where the probe task's box is) until it turns
``after``, checking after each frame is drawn; ``cawChanged`` resolves to the wall clock then."""


def build(client: caw_lab.Client, size: int) -> dict[str, Any]:
    rnd = random.Random(size)
    tasks = []
    for s in range(size // WIDTH):
        for w in range(WIDTH):
            deps = sorted({f"s{s - 1}-t{rnd.randrange(WIDTH)}" for _ in range(rnd.randint(1, 2))}) if s else []
            tasks.append({"name": f"s{s}-t{w}", "depends_on": deps or None,
                          "parallel_group": f"stage-{s:03d}" if s % 2 else None})
    wf = client.call("workflow_create", name=f"{size} tasks", source_type="prompt", source_content="bench")
    plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "bench", "tasks": tasks})
    return {"id": wf["id"], "probe": plan["tasks"][WIDTH // 2]["id"]}


def dataset(page: Any) -> dict[str, str]:
    return page.evaluate("() => ({...document.querySelector('.caw-dag').dataset})")


def measure(page: Any, server: LabServer, db: Path, wf: dict[str, Any], size: int, changes: int,
            out: Path) -> dict[str, Any]:
    cells = [(f"import caw_lab\nfrom caw_lab.lab.dag_widget import DagWidget\n"
              f"w = DagWidget(caw_lab.connect({str(db)!r}), {wf['id']!r})\nw")]
    clicked = open_notebook(page, server, f"bench-{size}.ipynb", cells)
    page.wait_for_selector(READY, timeout=300_000)
    wall = time.monotonic() - clicked
    shown = dataset(page)
    widget = page.locator(".caw-dag").first
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(out / f"dag-{size}.png"))
    row = {"tasks": size, "run_all_to_paint_s": round(wall, 2), "first_paint_ms": int(shown["firstPaintMs"]),
           "layout_ms": int(shown["layoutMs"]), "engine": shown["engine"], "renderer": shown["renderer"],
           "nodes": int(shown["nodes"])}
    row["collapsed"] = pan_and_zoom(page)
    row["live_ms"] = live_latency(page, db, wf, changes)
    widget.screenshot(path=str(out / f"dag-{size}-live.png"))
    started = time.monotonic()
    page.locator('button[data-action="groups"]').click()
    page.wait_for_function(f"() => document.querySelector('.caw-dag').dataset.nodes === '{size}'", timeout=300_000)
    row["expand_s"] = round(time.monotonic() - started, 2)
    page.locator('button[data-action="fit"]').click()
    row["expanded"] = pan_and_zoom(page)
    widget.screenshot(path=str(out / f"dag-{size}-expanded.png"))
    return row


def pan_and_zoom(page: Any) -> dict[str, Any]:
    """Zoom in and out with the wheel at the centre, then drag the background across."""
    box = page.locator(".caw-dag-stage").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.evaluate("() => document.querySelector('.caw-dag-stage').focus({preventScroll: true})")
    page.wait_for_timeout(200)
    page.evaluate(RECORD)
    for step in range(20):
        page.mouse.wheel(0, -120 if step < 10 else 120)
        page.wait_for_timeout(30)
    spot = page.evaluate(EMPTY_SPOT)
    if spot is None:
        raise RuntimeError("no empty spot on the canvas to start a pan from")
    page.mouse.move(*spot)
    page.mouse.down()
    page.mouse.move(spot[0] + 300, spot[1] + 60, steps=40)
    page.mouse.up()
    page.wait_for_timeout(100)
    rec = page.evaluate(STOP)
    if not page.locator(".caw-dag-message").first.is_hidden():
        raise RuntimeError(f"the drag did not pan: {page.locator('.caw-dag-message').first.inner_text()}")
    row: dict[str, Any] = {}
    for name, kind in (("zoom", "wheel"), ("pan", "pointermove")):
        total, handled = zip(*rec["events"][kind], strict=True)
        row[name] = {**spread(total), "handled": spread(handled)}
    row["draw"] = spread(rec["draws"])
    row["longest_frame_ms"] = round(max(rec["gaps"][1:]), 1)
    return row


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1)}


def live_latency(page: Any, db: Path, wf: dict[str, Any], changes: int) -> dict[str, float]:
    """Centre the probe task (search its id, Enter, clear the search), then change its status
    ``changes`` times from this process, at random moments of the kernel's 250 ms poll."""
    search = page.locator(".caw-dag-search").first
    search.fill(wf["probe"])
    search.press("Enter")
    search.fill("")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    colours = {status: c["fill"] for status, c in palette().items()}
    statuses = ["planning", "in_progress", *(["paused", "in_progress"] * changes)][:changes]
    samples, before = [], "pending"
    with caw_lab.connect(db) as client:
        for status in statuses:
            problem = page.evaluate(WATCH, [colours[before], colours[status]])
            if problem:
                raise RuntimeError(problem)
            time.sleep(random.uniform(0.05, 0.3))
            client.call("task_update_status", id=wf["probe"], status=status)
            committed = time.time() * 1000
            changed = page.evaluate("() => window.cawChanged")
            if changed is None:
                raise RuntimeError(f"the task never turned {status}'s colour")
            samples.append(changed - committed)
            before = status
    return {"p50": round(statistics.median(samples)), "min": round(min(samples)), "max": round(max(samples)),
            "n": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000],
                        help="workflow sizes: multiples of 50, at least 1,000 (drawn on Canvas)")
    parser.add_argument("--changes", type=int, default=10, help="status changes timed per size")
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="folder for the screenshots")
    args = parser.parse_args()
    if missing():
        sys.exit(missing())
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="caw-widget-bench-"))
    db = work / "bench.db"
    with caw_lab.connect(db) as client:
        workflows = {size: build(client, size) for size in args.sizes}
    server = LabServer(work)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for size in args.sizes:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                print(measure(page, server, db, workflows[size], size, args.changes, args.out), flush=True)
                page.close()
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
