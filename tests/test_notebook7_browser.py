"""The quickstart in real Notebook 7 (the ``notebook`` package's UI), in Debian's Chromium: the
Workbench draws every task, hover and click land on the drawn task, the timeline has a bar for
each finished task, and a phone-wide window does not scroll sideways.

Screenshots are written to ``CAW_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

import caw_lab
from tests.dag_screen import drawn_when, hit_every_task, miscoloured
from tests.jupyter_lab import LabServer, missing, run_all, wait_for_all_cells

if missing("notebook"):
    pytest.skip(missing("notebook"), allow_module_level=True)
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
BARS = """() => [...document.querySelectorAll('.caw-workbench .caw-timeline rect.caw-bar')]
  .map(r => ({task: r.dataset.task, status: r.dataset.status}))"""
PHONE = {"width": 390, "height": 844}


def quickstart_reporting_selection(lab: LabServer, selected: Path) -> str:
    """The quickstart plus a last cell through which the kernel writes the DAG's ``selected`` to a file."""
    nb = nbformat.read(QUICKSTART, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        f"wb.graph.observe(lambda change: open({str(selected)!r}, 'w').write(change['new']), 'selected')"))
    nbformat.write(nb, lab.root / "quickstart-nb7.ipynb")
    return "quickstart-nb7.ipynb"


def test_quickstart_in_notebook_7_draws_every_task_and_a_click_reaches_the_kernel(
    page: Any, lab: LabServer, tmp_path: Path, shots: Path
) -> None:
    selected = tmp_path / "selected"
    run_all(page, lab, quickstart_reporting_selection(lab, selected), ui="notebook")
    wait_for_all_cells(page)
    assert page.evaluate("() => document.body.dataset.notebook") == "notebooks", "Notebook 7's notebook page"
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert "Traceback" not in " ".join(errors.all_inner_texts())

    workbench = page.locator(".caw-workbench").first
    where = workbench.locator(".caw-workbench-db")
    expect(where).to_contain_text("quickstart.db")
    with caw_lab.connect((where.text_content() or "").removeprefix("sqlite:///")) as db:
        wf = db.call("workflow_list", limit=1)["workflows"][0]
        tasks = {t["name"]: t for t in db.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]}
    workbench.locator(".caw-dag").scroll_into_view_if_needed()
    expect(workbench.locator(".caw-workflowlist")).to_contain_text("4/4", timeout=15_000)
    assert {t["status"] for t in tasks.values()} == {"completed"}
    drawn = drawn_when(page, ".caw-workbench", dict.fromkeys(tasks, "completed"))
    assert {name: (t["id"], t["status"]) for name, t in drawn.items()} == {
        name: (t["id"], t["status"]) for name, t in tasks.items()}
    assert miscoloured(drawn) == {}
    workbench.screenshot(path=str(shots / "notebook7-workbench.png"))

    page.locator(".caw-workbench .caw-dag g.caw-node[data-name='api']").click()
    stop = time.monotonic() + 10
    while time.monotonic() < stop and not (selected.exists() and selected.read_text() == tasks["api"]["id"]):
        time.sleep(0.05)
    assert selected.read_text() == tasks["api"]["id"]
    workbench.locator(".caw-taskdetail").get_by_text("POST /login checks the password hash", exact=True).wait_for(
        timeout=10_000)
    workbench.screenshot(path=str(shots / "notebook7-task-selected.png"))

    hit_every_task(page, {t["id"] for t in tasks.values()}, ".caw-workbench")
    workbench.locator(".lm-TabBar-tab", has_text="Timeline").click()
    page.wait_for_function(f"() => ({BARS})().length >= {len(tasks)}", timeout=10_000)
    bars = page.evaluate(BARS)
    assert sorted((b["task"], b["status"]) for b in bars) == sorted((t["id"], "completed") for t in tasks.values())
    workbench.screenshot(path=str(shots / "notebook7-timeline.png"))

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots / "notebook7-phone.png"), full_page=False)
