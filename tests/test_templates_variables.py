"""Typed variables: each type's conversions and refusals, every problem named in one error,
defaults checked when the template is saved, and values typed through to the tasks."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.engine.templates import variables
from tests.conftest import dump

TYPED = {
    "summary": "{{ title }}",
    "variables": [
        {"name": "title", "type": "string", "required": True},
        {"name": "count", "type": "int", "default": 2},
        {"name": "ratio", "type": "float", "default": 0.5},
        {"name": "urgent", "type": "bool", "default": False},
        {"name": "env", "type": "enum", "values": ["dev", "prod"], "default": "dev"},
        {"name": "ticket", "type": "pattern", "pattern": r"[A-Z]+-\d+", "required": True},
        {"name": "files", "type": "list", "default": []},
    ],
    "tasks": [
        {
            "name": "{{ ticket }}: {{ title }}",
            "description": "x{{ count + 1 }} r{{ ratio }} {{ 'URGENT' if urgent else 'calm' }} "
            "{{ env }} [{{ files | join(', ') }}] n={{ files | length }}",
        },
    ],
}


@pytest.fixture
def typed(client: caw_lab.Client) -> str:
    return str(client.call("template_create", name="typed", template=TYPED)["id"])


def apply(client: caw_lab.Client, template_id: str, values: dict[str, Any]) -> dict[str, Any]:
    applied = client.call("template_apply", template_id=template_id, workflow_name="w", variables=values)
    return client.call("workflow_get", id=applied["workflow_id"], include_tasks=True)


def test_values_are_typed_and_interpolated(client: caw_lab.Client, typed: str) -> None:
    wf = apply(
        client,
        typed,
        {
            "title": "Fix login",
            "ticket": "AUTH-12",
            "count": 4,
            "urgent": True,
            "env": "prod",
            "files": ["a.py", "b.py"],
            "ratio": 1.25,
        },
    )
    task = wf["tasks"][0]
    assert task["name"] == "AUTH-12: Fix login" and wf["plan_summary"] == "Fix login"
    assert task["description"] == "x5 r1.25 URGENT prod [a.py, b.py] n=2"


def test_text_values_from_a_command_line_are_converted(client: caw_lab.Client, typed: str) -> None:
    wf = apply(
        client,
        typed,
        {"title": "t", "ticket": "A-1", "count": "7", "urgent": "yes", "ratio": "2", "files": "a.py, b.py"},
    )
    assert wf["tasks"][0]["description"] == "x8 r2.0 URGENT dev [a.py, b.py] n=2"


def test_defaults_fill_in(client: caw_lab.Client, typed: str) -> None:
    wf = apply(client, typed, {"title": "t", "ticket": "A-1"})
    assert wf["tasks"][0]["description"] == "x3 r0.5 calm dev [] n=0"


def test_every_problem_is_named_in_one_error_and_nothing_is_written(client: caw_lab.Client, typed: str) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        apply(
            client,
            typed,
            {
                "count": "many",
                "ratio": "nan",
                "urgent": "perhaps",
                "env": "staging",
                "ticket": "auth-12",
                "files": [1, 2],
                "colour": "blue",
            },
        )
    err = info.value
    assert err.code == "MISSING_VARIABLES" and err.details["missing"] == ["title"]
    assert sorted(err.details["invalid"]) == ["count", "env", "files", "ratio", "ticket", "urgent"]
    assert err.details["unknown"] == ["colour"]
    for fragment in (
        "title",
        "count must be an integer",
        "ratio must be a finite number",
        ("urgent must be true or false"),
        "env must be one of dev, prod",
        "ticket must match the pattern",
        "files must be a list",
        "colour is not a variable",
    ):
        assert fragment in err.message, fragment
    assert dump(client.db) == before


def test_invalid_values_alone_are_invalid_variables(client: caw_lab.Client, typed: str) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        apply(client, typed, {"title": "t", "ticket": "A-1", "count": 1.5})
    assert info.value.code == "INVALID_VARIABLES" and list(info.value.details["invalid"]) == ["count"]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"name": "n", "type": "int", "default": "x"}, "default 'x' must be an integer"),
        ({"name": "e", "type": "enum"}, "an enum needs `values`"),
        ({"name": "e", "type": "enum", "values": ["a"], "default": "b"}, "must be one of a"),
        ({"name": "p", "type": "pattern"}, "needs `pattern`"),
        ({"name": "p", "type": "pattern", "pattern": "(unclosed"}, "does not compile"),
        ({"name": "b", "type": "bool", "default": "maybe"}, "must be true or false"),
        ({"name": "bad-name"}, "letters, digits and underscores"),
    ],
)
def test_a_wrong_declaration_is_refused_when_saved(client: caw_lab.Client, spec: dict[str, Any], problem: str) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_create", name="t", template={"tasks": [{"name": "a"}], "variables": [spec]})
    assert info.value.code == "TEMPLATE_INVALID" and problem in info.value.message
    assert dump(client.db) == before


def test_all_declaration_problems_come_in_one_error(client: caw_lab.Client) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        client.call(
            "template_create",
            name="t",
            template={
                "tasks": [{"name": "a"}],
                "variables": [{"name": "a", "type": "int", "default": "x"}, {"name": "b", "type": "enum"}],
            },
        )
    assert len(info.value.details["problems"]) == 2


def test_a_catastrophic_pattern_times_out_instead_of_hanging() -> None:
    spec = variables.complete({"name": "p", "type": "pattern", "pattern": r"(\w|\w\w)+$"})  # exponential in any engine
    _, problem = variables.value_problem(spec, "a" * 60 + "!")
    assert problem is not None and "too long" in problem


def test_a_dry_run_renders_the_plan_and_writes_nothing(client: caw_lab.Client, typed: str) -> None:
    before = dump(client.db)
    result = client.call("template_apply", template_id=typed, workflow_name="w", dry_run=True,
                         variables={"title": "Ship", "ticket": "A-1", "env": "prod"})
    assert result["dry_run"] and result["variables"]["env"] == "prod"
    assert result["plan"]["tasks"][0]["name"] == "A-1: Ship" and result["plan"]["summary"] == "Ship"
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id=typed, workflow_name="w", dry_run=True, variables={"count": "x"})
    assert info.value.code == "MISSING_VARIABLES" and "count" in info.value.details["invalid"]
    assert dump(client.db) == before
