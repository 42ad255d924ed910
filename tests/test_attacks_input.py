"""Hostile input, one test per attack: values that would poison reads for everyone, bundles
that lie, and plans whose reads would take minutes. Each is refused up front with a
CawError, and the database is exactly as it was."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

import caw_lab
from caw_lab import limits
from caw_lab.engine import transfer
from caw_lab.ids import now_ms
from conftest import dump, make_workflow
from mcp_session import call, refusal, run, stdio_params

MiB = 1024 * 1024


def refused(client: caw_lab.Client, tool: str, code: str, **args: Any) -> caw_lab.CawError:
    """The call's refusal, after checking its code and that it changed nothing."""
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(tool, **args)
    assert info.value.code == code, f"{tool}: {info.value.code} {info.value.message}"
    assert info.value.suggestion
    assert dump(client.db) == before, f"refused {tool} changed the database"
    return info.value


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.fixture
def running(client: caw_lab.Client) -> dict[str, Any]:
    """A workflow in progress with an agent on its first task: what workflow_execution_status reads."""
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    agent = client.call("agent_register", name="w", runtime="custom", workflow_id=wf["id"])["id"]
    task = wf["tasks"]["a"]
    client.call("task_claim", task_id=task, agent_id=agent)
    client.call("task_update_status", id=task, status="planning")
    client.call("task_update_status", id=task, status="in_progress")
    return {**wf, "agent": agent, "task": task}


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_everywhere_and_reads_keep_working(
    client: caw_lab.Client, running: dict[str, Any], number: float
) -> None:
    poisoned = {"x": number}
    attempts = [
        ("agent_register", {"name": "p", "runtime": "custom", "workflow_id": running["id"], "metadata": poisoned}),
        ("agent_update", {"id": running["agent"], "metadata": poisoned}),
        ("checkpoint_add", {"task_id": running["task"], "type": "progress", "summary": "s", "detail": poisoned}),
        ("task_update_status", {"id": running["task"], "status": "completed", "outcome": "o",
                                "outcome_detail": {"deep": [1, {"x": number}]}}),
        ("workflow_set_config", {"id": running["id"], "config": poisoned}),
        ("message_send", {"sender_id": running["agent"], "recipient_id": running["agent"],
                          "message_type": "query", "body": poisoned}),
        ("memory_create", {"topic": "t", "content": "c", "metadata": poisoned}),
        ("message_list", {"agent_id": running["agent"], "since": number}),
    ]
    for tool, args in attempts:
        error = refused(client, tool, "INVALID_INPUT", **args)
        assert "NaN and Infinity are not JSON numbers" in error.message
    status = client.call("workflow_execution_status", workflow_id=running["id"])
    agents = client.call("agent_list")
    json.dumps([status, agents], allow_nan=False)


def test_metadata_nested_195_deep_over_mcp_is_refused_and_agent_list_still_answers(db_path: Path) -> None:
    async def scenario() -> None:
        async with Client(stdio_params(db_path)) as mcp:
            error = await refusal(mcp, "agent_register",
                                  {"name": "deep", "runtime": "custom", "metadata": nested(195)})
            assert error["code"] == "INVALID_INPUT" and f"deeper than {limits.MAX_DEPTH} levels" in error["message"]
            ok = await call(mcp, "agent_register", name="flat", runtime="custom",
                            metadata=nested(limits.MAX_DEPTH))
            listed = await call(mcp, "agent_list")
            assert [a["id"] for a in listed["agents"]] == [ok["id"]]

    with caw_lab.connect(db_path):
        pass
    run(scenario)
    with caw_lab.connect(db_path) as client:
        assert [a["name"] for a in client.call("agent_list")["agents"]] == ["flat"]


def test_depth_is_counted_from_the_parameter(client: caw_lab.Client) -> None:
    client.call("agent_register", name="ok", runtime="custom", metadata=nested(limits.MAX_DEPTH))
    refused(client, "agent_register", "INVALID_INPUT", name="no", runtime="custom",
            metadata=nested(limits.MAX_DEPTH + 1))
    client.call("agent_register", name="ok", runtime="custom", metadata={"l": nested(limits.MAX_DEPTH - 1)})
    refused(client, "agent_register", "INVALID_INPUT", name="no", runtime="custom",
            metadata={"l": [nested(limits.MAX_DEPTH - 1)]})


def test_five_one_mib_items_in_one_list_are_refused(client: caw_lab.Client, running: dict[str, Any]) -> None:
    item = "x" * (MiB - 16)
    refused(client, "checkpoint_add", "PAYLOAD_TOO_LARGE", task_id=running["task"], type="progress",
            summary="s", files_changed=[item] * 5)
    refused(client, "agent_update", "PAYLOAD_TOO_LARGE", id=running["agent"], metadata={"l": [item] * 5})
    client.call("checkpoint_add", task_id=running["task"], type="progress", summary="s", files_changed=[item])


def test_keys_count_against_the_limit(client: caw_lab.Client) -> None:
    error = refused(client, "agent_register", "PAYLOAD_TOO_LARGE", name="k", runtime="custom",
                    metadata={"k" * (MiB + 1): 1})
    assert "keys included" in error.message and len(error.message) < 200, "the key is not echoed back"
    many = {f"key-{i:07d}-{'k' * 100}": None for i in range(MiB // 100)}
    refused(client, "agent_register", "PAYLOAD_TOO_LARGE", name="k", runtime="custom", metadata=many)


def test_a_call_is_bounded_as_a_whole(client: caw_lab.Client) -> None:
    part = "y" * (MiB - 64)
    error = refused(client, "workflow_create", "PAYLOAD_TOO_LARGE", name=part, source_type="prompt",
                    source_content=part, source_ref=part, repository_paths=[part], unused=part)
    assert "call" in error.message
    client.call("workflow_create", name="n", source_type="prompt", source_content="z" * MiB)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc80" * 3])
def test_lone_surrogates_are_refused_in_values_and_keys(client: caw_lab.Client, text: str) -> None:
    refused(client, "workflow_create", "INVALID_INPUT", name=text, source_type="prompt", source_content="x")
    error = refused(client, "agent_register", "INVALID_INPUT", name="s", runtime="custom", metadata={text: 1})
    error.message.encode("utf-8")
    json.dumps(error.to_dict(), ensure_ascii=False).encode("utf-8")


def test_values_python_can_hold_but_json_cannot_are_refused(client: caw_lab.Client) -> None:
    for metadata in ({"s": {1, 2}}, {"b": b"bytes"}, {1: "int key"}, {"big": 2**64}, {"o": object()}):
        refused(client, "agent_register", "INVALID_INPUT", name="p", runtime="custom", metadata=metadata)
    refused(client, "workflow_list", "INVALID_INPUT", offset="9" * 30)


def test_control_characters_are_kept_and_answered_as_json(client: caw_lab.Client) -> None:
    text = "bell\x07 esc\x1b[31m nul\x00 del\x7f"
    agent = client.call("agent_register", name=text, runtime="custom", metadata={text: text})
    shown = client.call("agent_get", id=agent["id"])
    assert shown["name"] == text and shown["metadata"] == {text: text}
    assert json.loads(json.dumps(shown, allow_nan=False)) == shown


# Finding: import trusted its bundle.


@pytest.fixture
def bundle(tmp_path: Path) -> dict[str, Any]:
    """A small, real export: two tasks, a dependency, a claimed task, a checkpoint, a message."""
    with caw_lab.connect(tmp_path / "source.db") as source:
        wf = make_workflow(source, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
        source.call("workflow_set_config", id=wf["id"], config={"k": "v"})
        agent = source.call("agent_register", name="w", runtime="custom", workflow_id=wf["id"])["id"]
        source.call("task_claim", task_id=wf["tasks"]["a"], agent_id=agent)
        source.call("task_update_status", id=wf["tasks"]["a"], status="planning")
        source.call("checkpoint_add", task_id=wf["tasks"]["a"], type="plan", summary="p", detail={"n": 1})
        source.call("message_send", sender_id=agent, recipient_id=agent, message_type="query", body={"q": 1},
                    workflow_id=wf["id"], task_id=wf["tasks"]["a"])
        return transfer.export(source.db, wf["id"])


def tampered(bundle: dict[str, Any], change: str, other_task: str = "tk_000000000000") -> dict[str, Any]:
    copy = json.loads(json.dumps(bundle))
    tables = copy["tables"]
    if change == "executor":
        tables["agents"].append({**tables["agents"][0], "id": "ag_executor0000", "runtime": "caw_executor",
                                 "role": "coordinator", "status": "online", "last_heartbeat": now_ms() + 10**9})
    elif change == "config not json":
        tables["workflows"][0]["config"] = "{{{not json"
    elif change == "config with NaN":
        tables["workflows"][0]["config"] = '{"x": NaN}'
    elif change == "status hacked":
        tables["tasks"][0]["status"] = "hacked"
    elif change == "sequence abc":
        tables["tasks"][0]["sequence"] = "abc"
    elif change == "cross-workflow dependency":
        tables["task_dependencies"].append({"task_id": tables["tasks"][0]["id"], "depends_on_id": other_task,
                                            "dependency_type": "blocks"})
    elif change == "malformed id":
        tables["checkpoints"][0]["id"] = "cp_x'; DROP TABLE tasks; --"
    elif change == "boolean for an integer":
        tables["tasks"][1]["created_at"] = True
    elif change == "dependency cycle":
        a, b = (t["id"] for t in tables["tasks"])
        tables["task_dependencies"].append({"task_id": a, "depends_on_id": b, "dependency_type": "blocks"})
    elif change == "lone surrogate":
        tables["tasks"][0]["description"] = "\ud800"
    return copy


ATTACKS = ["executor", "config not json", "config with NaN", "status hacked", "sequence abc",
           "cross-workflow dependency", "malformed id", "boolean for an integer", "dependency cycle", "lone surrogate"]


@pytest.mark.parametrize("change", ATTACKS)
def test_a_lying_bundle_is_refused_and_writes_nothing(
    client: caw_lab.Client, bundle: dict[str, Any], change: str
) -> None:
    mine = make_workflow(client, [{"name": "mine"}])
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        transfer.import_bundle(client.db, tampered(bundle, change, other_task=mine["tasks"]["mine"]))
    assert info.value.code == "INVALID_INPUT" and info.value.details["count"] >= 1, info.value.message
    assert dump(client.db) == before
    client.call("workflow_get", id=mine["id"], include_tasks=True)


def test_every_problem_of_a_bundle_is_listed_in_one_refusal(client: caw_lab.Client, bundle: dict[str, Any]) -> None:
    worst = bundle
    for change in ATTACKS:
        worst = tampered(worst, change)
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        transfer.import_bundle(client.db, worst)
    problems = "\n".join(info.value.details["problems"])
    expected = [r"agents\[1\]: an executor", r"workflows\[0\]\.config: config is not standard JSON",
                r"tasks\[0\]\.status: 'hacked' is not one of", r"tasks\[0\]\.sequence: 'abc' is not a 64-bit integer",
                r"task_dependencies\[1\]\.depends_on_id: tk_000000000000 is not in the bundle's tasks",
                r"checkpoints\[0\]\.id: .* is not a checkpoint id", r"tasks\[1\]\.created_at: a bool",
                r"task_dependencies: a cycle", r"tasks\[0\]\.description: holds a lone surrogate"]
    for pattern in expected:
        assert re.search(pattern, problems), f"{pattern!r} not in:\n{problems}"
    assert info.value.details["count"] == len(info.value.details["problems"]) >= len(expected)
    assert dump(client.db) == before


@pytest.mark.parametrize("source", [math.nan, {"deep": nested(40)}, "\ud800"])
def test_a_bundle_source_that_is_not_plain_text_is_refused(
    client: caw_lab.Client, bundle: dict[str, Any], source: Any
) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        transfer.import_bundle(client.db, {**bundle, "source": source})
    assert info.value.code == "INVALID_INPUT"
    assert dump(client.db) == before


def test_agents_come_in_offline_on_no_task(client: caw_lab.Client, bundle: dict[str, Any]) -> None:
    copy = json.loads(json.dumps(bundle))
    agent = copy["tables"]["agents"][0]
    agent.update(status="busy", last_heartbeat=now_ms() + 10**9, current_task_id=copy["tables"]["tasks"][0]["id"])
    transfer.import_bundle(client.db, copy)
    arrived = client.call("agent_get", id=agent["id"])
    assert arrived["status"] == "offline" and arrived["current_task_id"] is None
    status = client.call("workflow_execution_status", workflow_id=bundle["workflow_id"])
    assert status["status"] == "idle" and status["executorAlive"] is False
    shown = client.call("workflow_get", id=bundle["workflow_id"], include_tasks=True)
    assert shown["config"] == {"k": "v"}


# Finding: one legal call could take minutes.


def test_a_50000_task_fan_in_is_refused_up_front(client: caw_lab.Client) -> None:
    wf = client.call("workflow_create", name="fan-in", source_type="prompt", source_content="x")
    names = [str(i) for i in range(50_000)]
    tasks = [*({"name": n} for n in names), {"name": "sink", "depends_on": names}]
    error = refused(client, "workflow_set_plan", "LIMIT_EXCEEDED", id=wf["id"], plan={"summary": "s", "tasks": tasks})
    assert error.details == {"limit": limits.MAX_WORKFLOW_TASKS, "requested": 50_001}
    few = [{"name": str(i)} for i in range(limits.MAX_DEPENDENCIES + 1)]
    sink = {"name": "sink", "depends_on": [t["name"] for t in few]}
    error = refused(client, "workflow_set_plan", "LIMIT_EXCEEDED", id=wf["id"],
                    plan={"summary": "s", "tasks": [*few, sink]})
    assert error.details == {"limit": limits.MAX_DEPENDENCIES, "requested": limits.MAX_DEPENDENCIES + 1}


def test_fan_in_cannot_grow_past_the_limit_one_edge_at_a_time(client: caw_lab.Client) -> None:
    width = limits.MAX_DEPENDENCIES
    names = [str(i) for i in range(width)]
    wf = make_workflow(client, [*({"name": n} for n in names), {"name": "extra"}, {"name": "sink", "depends_on": names},
                                {"name": "after", "depends_on": ["sink", "extra"]}])
    ids = wf["tasks"]
    refused(client, "task_add_dependency", "LIMIT_EXCEEDED", task_id=ids["sink"], depends_on_id=ids["extra"])
    refused(client, "workflow_add_task", "LIMIT_EXCEEDED", workflow_id=wf["id"], name="wide",
            depends_on=[*names, "extra"])
    # removing sink would hand "after" sink's 500 dependencies besides "extra"
    refused(client, "workflow_remove_task", "LIMIT_EXCEEDED", workflow_id=wf["id"], task_id=ids["sink"])
    context = client.call("task_load_context", task_id=ids["sink"])
    assert context["current_task"]["id"] == ids["sink"]


def test_a_template_cannot_blow_a_plan_up(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="amplifier", template={
        "tasks": [{"name": f"t{i}", "description": "{{x}}{{x}}"} for i in range(100)], "variables": ["x"]})
    refused(client, "template_apply", "PAYLOAD_TOO_LARGE", template_id=template["id"], workflow_name="boom",
            variables={"x": "y" * 10_000})
    client.call("template_apply", template_id=template["id"], workflow_name="fine", variables={"x": "y"})


def test_the_input_limits_are_documented_with_their_values() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    section = doc.split("## Input limits", 1)[1].split("\n## ", 1)[0]
    for name in ("MAX_DEPTH", "MAX_FIELD_BYTES", "MAX_CALL_BYTES", "MAX_INTEGER", "MAX_WORKFLOW_TASKS",
                 "MAX_DEPENDENCIES", "MAX_RANKED_ITEMS"):
        assert f"`{name}`" in section, f"{name} is not in docs/security.md's Input limits"
    assert "32" in section and "1 MiB" in section and "4 MiB" in section
    assert f"{limits.MAX_WORKFLOW_TASKS:,}" in section and f"{limits.MAX_RANKED_ITEMS:,}" in section
