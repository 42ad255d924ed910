"""The quickstart in real JupyterLab, in Debian's Chromium, as a person would use it.

Screenshots are written to ``CAW_SCREENSHOTS`` (default: the test's temporary folder) so
a person can look at what the test saw.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.dag_screen import drawn_when, miscoloured, out_of_view, wait_until_painted
from tests.jupyter_lab import LabServer, missing, run_all, wait_for_all_cells

if missing():
    pytest.skip(missing(), allow_module_level=True)
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
OVERFLOW = """() => {
  const wb = document.querySelector('.caw-workbench');
  const box = wb.getBoundingClientRect();
  const outside = [...wb.querySelectorAll('.caw-panel')].filter(p => p.getBoundingClientRect().right > box.right + 1);
  return {scroll: wb.scrollWidth, client: wb.clientWidth, width: box.width, outside: outside.length};
}"""
RUN_VIEW = ".jp-OutputArea-output:not(:has(.caw-workbench)) .caw-dag"
"""The live view the quickstart's agents cell shows of its own."""
DARK_MODE = {"summary": "a dark theme", "tasks": [{"name": "palette"}, {"name": "toggle", "depends_on": ["palette"]}]}


def first_workflow(client: caw_lab.Client, db: str) -> dict[str, Any]:
    """The kernel's workflow as another process sees it, waiting briefly for it to be there."""
    deadline = time.monotonic() + 10
    while not (listed := client.call("workflow_list", limit=1)["workflows"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert listed, f"no workflow in the database the Workbench names: {db!r}"
    return listed[0]


def in_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def click_task(page: Any, name: str) -> None:
    page.locator(f".caw-workbench .caw-dag g.caw-node[data-name='{name}']").first.click()


def test_quickstart_workbench_renders_follows_clicks_and_fits_a_phone(page: Any, lab: LabServer, shots: Path) -> None:
    shutil.copy(QUICKSTART, lab.root / "quickstart.ipynb")
    run_all(page, lab, "quickstart.ipynb")
    working = page.locator(f"{RUN_VIEW} .caw-node[data-status='in_progress']").first
    working.wait_for(timeout=60_000)
    run_view = page.locator(RUN_VIEW).first
    assert in_viewport(page, run_view), "Run All leaves the agents' live view in sight while they work"
    page.screenshot(path=str(shots / "quickstart-mid-run.png"))
    page.locator(f"{RUN_VIEW} .caw-node[data-status='completed']").nth(3).wait_for(timeout=30_000)
    assert in_viewport(page, run_view)
    wait_for_all_cells(page)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert "Traceback" not in " ".join(errors.all_inner_texts())

    workbench = page.locator(".caw-workbench").first
    workbench.scroll_into_view_if_needed()
    expect(workbench.locator(".caw-workflowlist")).to_contain_text("4/4", timeout=15_000)
    expect(workbench.locator(".caw-workflowlist .widget-hprogress")).to_have_count(1)
    where = workbench.locator(".caw-workbench-db")
    expect(where).to_contain_text("quickstart.db")
    # textContent, not innerText: innerText is empty while JupyterLab skips rendering an off-screen cell
    db = (where.text_content() or "").removeprefix("sqlite:///")
    with caw_lab.connect(db) as other_process:  # the kernel is idle: only its feed thread can show what this does
        wf = first_workflow(other_process, db)
        tasks = other_process.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]
        in_db = {t["name"]: t["status"] for t in tasks}
        assert in_db == dict.fromkeys(["schema", "api", "page", "e2e"], "completed")
        drawn = drawn_when(page, ".caw-workbench", in_db)
        assert {name: task["id"] for name, task in drawn.items()} == {t["name"]: t["id"] for t in tasks}
        assert miscoloured(drawn) == {}
        workbench.screenshot(path=str(shots / "workbench.png"))

        click_task(page, "api")
        detail = workbench.locator(".caw-taskdetail")
        detail.get_by_text("POST /login checks the password hash", exact=True).wait_for(timeout=10_000)
        shown = detail.text_content() or ""
        assert "ada wrote api" in shown or "grace wrote api" in shown
        assert out_of_view(page, ".caw-workbench") == [], "the open task panel hides no task"
        assert workbench.locator(".caw-dag-panel").is_hidden(), "one task detail: the Task panel, not a DAG overlay"
        workbench.screenshot(path=str(shots / "workbench-task-selected.png"))

        dark = other_process.call("workflow_create", name="Dark mode", source_type="prompt", source_content="dark")
        palette = other_process.call("workflow_set_plan", id=dark["id"], plan=DARK_MODE)["tasks"][0]["id"]
        workbench.locator(".caw-workflowlist button", has_text="Dark mode").click(timeout=10_000)
        drawn = drawn_when(page, ".caw-workbench", {"palette": "pending", "toggle": "blocked"})
        assert {name: task["status"] for name, task in drawn.items()} == {"palette": "pending", "toggle": "blocked"}
        assert miscoloured(drawn) == {}
        other_process.call("task_update_status", id=palette, status="planning")
        other_process.call("task_update_status", id=palette, status="completed", outcome="colours chosen")
        completed = time.monotonic()
        wait_until_painted(page, palette, "completed")
        assert time.monotonic() - completed < 2.0
    drawn = drawn_when(page, ".caw-workbench", {"palette": "completed", "toggle": "pending"})
    assert {name: task["status"] for name, task in drawn.items()} == {"palette": "completed", "toggle": "pending"}
    assert miscoloured(drawn) == {}
    workbench.screenshot(path=str(shots / "workbench-other-process.png"))

    page.keyboard.press("Control+b")  # hide the file browser, as on a phone
    page.set_viewport_size({"width": 380, "height": 800})
    page.wait_for_timeout(500)
    workbench.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "workbench-narrow.png"))
    fit = page.evaluate(OVERFLOW)
    assert fit["width"] < 380 and fit["scroll"] <= fit["client"] + 1 and fit["outside"] == 0, fit
