"""Composition: three levels of ``extends`` with overrides, removals and added dependencies;
variables tightened but never loosened; cycles refused naming them; the resolved view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import caw_lab
from caw_lab.cli import main
from tests.conftest import dump
from tests.test_templates_sources import git_repo, write

BASE = {
    "name": "base",
    "version": "1.0.0",
    "description": "Plan, build, check",
    "summary": "Work on {{ thing }}",
    "variables": [{"name": "thing", "required": True}, {"name": "level", "type": "string", "default": "normal"}],
    "tasks": [
        {"name": "Plan", "description": "Plan {{ thing }}", "estimated_complexity": "low"},
        {"name": "Build", "description": "Build {{ thing }}", "depends_on": ["Plan"]},
        {"name": "Check", "depends_on": ["Build"]},
        {"name": "Announce", "depends_on": ["Check"]},
    ],
}
SERVICE = {
    "name": "service",
    "version": "1.0.0",
    "extends": "base@^1",
    "variables": [
        {"name": "level", "type": "enum", "values": ["normal", "high"], "default": "high"},
        {"name": "region", "default": "eu"},
    ],
    "tasks": [
        {"name": "Build", "description": "Build {{ thing }} for {{ region }}", "estimated_complexity": "high"},
        {"name": "Deploy", "depends_on": ["Check"]},
        {"name": "Announce", "remove": True},
    ],
}
API = {
    "name": "api",
    "version": "2.0.0",
    "extends": "service",
    "summary": "Ship the {{ thing }} API",
    "description": "An API service",
    "variables": [{"name": "level", "values": ["high"]}],
    "tasks": [
        {"name": "Check", "depends_on": ["Plan"], "description": "Contract tests for {{ thing }}"},
        {"name": "Document", "depends_on": ["Deploy"]},
        {"name": "Plan", "remove": True},
        {"name": "Sketch"},
        {"name": "Build", "depends_on": ["Sketch"]},
    ],
}


@pytest.fixture
def repo(tmp_path: Path, allowed_roots: Path) -> Path:
    path = git_repo(tmp_path / "project")
    folder = path / ".caw" / "templates"
    for body in (BASE, SERVICE, API):
        write(folder, f"{body['name']}.yaml", body)
    return path


def resolved(client: caw_lab.Client, repo: Path, ref: str) -> dict[str, Any]:
    return client.call("template_get", template_id=ref, resolved=True, repository_path=str(repo))


def test_three_levels_merge_overrides_removals_and_dependencies(client: caw_lab.Client, repo: Path) -> None:
    view = resolved(client, repo, "api")
    assert [c["name"] for c in view["chain"]] == ["api", "service", "base"]
    tasks = {t["name"]: t for t in view["template"]["tasks"]}
    # base's Plan was removed by api (and so left every depends_on), service's Announce removed by service
    assert list(tasks) == ["Build", "Check", "Deploy", "Document", "Sketch"]
    assert tasks["Build"]["description"] == "Build {{ thing }} for {{ region }}"  # service's override kept
    assert tasks["Build"]["estimated_complexity"] == "high" and tasks["Build"]["depends_on"] == ["Sketch"]
    assert tasks["Check"]["depends_on"] == ["Build"]  # api added Plan, which it then removed
    assert tasks["Deploy"]["depends_on"] == ["Check"] and tasks["Document"]["depends_on"] == ["Deploy"]
    variables = {v["name"]: v for v in view["template"]["variables"]}
    assert variables["level"] == {
        "name": "level",
        "type": "enum",
        "description": None,
        "default": "high",
        "required": False,
        "values": ["high"],
    }
    assert variables["region"]["default"] == "eu" and variables["thing"]["required"]
    assert view["template"]["summary"] == "Ship the {{ thing }} API" and view["description"] == "An API service"
    applied = client.call(
        "template_apply",
        template_id="api",
        workflow_name="ship",
        variables={"thing": "billing"},
        repository_path=str(repo),
    )
    wf = client.call("workflow_get", id=applied["workflow_id"], include_tasks=True)
    assert wf["plan_summary"] == "Ship the billing API" and wf["template_version"] == "2.0.0"
    assert [t["name"] for t in wf["tasks"]] == ["Build", "Check", "Deploy", "Document", "Sketch"]
    assert wf["tasks"][0]["description"] == "Build billing for eu"
    head = client.call("events_list", workflow_id=wf["id"])["events"][0]["payload"]
    assert [c["id"] for c in head["template_chain"]] == ["file:repo:api", "file:repo:service", "file:repo:base"]


def test_the_middle_level_resolves_alone_and_the_description_is_inherited(client: caw_lab.Client, repo: Path) -> None:
    view = resolved(client, repo, "service")
    assert view["description"] == "Plan, build, check" and view["template"]["summary"] == "Work on {{ thing }}"
    assert [t["name"] for t in view["template"]["tasks"]] == ["Plan", "Build", "Check", "Deploy"]
    assert client.call("template_get", template_id="service", repository_path=str(repo))["extends"] == "base@^1"


def test_a_child_may_not_loosen_an_inherited_type(client: caw_lab.Client, repo: Path) -> None:
    before = dump(client.db)
    for spec, fragment in (
        ({"name": "level", "type": "int"}, "enum cannot become int"),
        ({"name": "level", "values": ["normal", "high", "extreme"]}, "not add extreme"),
    ):
        with pytest.raises(caw_lab.CawError) as info:
            client.call(
                "template_create",
                name="loose",
                repository_path=str(repo),
                template={"extends": "service", "variables": [spec]},
            )
        assert info.value.code == "TEMPLATE_INVALID" and fragment in info.value.message
    assert dump(client.db) == before


def test_removing_a_task_the_parent_lacks_is_refused(client: caw_lab.Client, repo: Path) -> None:
    with pytest.raises(caw_lab.CawError, match="removes 'Ghost'"):
        client.call(
            "template_create",
            name="ghost",
            repository_path=str(repo),
            template={"extends": "base", "tasks": [{"name": "Ghost", "remove": True}]},
        )


def test_a_database_template_extends_a_file_template(client: caw_lab.Client, repo: Path) -> None:
    client.call(
        "template_create",
        name="billing",
        repository_path=str(repo),
        template={"extends": "service", "tasks": [{"name": "Invoice", "depends_on": ["Deploy"]}]},
    )
    view = resolved(client, repo, "billing")
    assert [c["source"] for c in view["chain"]] == ["db", "file:repo", "file:repo"]
    assert view["template"]["tasks"][-1] == {"name": "Invoice", "depends_on": ["Deploy"]}


def test_a_cycle_in_extends_is_refused_naming_it(client: caw_lab.Client, repo: Path) -> None:
    folder = repo / ".caw" / "templates"
    write(folder, "a.yaml", {"name": "a", "extends": "b", "tasks": [{"name": "x"}]})
    write(folder, "b.yaml", {"name": "b", "extends": "c", "tasks": [{"name": "y"}]})
    write(folder, "c.yaml", {"name": "c", "extends": "a", "tasks": [{"name": "z"}]})
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id="a", workflow_name="w", repository_path=str(repo))
    assert info.value.code == "TEMPLATE_CYCLE"
    assert "a@1.0.0 -> b@1.0.0 -> c@1.0.0 -> a" in info.value.message
    assert info.value.details["cycle"] == ["a@1.0.0", "b@1.0.0", "c@1.0.0", "a"]
    with pytest.raises(caw_lab.CawError) as info:
        client.call(
            "template_create",
            name="self",
            template={"extends": "self", "tasks": [{"name": "x"}]},
            repository_path=str(repo),
        )
    assert info.value.code == "TEMPLATE_CYCLE" and "self@1.0.0 -> self" in info.value.message
    assert dump(client.db) == before


def test_a_template_extends_the_one_of_the_same_name_it_shadows(client: caw_lab.Client, repo: Path) -> None:
    write(
        repo / ".caw" / "templates",
        "bugfix.yaml",
        {
            "name": "bugfix",
            "version": "1.1.0",
            "extends": "bugfix",
            "tasks": [{"name": "Changelog", "depends_on": ["Verify"]}],
        },
    )
    view = resolved(client, repo, "bugfix")
    assert [c["id"] for c in view["chain"]] == ["file:repo:bugfix", "builtin:bugfix"]
    assert [t["name"] for t in view["template"]["tasks"]][-2:] == ["Verify", "Changelog"]


def test_an_unknown_parent_is_named(client: caw_lab.Client, repo: Path) -> None:
    write(repo / ".caw" / "templates", "orphan.yaml", {"name": "orphan", "extends": "missing@^3", "tasks": []})
    with pytest.raises(caw_lab.CawError) as info:
        resolved(client, repo, "orphan")
    assert info.value.code == "TEMPLATE_NOT_FOUND" and "orphan@1.0.0 extends missing@^3" in info.value.message


def test_cli_shows_the_resolved_template(repo: Path, tmp_path: Path) -> None:
    done = CliRunner().invoke(
        main, ["--db", str(tmp_path / "w.db"), "templates", "show", "api", "--resolved", "--repo", str(repo)]
    )
    shown = json.loads(done.stdout)
    assert shown["resolved"] and next(t["name"] for t in shown["template"]["tasks"]) == "Build"
