"""Steering from the Workbench in real JupyterLab, in Debian's Chromium: compose and reply in
the Inbox, Run and Suspend, and the whole Workbench on a 390 px wide phone screen.

One notebook and one kernel serve every check (a Workbench takes seconds to come up).
Screenshots go to ``CAW_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.conftest import make_workflow
from tests.jupyter_lab import ALL_CELLS_RUN, LabServer, missing, open_notebook, run_all

if missing():
    pytest.skip(missing(), allow_module_level=True)
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
PLAN = [{"name": "design schema", "description": "wait"}, {"name": "api", "depends_on": ["design schema"]},
        {"name": "web ui", "depends_on": ["design schema"]}, {"name": "ship", "depends_on": ["api", "web ui"]}]
READY = '.caw-workbench .caw-dag[data-ready="1"]'
PHONE = {"width": 390, "height": 844}
FITS = """() => {
  const wb = document.querySelector('.caw-workbench');
  const box = wb.getBoundingClientRect();
  const panels = [...wb.querySelectorAll('.caw-panel')].map(p => p.getBoundingClientRect());
  const cut = [...wb.querySelectorAll('.caw-fluid')].filter(t => t.scrollWidth > t.parentElement.clientWidth + 1);
  return {page: document.scrollingElement.scrollWidth, inner: innerWidth, workbench: wb.scrollWidth - wb.clientWidth,
          outside: panels.filter(r => r.right > box.right + 1).length, cut: cut.length,
          lefts: [...new Set(panels.map(r => Math.round(r.left)))].length,
          widest: [...wb.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > box.right + 1)
                    .slice(0, 5).map(e => e.className.baseVal ?? e.className)};
}"""


def until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll the database (as another process sees it) until ``check`` holds."""
    stop = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < stop, f"not seen within {timeout:.0f} s: {what}"
        time.sleep(0.1)
    return found


@pytest.fixture
def steered(db_path: Path, tmp_path: Path) -> dict[str, Any]:
    """A workflow whose agents (this kernel's threads) work until suspended, two agents and a question."""
    (tmp_path / "runtimes.toml").write_text('[python]\nwork = "runtime_work:patient"\n')
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, PLAN, name="login feature")
        client.call("workflow_set_config", id=wf["id"], config={"execution": {
            "runtime": "python", "max_agents": 1, "poll_interval_ms": 50, "stop_grace_ms": 3000}})
        ada, bob = (client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob"))
        asked = client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query",
                            subject="schema?", body="Is the users table ready? " + "Long words wrap. " * 12)
    return {"wf": wf, "ada": ada, "bob": bob, "asked": asked["id"], "runtimes": tmp_path / "runtimes.toml"}


def test_steer_from_the_workbench_and_read_it_on_a_phone(page: Any, lab: LabServer, db_path: Path,
                                                         steered: dict[str, Any], shots: Path) -> None:
    cell = (f"import os, sys\nos.environ['CAW_RUNTIMES'] = {str(steered['runtimes'])!r}\n"
            f"sys.path.insert(0, {str(TESTS)!r})\n"
            f"import caw_lab\nwb = caw_lab.Workbench({str(db_path)!r}, tick=1)\nwb")
    open_notebook(page, lab, "steer.ipynb", [cell])
    try:
        page.wait_for_selector(READY, timeout=60_000)
    except PlaywrightTimeout:
        # As tests/test_dag_widget_browser.py: a Run All can be dropped on a busy machine; run again.
        page.screenshot(path=str(shots / "steer-not-ready.png"))
        if not page.evaluate(ALL_CELLS_RUN):
            run_all(page, lab, "steer.ipynb")
        page.wait_for_selector(READY, timeout=120_000)
    workbench = page.locator(".caw-workbench").first
    inbox = workbench.locator(".caw-inbox")
    expect(inbox.locator(".caw-thread")).to_have_count(1, timeout=10_000)
    client = caw_lab.connect(db_path)
    try:
        compose_and_reply(page, inbox, client, steered)
        run_and_suspend(workbench, client, steered["wf"]["id"], shots)
        workbench.screenshot(path=str(shots / "steer-wide.png"))
        on_a_phone(page, workbench, shots)
    finally:
        if client.call("workflow_execution_status", workflow_id=steered["wf"]["id"])["status"] == "running":
            client.call("workflow_suspend", workflow_id=steered["wf"]["id"])
        client.close()


def compose_and_reply(page: Any, inbox: Any, client: caw_lab.Client, steered: dict[str, Any]) -> None:
    ada, bob = steered["ada"], steered["bob"]
    inbox.locator(".jupyter-widget-Collapse-header, .lm-Collapse-header, .p-Collapse-header").first.click()
    form = inbox.locator(".caw-compose")
    form.locator("select").nth(1).select_option(label="ada")
    form.locator("input[type=text]").first.fill("deploy?")
    form.locator("textarea").fill("Ship it after the schema.")
    form.get_by_role("button", name="Send").click()
    sent = until(lambda: [m for m in client.call("message_list", agent_id=ada)["messages"]
                          if m["body"] == "Ship it after the schema."], "the composed message")[0]
    names = {a["id"]: a["name"] for a in client.call("agent_list")["agents"]}
    assert names[sent["sender_id"]] == "notebook" and sent["subject"] == "deploy?" and sent["thread_id"] == sent["id"]
    expect(inbox.locator(".caw-thread")).to_have_count(2, timeout=10_000)

    thread = inbox.locator(".caw-thread", has_text="schema?")
    thread.locator("textarea").fill("Yes, migrated.")
    thread.get_by_role("button", name="Reply").click()
    answer = until(lambda: [m for m in client.call("message_list", agent_id=ada)["messages"]
                            if m["body"] == "Yes, migrated."], "the reply")[0]
    asked = steered["asked"]
    assert (answer["sender_id"], answer["reply_to_id"], answer["thread_id"]) == (bob, asked, asked)
    expect(thread.locator(".caw-message")).to_have_count(2, timeout=10_000)
    assert "ag_" not in (thread.text_content() or ""), "agents by name"

    thread.get_by_role("button", name="Mark 2 read").click()  # every agent's inbox: bob's question, ada's answer
    until(lambda: client.call("message_count_unread")["count"] == 1, "the thread marked read, the other not")
    expect(thread.get_by_role("button", name="Read")).to_be_disabled(timeout=10_000)


def run_and_suspend(workbench: Any, client: caw_lab.Client, workflow_id: str, shots: Path) -> None:
    status = lambda: client.call("workflow_execution_status", workflow_id=workflow_id)["status"]  # noqa: E731
    panel = workbench.locator(".caw-execution")
    assert status() == "idle"
    panel.get_by_role("button", name="Run").click()
    until(lambda: status() == "running", "the execution running")
    expect(panel.locator(".caw-execution[data-status='running']")).to_have_count(1, timeout=10_000)
    expect(workbench.locator(".caw-dag .caw-node[data-status='in_progress']")).to_have_count(1, timeout=15_000)
    workbench.locator(".caw-dag g.caw-node[data-name='design schema']").first.click()
    expect(workbench.locator(".caw-taskdetail .caw-log")).to_contain_text("Agent log", timeout=10_000)
    workbench.screenshot(path=str(shots / "steer-running.png"))
    panel.get_by_role("button", name="Suspend").click()
    until(lambda: status() == "suspended", "the execution suspended")
    expect(panel.locator(".caw-execution[data-status='suspended']")).to_have_count(1, timeout=10_000)
    assert client.call("workflow_get", id=workflow_id)["status"] == "paused"


def on_a_phone(page: Any, workbench: Any, shots: Path) -> None:
    page.keyboard.press("Control+b")  # the file browser folded away, as a phone shows it
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(800)
    workbench.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "steer-phone-top.png"))
    for name in ("caw-dag", "caw-taskdetail", "caw-agents", "caw-inbox"):
        part = workbench.locator(f".{name}").first
        part.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"steer-phone-{name.removeprefix('caw-')}.png"))
    fit = page.evaluate(FITS)
    assert fit["page"] <= fit["inner"], f"the page scrolls sideways: {fit}"
    assert fit["workbench"] <= 1 and fit["outside"] == 0 and fit["cut"] == 0, f"{fit}"
    assert fit["lefts"] == 1, f"panels stack one under another: {fit}"
    dag, panel = (workbench.locator(f".{name}").first.bounding_box() for name in ("caw-dag", "caw-inbox"))
    assert dag["width"] >= panel["width"] - 4 and dag["height"] > 250, f"the DAG takes the whole width: {dag}"
    nodes = [n.bounding_box() for n in workbench.locator(".caw-dag g.caw-node").all()]
    assert len(nodes) == 4 and min(n["width"] for n in nodes) >= 90, f"tasks drawn top to bottom, not slivers: {nodes}"
    body = workbench.locator(".caw-inbox .caw-message-body").first
    body.scroll_into_view_if_needed()
    box = body.bounding_box()
    assert box["width"] > 250 and box["x"] + box["width"] <= PHONE["width"], f"message bodies are readable: {box}"
    body.screenshot(path=str(shots / "steer-phone-message.png"))
