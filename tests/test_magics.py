"""The %caw magics in a real IPython shell against a real SQLite file."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

import caw_lab
from caw_lab.lab import parser
from caw_lab.lab.magics import CawRefused, register
from caw_lab.lab.session import LabSession
from tests.conftest import dump, make_workflow

PLAN = """
summary: Add login
tasks:
  - name: schema
    description: Add the users table
    files: [db/schema.sql]
  - name: api
    depends_on: [schema]
    parallel_group: build
  - name: page
    depends_on: schema
    parallel_group: build
"""


@pytest.fixture
def ip(client: caw_lab.Client) -> InteractiveShell:
    shell = InteractiveShell.instance()
    register(shell, LabSession(client))
    return shell


def run(ip: InteractiveShell, line: str, cell: str | None = None) -> tuple[Any, CapturedIO]:
    """The magic's value (None when it was refused: its card is in ``out``) and what it showed."""
    with capture_output() as out:
        try:
            value = ip.run_line_magic("caw", line) if cell is None else ip.run_cell_magic("caw", line, cell)
        except CawRefused:
            value = None
    return value, out


def shown_html(out: CapturedIO) -> str:
    """What the displayed HTML says, entities decoded."""
    return html.unescape("".join(o.data.get("text/html", "") for o in out.outputs))


def planned(ip: InteractiveShell) -> dict[str, Any]:
    wf, _ = run(ip, "new Add login --source 'Users sign in'")
    plan, _ = run(ip, f"plan {wf['id']}", PLAN)
    return {"id": wf["id"], "tasks": {t["name"]: t["id"] for t in plan["tasks"]}}


def test_load_ext_registers_both_magics(tmp_path: Path) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "caw_lab")
    assert "caw" in shell.magics_manager.magics["line"]
    assert "caw" in shell.magics_manager.magics["cell"]
    value, _ = run(shell, f"use {tmp_path / 'loaded.db'}")
    assert value["db"].endswith("loaded.db")


def test_package_exports_the_notebook_entry_points_without_loading_widgets() -> None:
    import caw_lab.lab
    from caw_lab.lab.workbench import Workbench

    assert {"Workbench", "load_ipython_extension"} <= set(caw_lab.__all__)
    assert all(getattr(caw_lab, name) is not None for name in caw_lab.__all__)
    assert caw_lab.Workbench is caw_lab.lab.Workbench is Workbench
    assert caw_lab.load_ipython_extension is caw_lab.lab.load_ipython_extension
    probe = "import sys, caw_lab; print(sorted(m for m in ('IPython', 'ipywidgets', 'anywidget') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_docstring_documents_every_subcommand_and_each_has_help(ip: InteractiveShell) -> None:
    doc = ip.find_line_magic("caw").__doc__
    commands = parser.subcommands(parser.build())
    assert {"use", "new", "list", "show", "next", "claim", "checkpoint", "done", "context", "dag", "inbox", "run",
            "plan"} <= set(commands)
    for name, sub in commands.items():
        assert re.search(rf"^\s+(%%caw )?{name}\b", doc, re.M), f"%caw? does not document {name}"
        assert sub.description, f"%caw {name} --help has no description"


def test_every_argument_has_help_and_docs_magics_md_lists_each_subcommand() -> None:
    reference = (Path(__file__).resolve().parents[1] / "docs" / "magics.md").read_text()
    for name, sub in parser.subcommands(parser.build()).items():
        assert not [a.dest for a in sub._actions if not a.help], f"%caw {name} has arguments without help"
        assert f"caw {name}`" in reference, f"docs/magics.md misses %caw {name}: run `make docs`"


def test_new_returns_the_created_workflow_and_draws_it(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf, out = run(ip, 'new Fix <login> --source "The login page 500s"')
    stored = client.call("workflow_get", id=wf["id"])
    assert (wf["name"], stored["source_content"], stored["status"]) == (
        "Fix <login>", "The login page 500s", "planning")
    drawn = wf._repr_html_()
    assert "Fix &lt;login&gt;" in drawn and "<login>" not in drawn
    assert out.outputs == []  # a returned value is displayed by IPython, not twice by the magic


def test_plan_cell_sets_tasks_dependencies_groups_and_files(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = planned(ip)
    tasks = {t["name"]: t for t in client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]}
    assert tasks["schema"]["files_likely_affected"] == ["db/schema.sql"]
    assert tasks["schema"]["description"] == "Add the users table"
    assert tasks["api"]["depends_on"] == [tasks["schema"]["id"]] == tasks["page"]["depends_on"]
    assert tasks["api"]["parallel_group"] == "build"
    assert client.call("workflow_get", id=wf["id"])["status"] == "ready"


@pytest.mark.parametrize("cell, code, fragment", [
    ("summary: x\ntasks: [", "INVALID_INPUT", "not valid YAML"),
    ("summary: no tasks here", "INVALID_INPUT", "needs a 'tasks' list"),
    ("summary: x\ntasks:\n  - name: a\n    depends_on: [ghost]", "UNKNOWN_DEPENDENCY", "unknown task"),
])
def test_bad_plan_is_shown_readably_and_writes_nothing(
    ip: InteractiveShell, client: caw_lab.Client, cell: str, code: str, fragment: str
) -> None:
    wf, _ = run(ip, "new Planless")
    before = dump(client.db)
    value, out = run(ip, f"plan {wf['id']}", cell)
    assert value is None
    said = shown_html(out)
    assert code in said and fragment in said
    assert "Traceback" not in out.stdout + out.stderr
    assert dump(client.db) == before


def test_refusal_shows_code_message_and_suggestion_not_a_traceback(ip: InteractiveShell) -> None:
    value, out = run(ip, "show tk_000000000000")
    assert value is None
    said = shown_html(out)
    assert "TASK_NOT_FOUND" in said and "Task not found: tk_000000000000" in said and "Check the task id" in said
    assert out.outputs[0].data["text/plain"].startswith("TASK_NOT_FOUND: Task not found")
    assert "Traceback" not in out.stdout + out.stderr


def test_a_refusal_stops_the_cell_with_one_line_not_a_traceback_wall(ip: InteractiveShell) -> None:
    with capture_output() as out:
        result = ip.run_cell("%caw show tk_000000000000\nafter = 'ran'")
    assert isinstance(result.error_in_exec, CawRefused), "the cell fails, so Run All stops here"
    assert "after" not in ip.user_ns
    assert "TASK_NOT_FOUND" in shown_html(out), "the card is shown first"
    printed = out.stdout + out.stderr
    assert "%caw refused (TASK_NOT_FOUND): Task not found: tk_000000000000" in printed
    assert "Traceback" not in printed and len(printed.strip().splitlines()) <= 2, printed


def test_help_prints_usage_and_bad_usage_is_a_readable_error(ip: InteractiveShell) -> None:
    value, out = run(ip, "checkpoint --help")
    assert value is None and "usage: %caw checkpoint" in out.stdout and "decision" in out.stdout
    value, out = run(ip, "checkpoint tk_x bogus did things")
    assert value is None and "invalid choice: 'bogus'" in shown_html(out)
    value, out = run(ip, "frobnicate")
    assert value is None and "INVALID_INPUT" in shown_html(out)
    value, out = run(ip, "new 'unclosed")
    assert value is None and "Close the quotes" in shown_html(out)


def test_list_show_and_next_return_tool_results(ip: InteractiveShell) -> None:
    wf = planned(ip)
    listed, _ = run(ip, "list")
    assert [(w["id"], w["task_count"], w["completed_count"]) for w in listed["workflows"]] == [(wf["id"], 3, 0)]
    assert "Add login" in listed._repr_html_()
    shown, _ = run(ip, f"show {wf['id']}")
    assert [t["name"] for t in shown["tasks"]] == ["schema", "api", "page"]
    ready, _ = run(ip, f"next {wf['id']}")
    assert [t["name"] for t in ready["tasks"]] == ["schema"]


def test_claim_registers_one_notebook_agent(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=2)
    first, _ = run(ip, f"claim {wf['tasks']['a']}")
    second, _ = run(ip, f"claim {wf['tasks']['b']}")
    agents = client.call("agent_list")["agents"]
    assert [a["name"] for a in agents] == ["notebook"]
    assert first["success"] and second["success"] and first["agent_id"] == second["agent_id"] == agents[0]["id"]
    assert client.call("task_get", id=wf["tasks"]["a"])["assigned_agent_id"] == agents[0]["id"]


def test_claim_for_another_agent_reports_the_holder(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    other = client.call("agent_register", name="other", runtime="custom")["id"]
    run(ip, f"claim {wf['tasks']['a']} --agent {other}")
    lost, _ = run(ip, f"claim {wf['tasks']['a']}")
    assert lost["success"] is False and lost["already_claimed_by"] == other
    assert "already claimed by" in lost._repr_html_()


def test_done_walks_the_task_through_the_state_machine(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    task = wf["tasks"]["a"]
    done, _ = run(ip, f"done {task} the table exists")
    assert done["path"] == ["pending", "planning", "in_progress", "completed"]
    stored = client.call("task_get", id=task)
    assert (stored["status"], stored["outcome"]) == ("completed", "the table exists")
    moves = [(e["payload"]["from"], e["payload"]["to"])
             for e in client.call("events_list", task_id=task, kinds=["task.status"])["events"]]
    assert moves == [("pending", "planning"), ("planning", "in_progress"), ("in_progress", "completed")]


def test_done_on_a_blocked_task_is_refused_readably(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    value, out = run(ip, f"done {wf['tasks']['b']} too early")
    assert value is None and "TASK_BLOCKED" in shown_html(out)
    assert client.call("task_get", id=wf["tasks"]["b"])["status"] == "blocked"


def test_checkpoint_then_show_task_draws_the_timeline(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    task = wf["tasks"]["a"]
    added, _ = run(ip, f"checkpoint {task} decision use bcrypt for hashes")
    shown, _ = run(ip, f"show {task}")
    assert [(c["id"], c["checkpoint_type"], c["summary"]) for c in shown["checkpoints"]] == [
        (added["id"], "decision", "use bcrypt for hashes")]
    assert "caw-timeline" in shown._repr_html_() and "use bcrypt for hashes" in shown._repr_html_()


def test_context_stays_within_the_budget(ip: InteractiveShell, client: caw_lab.Client) -> None:
    if "task_load_context" not in client.tools:
        pytest.skip("task_load_context is not registered in this build")
    wf = make_workflow(client, [{"name": "a", "description": "word " * 400}])
    ctx, _ = run(ip, f"context {wf['tasks']['a']} --max-tokens 300")
    assert 0 < ctx["token_estimate"] <= 300
    assert f"{ctx['token_estimate']} tokens" in ctx._repr_html_()


def test_inbox_shows_messages_to_the_notebook_agent(ip: InteractiveShell, client: caw_lab.Client) -> None:
    run(ip, "list")
    me = ip.find_line_magic("caw").__self__.session.notebook_agent()
    sender = client.call("agent_register", name="worker", runtime="custom")["id"]
    client.call("message_send", sender_id=sender, recipient_id=me, message_type="query", subject="schema?",
                body="Should users have a unique email?")
    inbox, _ = run(ip, "inbox")
    assert [m["subject"] for m in inbox["messages"]] == ["schema?"]
    assert "unique email" in inbox._repr_html_()


def test_new_from_template_fills_variables(ip: InteractiveShell, client: caw_lab.Client) -> None:
    client.call("template_create", name="bugfix", template={
        "variables": ["component"], "tasks": [{"name": "reproduce {{component}}"}, {"name": "fix {{component}}"}]})
    wf, _ = run(ip, "new Fix auth --template bugfix --var component=auth")
    tasks = client.call("workflow_get", id=wf["workflow_id"], include_tasks=True)["tasks"]
    assert [t["name"] for t in tasks] == ["reproduce auth", "fix auth"]
    value, out = run(ip, "new Fix it --template bugfix --var component")
    assert value is None and "KEY=VALUE" in shown_html(out)


def test_run_executes_with_a_runtime_and_status_reports_it(ip: InteractiveShell, client: caw_lab.Client,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    (tmp_path / "runtimes.toml").write_text('[python]\nwork = "caw_lab.runtimes.demo:work"\n')
    monkeypatch.setenv("CAW_RUNTIMES", str(tmp_path / "runtimes.toml"))  # the local runtime config
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"poll_interval_ms": 20,
                                                                           "alerts": {"log": False}}})
    started, _ = run(ip, f"run {wf['id']} --runtime python --max-agents 1")
    assert started["success"] and started["runtime"] == "python" and "Started 1 agents" in started._repr_html_()
    stop = time.monotonic() + 30
    while client.call("workflow_get", id=wf["id"])["status"] != "completed":
        assert time.monotonic() < stop, "the executor did not finish the workflow"
        time.sleep(0.05)
    status, _ = run(ip, f"status {wf['id']}")
    assert status["progress"]["completed"] == 2 and "2/2" in status._repr_html_()
    value, out = run(ip, f"resume {wf['id']}")
    assert value is None and "NOT_SUSPENDED" in shown_html(out)


def test_use_switches_the_database(ip: InteractiveShell, client: caw_lab.Client, tmp_path: Path) -> None:
    run(ip, "new In the first")
    run(ip, f"use {tmp_path / 'second.db'}")
    listed, _ = run(ip, "list")
    assert listed["workflows"] == []


def test_dag_returns_a_widget_with_a_selection(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    widget, _ = run(ip, f"dag {wf['id']}")
    try:
        assert widget.selected == "" and widget.workflow_id == wf["id"]
        widget.selected = wf["tasks"]["a"]
    finally:
        widget.close()


def test_timeline_shows_the_workflows_bars_and_refuses_an_unknown_workflow(ip: InteractiveShell,
                                                                          client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("task_update_status", id=wf["tasks"]["a"], status="planning")
    widget, _ = run(ip, f"timeline {wf['id']}")
    try:
        assert widget.bars["names"] == ["a"] and widget.bars["ends"] == [0]
    finally:
        widget.close()
    refused, out = run(ip, "timeline wf_000000000000")
    assert refused is None and "WORKFLOW_NOT_FOUND" in shown_html(out)


def test_workbench_opens_on_the_database_in_use(ip: InteractiveShell, tmp_path: Path) -> None:
    run(ip, f"use {tmp_path / 'bench.db'}")
    wf, _ = run(ip, "new Benched")
    bench, _ = run(ip, f"workbench {wf['id']}")
    try:
        assert bench.client.db.url.endswith("bench.db") and bench.workflow_id == wf["id"]
    finally:
        bench.close()


def completions(ip: InteractiveShell, line: str) -> list[str]:
    """What Jupyter's Tab offers at the end of ``line`` (the API ipykernel calls)."""
    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(line, len(line))]


def test_completion_offers_subcommands_options_and_ids(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    assert set(completions(ip, "%caw ")) == set(parser.subcommands(parser.build()))
    assert completions(ip, "%caw ch") == ["checkpoint"]
    assert set(completions(ip, f"%caw next {wf['id'][:4]}")) == {wf["id"]}
    assert set(completions(ip, "%caw done tk_")) == set(wf["tasks"].values())
    assert set(completions(ip, "%caw show ")) == {wf["id"], *wf["tasks"].values()}
    assert "decision" in completions(ip, f"%caw checkpoint {wf['tasks']['a']} de")
    assert completions(ip, "%caw new x --max") == ["--max-parallel"]
    assert set(completions(ip, "%%caw plan ")) == {wf["id"]}
    assert "import" in completions(ip, "impor")  # other lines complete as before


def test_metrics_shows_a_workflows_task_figures(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}, {"name": "c"}])
    run(ip, f"done {wf['tasks']['a']} shipped")
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=wf["tasks"]["b"], status=status)
    client.call("task_update_status", id=wf["tasks"]["b"], status="failed", error="tests fail")
    shown, _ = run(ip, f"metrics {wf['id']}")
    assert shown["tasks"] == {"completed": 1, "failed": 1, "pending": 1}
    assert shown["failure_rate"] == 0.5 and shown["duration_ms"]["count"] == 1
    page = shown._repr_html_()
    assert "Failure rate: 50%" in page and "(tasks completed: 1)" in page and wf["id"] in page
    everything, _ = run(ip, "metrics")
    assert everything["workflow_id"] is None and "all workflows" in everything._repr_html_()


def test_show_on_a_big_workflow_draws_fifty_rows_and_says_how_to_see_all(
    ip: InteractiveShell, client: caw_lab.Client
) -> None:
    wf = make_workflow(client, [{"name": f"step {i}"} for i in range(120)], name="Big")
    value, _ = run(ip, f"show {wf['id']}")
    page = html.unescape(value._repr_html_())
    assert page.count("<tr>") - 1 == 50 and "step 49" in page and "step 50" not in page
    assert f"… 70 more tasks. %caw show {wf['id']} --all shows every one" in re.sub(r"</?code>", "", page)
    assert len(value["tasks"]) == 120, "the value holds every task"
    everything, _ = run(ip, f"show {wf['id']} --all")
    assert html.unescape(everything._repr_html_()).count("step 119") == 1
    text = ip.display_formatter.format(value)[0]["text/plain"]
    assert len(text) < 4200 and "more characters (the value holds them all)" in text
