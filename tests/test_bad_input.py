"""Every tool refuses malformed, missing, oversized and unknown input with a CawError
and leaves the database exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.tools import MAX_TEXT_BYTES, load_all
from tests.conftest import dump, make_workflow

TOOLS = load_all()
WRONG_TYPE: dict[str, Any] = {
    "string": {"not": "a string"},
    "integer": "not-a-number",
    "number": "not-a-number",
    "boolean": "maybe",
    "array": "not-a-list",
    "object": ["not", "an", "object"],
}
SAMPLE: dict[str, Any] = {
    "string": "zz_unknown", "integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {},
}


def primary_type(prop: dict[str, Any]) -> str | None:
    """The non-null JSON type of a schema property (pydantic writes Optional as anyOf; the
    advertised schema as a list of types)."""
    if isinstance(prop.get("type"), list):
        return next((t for t in prop["type"] if t != "null"), None)
    if "type" in prop:
        return prop["type"] if prop["type"] != "null" else None
    for option in prop.get("anyOf", []):
        if option.get("type") not in (None, "null"):
            return option["type"]
    return None


def sample_value(schema: dict[str, Any], prop: dict[str, Any]) -> Any:
    if "enum" in prop:
        return prop["enum"][0]
    if "$ref" in prop:
        return sample_object(schema, schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]])
    if "properties" in prop:  # a nested model the advertised schema inlines
        return sample_object(schema, prop)
    return SAMPLE.get(primary_type(prop) or "object", "zz_unknown")


def sample_object(schema: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """The smallest valid object for ``model``: its required properties with sample values."""
    props = model.get("properties", {})
    return {name: sample_value(schema, props[name]) for name in model.get("required", [])}


def minimal_args(spec: Any) -> dict[str, Any]:
    schema = spec.input_schema()
    return sample_object(schema, schema)


@pytest.fixture
def seeded(client: caw_lab.Client) -> caw_lab.Client:
    """A database with real rows, so 'unchanged' is a meaningful comparison."""
    make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    return client


def assert_refused(client: caw_lab.Client, name: str, args: dict[str, Any], codes: tuple[str, ...]) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(name, **args)
    assert info.value.code in codes, f"{name}({args!r}) gave {info.value.code}: {info.value.message}"
    assert info.value.message and info.value.suggestion
    assert dump(client.db) == before, f"{name} changed the database while refusing"


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_missing_required_parameters_are_refused(seeded: caw_lab.Client, name: str) -> None:
    required = TOOLS[name].input_schema().get("required", [])
    if not required:
        pytest.skip(f"{name} has no required parameters")
    args = minimal_args(TOOLS[name])
    for missing in required:
        partial = {k: v for k, v in args.items() if k != missing}
        assert_refused(seeded, name, partial, ("INVALID_INPUT",))


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_ill_typed_parameters_are_refused(seeded: caw_lab.Client, name: str) -> None:
    props = TOOLS[name].input_schema().get("properties", {})
    args = minimal_args(TOOLS[name])
    checked = 0
    for param, prop in props.items():
        kind = primary_type(prop)
        if kind not in WRONG_TYPE or (prop.get("anyOf") and any(o.get("type") == "object" for o in prop["anyOf"])):
            continue
        assert_refused(seeded, name, {**args, param: WRONG_TYPE[kind]}, ("INVALID_INPUT",))
        checked += 1
    if not checked:
        pytest.skip(f"{name} has no typed parameters")


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_oversized_text_is_refused(seeded: caw_lab.Client, name: str) -> None:
    props = TOOLS[name].input_schema().get("properties", {})
    strings = [p for p, prop in props.items() if primary_type(prop) == "string" and "enum" not in prop]
    if not strings:
        pytest.skip(f"{name} takes no free text")
    huge = "x" * (MAX_TEXT_BYTES + 1)
    for param in strings:
        assert_refused(seeded, name, {**minimal_args(TOOLS[name]), param: huge}, ("PAYLOAD_TOO_LARGE",))


def id_parameters(spec: Any) -> list[str]:
    schema = spec.input_schema()
    return [p for p in schema.get("required", []) if p == "id" or p.endswith("_id")]


NOT_FOUND_CODES = tuple(f"{kind}_NOT_FOUND" for kind in (
    "WORKFLOW", "TASK", "AGENT", "WORKSPACE", "REPOSITORY", "TEMPLATE", "MESSAGE", "CHECKPOINT", "MEMORY",
    "RECIPIENT", "SENDER", "SESSION", "DEAD_LETTER",
))


@pytest.mark.parametrize("name", sorted(n for n, t in TOOLS.items() if id_parameters(t)))
def test_unknown_ids_are_refused(seeded: caw_lab.Client, name: str) -> None:
    assert_refused(seeded, name, minimal_args(TOOLS[name]), (*NOT_FOUND_CODES, "NOT_IMPLEMENTED"))


HOSTILE_NAMES = ["'; DROP TABLE tasks; --", "Robert'); DELETE FROM workflows; --", "\" OR 1=1 --", "名前 ☃"]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_sql_in_names_is_stored_as_text(client: caw_lab.Client, hostile: str) -> None:
    wf = make_workflow(client, [{"name": hostile}, {"name": "after", "depends_on": [hostile]}], name=hostile)
    shown = client.call("workflow_get", id=wf["id"], include_tasks=True)
    assert shown["name"] == hostile
    assert [t["name"] for t in shown["tasks"]] == [hostile, "after"]
    assert client.call("workflow_list")["total"] == 1
