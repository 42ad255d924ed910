"""Random sequences of tool calls keep the engine's invariants.

- every task's stored status is one of the state machine's, every workflow's too;
- a task shows ``blocked`` exactly when an unfinished blocking dependency exists
  (recomputed here from the raw tables, independently of the engine's SQL);
- a call that changes any domain table writes exactly one event, plus one
  ``workflow.status`` event for each workflow it moved automatically (a task starting
  or finishing its workflow); a call that is refused or only reads writes none.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

import caw_lab
from caw_lab.engine.states import CHECKPOINT_TYPES, STORED_TASK_STATUSES, TASK_STATUSES, WORKFLOW_STATUSES
from tests.conftest import dump

UNTRACKED = {"events", "sqlite_sequence", "schema_migrations"}
"""Not domain state: the feed itself and SQLite's bookkeeping."""


def domain(client: caw_lab.Client) -> dict[str, Any]:
    return {t: rows for t, rows in dump(client.db).items() if t not in UNTRACKED}


SETS_WORKFLOW_STATUS = {"workflow_create", "workflow_set_plan", "workflow_update_status"}
"""Tools whose own event records the workflow status they set."""


def status_moves(before: dict[str, Any], after: dict[str, Any]) -> set[tuple[str, str, str]]:
    old = {w["id"]: w["status"] for w in before["workflows"]}
    return {(w["id"], old[w["id"]], w["status"]) for w in after["workflows"]
            if w["id"] in old and old[w["id"]] != w["status"]}


class EngineMachine(RuleBasedStateMachine):
    workflows = Bundle("workflows")
    tasks = Bundle("tasks")
    agents = Bundle("agents")

    @initialize()
    def open_database(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.client = caw_lab.connect(Path(self.folder.name) / "p.db")

    def teardown(self) -> None:
        self.client.close()
        self.folder.cleanup()

    def call(self, tool: str, /, **params: Any) -> Any:
        """Run a tool and check the one-event-per-mutation rule around it."""
        before = domain(self.client)
        events_before = self.client.db.scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        try:
            result = self.client.call(tool, **params)
        except caw_lab.CawError:
            result = None
        after = domain(self.client)
        written = self.client.db.query("SELECT kind, workflow_id, payload FROM events WHERE seq > ?", (events_before,))
        auto = [e for e in written if e["kind"] == "workflow.status" and json.loads(e["payload"]).get("auto")]
        assert len(written) - len(auto) == (after != before), f"{tool}{params} wrote {written}"
        moves = {(e["workflow_id"], json.loads(e["payload"])["from"], json.loads(e["payload"])["to"]) for e in auto}
        if tool not in SETS_WORKFLOW_STATUS:
            assert moves == status_moves(before, after), f"{tool}{params}: auto events {moves}"
        return result

    @rule(target=tasks, data=st.data(), size=st.integers(1, 6), parallel=st.integers(1, 3))
    def create_planned_workflow(self, data: st.DataObject, size: int, parallel: int) -> Any:
        """A random DAG: each task may depend on up to two earlier ones."""
        wf = self.call("workflow_create", name="w", source_type="prompt", source_content="x",
                       max_parallel_tasks=parallel)
        specs = []
        for i in range(size):
            deps = data.draw(st.lists(st.integers(0, i - 1), unique=True, max_size=2)) if i else []
            specs.append({"name": f"t{i}", "depends_on": [f"t{d}" for d in deps]})
        plan = self.call("workflow_set_plan", id=wf["id"], plan={"summary": "s", "tasks": specs})
        return multiple(*[t["id"] for t in plan["tasks"]])

    @rule(target=agents, name=st.sampled_from(["a", "b"]))
    def register_agent(self, name: str) -> str:
        return self.call("agent_register", name=name, runtime="custom")["id"]

    @rule(task=tasks, status=st.sampled_from(TASK_STATUSES))
    def move_task(self, task: str, status: str) -> None:
        self.call("task_update_status", id=task, status=status, outcome="done", error="boom")

    @rule(task=tasks, agent=agents)
    def claim(self, task: str, agent: str) -> None:
        self.call("task_claim", task_id=task, agent_id=agent)

    @rule(task=tasks, agent=agents)
    def release(self, task: str, agent: str) -> None:
        self.call("task_release", task_id=task, agent_id=agent)

    @rule(task=tasks, kind=st.sampled_from(CHECKPOINT_TYPES))
    def checkpoint(self, task: str, kind: str) -> None:
        self.call("checkpoint_add", task_id=task, type=kind, summary="step")

    @rule(task=tasks)
    def read_context(self, task: str) -> None:
        self.call("task_load_context", task_id=task, max_tokens=2000)

    @invariant()
    def statuses_stay_in_the_state_machines(self) -> None:
        if not hasattr(self, "client"):
            return
        for row in self.client.db.query("SELECT status FROM tasks"):
            assert row["status"] in STORED_TASK_STATUSES
        for row in self.client.db.query("SELECT status FROM workflows"):
            assert row["status"] in WORKFLOW_STATUSES

    @invariant()
    def blocked_exactly_when_a_blocking_dependency_is_unfinished(self) -> None:
        if not hasattr(self, "client"):
            return
        status = {r["id"]: r["status"] for r in self.client.db.query("SELECT id, status FROM tasks")}
        deps: dict[str, list[str]] = {}
        blocking = "SELECT task_id, depends_on_id FROM task_dependencies WHERE dependency_type = 'blocks'"
        for r in self.client.db.query(blocking):
            deps.setdefault(r["task_id"], []).append(r["depends_on_id"])
        for wf in self.client.db.query("SELECT id FROM workflows"):
            for task in self.client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]:
                expected = any(status[d] not in ("completed", "skipped") for d in deps.get(task["id"], []))
                assert task["blocked"] == expected, task


EngineMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestEngineProperties = EngineMachine.TestCase
