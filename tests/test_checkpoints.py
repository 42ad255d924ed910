"""Checkpoints: numbered per task, atomically, even with several processes writing at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import caw_lab
from caw_lab.errors import CawError
from tests.conftest import dump, make_workflow


def two_tasks(client: caw_lab.Client) -> tuple[str, str]:
    tasks = make_workflow(client, [{"name": "a"}, {"name": "b"}])["tasks"]
    return tasks["a"], tasks["b"]


def test_sequences_count_up_per_task(client: caw_lab.Client) -> None:
    a, b = two_tasks(client)
    first = client.call("checkpoint_add", task_id=a, type="plan", summary="plan it")
    assert first["sequence"] == 1 and first["id"].startswith("cp_")
    assert client.call("checkpoint_add", task_id=a, type="progress", summary="half")["sequence"] == 2
    assert client.call("checkpoint_add", task_id=b, type="progress", summary="other task")["sequence"] == 1
    assert client.call("checkpoint_add", task_id=a, type="decision", summary="use pg")["sequence"] == 3


def test_a_checkpoint_keeps_what_was_recorded_and_writes_one_event(client: caw_lab.Client) -> None:
    a, _ = two_tasks(client)
    head = client.call("events_list")["head"]
    added = client.call("checkpoint_add", task_id=a, type="error", summary="tests red",
                        detail={"failing": ["test_x"]}, files_changed=["x.py"])
    [checkpoint] = client.call("checkpoint_list", task_id=a)["checkpoints"]
    assert (checkpoint["id"], checkpoint["checkpoint_type"], checkpoint["summary"]) == (
        added["id"], "error", "tests red")
    assert (checkpoint["detail"], checkpoint["files_changed"]) == ({"failing": ["test_x"]}, ["x.py"])
    events = client.call("events_list", since_seq=head)["events"]
    assert [(e["kind"], e["task_id"], e["payload"]["checkpoint_id"]) for e in events] == [
        ("checkpoint.added", a, added["id"])]


def test_list_filters_by_type_and_pages_by_sequence(client: caw_lab.Client) -> None:
    a, _ = two_tasks(client)
    for kind in ["plan", "progress", "decision", "progress", "error", "progress"]:
        client.call("checkpoint_add", task_id=a, type=kind, summary=kind)

    def listed(**filters: object) -> list[tuple[int, str]]:
        listing = client.call("checkpoint_list", task_id=a, **filters)["checkpoints"]
        return [(c["sequence"], c["checkpoint_type"]) for c in listing]

    assert listed(type=["progress"]) == [(2, "progress"), (4, "progress"), (6, "progress")]
    assert listed(type=["plan", "error"]) == [(1, "plan"), (5, "error")]
    assert listed(since_sequence=4) == [(5, "error"), (6, "progress")]
    assert listed(since_sequence=1, limit=2) == [(2, "progress"), (3, "decision")]
    assert listed(type=["progress"], since_sequence=2, limit=1) == [(4, "progress")]


def test_task_get_returns_the_newest_checkpoints_oldest_first(client: caw_lab.Client) -> None:
    a, _ = two_tasks(client)
    for i in range(5):
        client.call("checkpoint_add", task_id=a, type="progress", summary=f"step {i}")
    task = client.call("task_get", id=a, include_checkpoints=True, checkpoint_limit=2)
    assert [c["sequence"] for c in task["checkpoints"]] == [4, 5]
    assert len(client.call("task_get", id=a, include_checkpoints=True)["checkpoints"]) == 5
    assert client.call("task_get", id=a)["checkpoints"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"task_id": "tk_000000000000", "type": "progress", "summary": "s"}, "TASK_NOT_FOUND"),
        ({"type": "milestone", "summary": "s"}, "INVALID_INPUT"),
        ({"type": "progress", "summary": ""}, "INVALID_INPUT"),
        ({"type": "progress"}, "INVALID_INPUT"),
    ],
    ids=["unknown-task", "unknown-type", "empty-summary", "no-summary"],
)
def test_bad_checkpoints_are_refused_and_write_nothing(client: caw_lab.Client, params: dict, code: str) -> None:
    a, _ = two_tasks(client)
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("checkpoint_add", **{"task_id": a, **params})
    assert refused.value.code == code
    assert dump(client.db) == before


def test_listing_an_unknown_task_is_not_found(client: caw_lab.Client) -> None:
    with pytest.raises(CawError) as refused:
        client.call("checkpoint_list", task_id="tk_000000000000")
    assert refused.value.code == "TASK_NOT_FOUND"


WRITER = """
import pathlib, sys, time, caw_lab
db, task_id, go, n = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), int(sys.argv[4])
with caw_lab.connect(db) as c:
    (go.parent / f"ready-{sys.argv[5]}").touch()
    while not go.exists():
        time.sleep(0.005)
    for i in range(n):
        c.call("checkpoint_add", task_id=task_id, type="progress", summary=f"{sys.argv[5]}:{i}")
"""


def test_racing_processes_get_distinct_gapless_sequences(
    client: caw_lab.Client, db_path: Path, tmp_path: Path
) -> None:
    a, _ = two_tasks(client)
    writers, each = 3, 25
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), a, str(go), str(each), str(w)],
                         cwd=Path(__file__).parents[1])
        for w in range(writers)
    ]
    while len(list(tmp_path.glob("ready-*"))) < writers:
        assert all(p.poll() is None for p in procs), "a writer died before the start"
        time.sleep(0.005)
    go.touch()
    assert all(p.wait(timeout=120) == 0 for p in procs)
    checkpoints = client.call("checkpoint_list", task_id=a)["checkpoints"]
    assert [c["sequence"] for c in checkpoints] == list(range(1, writers * each + 1))
    assert sorted(c["summary"] for c in checkpoints) == sorted(f"{w}:{i}" for w in range(writers) for i in range(each))
    for w in range(writers):
        mine = [int(c["summary"].split(":")[1]) for c in checkpoints if c["summary"].startswith(f"{w}:")]
        assert mine == list(range(each)), "one writer's checkpoints keep their order"
