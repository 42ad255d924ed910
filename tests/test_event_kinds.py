"""One list of event kinds (engine.event_kinds): every kind written is declared with its scope,
and every event a call writes, consequences included, carries the call's correlation id."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import caw_lab
from caw_lab import correlation
from caw_lab.engine import events
from caw_lab.engine.changes import Event
from caw_lab.engine.event_kinds import KINDS, Scope, of_scope, scope
from tests.conftest import make_workflow

ENGINE = Path(caw_lab.__file__).parent / "engine"


def kinds_written() -> set[str]:
    """The first argument of every ``Event(...)`` in the engine that is a string literal."""
    found = set()
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Event" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
                elif isinstance(first, ast.IfExp):
                    found |= {b.value for b in (first.body, first.orelse) if isinstance(b, ast.Constant)}
    return found


def test_every_kind_the_engine_writes_is_declared() -> None:
    written = kinds_written()
    assert len(written) > 40, "the walk found the engine's events"
    assert written <= KINDS.keys(), f"undeclared: {sorted(written - KINDS.keys())}"


def test_an_undeclared_kind_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="not declared"):
        Event("task.teleported", "wf_x", "tk_x")


def test_scopes_partition_the_kinds() -> None:
    groups = [of_scope(s) for s in Scope]
    assert sum(len(g) for g in groups) == len(KINDS)
    assert scope("from.a_newer_version") == Scope.WIDE, "an unknown kind is assumed to change anything"


def test_automatic_workflow_events_carry_the_calls_correlation_id(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    with correlation.bound("cr_startsflow1") as cid:
        client.call("task_update_status", id=wf["tasks"]["a"], status="planning")
    written = events.of_call(client.db, cid)
    assert [e["kind"] for e in written] == ["task.status", "workflow.status"]
    assert written[1]["payload"] == {"from": "ready", "to": "in_progress", "auto": True}
