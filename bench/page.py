"""The dashboard page's first paint of a big workflow, in headless Chromium.

``python -m bench.page [--sizes 2000 10000] [--runs 3] [--out bench/out]``. The workflows
are ``bench.widget``'s (``size / 50`` stages of 50 tasks, one or two dependencies each,
every odd stage a parallel group), served by a real ``caw --server --transport http``.
Per size and run, a fresh browser context (nothing cached) opens
``/?token=...#/workflows/<id>`` at 1400 x 900 and we read:

- *navigation to paint*: from the navigation's start to the DAG's first drawn frame, all
  of it: the HTML, the bundle, ``GET /api/workflows/<id>`` (the workflow with every task),
  building the columns, the layout in the Web Worker, drawing;
- *API*: that request alone, from sending it to the last byte (resource timing);
- *first paint*: inside the page, from the DAG view's creation to the first drawn frame
  (the widget benchmark's measure, so the two compare);
- *layout*: the Web Worker's layout.

Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import caw_lab
from bench.widget import build
from tests.jupyter_lab import launch, missing
from tests.mcp_session import TOKEN, http_server

READY = '.caw-dag[data-ready="1"]'
TIMES = """() => {
  const root = document.querySelector('.caw-dag');
  const api = performance.getEntriesByType('resource').find(e => /\\/api\\/workflows\\/[^/]+$/.test(e.name));
  return {paint: performance.now(), api: api ? api.responseEnd - api.startTime : null,
          bytes: api ? api.encodedBodySize : null, ...root.dataset};
}"""


def measure(browser: Any, url: str, wf_id: str, out: Path, size: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(f"{url}/?token={TOKEN}#/workflows/{wf_id}")
    page.wait_for_selector(READY, timeout=120_000)
    wall = time.perf_counter() - started
    shown = page.evaluate(TIMES)
    page.screenshot(path=str(out / f"page-{size}.png"))
    context.close()
    return {"wall_s": round(wall, 3), "navigation_to_paint_ms": round(shown["paint"]),
            "api_ms": round(shown["api"] or 0), "api_bytes": shown["bytes"],
            "first_paint_ms": int(shown["firstPaintMs"]), "layout_ms": int(shown["layoutMs"]),
            "drawn": int(shown["nodes"]), "renderer": shown["renderer"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000], help="workflow sizes, multiples of 50")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="folder for the screenshots")
    args = parser.parse_args()
    if missing():
        sys.exit(missing())
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    db = Path(tempfile.mkdtemp(prefix="caw-page-bench-")) / "bench.db"
    with caw_lab.connect(db) as client:
        workflows = {size: build(client, size) for size in args.sizes}
    with http_server(db) as server, sync_playwright() as p:
        browser = launch(p)
        for size in args.sizes:
            runs = [measure(browser, server.url, workflows[size]["id"], args.out, size) for _ in range(args.runs)]
            summary = {key: statistics.median(r[key] for r in runs) for key in
                       ("navigation_to_paint_ms", "api_ms", "first_paint_ms", "layout_ms", "wall_s")}
            print({"tasks": size, "median": summary, "runs": runs}, flush=True)
        browser.close()


if __name__ == "__main__":
    main()
