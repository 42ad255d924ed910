"""Every tool, fuzzed: arguments drawn from its input schema, mixed with hostile values
(NaN, Infinity, nesting past the limit, a key over 1 MiB, lone surrogates, control
characters, values of the wrong type), on both backends.

Two properties hold for every call: a call that does not succeed leaves the database
exactly as it was, and every answer, result or refusal, is standard JSON that encodes as
UTF-8. Ids are drawn from a seeded database, so calls also succeed and move state.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import caw_lab
from caw_lab.engine.states import TASK_STATUSES, WORKFLOW_STATUSES
from caw_lab.limits import MAX_DEPTH, MAX_FIELD_BYTES
from caw_lab.tools import load_all
from conftest import dump, make_workflow

TOOLS = load_all()
EXAMPLES = 6
"""Examples per tool and backend: about 450 calls each, so a backend takes well under a minute."""

STARTS_AGENTS = {"workflow_start", "workflow_resume"}
"""Tools that, when they succeed, start an executor whose threads keep writing after the
call: they only get unknown ids, so no background writer muddles the before/after
comparison (tests/test_executor.py runs them for real)."""


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = {"n": value} if i % 2 else [value]
    return value


HOSTILE = st.sampled_from([
    math.nan, math.inf, -math.inf, {"x": math.nan}, [1.0, -math.inf],
    nested(MAX_DEPTH + 1), nested(195), {"k" * (MAX_FIELD_BYTES + 1): 1},
    "\ud800", "a\udfffz", {"\udc00": "lone key"}, ["\ud83d"],
    "ctrl \x00\x01\x07\x1b[2J\x1b]0;title\x07\x7f end", {"\x1b[31m": "\x00"},
    2**64, -(2**63) - 1, "9" * 40, True, None, "", [], {}, [[[]]], 0.5,
])
"""Values no tool should store as they are: each refused, or harmless where it lands."""

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(st.characters(exclude_categories=()),
                                                                            max_size=12))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(st.characters(exclude_categories=()), max_size=8), inner,
                                          max_size=3), max_leaves=8)
"""JSON-shaped values with Python's extras (NaN, Infinity, lone surrogates) among them."""


@pytest.fixture
def seeded(client: caw_lab.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A database with a bit of everything; returns the ids (and task names) calls may use.

    The working directory is an empty folder, the only allowed root, so a path a fuzzed call
    takes names nothing of ours; GitHub is a closed local port."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAW_ALLOWED_ROOTS", str(tmp_path))
    monkeypatch.setenv("CAW_GITHUB_API_URL", "http://127.0.0.1:9")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c"}])
    planning = client.call("workflow_create", name="draft", source_type="prompt", source_content="x")["id"]
    worker = client.call("agent_register", name="w", runtime="custom", workflow_id=wf["id"])["id"]
    boss = client.call("agent_register", name="boss", runtime="custom", role="coordinator")["id"]
    a = wf["tasks"]["a"]
    client.call("task_claim", task_id=a, agent_id=worker)
    client.call("task_update_status", id=a, status="planning")
    checkpoint = client.call("checkpoint_add", task_id=a, type="plan", summary="s", detail={"k": 1})["id"]
    message = client.call("message_send", sender_id=boss, recipient_id=worker, message_type="query", body="?")["id"]
    memory = client.call("memory_create", topic="t", content="c")["id"]
    template = client.call("template_create", name="tpl", template={"tasks": [{"name": "x", "description": "{{v}}"}],
                                                                     "variables": ["v"]})["id"]
    return {
        "workflow": [wf["id"], planning], "task": list(wf["tasks"].values()), "agent": [worker, boss],
        "checkpoint": [checkpoint], "message": [message], "memory": [memory], "template": [template],
        "name": list(wf["tasks"]), "session": ["ss_000000000000"], "path": [str(tmp_path), str(repo)],
        "status": sorted({*WORKFLOW_STATUSES, *TASK_STATUSES}),
        "fake": ["wf_000000000000", "tk_zzzzzzzzzzzz", "nope", "'; DROP TABLE tasks; --"],
    }


POOL_BY_PARAM = {
    "workflow_id": "workflow", "from_workflow_id": "workflow", "task_id": "task", "current_task_id": "task",
    "depends_on_id": "task", "task_ids": "task", "agent_id": "agent", "from_agent": "agent", "to_agent": "agent",
    "sender_id": "agent", "recipient_id": "agent", "checkpoint_id": "checkpoint", "template_id": "template",
    "session_id": "session", "message_ids": "message", "reply_to_id": "message", "thread_id": "message",
    "depends_on": "name", "context_from": "name", "after_task": "name", "status": "status",
    "path": "path", "repo_path": "path", "repository_path": "path", "repository_paths": "path", "cwd": "path",
    "workspace_path": "path",
}
"""Which seeded values (ids, task names, statuses, paths) suit a parameter; ``id`` goes by the tool's prefix."""


def pool_of(tool: str, param: str) -> str | None:
    if param != "id":
        return POOL_BY_PARAM.get(param)
    prefix = tool.split("_", 1)[0]
    return prefix if prefix in ("workflow", "task", "agent", "message", "memory", "template") else "fake"


def values(schema: dict[str, Any], prop: dict[str, Any], param: str, ids: dict[str, list[str]],
           tool: str, depth: int, hostile: bool) -> st.SearchStrategy[Any]:
    """A plausible value for one property; with ``hostile``, now and then a hostile or random one."""
    if not hostile:
        return plausible(schema, prop, param, ids, tool, depth)
    if depth > 2:
        return st.one_of(HOSTILE, ANY_JSON)
    return st.one_of(plausible(schema, prop, param, ids, tool, depth), HOSTILE, ANY_JSON)


def plausible(schema: dict[str, Any], prop: dict[str, Any], param: str, ids: dict[str, list[str]],
              tool: str, depth: int) -> st.SearchStrategy[Any]:
    """A value of the property's own type, ids from the seeded database."""
    if "anyOf" in prop:
        return st.one_of([plausible(schema, p, param, ids, tool, depth) for p in prop["anyOf"]])
    if "$ref" in prop:
        return model(schema, schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]], ids, tool, depth + 1, False)
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    kind = prop.get("type")
    if isinstance(kind, list):  # compact schemas write an optional type as ["string", "null"]
        return st.one_of([plausible(schema, {**prop, "type": k}, param, ids, tool, depth) for k in kind])
    if kind == "array":
        return st.lists(plausible(schema, prop.get("items", {}), param, ids, tool, depth), max_size=3)
    if kind == "object" and "properties" in prop:
        return model(schema, prop, ids, tool, depth + 1, False)
    if kind == "string":
        return text_for(tool, param, ids, prop.get("minLength", 0))
    low, high = prop.get("minimum", prop.get("exclusiveMinimum", -1)), prop.get("maximum", 2000)
    simple = {"null": st.none(), "boolean": st.booleans(), "integer": st.integers(low, high),
              "number": st.floats(low, high), "object": st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=3)}
    return simple.get(kind, ANY_JSON)


def text_for(tool: str, param: str, ids: dict[str, list[str]], shortest: int) -> st.SearchStrategy[str]:
    kind = pool_of(tool, param)
    if kind is None:
        return st.text(min_size=shortest, max_size=20)
    if tool in STARTS_AGENTS:
        return st.sampled_from(ids["fake"])
    pool = ids["name"] + ids["task"] if kind == "name" else ids[kind]
    return st.sampled_from(pool + ids["fake"])


def model(schema: dict[str, Any], spec: dict[str, Any], ids: dict[str, list[str]], tool: str,
          depth: int, hostile: bool) -> st.SearchStrategy[dict[str, Any]]:
    """An object of ``spec``'s properties: the required ones (with ``hostile``, now and then
    all but one), optional ones at random."""
    required = spec.get("required", [])
    fields = {name: values(schema, prop, name, ids, tool, depth, hostile) if name in required
              else st.one_of(st.just(MISSING), values(schema, prop, name, ids, tool, depth, hostile))
              for name, prop in spec.get("properties", {}).items()}
    dropped = st.sampled_from([None, None, None, *required]) if hostile else st.none()
    return st.builds(assemble, st.fixed_dictionaries(fields), dropped)


def arguments(tool: str, ids: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    """Half the calls plausible throughout (so they reach the engine), half with hostile values."""
    schema = TOOLS[tool].input_schema()
    return st.one_of(model(schema, schema, ids, tool, 0, False), model(schema, schema, ids, tool, 0, True))


MISSING = object()


def assemble(fields: dict[str, Any], dropped: str | None) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not MISSING and k != dropped}


class Fuzzed:
    """The database under fuzz and its contents as of the last call, so each call costs one
    dump: after a success it becomes the new reference, after a refusal it must equal it."""

    def __init__(self, client: caw_lab.Client) -> None:
        self.client = client
        self.rows = dump(client.db)

    def call(self, tool: str, args: dict[str, Any]) -> None:
        try:
            answer, succeeded = self.client.call(tool, **args), True
        except caw_lab.CawError as err:
            answer, succeeded = err.to_dict(), False
            assert err.code and err.message and err.suggestion, f"{tool}: a refusal says what to do"
        text = json.dumps(answer, allow_nan=False, ensure_ascii=False)
        assert json.loads(text.encode("utf-8")) == json.loads(text), f"{tool}: the answer round-trips"
        after = dump(self.client.db)
        if not succeeded:
            assert after == self.rows, f"{tool} refused ({answer['code']}) but changed the database"
        self.rows = after


def fuzz(db: Fuzzed, tool: str, ids: dict[str, list[str]]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(args=arguments(tool, ids))
    def run(args: dict[str, Any]) -> None:
        db.call(tool, args)

    run()


@pytest.mark.slow
def test_every_tool_refuses_cleanly_and_answers_json(client: caw_lab.Client, seeded: dict[str, list[str]]) -> None:
    db = Fuzzed(client)
    for tool in sorted(TOOLS):
        fuzz(db, tool, seeded)
