"""The dashboard page of ``caw --server --transport http`` in Debian's Chromium, as a person
uses it: on a desktop (1400x900) and a phone (390x844), and inside JupyterLab.

One server and one browser per module. Screenshots go to ``CAW_SCREENSHOTS`` (default: the
test's temporary folder).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.conftest import make_workflow
from tests.dag_screen import PLAN, READY
from tests.jupyter_lab import TOKEN as LAB_TOKEN
from tests.jupyter_lab import LabServer, missing
from tests.mcp_session import TOKEN, HttpServer, http_server

if missing():
    pytest.skip(missing(), allow_module_level=True)

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
LIVE = '.caw-live[data-state="open"]'
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"
STATUS_OF = "(id) => document.querySelector(`.caw-node[data-id='${id}']`)?.dataset.status ?? null"
CHANGE = """
import sys, time, caw_lab
with caw_lab.connect(sys.argv[1]) as c:
    c.call("task_update_status", id=sys.argv[2], status="planning")
    print(time.time())
"""

AGENT = """
import sys, time, caw_lab
from caw_lab.runtimes.agent_logs import LogWriter, logs_root, new_attempt
db, task = sys.argv[1], sys.argv[2]
with caw_lab.connect(db) as c:
    agent = c.call("agent_register", name="writer", runtime="claude_code", role="worker")["id"]
    c.call("task_claim", task_id=task, agent_id=agent)
    log = LogWriter(new_attempt(logs_root(db), task, agent))
    for step in range(3):
        log.write_lines([f"step {step} of the agent"])
        time.sleep(0.3)
    print("written", flush=True)
    sys.stdin.readline()
    log.close()
"""
"""A stand-in agent: claims the task, writes its log as the executor's agents do, and keeps
running until told to stop."""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web") / "caw.db"


@pytest.fixture(scope="module")
def workflow(db: Path) -> dict[str, Any]:
    with caw_lab.connect(db) as client:
        wf = make_workflow(client, PLAN, name="login feature", max_parallel_tasks=3)
        design = wf["tasks"]["design schema"]
        client.call("task_update_status", id=design, status="planning")
        client.call("checkpoint_add", task_id=design, type="progress", summary="Sketched the users table")
        client.call("task_update_status", id=design, status="completed", outcome="Users table with password hashes")
    return wf


@pytest.fixture(scope="module")
def server(db: Path, workflow: dict[str, Any]) -> Iterator[HttpServer]:
    with http_server(db) as running:
        yield running


def open_page(chromium: Any, server: HttpServer, route: str, viewport: dict[str, int], viewer: str,
              scheme: str = "light") -> Any:
    """A fresh browser context on the page at ``route`` (``#/...``), signed in with the one-time
    ``?token=`` URL, named ``viewer`` in viewers lists, the system's colour scheme ``scheme``."""
    context = chromium.new_context(viewport=viewport, color_scheme=scheme)
    context.add_init_script(f"localStorage.setItem('caw-viewer', {json.dumps(viewer)})")
    page = context.new_page()
    page.goto(f"{server.url}/?token={TOKEN}{route}")
    page.wait_for_selector(LIVE, timeout=15_000)
    return page


def task_status(page: Any, task_id: str) -> str | None:
    return page.evaluate(STATUS_OF, task_id)


def viewers(page: Any) -> list[str]:
    return page.locator(".caw-viewers li").all_inner_texts()


def test_desktop_list_dag_live_change_and_task_detail(
    chromium: Any, server: HttpServer, db: Path, workflow: dict[str, Any], shots: Path
) -> None:
    t = workflow["tasks"]
    page = open_page(chromium, server, "#/", DESKTOP, "ada")
    card = page.locator(f'.caw-card[data-id="{workflow["id"]}"]')
    card.wait_for(timeout=10_000)
    assert "1/5" in card.inner_text(), "the list shows progress"
    page.screenshot(path=str(shots / "page-list-1400.png"))

    card.click()
    page.wait_for_selector(READY, timeout=20_000)
    assert page.locator("g.caw-node-task").count() == 5
    assert page.locator("path.caw-edge").count() == 5
    assert task_status(page, t["design schema"]) == "completed"

    done = subprocess.run([sys.executable, "-c", CHANGE, str(db), t["api endpoints"]],
                          check=True, capture_output=True, text=True)
    committed = float(done.stdout)
    page.wait_for_function(f"(id) => ({STATUS_OF})(id) === 'planning'", arg=t["api endpoints"], timeout=5_000)
    print(f"status change painted {time.time() - committed:.2f} s after its commit")

    page.locator('button[data-action="suspend"]').click()
    refusal = page.locator(".caw-notice .caw-error")
    refusal.wait_for(timeout=5_000)
    assert "NOT_RUNNING" in refusal.inner_text(), "the server's refusal is shown as it came"

    page.locator(f'.caw-node[data-id="{t["design schema"]}"]').click()
    side = page.locator(".caw-side")
    side.get_by_text("Sketched the users table").wait_for(timeout=5_000)
    page.wait_for_function("() => Number(document.querySelector('.caw-tokens')?.dataset.tokens) > 0", timeout=5_000)
    assert page.url.endswith(f"#/workflows/{workflow['id']}/tasks/{t['design schema']}")
    page.screenshot(path=str(shots / "page-workflow-1400.png"))
    page.context.close()


def test_two_viewers_see_each_other(chromium: Any, server: HttpServer, workflow: dict[str, Any], shots: Path) -> None:
    route = f"#/workflows/{workflow['id']}"
    ada = open_page(chromium, server, route, DESKTOP, "ada")
    bob = open_page(chromium, server, route, PHONE, "bob")
    for page, other in ((ada, "bob"), (bob, "ada")):
        page.wait_for_function("(name) => [...document.querySelectorAll('.caw-viewers li')]"
                               ".some(li => li.textContent.startsWith(name))", arg=other, timeout=10_000)
    assert sorted(viewers(ada)) == ["ada (you)", "bob"]
    ada.screenshot(path=str(shots / "page-viewers-1400.png"))
    bob.context.close()
    ada.wait_for_function("() => document.querySelectorAll('.caw-viewers li').length === 1", timeout=10_000)
    ada.context.close()


def test_a_workflow_created_and_replanned_on_the_page_is_in_the_database(
    chromium: Any, server: HttpServer, db: Path
) -> None:
    page = open_page(chromium, server, "#/new", DESKTOP, "ada")
    page.fill('input[name="name"]', "from the browser")
    page.fill('textarea[name="source_content"]', "made by a person in the page")
    editor = page.locator("textarea.caw-plan-editor")
    editor.fill(json.dumps({"tasks": [{"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}]}))
    assert page.locator(".caw-problems li").all_inner_texts() == ["Dependency cycle: a → b → a."]
    assert page.locator('button[type="submit"]').is_disabled()
    editor.fill(json.dumps({"summary": "two steps", "tasks": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}))
    page.locator('button[type="submit"]').click()
    page.wait_for_selector(READY, timeout=20_000)
    created = page.url.split("#/workflows/")[1]
    with caw_lab.connect(db) as client:
        wf = client.call("workflow_get", id=created, include_tasks=True)
    assert wf["name"] == "from the browser" and wf["source_content"] == "made by a person in the page"
    assert [(task["name"], len(task["depends_on"])) for task in wf["tasks"]] == [("a", 0), ("b", 1)]

    page.locator("a", has_text="Edit").click()
    editor.wait_for(timeout=10_000)
    page.wait_for_function("() => document.querySelector('textarea.caw-plan-editor').value.includes('\"b\"')")
    page.fill('input[name="max_parallel_tasks"]', "2")
    editor.fill(json.dumps({"summary": "three steps", "tasks": [
        {"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c", "depends_on": ["a"]}]}))
    assert page.locator(".caw-problems li").all_inner_texts() == ["Say why the plan changes (Reason)."]
    page.fill('input[name="reason"]', "c can run beside b")
    page.locator('button[type="submit"]').click()
    page.wait_for_selector(f'{READY}[data-tasks="3"]', timeout=20_000)
    with caw_lab.connect(db) as client:
        wf = client.call("workflow_get", id=created, include_tasks=True)
    assert [task["name"] for task in wf["tasks"]] == ["a", "b", "c"] and wf["max_parallel_tasks"] == 2
    page.context.close()


def test_an_agents_log_streams_live_and_stays_readable(
    chromium: Any, server: HttpServer, db: Path, workflow: dict[str, Any], shots: Path
) -> None:
    task = workflow["tasks"]["web ui"]
    page = open_page(chromium, server, f"#/workflows/{workflow['id']}/tasks/{task}", DESKTOP, "ada")
    log = page.locator(".caw-log")
    log.get_by_text("No agent output yet.").wait_for(timeout=10_000)
    agent = subprocess.Popen([sys.executable, "-c", AGENT, str(db), task], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page.wait_for_function("() => document.querySelector('.caw-log').textContent.includes('step 2 of the agent')",
                               timeout=15_000)
        assert agent.poll() is None, "the lines arrived while the agent ran"
    finally:
        out, err = agent.communicate("\n", timeout=30)
    assert agent.returncode == 0 and out == "written\n", err
    page.screenshot(path=str(shots / "page-agent-log-1400.png"))
    page.reload()
    page.wait_for_function("() => document.querySelector('.caw-log')?.dataset.lines === '3'", timeout=10_000)
    assert log.inner_text().splitlines() == [f"step {n} of the agent" for n in range(3)]
    page.context.close()


def test_agents_and_inbox_thread_reply_and_mark_read(chromium: Any, server: HttpServer, db: Path, shots: Path) -> None:
    with caw_lab.connect(db) as client:
        ann = client.call("agent_register", name="ann", runtime="claude_code", role="worker")["id"]
        bo = client.call("agent_register", name="bo", runtime="claude_code", role="worker")["id"]
        asked = client.call("message_send", sender_id=ann, recipient_id=bo, message_type="query",
                            subject="schema?", body="Which table holds sessions?")["id"]
    page = open_page(chromium, server, "#/agents", DESKTOP, "ada")
    beat = page.locator(f'.caw-card[data-id="{ann}"] .caw-heartbeat')
    beat.wait_for(timeout=10_000)
    assert beat.inner_text().startswith("heartbeat ") and beat.inner_text().endswith(" s ago")

    page.goto(f"{server.url}/#/inbox")
    page.locator("select[aria-label='Inbox of']").select_option(bo)
    thread = page.locator(f'.caw-thread:has(.caw-message[data-id="{asked}"])')
    thread.wait_for(timeout=10_000)
    assert thread.get_attribute("data-unread") == "1"
    thread.locator("textarea").fill("The sessions table.")
    thread.locator("button[type=submit]").click()
    page.locator(".caw-message-body", has_text="The sessions table.").wait_for(timeout=10_000)
    page.locator(f'.caw-thread:has(.caw-message[data-id="{asked}"]) button[data-action="mark-read"]').click()
    page.wait_for_selector(f'.caw-thread[data-unread="0"]:has(.caw-message[data-id="{asked}"])', timeout=10_000)
    page.screenshot(path=str(shots / "page-inbox-1400.png"))
    with caw_lab.connect(db) as client:
        inbox = {m["id"]: m["status"] for m in client.call("message_list", agent_id=bo)["messages"]}
        replies = client.call("message_list", agent_id=ann)["messages"]
    assert inbox[asked] == "read"
    assert [(m["body"], m["reply_to_id"], m["sender_id"]) for m in replies] == [("The sessions table.", asked, bo)]
    page.context.close()


def test_phone_width_in_dark_stacks_panels_pans_the_dag_and_never_scrolls_sideways(
    chromium: Any, server: HttpServer, workflow: dict[str, Any], shots: Path
) -> None:
    page = open_page(chromium, server, "#/", PHONE, "bob", scheme="dark")
    page.locator(".caw-card").first.wait_for(timeout=10_000)
    assert page.evaluate(SIDEWAYS) <= 0
    dark = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert dark == "rgb(18, 22, 27)", "dark follows the system"
    page.screenshot(path=str(shots / "page-list-390.png"), full_page=True)

    page.goto(f"{server.url}/#/workflows/{workflow['id']}/tasks/{workflow['tasks']['docs']}")
    page.wait_for_selector(READY, timeout=20_000)
    dag, side = page.locator(".caw-dag-box").bounding_box(), page.locator(".caw-side").bounding_box()
    assert side["y"] >= dag["y"] + dag["height"] - 1, "the task detail sits below the DAG"
    assert page.evaluate(SIDEWAYS) <= 0

    stage = page.locator(".caw-dag-stage").bounding_box()
    node = page.locator(f'.caw-node[data-id="{workflow["tasks"]["ship"]}"]')
    before = node.bounding_box()
    x, y = stage["x"] + 12, stage["y"] + stage["height"] - 12
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y - 40, steps=6)
    page.mouse.up()
    after = node.bounding_box()
    assert (round(after["x"] - before["x"]), round(after["y"] - before["y"])) == (60, -40), "the DAG pans"
    assert page.evaluate(SIDEWAYS) <= 0
    page.screenshot(path=str(shots / "page-workflow-390.png"), full_page=True)
    page.context.close()


@pytest.fixture(scope="module")
def lab_with_dashboard(tmp_path_factory: pytest.TempPathFactory, db: Path) -> Iterator[LabServer]:
    """JupyterLab with the dashboard's jupyter-server-proxy entry, on this module's database."""
    workdir = tmp_path_factory.mktemp("lab")
    config = workdir / "jupyter_config_dir"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        "from caw_lab.web.jupyter import setup_server\n"
        "server = setup_server()\n"
        f"server['environment']['CAW_DB_PATH'] = {str(db)!r}\n"
        "c.ServerProxy.servers = {'caw': server}\n")
    server = LabServer(workdir)
    yield server
    server.stop()


def test_the_page_inside_jupyterlab(
    chromium: Any, lab_with_dashboard: LabServer, workflow: dict[str, Any], shots: Path
) -> None:
    lab = lab_with_dashboard
    page = chromium.new_page(viewport=DESKTOP)
    page.goto(f"{lab.base}/lab?token={LAB_TOKEN}&reset")
    launcher = page.locator('.jp-LauncherCard[title="caw dashboard"], .jp-LauncherCard:has-text("caw dashboard")')
    launcher.first.click(timeout=60_000)
    frame = page.frame_locator("iframe").first
    frame.locator(f'.caw-card[data-id="{workflow["id"]}"]').click(timeout=30_000)
    frame.locator(READY).wait_for(timeout=20_000)
    assert frame.locator("g.caw-node-task").count() == 5
    frame.locator(LIVE).wait_for(timeout=10_000)
    page.screenshot(path=str(shots / "page-in-jupyterlab.png"))
    page.close()
