"""Tool profiles over MCP: ``caw --server --tools P`` lists exactly P's tools, each annotated and
with an output schema, refuses calls outside P, and an agent runs its whole protocol under
``agent``; what each profile costs stays within its budget."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import caw_lab
from caw_lab.mcp import profiles
from caw_lab.tools import load_all
from conftest import SHARED, make_workflow
from mcp_session import CAW, call, refusal, run

BUDGETS = {"agent": 2_500, "reference": 7_000, "all": 10_000}
"""Tokens (cl100k) the model reads of each profile's tools/list every turn (its JSON without the
output schemas, which clients keep to check results); the reference's own server costs 9,703."""
WIRE_BUDGETS = {"agent": 3_000, "reference": 11_000, "all": 16_500}
"""The whole tools/list JSON, output schemas included, as it crosses the wire once a session."""


def server(db: Path, tools: str | None = None, env_tools: str | None = None) -> StdioServerParameters:
    args = ["--db", str(db), "--server", *(["--tools", tools] if tools else [])]
    env = {k: v for k, v in os.environ.items() if k != profiles.ENV} | ({profiles.ENV: env_tools} if env_tools else {})
    return StdioServerParameters(command=CAW, args=args, env=env)


def listed(params: StdioServerParameters) -> dict[str, Any]:
    tools: dict[str, Any] = {}

    async def scenario() -> None:
        async with Client(params) as client:
            tools.update({t.name: t for t in (await client.list_tools()).tools})

    run(scenario)
    return tools


def reference_names() -> set[str]:
    interface = SHARED / "reference" / "tool-interface.json"
    if not interface.exists():
        return set(profiles.REFERENCE)
    return {t["name"] for t in json.loads(interface.read_text())["tools"]}


EXPECTED = {
    "agent": lambda: set(profiles.AGENT),
    "reference": reference_names,
    "all": lambda: set(load_all()),
    "memory,task_get,agent": lambda: {n for n, t in load_all().items() if t.group == "memory"} | {"task_get"}
    | set(profiles.AGENT),
}


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_each_profile_lists_exactly_its_tools_annotated_with_output_schemas(db_path: Path, profile: str) -> None:
    tools = listed(server(db_path, profile))
    assert set(tools) == EXPECTED[profile]()
    for name, advertised in tools.items():
        hints = load_all()[name].hints
        assert hints is not None and advertised.annotations is not None, f"{name} has no annotations"
        read = {key: profiles.hint_of(advertised.annotations, key) for key in profiles.HINT_DEFAULTS}
        assert read["read_only"] is hints.read_only and read["open_world"] is hints.open_world, name
        if not hints.read_only:
            assert (read["destructive"], read["idempotent"]) == (hints.destructive, hints.idempotent), name
        assert advertised.output_schema == load_all()[name].output_schema()
        assert advertised.output_schema["type"] == "object" and advertised.output_schema["properties"], name


def test_the_reference_profile_is_the_reference_in_its_order() -> None:
    assert len(profiles.REFERENCE) == 58 and set(profiles.REFERENCE) == reference_names()


def test_the_profile_comes_from_the_environment_too(db_path: Path) -> None:
    assert set(listed(server(db_path, env_tools="agent"))) == set(profiles.AGENT)


def test_an_unknown_profile_stops_the_server_with_the_choices(db_path: Path) -> None:
    done = subprocess.run([CAW, "--db", str(db_path), "--server", "--tools", "agent,nonsense"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "'nonsense'" in done.stderr and "reference" in done.stderr and "messaging" in done.stderr


@pytest.mark.parametrize("profile", sorted(BUDGETS))
def test_each_profile_costs_no_more_than_its_budget(profile: str) -> None:
    cost = profiles.cost(profile)
    assert cost["tokens"] <= BUDGETS[profile], cost
    assert cost["tokens"] < cost["wire_tokens"] <= WIRE_BUDGETS[profile], cost


def test_the_cost_a_turn_is_the_listing_without_output_schemas_only() -> None:
    tools = profiles.listed(profiles.select("agent"))
    whole, read = json.loads(profiles.wire_json(tools)), json.loads(profiles.wire_json(tools, output_schemas=False))
    for listed_tool in whole["tools"]:
        assert listed_tool.pop("outputSchema")
    assert whole == read


def test_the_agent_protocol_runs_end_to_end_under_the_agent_profile(db_path: Path) -> None:
    """A coordinator planned the work (through Python); the worker sees only the agent tools, and
    the SDK client checks every result against the tool's output schema."""
    with caw_lab.connect(db_path) as coordinator:
        wf = make_workflow(coordinator, [{"name": "design"}, {"name": "build", "depends_on": ["design"]}])
    design = wf["tasks"]["design"]

    async def scenario() -> None:
        async with Client(server(db_path, "agent")) as worker:
            me = await call(worker, "agent_register", name="w", runtime="claude_code", workflow_id=wf["id"])
            offered = await call(worker, "task_get_available", agent_id=me["id"], workflow_id=wf["id"])
            assert [t["id"] for t in offered["tasks"]] == [design]
            assert (await call(worker, "task_claim", task_id=design, agent_id=me["id"]))["success"] is True
            context = await call(worker, "task_load_context", task_id=design)
            assert context["current_task"]["id"] == design
            await call(worker, "task_update_status", id=design, status="planning")
            await call(worker, "task_set_plan", id=design, plan={"approach": "sketch", "steps": ["draw"]})
            await call(worker, "task_update_status", id=design, status="in_progress")
            await call(worker, "checkpoint_add", task_id=design, type="progress", summary="drawn")
            assert (await call(worker, "agent_heartbeat", agent_id=me["id"], current_task_id=design))["success"]
            await call(worker, "task_update_status", id=design, status="completed", outcome="designed")
            await call(worker, "message_send", sender_id=me["id"], recipient_id=me["id"], message_type="status_update",
                       body="done")
            assert (await call(worker, "message_list", agent_id=me["id"]))["unread_count"] == 1
            assert (await call(worker, "agent_unregister", id=me["id"]))["success"] is True
            outside = await refusal(worker, "workflow_create", {"name": "x", "source_type": "prompt",
                                                                 "source_content": "x"})
            assert outside["code"] == "UNKNOWN_TOOL" and "agent" in outside["message"]

    run(scenario)
    with caw_lab.connect(db_path) as coordinator:
        assert coordinator.call("task_get", id=design)["status"] == "completed"
        assert coordinator.call("workflow_list")["total"] == 1, "the refused workflow_create wrote nothing"
