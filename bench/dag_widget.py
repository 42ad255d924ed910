"""DAG widget in real JupyterLab and Chromium: time to first paint, layout, frame cost, live latency.

``python -m bench.dag_widget [--sizes 100 1000 5000] [--out bench/out]``. Each workflow
is ``stages x width`` tasks, each task waiting on one or two tasks of the stage before,
every other stage a parallel group. Needs /usr/bin/chromium, playwright and JupyterLab.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import caw_lab
from tests.jupyter_lab import LabServer, launch, missing, open_notebook

SHAPES = {100: (10, 10), 1000: (20, 50), 5000: (100, 50)}
READY = '.caw-dag[data-ready="1"]'


def build(client: caw_lab.Client, stages: int, width: int) -> dict[str, Any]:
    rnd = random.Random(stages * width)
    tasks = []
    for s in range(stages):
        for w in range(width):
            deps = sorted({f"s{s - 1}-t{rnd.randrange(width)}" for _ in range(rnd.randint(1, 2))}) if s else []
            tasks.append({"name": f"s{s}-t{w}", "depends_on": deps or None,
                          "parallel_group": f"stage-{s:03d}" if s % 2 == 0 else None})
    wf = client.call("workflow_create", name=f"{stages}x{width}", source_type="prompt", source_content="bench")
    plan = client.call("workflow_set_plan", id=wf["id"], plan={"summary": "bench", "tasks": tasks})
    return {"id": wf["id"], "first": plan["tasks"][0]["id"]}


def dataset(page: Any) -> dict[str, str]:
    return page.evaluate("() => ({...document.querySelector('.caw-dag').dataset})")


def measure(page: Any, server: LabServer, db: Path, wf: dict[str, Any], size: int, out: Path) -> dict[str, Any]:
    cells = [(f"import caw_lab\nfrom caw_lab.lab.dag_widget import DagWidget\n"
              f"w = DagWidget(caw_lab.connect({str(db)!r}), {wf['id']!r})\nw")]
    clicked = open_notebook(page, server, f"bench-{size}.ipynb", cells)
    page.wait_for_selector(READY, timeout=180_000)
    wall = time.monotonic() - clicked
    shown = dataset(page)
    widget = page.locator(".caw-dag").first
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(out / f"dag-{size}.png"))
    row = {"tasks": size, "run_all_to_paint_s": wall, "first_paint_ms": int(shown["firstPaintMs"]),
           "layout_ms": int(shown["layoutMs"]), "engine": shown["engine"], "renderer": shown["renderer"],
           "nodes": int(shown["nodes"]), "draw_ms": float(shown.get("drawMs", "nan"))}
    row["live_ms"] = live_latency(page, db, wf, shown)
    if page.locator('button[data-action="groups"]:visible', has_text="Expand").count():
        started = time.monotonic()
        page.locator('button[data-action="groups"]').click()
        page.wait_for_function(f"() => document.querySelector('.caw-dag').dataset.nodes === '{size}'", timeout=180_000)
        expanded = dataset(page)
        row.update(expanded_s=time.monotonic() - started, expanded_layout_ms=int(expanded["layoutMs"]),
                   expanded_engine=expanded["engine"], expanded_draw_ms=float(expanded.get("drawMs", "nan")))
        widget.screenshot(path=str(out / f"dag-{size}-expanded.png"))
    return row


CHANGE = """
import sys, caw_lab
with caw_lab.connect(sys.argv[1]) as c:
    c.call("task_update_status", id=sys.argv[2], status=sys.argv[3])
"""


def live_latency(page: Any, db: Path, wf: dict[str, Any], shown: dict[str, str]) -> float:
    """Milliseconds from another process's status change returning to the widget's new revision."""
    samples = []
    for status in ("planning", "in_progress", "paused", "in_progress"):
        rev = int(page.evaluate("() => document.querySelector('.caw-dag').dataset.rev"))
        subprocess.run([sys.executable, "-c", CHANGE, str(db), wf["first"], status], check=True)
        done = time.monotonic()
        page.wait_for_function(f"() => +document.querySelector('.caw-dag').dataset.rev > {rev}", timeout=10_000)
        samples.append((time.monotonic() - done) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SHAPES), choices=sorted(SHAPES))
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    if missing():
        sys.exit(missing())
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="caw-dag-bench-"))
    db = work / "bench.db"
    with caw_lab.connect(db) as client:
        workflows = {size: build(client, *SHAPES[size]) for size in args.sizes}
    server = LabServer(work)
    rows = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for size in args.sizes:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                rows.append(measure(page, server, db, workflows[size], size, args.out))
                page.close()
                print(rows[-1], flush=True)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
