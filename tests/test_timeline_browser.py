"""The timeline, the status chips and the lineage focus in real JupyterLab, in Debian's Chromium.

One notebook (one kernel) serves the module: a Workbench on a small workflow two agents
worked on, and a DAG widget of 10,000 tasks. Each test leaves the filters as it found
them. Screenshots go to ``CAW_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.conftest import make_workflow
from tests.dag_screen import PLAN, palette
from tests.jupyter_lab import ALL_CELLS_RUN, LabServer, open_notebook, run_all, wait_for_all_cells
from tests.jupyter_lab import missing as browser_missing

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)

pytestmark = pytest.mark.slow

LINEAGE_OF_DOCS = {"design schema", "api endpoints", "docs", "ship"}
BENCH = ".caw-workbench .caw-dag"
TIMELINE = ".caw-workbench .caw-timeline"
HUGE = ".caw-huge .caw-dag"
DRAWN_IDS = """(scope) => document.querySelector(scope).cawDrawnRects().filter(r => r.kind === 'task')
  .map(r => r.id).sort()"""
BARS = """(scope) => [...document.querySelectorAll(`${scope} rect.caw-bar`)].map(r => ({
  task: r.dataset.task, status: r.dataset.status, running: r.classList.contains('is-running'),
  fill: getComputedStyle(r).fill, stroke: getComputedStyle(r).stroke, width: r.getBBox().width}))"""

UNTIL = """(scope) => {
  const root = document.querySelector(scope);
  const bar = root.querySelector('rect.caw-bar.is-running');
  return {until: Number(root.dataset.until), barEnd: bar.x.baseVal.value + bar.width.baseVal.value,
          now: root.querySelector('.caw-timeline-now').x1.baseVal.value};
}"""


def work(client: caw_lab.Client, task_id: str, agent: str, *statuses: str) -> None:
    """``agent`` claims ``task_id`` and moves it through ``statuses``, a little time apart, so bars have length."""
    client.call("task_claim", task_id=task_id, agent_id=agent)
    for status in statuses:
        time.sleep(0.15)
        extra = {"outcome": "done"} if status == "completed" else {"error": "tests fail"} if status == "failed" else {}
        client.call("task_update_status", id=task_id, status=status, **extra)


@pytest.fixture(scope="module")
def shown(lab: LabServer, chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The notebook open in one tab: ada finished two tasks, bo failed one and is on docs; 10,000 tasks beside."""
    began = time.monotonic()
    db = tmp_path_factory.mktemp("timeline") / "workflows.db"
    with caw_lab.connect(db) as client:
        wf = make_workflow(client, PLAN, name="login feature", max_parallel_tasks=3)
        t = wf["tasks"]
        ada = client.call("agent_register", name="ada", runtime="custom")["id"]
        bo = client.call("agent_register", name="bo", runtime="custom")["id"]
        work(client, t["design schema"], ada, "planning", "in_progress", "completed")
        work(client, t["web ui"], bo, "planning", "in_progress", "failed")
        work(client, t["api endpoints"], ada, "planning", "in_progress", "completed")
        work(client, t["docs"], bo, "planning", "in_progress")
        huge = make_workflow(client, [{"name": f"s{s}-t{w}", "depends_on": [f"s{s - 1}-t{w}"] if s else None}
                                      for s in range(10) for w in range(1000)], name="huge")
    focus = huge["tasks"]["s5-t7"]
    cells = [
        f"import caw_lab\nfrom caw_lab.lab.dag_widget import DagWidget\nc = caw_lab.connect({str(db)!r})",
        f"wb = caw_lab.Workbench(c, {wf['id']!r})\nwb",
        f"huge = DagWidget(c, {huge['id']!r}, height=360, selected={focus!r})\nhuge.add_class('caw-huge')\nhuge",
    ]
    print(f"data {time.monotonic() - began:.1f}")
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    open_notebook(page, lab, "timeline.ipynb", cells)
    try:
        wait_for_all_cells(page, timeout_ms=60_000)
    except PlaywrightTimeout:  # a Run All sent too early is dropped (tests/test_dag_widget_browser.py)
        if not page.evaluate(ALL_CELLS_RUN):
            run_all(page, lab, "timeline.ipynb")
        wait_for_all_cells(page, timeout_ms=120_000)
    print(f"cells run {time.monotonic() - began:.1f}")
    page.wait_for_selector(f'{BENCH}[data-ready="1"]', timeout=60_000)
    print(f"ready {time.monotonic() - began:.1f}")
    yield {"page": page, "db": db, "wf": wf, "ada": ada, "bo": bo, "huge": huge, "focus": focus}
    page.close()


def show_tab(page: Any, title: str) -> None:
    page.locator(".caw-workbench .lm-TabBar-tab", has_text=title).click()


def statuses(db: Path, workflow_id: str) -> dict[str, str]:
    with caw_lab.connect(db) as client:
        tasks = client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"]
    return {t["id"]: t["status"] for t in tasks}


def drawn_ids(page: Any, scope: str) -> set[str]:
    return set(page.evaluate(DRAWN_IDS, scope))


def wait_drawn(page: Any, scope: str, ids: set[str], timeout: float = 60) -> set[str]:
    """The ids drawn in ``scope`` once they are ``ids`` (a filter relays the graph out), or after ``timeout``."""
    stop = time.monotonic() + timeout
    while (drawn := drawn_ids(page, scope)) != ids and time.monotonic() < stop:
        time.sleep(0.1)
    return drawn


FINISH = """
import sys, caw_lab
with caw_lab.connect(sys.argv[1]) as c:
    c.call("task_update_status", id=sys.argv[2], status="completed", outcome="written")
"""


def test_the_timeline_draws_a_bar_per_attempt_selects_and_grows_live(shown: dict[str, Any], shots: Path) -> None:
    page, t = shown["page"], shown["wf"]["tasks"]
    show_tab(page, "Timeline")
    page.wait_for_selector(f'{TIMELINE}[data-ready="1"]', timeout=10_000)
    page.locator(TIMELINE).scroll_into_view_if_needed()
    bars = page.evaluate(BARS, TIMELINE)
    now = statuses(shown["db"], shown["wf"]["id"])
    finished = {i for i, s in now.items() if s in ("completed", "failed")}
    assert {b["task"] for b in bars if not b["running"]} == finished, "a bar for every finished task"
    assert len([b for b in bars if not b["running"]]) == len(finished)
    assert [b["task"] for b in bars if b["running"]] == [i for i, s in now.items() if s == "in_progress"]
    colours = palette()
    assert all(b["fill"] == colours[b["status"]]["fill"] and b["stroke"] == colours[b["status"]]["stripe"]
               for b in bars), bars
    lanes = page.locator(f"{TIMELINE} .caw-timeline-lane-label").all_text_contents()
    assert lanes == ["ada", "bo"]
    page.locator(TIMELINE).screenshot(path=str(shots / "timeline.png"))
    page.locator(".caw-workbench").screenshot(path=str(shots / "workbench-timeline.png"))

    bar = page.locator(f'{TIMELINE} rect.caw-bar[data-task="{t["web ui"]}"]')
    box = bar.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator(f"{TIMELINE} .caw-dag-tooltip")
    tip.wait_for(state="visible", timeout=5_000)
    assert "web ui" in tip.inner_text() and "bo" in tip.inner_text() and "took " in tip.inner_text()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(f"() => document.querySelector({BENCH!r}).dataset.selected === {t['web ui']!r}",
                           timeout=5_000)
    page.locator(TIMELINE).screenshot(path=str(shots / "timeline-selected.png"))

    if any(b["running"] for b in page.evaluate(BARS, TIMELINE)):
        before = page.evaluate(UNTIL, TIMELINE)
        page.wait_for_function(  # the kernel's clock ticks about once a second: wait for a second's worth
            f"(scope) => Number(document.querySelector(scope).dataset.until) >= {before['until'] + 1_000}",
            arg=TIMELINE, timeout=5_000)
        after = page.evaluate(UNTIL, TIMELINE)
        assert after["until"] >= before["until"] + 1_000, "the running bar's end moves on with the clock"
        assert abs(after["barEnd"] - after["now"]) < 1, "and is drawn up to the line marking now"
        subprocess.run([sys.executable, "-c", FINISH, str(shown["db"]), t["docs"]], check=True)
        page.wait_for_function(f"() => document.querySelector({TIMELINE!r}).dataset.running === '0'",
                               timeout=5_000)
    bars = page.evaluate(BARS, TIMELINE)
    assert [b["status"] for b in bars if b["task"] == t["docs"]] == ["completed"]
    assert not any(b["running"] for b in bars)

    show_tab(page, "Graph")
    page.locator(f'{BENCH} .caw-node[data-id="{t["docs"]}"]').hover()
    page.locator(f"{BENCH} .caw-dag-tooltip .caw-dag-duration", has_text="took ").wait_for(timeout=5_000)


def test_status_chips_hide_and_show_tasks_of_that_status(shown: dict[str, Any], shots: Path) -> None:
    page = shown["page"]
    show_tab(page, "Graph")
    now = statuses(shown["db"], shown["wf"]["id"])
    everything = set(now)
    assert wait_drawn(page, BENCH, everything) == everything
    page.locator(f'{BENCH} button.caw-dag-legend-item[data-status="completed"]').click()
    kept = {i for i, s in now.items() if s != "completed"}
    assert wait_drawn(page, BENCH, kept) == kept
    assert page.locator(f"{BENCH} .caw-dag-filter-note").inner_text() == f"{len(kept)} of {len(now)} tasks"
    page.locator(f'{BENCH} button.caw-dag-legend-item[data-status="failed"]').click()
    kept = {i for i, s in now.items() if s not in ("completed", "failed")}
    assert wait_drawn(page, BENCH, kept) == kept
    page.locator(BENCH).screenshot(path=str(shots / "dag-status-filter.png"))
    page.locator(f'{BENCH} button.caw-dag-legend-item[data-status="completed"]').click()
    kept = {i for i, s in now.items() if s != "failed"}
    assert wait_drawn(page, BENCH, kept) == kept, "clicking a chip again shows its tasks again"
    page.locator(f'{BENCH} button[data-action="show-all"]').click()
    assert wait_drawn(page, BENCH, everything) == everything
    assert page.locator(f'{BENCH} button[data-action="show-all"]').is_hidden()


def test_lineage_focus_draws_exactly_ancestors_and_descendants(shown: dict[str, Any], shots: Path) -> None:
    page, t = shown["page"], shown["wf"]["tasks"]
    show_tab(page, "Graph")
    page.locator(f'{BENCH} .caw-node[data-id="{t["docs"]}"]').click()
    page.locator(f'{BENCH} button[data-action="lineage"]').click()
    lineage = {t[name] for name in LINEAGE_OF_DOCS}
    assert wait_drawn(page, BENCH, lineage) == lineage
    assert "lineage of “docs”" in page.locator(f"{BENCH} .caw-dag-filter-note").inner_text()
    page.locator(BENCH).screenshot(path=str(shots / "dag-lineage.png"))
    page.locator(f'{BENCH} button[data-action="lineage"]').click()  # now reads "All tasks"
    assert wait_drawn(page, BENCH, set(t.values())) == set(t.values())


def test_filters_on_ten_thousand_tasks(shown: dict[str, Any], shots: Path) -> None:
    page, huge = shown["page"], shown["huge"]
    nodes = f"() => document.querySelector({HUGE!r}).dataset.nodes"
    page.locator(HUGE).scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({nodes})() === '10000'", timeout=60_000)
    started = time.monotonic()
    page.locator(f'{HUGE} button.caw-dag-legend-item[data-status="blocked"]').click()
    page.wait_for_function(f"() => ({nodes})() === '1000'", timeout=60_000)
    assert drawn_ids(page, HUGE) == {huge["tasks"][f"s0-t{w}"] for w in range(1000)}
    page.locator(f'{HUGE} button.caw-dag-legend-item[data-status="blocked"]').click()
    page.locator(f'{HUGE} button[data-action="lineage"]').click()
    chain = {huge["tasks"][f"s{s}-t7"] for s in range(10)}
    assert wait_drawn(page, HUGE, chain) == chain
    page.locator(HUGE).screenshot(path=str(shots / "dag-10000-lineage.png"))
    page.locator(f'{HUGE} button[data-action="show-all"]').click()
    page.wait_for_function(f"() => ({nodes})() === '10000'", timeout=60_000)
    print(f"10,000 tasks: filter, lineage and back in {time.monotonic() - started:.1f} s")


def choose_theme(page: Any, theme: str) -> None:
    """Pick ``theme`` from JupyterLab's Settings > Theme menu, as a person would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.locator('.lm-Menu-item[data-command="apputils:change-theme"]', has_text=theme).first.click()


BACKGROUNDS = """(scope) => {
  const probe = document.createElement('span');
  probe.style.color = 'var(--jp-layout-color0)';
  document.body.appendChild(probe);
  const page = getComputedStyle(probe).color;
  probe.remove();
  return {page, stage: getComputedStyle(document.querySelector(`${scope} .caw-timeline-stage`)).backgroundColor};
}"""


def test_the_timeline_follows_jupyterlab_into_the_dark_theme(shown: dict[str, Any], shots: Path) -> None:
    page = shown["page"]
    show_tab(page, "Timeline")
    choose_theme(page, "JupyterLab Dark")
    try:
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=10_000)
        page.wait_for_timeout(1_200)  # the view reads the theme again a second after it changes
        dark = palette(dark=True)
        bars = page.evaluate(BARS, TIMELINE)
        assert bars and all(b["fill"] == dark[b["status"]]["fill"] for b in bars), bars
        colours = page.evaluate(BACKGROUNDS, TIMELINE)
        assert colours["stage"] == colours["page"], "the stage is the notebook's own (dark) background"
        page.locator(TIMELINE).scroll_into_view_if_needed()
        page.locator(TIMELINE).screenshot(path=str(shots / "timeline-dark.png"))
    finally:
        choose_theme(page, "JupyterLab Light")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=10_000)
