"""Agents written for the reference call our tools unchanged: every name it advertises, every
parameter it declares, and every enum value it allows are accepted by what we advertise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp import Client

from caw_lab.tools import load_all
from conftest import SHARED
from mcp_session import run, stdio_params

INTERFACE = SHARED / "reference" / "tool-interface.json"
if not INTERFACE.exists():
    pytest.skip(f"the reference's tool interface is not here ({INTERFACE}); it comes with ../shared",
                allow_module_level=True)
REFERENCE = {t["name"]: t["input"] for t in json.loads(INTERFACE.read_text())["tools"]}


@pytest.fixture(scope="module")
def advertised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each tool's inputSchema exactly as ``caw --server`` lists it over MCP."""
    listed: dict[str, dict[str, Any]] = {}

    async def scenario() -> None:
        async with Client(stdio_params(tmp_path_factory.mktemp("schemas") / "w.db")) as client:
            listed.update({t.name: t.input_schema for t in (await client.list_tools()).tools})

    run(scenario)
    return listed


def test_reference_names_are_all_advertised(advertised: dict[str, dict[str, Any]]) -> None:
    assert len(REFERENCE) == 58
    assert sorted(set(REFERENCE) - set(advertised)) == []


def test_advertised_schema_is_the_pydantic_schema(advertised: dict[str, dict[str, Any]]) -> None:
    assert advertised == {name: spec.input_schema() for name, spec in load_all().items()}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_parameters_are_understood(name: str, advertised: dict[str, dict[str, Any]]) -> None:
    """No reference parameter is silently dropped, and we require nothing the reference leaves optional."""
    assert name in advertised, f"{name} is not advertised"
    ours, theirs = advertised[name], REFERENCE[name]
    assert sorted(set(theirs.get("properties", {})) - set(ours.get("properties", {}))) == []
    assert sorted(set(ours.get("required", [])) - set(theirs.get("required", []))) == []


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_arguments_are_accepted(name: str, advertised: dict[str, dict[str, Any]]) -> None:
    assert name in advertised, f"{name} is not advertised"
    ours = advertised[name]
    validator = Draft202012Validator(ours)
    params = load_all()[name].params
    for arguments in reference_arguments(REFERENCE[name], ours):
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(arguments)]
        assert errors == [], f"{name}({json.dumps(arguments)[:300]})"
        params.model_validate(arguments)


ArgPath = tuple[str | int, ...]


def reference_arguments(schema: dict[str, Any], ours: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Only the required parameters; then every parameter; then every enum value in turn.

    Where the reference takes any string and we accept a closed set (checkpoint types,
    say), the string is one of ours: narrowing free text is allowed, dropping a reference
    enum value is not.
    """
    builder = Sampler(ours)
    yield builder.sample(schema, (), required_only=True)
    yield builder.sample(schema, ())
    for node in enum_nodes(schema):
        for value in node["enum"]:
            yield builder.sample(schema, (), pick=(node, value))


class Sampler:
    def __init__(self, ours: dict[str, Any]) -> None:
        self.ours = ours

    def sample(
        self, node: dict[str, Any], path: ArgPath, required_only: bool = False,
        pick: tuple[dict[str, Any], Any] | None = None,
    ) -> Any:
        """A value the reference schema ``node`` accepts; ``pick`` forces one enum node's value."""
        if pick and node is pick[0]:
            return pick[1]
        if "enum" in node:
            return node["enum"][0]
        if "anyOf" in node:
            options = node["anyOf"]
            chosen = next((o for o in options if pick and holds(o, pick[0])), options[0])
            return self.sample(chosen, path, required_only, pick)
        kind = node.get("type")
        if kind == "object":
            props, required = node.get("properties", {}), node.get("required", [])
            keep = [p for p in props if not required_only or p in required or (pick and holds(props[p], pick[0]))]
            return {p: self.sample(props[p], (*path, p), required_only, pick) for p in keep}
        if kind == "array":
            return [self.sample(node["items"], (*path, 0), required_only, pick)] if "items" in node else []
        if kind == "string":
            return (our_enum(self.ours, path) or ["x"])[0]
        return {"integer": 1, "number": 1, "boolean": True}.get(kind, "x")


def our_enum(schema: dict[str, Any], path: ArgPath) -> list[Any] | None:
    """The enum our schema puts at an argument's location, following $ref and anyOf."""
    defs = schema.get("$defs", {})
    nodes = [schema]
    for step in path:
        key = "items" if isinstance(step, int) else "properties"
        nodes = [n[key] if key == "items" else n[key][step] for n in expand(nodes, defs)
                 if key in n and (key == "items" or step in n[key])]
    return next((n["enum"] for n in expand(nodes, defs) if "enum" in n), None)


def expand(nodes: list[dict[str, Any]], defs: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in nodes:
        if "$ref" in node:
            out += expand([defs[node["$ref"].split("/")[-1]]], defs)
        elif "anyOf" in node:
            out += expand(node["anyOf"], defs)
        else:
            out.append(node)
    return out


def holds(node: Any, target: dict[str, Any]) -> bool:
    if node is target:
        return True
    if isinstance(node, dict):
        return any(holds(v, target) for v in node.values())
    if isinstance(node, list):
        return any(holds(v, target) for v in node)
    return False


def enum_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "enum" in node:
            yield node
        for value in node.values():
            yield from enum_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from enum_nodes(value)


def test_sample_builder_honours_required_and_enums() -> None:
    schema = {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "string"}, "b": {"type": "array", "items": {"type": "string", "enum": ["p", "q"]}}}}
    ours = {"type": "object", "properties": {"a": {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}]}},
            "$defs": {"A": {"enum": ["y", "z"], "type": "string"}}}
    assert list(reference_arguments(schema, ours)) == [{"a": "y"}, {"a": "y", "b": ["p"]}, {"a": "y", "b": ["p"]},
                                                       {"a": "y", "b": ["q"]}]


