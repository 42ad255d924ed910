"""Templates: variables (required, defaults, unknown), interpolation, and the workflow round trip."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow

SERVICE = {
    "tasks": [
        {"name": "build {{service}}", "description": "Build {{service}} for {{env}}", "parallel_group": "g"},
        {"name": "test {{service}}", "depends_on": ["build {{service}}"],
         "files_likely_affected": ["services/{{service}}/tests.py"]},
        {"name": "deploy {{service}} to {{env}}", "depends_on": ["test {{service}}"]},
    ],
    "variables": [
        "service",
        {"name": "env", "description": "target environment", "default": "staging"},
        {"name": "region", "required": True},
    ],
    "source": "Ship {{service}}",
}


def tasks_of(client: caw_lab.Client, workflow_id: str) -> list[dict[str, Any]]:
    return client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"]


def names_by_id(tasks: list[dict[str, Any]]) -> dict[str, str]:
    return {t["id"]: t["name"] for t in tasks}


def test_apply_interpolates_names_descriptions_files_and_source(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="service", template=SERVICE)
    applied = client.call("template_apply", template_id=template["id"], workflow_name="ship api",
                          variables={"service": "api", "region": "eu"})
    workflow = client.call("workflow_get", id=applied["workflow_id"], include_tasks=True)
    assert workflow["status"] == "ready"
    assert workflow["source_content"] == "Ship api"
    assert workflow["source_ref"] == template["id"]
    tasks = workflow["tasks"]
    assert [t["name"] for t in tasks] == ["build api", "test api", "deploy api to staging"]
    assert tasks[0]["description"] == "Build api for staging"
    assert tasks[1]["files_likely_affected"] == ["services/api/tests.py"]
    names = names_by_id(tasks)
    assert [[names[d] for d in t["depends_on"]] for t in tasks] == [[], ["build api"], ["test api"]]
    assert applied["variables"] == {"service": "api", "env": "staging", "region": "eu"}


def test_given_value_overrides_default(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="service", template=SERVICE)
    applied = client.call("template_apply", template_id=template["id"], workflow_name="w",
                          variables={"service": "web", "env": "prod", "region": "us"})
    assert tasks_of(client, applied["workflow_id"])[2]["name"] == "deploy web to prod"


def test_missing_required_variables_are_all_named_and_nothing_is_written(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="service", template=SERVICE)
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id=template["id"], workflow_name="w", variables={"env": "prod"})
    assert info.value.code == "MISSING_VARIABLES"
    assert "service" in info.value.message and "region" in info.value.message
    assert info.value.details["missing"] == ["service", "region"]
    assert dump(client.db) == before


def test_unknown_variables_are_refused(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="service", template=SERVICE)
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id=template["id"], workflow_name="w",
                    variables={"service": "api", "region": "eu", "colour": "blue"})
    assert info.value.code == "UNKNOWN_VARIABLES"
    assert "colour" in info.value.message
    assert dump(client.db) == before


def test_variables_as_plain_names_and_discovered_placeholders_are_required(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="plain", template={
        "tasks": [{"name": "fix {{issue}}", "description": "see {{link}}"}], "variables": ["issue"]})
    assert template["template"]["variables"] == ["issue"]  # stored as written: a child may extend it
    variables = client.call("template_get", template_id=template["id"], resolved=True)["template"]["variables"]
    assert [(v["name"], v["type"], v["required"]) for v in variables] == [("issue", "string", True),
                                                                         ("link", "string", True)]
    with pytest.raises(caw_lab.CawError, match="link"):
        client.call("template_apply", template_id=template["id"], workflow_name="w", variables={"issue": "7"})


def test_duplicate_template_and_variable_names_are_refused(client: caw_lab.Client) -> None:
    client.call("template_create", name="once", template={"tasks": [{"name": "a"}]})
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_create", name="once", template={"tasks": [{"name": "b"}]})
    assert info.value.code == "DUPLICATE_TEMPLATE"
    with pytest.raises(caw_lab.CawError, match="more than once: x"):
        client.call("template_create", name="dup", template={"tasks": [{"name": "a"}], "variables": ["x", "x"]})
    assert [t["name"] for t in client.call("template_list")["templates"] if t["source"] == "db"] == ["once"]


def test_cyclic_template_is_refused(client: caw_lab.Client) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_create", name="loop", template={"tasks": [
            {"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}]})
    assert info.value.code == "DEPENDENCY_CYCLE"


def test_interpolation_that_collides_names_is_refused_without_writing(client: caw_lab.Client) -> None:
    template = client.call("template_create", name="pair", template={
        "tasks": [{"name": "{{a}}"}, {"name": "{{b}}"}], "variables": ["a", "b"]})
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError, match="Duplicate task name"):
        client.call("template_apply", template_id=template["id"], workflow_name="w", variables={"a": "x", "b": "x"})
    assert dump(client.db) == before


def test_template_from_workflow_round_trips_tasks_and_dependencies(client: caw_lab.Client) -> None:
    source = make_workflow(client, [
        {"name": "schema", "description": "design it", "estimated_complexity": "high", "parallel_group": "p"},
        {"name": "api", "depends_on": ["schema"], "files_likely_affected": ["api.py"]},
        {"name": "ui", "depends_on": ["schema"], "context_from": ["api"]},
        {"name": "release", "depends_on": ["api", "ui"]},
    ])
    template = client.call("template_create", name="copy", from_workflow_id=source["id"])
    applied = client.call("template_apply", template_id=template["id"], workflow_name="again")

    def shape(workflow_id: str) -> list[tuple[Any, ...]]:
        tasks = tasks_of(client, workflow_id)
        names = names_by_id(tasks)
        return [(t["name"], t["description"], t["parallel_group"], t["estimated_complexity"],
                 t["files_likely_affected"], sorted(names[d] for d in t["depends_on"]),
                 [names[c] for c in t["context_from"] or []], t["sequence"]) for t in tasks]

    assert shape(applied["workflow_id"]) == shape(source["id"])
    assert applied["workflow_id"] != source["id"]


def test_template_needs_exactly_one_source(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    for args in ({}, {"from_workflow_id": wf["id"], "template": {"tasks": [{"name": "a"}]}}):
        with pytest.raises(caw_lab.CawError) as info:
            client.call("template_create", name="t", **args)
        assert info.value.code == "INVALID_INPUT"


@pytest.mark.usefixtures("allowed_roots")
def test_apply_links_repositories_and_writes_one_event(client: caw_lab.Client, tmp_path: Any) -> None:
    template = client.call("template_create", name="t", template={"tasks": [{"name": "a"}]})
    head = client.call("events_list")["head"]
    applied = client.call("template_apply", template_id=template["id"], workflow_name="w",
                          repository_paths=[str(tmp_path)], max_parallel_tasks=3)
    events = client.call("events_list", since_seq=head)["events"]
    assert [e["kind"] for e in events] == ["workflow.created"]
    assert events[0]["payload"]["template_id"] == template["id"]
    repos = client.call("workflow_list_repositories", workflow_id=applied["workflow_id"])["repositories"]
    assert [r["path"] for r in repos] == [str(tmp_path)]
    assert client.call("workflow_get", id=applied["workflow_id"])["max_parallel_tasks"] == 3
