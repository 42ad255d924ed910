"""OpenAI function calling: definitions for every tool, and tool calls run as the registry runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openai.types.chat import ChatCompletionMessageToolCall
from openai.types.responses import ResponseFunctionToolCall

import caw_lab
from caw_lab.openai import dispatch, inline_refs, tool_definitions
from caw_lab.tools import MAX_TEXT_BYTES, load_all
from conftest import dump, make_workflow


def test_one_definition_per_tool_without_references() -> None:
    definitions = tool_definitions()
    assert sorted(d["function"]["name"] for d in definitions) == sorted(load_all())
    for d in definitions:
        assert d["type"] == "function" and d["function"]["description"]
        assert d["function"]["parameters"]["type"] == "object"
        assert "$ref" not in json.dumps(d) and "$defs" not in json.dumps(d)


def test_inlined_schema_accepts_and_refuses_what_the_original_does() -> None:
    original = load_all()["workflow_set_plan"].input_schema()
    inlined = inline_refs(original)
    good = {"id": "wf_1", "plan": {"summary": "s", "tasks": [{"name": "a", "estimated_complexity": "low"}]}}
    bad = {"id": "wf_1", "plan": {"summary": "s", "tasks": [{"name": "a", "estimated_complexity": "huge"}]}}
    for schema in (original, inlined):
        assert Draft202012Validator(schema).is_valid(good)
        assert not Draft202012Validator(schema).is_valid(bad)


def test_chat_completion_tool_call_runs_the_tool(client: caw_lab.Client) -> None:
    call = ChatCompletionMessageToolCall(
        id="call_1", type="function",
        function={"name": "workflow_create",
                  "arguments": json.dumps({"name": "w", "source_type": "prompt", "source_content": "x"})},
    )
    message = dispatch(call, client)
    assert message["role"] == "tool" and message["tool_call_id"] == "call_1"
    created = json.loads(message["content"])
    assert client.call("workflow_get", id=created["id"])["name"] == "w"


def test_responses_function_call_answers_its_call_id(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    item = ResponseFunctionToolCall(type="function_call", id="fc_9", call_id="call_9", name="workflow_progress",
                                    arguments=json.dumps({"workflow_id": wf["id"]}))
    message = dispatch(item, client)
    assert message["tool_call_id"] == "call_9"
    assert json.loads(message["content"])["total_tasks"] == 1


@pytest.mark.parametrize("shape", ["envelope", "function"])
def test_dict_shapes_are_accepted(shape: str, client: caw_lab.Client) -> None:
    function = {"name": "workflow_list", "arguments": "{}"}
    call: dict[str, Any] = {"id": "c", "type": "function", "function": function} if shape == "envelope" else function
    assert json.loads(dispatch(call, client)["content"]) == {"workflows": [], "total": 0}


@pytest.mark.parametrize(
    ("name", "arguments", "code"),
    [
        ("workflow_create", '{"name": "x", ', "INVALID_INPUT"),
        ("workflow_create", '["not", "an", "object"]', "INVALID_INPUT"),
        ("workflow_create", '{"name": "x"}', "INVALID_INPUT"),
        ("no_such_tool", "{}", "UNKNOWN_TOOL"),
        ("workflow_get", '{"id": "wf_000000000000"}', "WORKFLOW_NOT_FOUND"),
        ("workflow_create",
         json.dumps({"name": "x", "source_type": "prompt", "source_content": "x" * (MAX_TEXT_BYTES + 1)}),
         "PAYLOAD_TOO_LARGE"),
    ],
)
def test_refusals_are_tool_messages_and_change_nothing(
    name: str, arguments: str, code: str, client: caw_lab.Client
) -> None:
    before = dump(client.db)
    message = dispatch({"id": "c", "type": "function", "function": {"name": name, "arguments": arguments}}, client)
    error = json.loads(message["content"])
    assert error["code"] == code and set(error) >= {"message", "recoverable", "suggestion"}
    assert dump(client.db) == before


def test_without_a_client_the_environment_names_the_database(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAW_DB_PATH", str(db_path))
    arguments = json.dumps({"name": "env", "source_type": "prompt", "source_content": "x"})
    created = json.loads(dispatch({"name": "workflow_create", "arguments": arguments})["content"])
    with caw_lab.connect(db_path) as client:
        assert client.call("workflow_get", id=created["id"])["name"] == "env"
