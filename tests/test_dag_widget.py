"""The DAG widget's kernel side: the column-shaped state, deltas from the feed, edits.

Messages are captured by a recording comm installed through ``comm.create_comm``, the
hook the comm package provides for this; everything else (database, tools, the other
process making changes) is real.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comm
import ipywidgets as widgets
import pytest
from comm.base_comm import BaseComm

import caw_lab
from caw_lab.lab.dag_state import Dag, TaskColumns
from caw_lab.lab.dag_widget import EDITS, DagWidget
from tests.conftest import make_workflow

PLAN = [
    {"name": "design"},
    {"name": "api", "depends_on": ["design"], "parallel_group": "build"},
    {"name": "ui", "depends_on": ["design"], "parallel_group": "build"},
    {"name": "ship", "depends_on": ["api", "ui"]},
]


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel would have sent to the browser."""

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        self.sent.append({"msg_type": msg_type, "data": data})


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


def custom(widget: DagWidget) -> list[dict[str, Any]]:
    """The custom messages (deltas, replies...) the widget sent, oldest first."""
    return [m["data"]["content"] for m in widget.comm.sent
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "custom"]


def browser(widget: DagWidget, msg: dict[str, Any]) -> dict[str, Any]:
    """Deliver ``msg`` as if from the browser; return the last message the widget sent back."""
    before = len(custom(widget))
    widget.on_message(widget, msg, [])
    sent = custom(widget)[before:]
    return sent[-1] if sent else {}


@pytest.fixture
def wf(client: caw_lab.Client) -> dict[str, Any]:
    return make_workflow(client, PLAN)


@pytest.fixture
def widget(client: caw_lab.Client, wf: dict[str, Any]) -> Iterator[DagWidget]:
    w = DagWidget(client, wf["id"], live=False)
    yield w
    w.close()


def test_state_is_column_shaped(widget: DagWidget, wf: dict[str, Any]) -> None:
    t = wf["tasks"]
    cols = widget.tasks
    assert cols["ids"] == [t["design"], t["api"], t["ui"], t["ship"]]
    assert cols["names"] == ["design", "api", "ui", "ship"]
    assert cols["statuses"] == ["pending", "blocked", "blocked", "blocked"]
    assert cols["groups"] == ["", "build", "build", ""]
    assert len({len(v) for v in cols.values()}) == 1
    pairs = set(zip(widget.edges["from"], widget.edges["to"], strict=True))
    assert pairs == {(t["design"], t["api"]), (t["design"], t["ui"]), (t["api"], t["ship"]), (t["ui"], t["ship"])}
    assert widget.transitions["failed"] == ["pending", "skipped"]
    assert widget.workflow == {"id": wf["id"], "name": "wf", "status": "ready"}
    assert widget.selected == ""


def test_a_task_shows_its_holder_by_name_whole_and_in_a_delta(
    widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client
) -> None:
    design, api = wf["tasks"]["design"], wf["tasks"]["api"]
    ada = client.call("agent_register", name="ada", runtime="custom")["id"]
    client.call("task_claim", task_id=design, agent_id=ada)
    widget.refresh()
    (whole,) = custom(widget)
    agents = dict(zip(whole["tasks"]["ids"], whole["tasks"]["agents"], strict=True))
    assert agents[design] == "ada" and agents[api] == ""
    browser(widget, {"kind": "hello", "rev": whole["rev"]})
    client.call("task_update_status", id=design, status="planning")
    client.call("task_update_status", id=design, status="completed", outcome="done")
    bo = client.call("agent_register", name="bo", runtime="custom")["id"]
    client.call("task_claim", task_id=api, agent_id=bo)
    widget.refresh()
    upserts = [m["upsert"] for m in custom(widget) if m["kind"] == "delta"]
    assert {i: a for u in upserts for i, a in zip(u["ids"], u["agents"], strict=True)}[api] == "bo"


def test_repr_is_stable_and_names_the_selection(widget: DagWidget, wf: dict[str, Any]) -> None:
    assert repr(widget) == "<caw_lab DagWidget: workflow 'wf', 0/4 tasks done, selected none>"
    widget.selected = wf["tasks"]["api"]
    assert repr(widget) == "<caw_lab DagWidget: workflow 'wf', 0/4 tasks done, selected 'api'>"


def test_delta_holds_only_what_changed() -> None:
    old = Dag.of([{"id": "a", "name": "a", "status": "pending"},
                  {"id": "b", "name": "b", "status": "blocked", "depends_on": ["a"]},
                  {"id": "c", "name": "c", "status": "pending"}])
    new = Dag.of([{"id": "a", "name": "a", "status": "completed", "outcome": "x" * 500},
                  {"id": "b", "name": "b", "status": "pending", "depends_on": ["a"]},
                  {"id": "d", "name": "d", "status": "pending", "depends_on": ["b"], "parallel_group": "g"}])
    delta = old.delta(new, 7)
    assert delta is not None
    assert delta["rev"] == 7
    assert delta["upsert"]["ids"] == ["a", "b", "d"]
    assert delta["upsert"]["statuses"] == ["completed", "pending", "pending"]
    assert len(delta["upsert"]["summaries"][0]) == 240
    assert delta["remove"] == ["c"]
    assert delta["edges_added"] == {"from": ["b"], "to": ["d"]}
    assert delta["edges_removed"] == {"from": [], "to": []}
    assert new.delta(new, 8) is None


STATUS_CHANGER = """
import sys, caw_lab
with caw_lab.connect(sys.argv[1]) as c:
    c.call("task_update_status", id=sys.argv[2], status="planning")
    c.call("task_update_status", id=sys.argv[2], status="completed", outcome="designed it")
"""


def test_a_change_from_another_process_arrives_as_a_small_delta(
    widget: DagWidget, wf: dict[str, Any], db_path: Path
) -> None:
    t = wf["tasks"]
    browser(widget, {"kind": "hello", "rev": 0})
    subprocess.run([sys.executable, "-c", STATUS_CHANGER, str(db_path), t["design"]], check=True)
    widget.refresh()
    deltas = [m for m in custom(widget) if m["kind"] == "delta"]
    assert len(deltas) == 1
    delta = deltas[0]
    assert delta["rev"] == 1
    changed = dict(zip(delta["upsert"]["ids"], delta["upsert"]["statuses"], strict=True))
    assert changed == {t["design"]: "completed", t["api"]: "pending", t["ui"]: "pending"}
    assert delta["upsert"]["summaries"][0] == "designed it"
    assert delta["remove"] == [] and delta["edges_added"] == {"from": [], "to": []}
    assert widget.rev == 0, "the synced snapshot is not resent; only the delta travels"


def test_the_live_thread_shows_changes_within_a_second_and_stops_on_close(
    client: caw_lab.Client, wf: dict[str, Any], db_path: Path
) -> None:
    widget = DagWidget(client, wf["id"], interval=0.25)
    browser(widget, {"kind": "hello", "rev": 0})
    assert widget.feed.running
    with caw_lab.connect(db_path) as other:
        other.call("task_update_status", id=wf["tasks"]["design"], status="planning")
    started = time.monotonic()  # from the commit: opening the other connection is not the widget's delay
    while not any(m["kind"] == "delta" for m in custom(widget)) and time.monotonic() - started < 5:
        time.sleep(0.02)
    assert time.monotonic() - started < 1.0
    widget.close()
    assert not widget.feed.running


def test_until_a_view_says_hello_every_change_travels_whole(
    widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client
) -> None:
    """A view drawn while its cell still runs cannot ask the busy kernel for a missed delta."""
    client.call("task_update_status", id=wf["tasks"]["design"], status="planning")
    widget.refresh()
    (sent,) = custom(widget)
    assert sent["kind"] == "snapshot" and sent["rev"] == 1
    assert dict(zip(sent["tasks"]["ids"], sent["tasks"]["statuses"], strict=True))[wf["tasks"]["design"]] == "planning"
    browser(widget, {"kind": "hello", "rev": 1})
    client.call("task_update_status", id=wf["tasks"]["design"], status="in_progress")
    widget.refresh()
    assert custom(widget)[-1]["kind"] == "delta"


def test_following_pauses_while_no_view_is_shown_and_catches_up(
    client: caw_lab.Client, wf: dict[str, Any]
) -> None:
    widget = DagWidget(client, wf["id"], interval=0.25)
    browser(widget, {"kind": "hello", "rev": 0})
    browser(widget, {"kind": "hello", "rev": 0})
    browser(widget, {"kind": "bye"})
    assert widget.feed.running, "one view is still shown"
    browser(widget, {"kind": "bye"})
    assert not widget.feed.running
    client.call("task_update_status", id=wf["tasks"]["design"], status="planning")
    time.sleep(0.4)
    assert widget.dag.rows[wf["tasks"]["design"]].status == "pending", "nobody is watching"
    snapshot = browser(widget, {"kind": "hello", "rev": 0})
    assert widget.feed.running
    assert snapshot["kind"] == "snapshot" and snapshot["tasks"]["statuses"][0] == "planning"
    widget.close()


def test_a_failed_read_is_repaired_by_the_next_batch(
    widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed's cursor moves past a batch even when reading it fails (fault injected here)."""
    def busy(*_: Any) -> None:
        raise caw_lab.CawError("DATABASE_BUSY", "database is locked", recoverable=True)

    with monkeypatch.context() as patch:
        patch.setattr(widget.source, "update", busy)
        client.call("task_update_status", id=wf["tasks"]["design"], status="planning")
        with pytest.raises(caw_lab.CawError):
            widget.refresh()
    assert widget.stale and widget.dag.rows[wf["tasks"]["design"]].status == "pending"
    make_workflow(client, [{"name": "elsewhere"}], name="other")  # events of another workflow
    widget.refresh()
    assert not widget.stale and widget.dag.rows[wf["tasks"]["design"]].status == "planning"


def test_incremental_updates_match_a_full_read(client: caw_lab.Client) -> None:
    names = [f"t{i}" for i in range(30)]
    plan = [{"name": n, "depends_on": [names[j] for j in {i // 2, i // 3} if j < i] or None,
             "parallel_group": f"g{i % 4}" if i % 3 else None} for i, n in enumerate(names)]
    wf = make_workflow(client, plan)
    widget = DagWidget(client, wf["id"], live=False)
    ids = list(wf["tasks"].values())
    rnd = random.Random(4)
    moves = {"pending": [("planning", {})], "planning": [("in_progress", {}), ("completed", {"outcome": "done"})],
             "in_progress": [("failed", {"error": "boom"}), ("completed", {"outcome": "done"})],
             "failed": [("pending", {}), ("skipped", {})]}
    for step in range(80):
        try:
            if step % 4 == 3:
                task, other = rnd.sample(ids, 2)
                if client.call("task_add_dependency", task_id=task, depends_on_id=other)["created"] and step % 8 == 7:
                    client.call("task_remove_dependency", task_id=task, depends_on_id=other)
            else:
                movable = [i for i, r in widget.dag.rows.items() if r.status in moves]
                task = rnd.choice(movable)
                target, extra = rnd.choice(moves[widget.dag.rows[task].status])
                client.call("task_update_status", id=task, status=target, **extra)
        except caw_lab.CawError as err:
            assert err.code == "DEPENDENCY_CYCLE", err
        widget.refresh()
        assert widget.dag == widget.source.read(), f"step {step}"
    assert {r.status for r in widget.dag.rows.values()} >= {"completed", "pending", "blocked"}
    client.call("workflow_add_task", workflow_id=wf["id"], name="late", depends_on=[ids[0]])
    widget.refresh()
    assert widget.dag == widget.source.read()
    assert "late" in {r.name for r in widget.dag.rows.values()}
    widget.close()


def test_edits_go_through_the_tools(widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client) -> None:
    t = wf["tasks"]
    reply = browser(widget, {"kind": "edit", "request": 1, "action": "remove_dependency",
                             "args": {"task_id": t["ship"], "depends_on_id": t["ui"]}})
    assert reply == {"kind": "reply", "request": 1, "ok": True, "code": "",
                     "message": "'ship' no longer waits for 'ui'"}
    assert (t["ui"], t["ship"]) not in widget.dag.edges, "the delta went out before the reply"
    reply = browser(widget, {"kind": "edit", "request": 2, "action": "add_dependency",
                             "args": {"task_id": t["ui"], "depends_on_id": t["api"]}})
    assert reply["ok"] and (t["api"], t["ui"]) in widget.dag.edges
    reply = browser(widget, {"kind": "edit", "request": 3, "action": "add_task",
                             "args": {"name": "docs", "depends_on": [t["ship"]], "parallel_group": "build"}})
    assert reply["ok"], reply
    docs = next(i for i, r in widget.dag.rows.items() if r.name == "docs")
    assert widget.dag.rows[docs].group == "build" and (t["ship"], docs) in widget.dag.edges
    for request, args in enumerate([{"status": "planning"}, {"status": "in_progress"},
                                    {"status": "failed", "error": "tests red"}], start=4):
        reply = browser(widget, {"kind": "edit", "request": request, "action": "set_status",
                                 "args": {"id": t["design"], **args}})
        assert reply["ok"], reply
    assert widget.dag.rows[t["design"]].status == "failed"
    assert widget.dag.rows[t["design"]].summary == "tests red"
    reply = browser(widget, {"kind": "edit", "request": 7, "action": "retry", "args": {"id": t["design"]}})
    assert reply["ok"] and widget.dag.rows[t["design"]].status == "pending"
    assert client.call("task_get", id=t["design"])["status"] == "pending"


def test_refused_edits_answer_with_the_error(widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client) -> None:
    t = wf["tasks"]
    reply = browser(widget, {"kind": "edit", "request": 9, "action": "add_dependency",
                             "args": {"task_id": t["design"], "depends_on_id": t["ship"]}})
    assert reply["ok"] is False and reply["code"] == "DEPENDENCY_CYCLE"
    assert "'design' -> 'ship'" in reply["message"] and "-> 'design'" in reply["message"]
    reply = browser(widget, {"kind": "edit", "request": 10, "action": "set_status",
                             "args": {"id": t["ship"], "status": "planning"}})
    assert reply["code"] == "TASK_BLOCKED"
    reply = browser(widget, {"kind": "edit", "request": 11, "action": "drop_table", "args": {}})
    assert reply["code"] == "INVALID_INPUT"
    assert [m["kind"] for m in custom(widget)] == ["reply", "reply", "reply"], "a refusal sends no delta"


def test_a_view_behind_gets_a_snapshot(widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client) -> None:
    assert browser(widget, {"kind": "hello", "rev": 0}) == {}
    client.call("task_update_status", id=wf["tasks"]["design"], status="planning")
    widget.refresh()
    snapshot = browser(widget, {"kind": "hello", "rev": 0})
    assert snapshot["kind"] == "snapshot" and snapshot["rev"] == 1
    assert snapshot["tasks"]["statuses"][0] == "planning"
    assert snapshot["tasks"] == widget.dag.columns()


def test_describe_sends_the_newest_checkpoint(widget: DagWidget, wf: dict[str, Any], client: caw_lab.Client) -> None:
    task = wf["tasks"]["design"]
    assert browser(widget, {"kind": "describe", "id": task})["checkpoint"] is None
    for summary in ("read the code", "drafted the schema"):
        client.call("checkpoint_add", task_id=task, type="progress", summary=summary)
    sent = browser(widget, {"kind": "describe", "id": task})
    assert sent["id"] == task
    assert sent["checkpoint"]["summary"] == "drafted the schema" and sent["checkpoint"]["type"] == "progress"


ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
NODE = shutil.which("node")


def test_every_trait_and_edit_is_documented() -> None:
    doc = (ROOT / "docs" / "dag_widget.md").read_text()
    traits = [n for n, t in DagWidget.class_traits(sync=True).items()
              if not n.startswith("_") and n not in widgets.DOMWidget.class_traits(sync=True)]
    assert sorted(traits) == ["details", "edges", "height", "rev", "reveal", "selected", "tasks", "transitions",
                              "workflow"]
    missing = [n for n in [*traits, *EDITS, *TaskColumns.__annotations__] if f"`{n}`" not in doc]
    assert not missing, f"docs/dag_widget.md does not mention {missing}"


def test_browser_and_kernel_agree_on_the_contract() -> None:
    graph = (EXTENSION / "src" / "graph.js").read_text()
    columns = re.search(r"TASK_COLUMNS = \{(.*?)\};", graph, re.DOTALL)
    assert columns is not None
    assert re.findall(r"(\w+):", columns.group(1)) == list(TaskColumns.__annotations__)
    index = (EXTENSION / "src" / "index.js").read_text()
    for kind in ("delta", "snapshot", "reply", "description", "hello", "bye", "edit", "describe"):
        assert f'"{kind}"' in index, kind
    sources = " ".join(p.read_text() for p in (EXTENSION / "src").glob("*.js"))
    assert all(f'"{action}"' in sources for action in EDITS)


@pytest.mark.skipif(NODE is None, reason="node is not installed (apt-get install -y nodejs)")
def test_front_end_unit_tests_pass() -> None:
    done = subprocess.run([str(NODE), "--test", "test/"], cwd=EXTENSION, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(not (EXTENSION / "node_modules" / "esbuild").exists(),
                    reason="front-end packages not installed: cd extension && npm ci")
def test_the_committed_bundle_is_what_the_sources_build(tmp_path: Path) -> None:
    subprocess.run([str(NODE), "build.mjs", "--outdir", str(tmp_path)], cwd=EXTENSION, check=True, timeout=120)
    for name in ("dag_widget.js", "dag_widget.css", "page.js", "page.css", "timeline_widget.js"):
        assert (tmp_path / name).read_bytes() == (ROOT / "caw_lab" / "static" / name).read_bytes(), (
            f"caw_lab/static/{name} is stale: cd extension && npm run build")
