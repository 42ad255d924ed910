"""Correlation ids: one per request, shared by everything the request records, drawn only
when something records it."""

from __future__ import annotations

import contextvars
import threading
from pathlib import Path

import pytest

import caw_lab
from caw_lab import correlation, ids
from tests.conftest import make_workflow


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every correlation id drawn while the test runs."""
    drawn: list[str] = []
    real = ids.new_id

    def counted(kind: str) -> str:
        made = real(kind)
        if kind == "correlation":
            drawn.append(made)
        return made

    monkeypatch.setattr(correlation, "new_id", counted)
    return drawn


def test_a_call_that_records_nothing_draws_no_id(tmp_path: Path, draws: list[str]) -> None:
    with caw_lab.connect(tmp_path / "caw.db") as client:
        wf = make_workflow(client, [{"name": "a"}], max_parallel_tasks=1)
        agents = [client.call("agent_register", name=n, runtime="custom")["id"] for n in ("ada", "bob")]
        task = wf["tasks"]["a"]
        assert client.call("task_claim", task_id=task, agent_id=agents[0])["success"]
        before = len(draws)
        for _ in range(5):
            assert client.call("task_claim", task_id=task, agent_id=agents[1])["already_claimed_by"] == agents[0]
            client.call("task_get", id=task)
        assert len(draws) == before


def test_a_call_that_writes_gets_one_id_for_all_its_events(tmp_path: Path, draws: list[str]) -> None:
    with caw_lab.connect(tmp_path / "caw.db") as client:
        wf = make_workflow(client, [{"name": "a"}], max_parallel_tasks=1)
        agent = client.call("agent_register", name="ada", runtime="custom")["id"]
        task = wf["tasks"]["a"]
        before = len(draws)
        assert client.call("task_claim", task_id=task, agent_id=agent)["success"]
        assert len(draws) == before + 1
        events = client.db.query("SELECT kind, correlation_id FROM events WHERE task_id = ? OR workflow_id = ? "
                                 "ORDER BY seq DESC LIMIT 2", (task, wf["id"]))
        assert {e["kind"] for e in events} == {"task.claimed", "workflow.status"}  # the first claim starts it
        assert {e["correlation_id"].split(".")[0] for e in events} == {draws[-1]}


def test_threads_of_one_request_share_the_id_the_first_of_them_draws(draws: list[str]) -> None:
    seen: list[str | None] = []
    start = threading.Barrier(8)

    def part() -> None:
        start.wait()
        seen.append(correlation.current())

    with correlation.bound("cr_outer000001"):
        assert correlation.current() == "cr_outer000001"
    token = correlation.bind()
    try:
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(part,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        correlation.unbind(token)
    assert len(draws) == 1
    assert seen == [draws[0]] * 8
    assert correlation.current() is None


def test_a_nested_call_keeps_the_request_id_and_a_given_id_wins() -> None:
    with correlation.bound() as outer:
        with correlation.bound() as inner:
            assert inner == outer
        with correlation.bound("cr_given000001") as given:
            assert given == "cr_given000001"
        assert correlation.current() == outer
