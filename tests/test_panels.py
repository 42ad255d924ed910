"""The Workbench's panels, redrawn from the change feed, against a real SQLite file."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ipywidgets as widgets
import pytest

import caw_lab
from caw_lab.lab.feed import EventFeed
from caw_lab.lab.panels import Agents, Execution, Inbox, TaskDetail, WorkflowForm, WorkflowList
from caw_lab.lab.workbench import Workbench
from caw_lab.runtimes import agent_logs
from tests.conftest import dump, make_workflow

QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def complete(client: caw_lab.Client, task_id: str, outcome: str = "done") -> None:
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=task_id, status=status)
    client.call("task_update_status", id=task_id, status="completed", outcome=outcome)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    stop = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < stop, "the panel did not catch up with the change feed"
        time.sleep(0.05)


@pytest.fixture
def bench(client: caw_lab.Client) -> Iterator[Workbench]:
    wb = Workbench(client, live=False)
    yield wb
    wb.close()


def test_feed_hands_each_event_to_listeners_once(client: caw_lab.Client) -> None:
    feed = EventFeed(client)
    seen: list[list[str]] = []
    feed.subscribe(lambda events: seen.append([e["kind"] for e in events]))
    assert feed.poll() == []
    make_workflow(client, [{"name": "a"}])
    feed.poll()
    feed.poll()
    assert seen == [["workflow.created", "workflow.plan_set"]]


def test_workflow_list_progress_moves_in_place_on_events(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    feed = EventFeed(client)
    panel = WorkflowList(client)
    feed.subscribe(panel.on_events)
    row = panel.rows[wf["id"]]
    assert (row.bar.value, row.bar.max, row.count.value) == (0, 2, "0/2")
    complete(client, wf["tasks"]["a"])
    feed.poll()
    assert panel.rows[wf["id"]] is row
    assert isinstance(row.bar, widgets.IntProgress) and (row.bar.value, row.count.value) == (1, "1/2")
    row.pick.click()
    assert panel.selected == wf["id"] and row.pick.button_style == "primary"


def test_task_detail_shows_plan_checkpoints_outcome_and_follows_its_task(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "schema", "description": "Add the users table"}])
    task = wf["tasks"]["schema"]
    feed = EventFeed(client)
    panel = TaskDetail(client)
    feed.subscribe(panel.on_events)
    assert "Select a task" in panel.detail.value
    panel.task_id = task
    assert "Add the users table" in panel.detail.value and "No checkpoints yet" in panel.detail.value
    client.call("checkpoint_add", task_id=task, type="decision", summary="use bcrypt")
    complete(client, task, outcome="table created")
    feed.poll()
    assert "use bcrypt" in panel.detail.value and "caw-timeline" in panel.detail.value
    assert "table created" in panel.detail.value
    assert repr(panel) == "<caw_lab TaskDetail: schema (completed, 1 checkpoints)>"


def test_task_detail_shows_context_with_its_token_count(client: caw_lab.Client) -> None:
    if "task_load_context" not in client.tools:
        pytest.skip("task_load_context is not registered in this build")
    wf = make_workflow(client, [{"name": "a", "description": "word " * 500}])
    panel = TaskDetail(client, wf["tasks"]["a"], max_tokens=200)
    assert panel.token_estimate is not None and 0 < panel.token_estimate <= 200
    assert f"{panel.token_estimate} tokens" in panel.context.value


def test_task_detail_offers_only_the_moves_a_task_can_take_and_makes_them(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    panel = TaskDetail(client, wf["tasks"]["b"])
    assert panel.task["status"] == "blocked" and panel.actions.layout.display == "none", "blocked: nothing to pick"
    panel.task_id = wf["tasks"]["a"]
    assert [value for _, value in panel.move.options] == ["planning"]
    panel.apply.click()
    assert client.call("task_get", id=wf["tasks"]["a"])["status"] == "planning"
    assert [value for _, value in panel.move.options] == ["in_progress", "completed"]
    panel.move.value = "completed"
    assert panel.why.layout.display is None and panel.why.placeholder == "outcome"
    panel.move.value = "in_progress"
    assert panel.why.layout.display == "none"
    client.call("task_update_status", id=wf["tasks"]["a"], status="completed", outcome="done elsewhere")  # unheard
    panel.apply.click()
    assert "caw-error" in panel.said.value and "in_progress" in panel.said.value, panel.said.value
    assert client.call("task_get", id=wf["tasks"]["a"])["status"] == "completed", "a refusal changes nothing"


def test_task_detail_tails_its_agents_log_and_says_when_there_is_none(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    task = wf["tasks"]["a"]
    ada = client.call("agent_register", name="ada", runtime="custom")["id"]
    panel = TaskDetail(client, task)
    assert "no log yet" in panel.log_view.value
    client.call("task_claim", task_id=task, agent_id=ada)
    client.call("task_update_status", id=task, status="planning")
    panel.refresh()
    writer = agent_logs.LogWriter(agent_logs.new_attempt(agent_logs.logs_root(str(db_path)), task, ada))
    try:
        writer.write_lines([f"step {i}" for i in range(2000)])
        panel.tick()  # output is not an event: the clock reads the log of a task being worked on
        shown = html.unescape(panel.log_view.value)
        assert "attempt 1 of 1, ada" in shown and "step 1999" in shown and "step 0\n" not in shown
        assert "ag_" not in shown, "the agent by name"
        writer.write_lines(["<b>not markup</b>"])
        panel.tick()
        assert "&lt;b&gt;not markup&lt;/b&gt;" in panel.log_view.value
    finally:
        writer.close()


def test_task_detail_ignores_other_workflows(client: caw_lab.Client) -> None:
    mine = make_workflow(client, [{"name": "a"}])
    other = make_workflow(client, [{"name": "b"}])
    panel = TaskDetail(client, mine["tasks"]["a"])
    ours = client.call("events_list", workflow_id=mine["id"])["events"]
    theirs = client.call("events_list", workflow_id=other["id"])["events"]
    assert panel.wants(ours) and not panel.wants(theirs)


def test_agents_panel_lists_agents_with_heartbeat_age(client: caw_lab.Client) -> None:
    feed = EventFeed(client)
    panel = Agents(client)
    feed.subscribe(panel.on_events)
    assert "No agents" in panel.table.value
    client.call("agent_register", name="ada", runtime="claude_code")
    feed.poll()
    assert "ada" in panel.table.value and re.search(r"\d+s ago", panel.table.value)
    assert repr(panel) == "<caw_lab Agents: 1 agents, 1 online>"


def test_agents_panel_names_the_task_each_agent_is_on(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "design schema"}])
    ada = client.call("agent_register", name="ada", runtime="custom")["id"]
    client.call("task_claim", task_id=wf["tasks"]["design schema"], agent_id=ada)
    panel = Agents(client)
    assert "<b>ada</b>" in panel.table.value and "design schema" in panel.table.value
    assert "ag_" not in panel.table.value and "tk_" not in panel.table.value, "names, never ids"
    assert "overflow-wrap: anywhere" in panel.table.value and "width: 100%" in panel.table.value


def test_relative_times_count_on_without_events(client: caw_lab.Client) -> None:
    ada = client.call("agent_register", name="ada", runtime="custom")["id"]
    bob = client.call("agent_register", name="bob", runtime="custom")["id"]
    client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query", body="hi")
    wb = Workbench(client, interval=60, tick=0.1)  # the feed does not look again: only the clock moves
    try:
        assert "0s ago" in wb.agents.table.value and "0s ago" in shown(wb.inbox)
        wait_for(lambda: re.search(r"[12]s ago", wb.agents.table.value) is not None, timeout=5)
        wait_for(lambda: re.search(r"[12]s ago", shown(wb.inbox)) is not None, timeout=5)
        assert wb.clock.running
    finally:
        wb.close()
    assert not wb.clock.running


def test_inbox_shows_the_threads_the_chosen_agent_takes_part_in(client: caw_lab.Client) -> None:
    feed = EventFeed(client)
    ada, bob, carol = (client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob", "carol"))
    panel = Inbox(client, agent_id=bob)
    feed.subscribe(panel.on_events)
    assert panel.agent.value == bob and panel.agent.label == "bob"
    client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query", subject="schema?", body="ok?")
    feed.poll()
    assert list(panel.views) and "schema?" in shown(panel) and repr(panel) == "<caw_lab Inbox: 1 messages, 1 unread>"
    panel.agent.value = ada  # ada sent it: her threads hold it too
    assert "schema?" in shown(panel) and panel.unread_count == 0
    view = next(iter(panel.views.values()))
    panel.agent.value = carol
    assert "schema?" not in shown(panel) and "No messages" in shown(panel)
    assert view.comm is None and view.text.comm is None, "a thread no longer shown is closed, its widgets too"


def shown(panel: Inbox) -> str:
    """Everything the inbox draws, as text."""
    parts = [panel.summary.value]
    for child in panel.threads.children:
        parts += [child.head.value, child.listing.value] if hasattr(child, "listing") else [child.value]
    return "\n".join(parts)


def test_inbox_names_agents_and_shows_bodies(client: caw_lab.Client) -> None:
    ada, bob = (client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob"))
    client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query", body={"table": "users"})
    panel = Inbox(client)
    text = shown(panel)
    assert "ada &#8594; bob" in text and "&quot;table&quot;: &quot;users&quot;" in text
    assert "ag_" not in text, "agents by name, never by id"
    assert [label for label, _ in panel.agent.options] == ["every agent", "ada", "bob"]
    assert [label for label, _ in panel.compose.recipient.options] == ["ada", "bob"]


def test_compose_and_reply_write_threaded_messages(client: caw_lab.Client) -> None:
    ada, bob = (client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob"))
    panel = Inbox(client)
    form = panel.compose
    form.sender.label, form.recipient.label = "ada", "bob"
    form.subject.value, form.body.value = "schema?", "Is the users table ready?"
    first = form.send.click() or client.call("message_list", agent_id=bob)["messages"][0]
    assert (first["sender_id"], first["recipient_id"], first["thread_id"], first["reply_to_id"]) == (
        ada, bob, first["id"], None)
    assert (first["subject"], first["body"], form.body.value) == ("schema?", "Is the users table ready?", "")
    assert "Sent to bob" in form.said.value

    panel.agent.value = bob
    view = panel.views[first["id"]]
    view.text.value = "Yes, migrated."
    view.reply.click()
    answer = client.call("message_list", agent_id=ada)["messages"][0]
    assert (answer["sender_id"], answer["recipient_id"], answer["reply_to_id"], answer["thread_id"]) == (
        bob, ada, first["id"], first["id"]), "the one asked answers the one who asked, in the same thread"
    assert answer["subject"] == "schema?" and view.text.value == ""

    view.text.value = "And indexed."  # bob writes again: a follow-up, still to ada
    view.reply.click()
    again = client.call("message_list", agent_id=ada)["messages"][0]
    assert (again["sender_id"], again["recipient_id"], again["reply_to_id"]) == (bob, ada, answer["id"])
    assert list(panel.views) == [first["id"]] and len(panel.views[first["id"]].messages) == 3
    assert repr(panel.views[first["id"]]) == "<caw_lab ThreadView: 3 messages, 1 unread>"


def test_compose_as_the_notebook_registers_its_agent_once(client: caw_lab.Client) -> None:
    bob = client.call("agent_register", name="bob", runtime="custom")["id"]
    panel = Inbox(client)
    form = panel.compose
    assert form.sender.label == "you (this notebook)" and form.recipient.value == bob
    for text in ("one", "two"):
        form.body.value = text
        form.send.click()
    senders = {m["sender_id"] for m in client.call("message_list", agent_id=bob)["messages"]}
    names = {a["id"]: a["name"] for a in client.call("agent_list")["agents"]}
    assert len(senders) == 1 and names[senders.pop()] == "notebook"
    assert "notebook" not in [label for label, _ in form.sender.options[1:]], "you are offered once, as you"


def test_compose_and_reply_refusals_write_nothing(client: caw_lab.Client) -> None:
    ada, bob = (client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob"))
    panel = Inbox(client)
    form = panel.compose
    form.sender.value, form.recipient.value = ada, bob
    before = dump(client.db)
    form.body.value = "   "
    assert panel.send(form) is None and "INVALID_INPUT" in form.said.value
    form.body.value = "x" * 2_000_000
    assert panel.send(form) is None and "caw-error" in form.said.value, form.said.value
    assert dump(client.db) == before and form.body.value, "a refused message stays in the form to fix"
    client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query", body="hi")
    panel.refresh()
    view = next(iter(panel.views.values()))
    before = dump(client.db)
    view.text.value = ""
    assert panel.reply(view) is None and "INVALID_INPUT" in view.said.value
    view.text.value = "x" * 2_000_000
    assert panel.reply(view) is None and "caw-error" in view.said.value and view.text.value
    assert dump(client.db) == before


def test_mark_read_changes_the_unread_counts(client: caw_lab.Client) -> None:
    ada, bob = (client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob"))
    first = client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query", body="1")
    client.call("message_send", sender_id=ada, recipient_id=bob, message_type="query", body="2",
                reply_to_id=first["id"])
    other = client.call("message_send", sender_id=bob, recipient_id=ada, message_type="query", body="elsewhere")
    panel = Inbox(client, agent_id=bob)
    view = panel.views[first["id"]]
    assert view.mark_read.description == "Mark 2 read" and panel.unread_count == 2
    view.mark_read.click()
    assert client.call("message_count_unread", agent_id=bob)["count"] == 0
    assert client.call("message_count_unread", agent_id=ada)["count"] == 1, "only the thread's, only bob's"
    assert panel.unread_count == 0 and view.mark_read.disabled and "0 unread" in panel.summary.value
    panel.agent.value = ada
    assert panel.views[other["thread_id"]].mark_read.description == "Mark 1 read"


def test_form_shows_what_is_missing_inline_and_writes_nothing(client: caw_lab.Client) -> None:
    template = {"variables": ["component"], "tasks": [{"name": "fix {{component}}"}]}
    client.call("template_create", name="bugfix", template=template)
    form = WorkflowForm(client)
    before = dump(client.db)
    assert form.submit() is None and "Give the workflow a name" in form.name_hint.value
    form.name.value = "Fix auth"
    form.template.label = "bugfix"
    assert [f.spec["name"] for f in form.variables.children] == ["component"]
    assert form.submit() is None
    assert "component is required" in form.variables.children[0].hint.value
    assert dump(client.db) == before
    form.variables.children[0].input.value = "auth"
    wf_id = form.submit()
    assert form.created == wf_id
    tasks = client.call("workflow_get", id=wf_id, include_tasks=True)["tasks"]
    assert [t["name"] for t in tasks] == ["fix auth"] and form.variables.children[0].hint.value == ""


def test_form_edits_the_plan_and_shows_refusals_inline(client: caw_lab.Client) -> None:
    form = WorkflowForm(client)
    form.name.value = "Add login"
    form.source.value = "Users sign in"
    wf_id = form.submit()
    form.workflow_id = wf_id
    assert client.call("workflow_get", id=wf_id)["source_content"] == "Users sign in"
    before = dump(client.db)
    assert not form.attempt_plan("summary: s\ntasks:\n  - name: a\n    depends_on: [a]")
    assert "depend on itself" in form.plan_said.value and dump(client.db) == before
    assert "depend on itself" not in form.message.value, "the plan's problem shows by the plan box, not by Create"
    assert not form.attempt_plan("summary: s\ntasks:\n  - name: a\n   depends_on: [a]")
    detail = re.search(r"<pre class='caw-error-detail'[^>]*>(.*?)</pre>", form.plan_said.value, re.DOTALL)
    assert detail, form.plan_said.value
    lines = html.unescape(detail.group(1)).splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1].strip() == "- name: a", "the caret has its own line, under the quoted plan line"
    assert dump(client.db) == before
    assert form.attempt_plan("summary: s\ntasks:\n  - name: a\n  - name: b\n    depends_on: [a]")
    assert client.call("workflow_get", id=wf_id)["status"] == "ready"


def test_workbench_follows_selection_from_list_to_graph_to_detail(client: caw_lab.Client, bench: Workbench) -> None:
    assert bench.workflow_id is None and repr(bench) == "<caw_lab Workbench: 0 of 0 workflows, no workflow selected>"
    first = make_workflow(client, [{"name": "a"}], name="First")
    bench.refresh()
    assert bench.workflow_id == first["id"]  # the first workflow to appear is shown without a click
    wf = make_workflow(client, [{"name": "schema"}, {"name": "api", "depends_on": ["schema"]}], name="Add login")
    bench.refresh()
    assert bench.workflow_id == first["id"]
    bench.workflows.rows[wf["id"]].pick.click()
    assert bench.workflow_id == wf["id"] and bench.form.workflow_id == wf["id"] == bench.execution.workflow_id
    bench.graph.selected = wf["tasks"]["api"]
    assert bench.task_id == bench.detail.task_id == wf["tasks"]["api"]
    assert "api" in bench.detail.detail.value
    assert repr(bench) == "<caw_lab Workbench: 2 of 2 workflows, workflow 'Add login' selected, task 'api'>"


def test_workbench_opens_on_the_newest_workflow_and_reprs_stably(client: caw_lab.Client) -> None:
    make_workflow(client, [{"name": "a"}], name="older")
    time.sleep(0.01)  # creation times are in milliseconds
    wf = make_workflow(client, [{"name": "b"}], name="newer")
    wb = Workbench(client, live=False)
    assert wb.workflow_id == wf["id"] and caw_lab.Workbench is Workbench
    for widget in [wb, wb.graph, *wb.panels, *wb.workflows.rows.values()]:
        text = repr(widget)
        assert text.startswith("<caw_lab ") and "0x" not in text and "wf_" not in text and "tk_" not in text
    wb.close()


def test_workbench_opens_a_database_by_path(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}], name="on disk")
    wb = Workbench(str(db_path), live=False)
    assert wb.client is not client and wb.workflow_id == wf["id"]
    wb.close()
    client.call("workflow_get", id=wf["id"])  # the caller's own client stays open


def test_live_workbench_shows_another_process_completing_a_task(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    wb = Workbench(client, wf["id"], interval=0.05)
    try:
        script = (
            "import sys, caw_lab\n"
            "c = caw_lab.connect(sys.argv[1])\n"
            "for s in ('planning', 'in_progress'): c.call('task_update_status', id=sys.argv[2], status=s)\n"
            "c.call('task_update_status', id=sys.argv[2], status='completed', outcome='from afar')\n"
        )
        subprocess.run([sys.executable, "-c", script, str(db_path), wf["tasks"]["a"]], check=True, timeout=60)
        wait_for(lambda: wb.workflows.rows[wf["id"]].bar.value == 1)
        assert wb.feed.running
    finally:
        wb.close()
    assert not wb.feed.running


def test_quickstart_executes_headless_with_a_stable_workbench_repr(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(QUICKSTART, as_version=4)
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    widgets_shown = [o.data for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert [w["text/plain"] for w in widgets_shown] == [
        "<caw_lab Workbench: 1 of 1 workflows, workflow 'Add a login page' selected>",
        "<caw_lab DagWidget: workflow 'Add a login page', 0/4 tasks done, selected none>"]
    assert all(">e2e<" in w["image/svg+xml"] for w in widgets_shown), "each carries a still picture"
    def shown(command: str) -> str:
        cell = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(command))
        return cell.outputs[0].data["text/html"]

    context = shown("%caw context")
    assert re.search(r"Context: \d+ tokens", context) and "e2e" in context
    assert "Failure rate: 0%" in shown("%caw metrics") and "completed" in shown("%caw metrics")


def patient_runtime(client: caw_lab.Client, workflow_id: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents in this process's threads that work until suspended (tests/runtime_work.py)."""
    config = folder / "runtimes.toml"
    config.write_text('[python]\nwork = "runtime_work:patient"\n')
    monkeypatch.setenv("CAW_RUNTIMES", str(config))
    client.call("workflow_set_config", id=workflow_id, config={"execution": {
        "runtime": "python", "poll_interval_ms": 50, "stop_grace_ms": 3000}})


def test_run_suspend_and_resume_buttons_steer_the_execution(client: caw_lab.Client, db_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wf = make_workflow(client, [{"name": "a", "description": "wait"}, {"name": "b", "depends_on": ["a"]}])
    patient_runtime(client, wf["id"], db_path.parent, monkeypatch)
    feed = EventFeed(client)
    panel = Execution(client, wf["id"])
    feed.subscribe(panel.on_events)
    status = lambda: client.call("workflow_execution_status", workflow_id=wf["id"])["status"]  # noqa: E731
    assert status() == "idle" and panel.status["status"] == "idle"
    assert (panel.run.disabled, panel.suspend.disabled, panel.resume.disabled) == (False, True, True)
    try:
        panel.run.click()
        assert status() == "running" and "Started" in panel.said.value, panel.said.value
        assert panel.state.value.count("data-status='running'") == 1
        assert (panel.run.disabled, panel.suspend.disabled, panel.resume.disabled) == (True, False, True)
        panel.run.click()  # the button is greyed out; a click reaching the kernel anyway is refused, said so
        assert "ALREADY_RUNNING" in panel.said.value
        panel.suspend.click()
        assert status() == "suspended" and client.call("workflow_get", id=wf["id"])["status"] == "paused"
        assert (panel.run.disabled, panel.suspend.disabled, panel.resume.disabled) == (True, True, False)
        panel.resume.click()
        assert status() == "running" and "Resumed" in panel.said.value
    finally:
        client.call("workflow_suspend", workflow_id=wf["id"])
    feed.poll()
    assert panel.status["status"] == "suspended", "the feed's execution events redraw it"


def test_run_refused_without_a_runtime_says_why_and_writes_nothing(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    panel = Execution(client, wf["id"])
    panel.runtime.value = "no-such-runtime"
    before = dump(client.db)
    assert not panel.act("workflow_start", "Started")
    assert "caw-error" in panel.said.value and "no-such-runtime" in panel.said.value, panel.said.value
    assert dump(client.db) == before and panel.status["status"] == "idle"
    panel.workflow_id = None
    assert panel.controls.layout.display == "none" and panel.said.value == ""
