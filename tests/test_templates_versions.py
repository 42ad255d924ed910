"""Versions: published versions are immutable, ranges pick them, a workflow records the one
that made it, and template_diff says what changed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from tests.conftest import dump
from tests.test_templates_sources import git_repo, write

V1 = {
    "variables": ["service"],
    "tasks": [{"name": "build {{service}}"}, {"name": "test", "depends_on": ["build {{service}}"]}],
}


def v(n: int) -> dict[str, Any]:
    """Version ``n`` of a template: one more task each time, and an env variable from 2 on."""
    tasks = [*V1["tasks"], *({"name": f"step {i}", "depends_on": ["test"]} for i in range(2, n + 1))]
    variables = [
        *V1["variables"],
        *([{"name": "env", "type": "enum", "values": ["dev", "prod"], "default": "dev"}] if n >= 2 else []),
    ]
    return {"variables": variables, "tasks": tasks}


@pytest.fixture
def published(client: caw_lab.Client) -> str:
    created = client.call("template_create", name="svc", template=V1)
    for version, n in (("1.1.0", 2), ("1.2.0", 3), ("2.0.0", 4)):
        client.call("template_publish", name="svc", version=version, template=v(n), description=f"v{n}")
    return str(created["id"])


def applied_version(client: caw_lab.Client, **params: Any) -> str:
    applied = client.call("template_apply", workflow_name="w", variables={"service": "api"}, **params)
    workflow = client.call("workflow_get", id=applied["workflow_id"])
    assert workflow["template_version"] == applied["template_version"]
    return str(applied["template_version"])


def test_versions_are_listed_newest_first(client: caw_lab.Client, published: str) -> None:
    listed = client.call("template_versions", name="svc")
    assert [(x["version"], x["default"]) for x in listed["versions"]] == [
        ("2.0.0", True),
        ("1.2.0", False),
        ("1.1.0", False),
        ("1.0.0", False),
    ]
    entry = next(t for t in client.call("template_list")["templates"] if t["name"] == "svc")
    assert (entry["version"], entry["description"], entry["id"]) == ("2.0.0", "v4", published)


def test_ranges_pin_a_version_and_the_workflow_records_it(client: caw_lab.Client, published: str) -> None:
    assert applied_version(client, template_id="svc") == "2.0.0"
    assert applied_version(client, template_id="svc@^1.1") == "1.2.0"
    assert applied_version(client, template_id="svc", version="~1.1") == "1.1.0"
    assert applied_version(client, template_id=published, version="1.0.0") == "1.0.0"
    assert applied_version(client, template_id=f"{published}@<1.2") == "1.1.0"
    tasks = client.call("template_get", template_id="svc@1.1.0")["template"]["tasks"]
    assert [t["name"] for t in tasks] == ["build {{service}}", "test", "step 2"]


def test_a_range_nothing_matches_lists_what_there_is(client: caw_lab.Client, published: str) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id="svc@^3", workflow_name="w", variables={"service": "x"})
    assert info.value.code == "VERSION_NOT_FOUND" and "1.0.0, 1.1.0, 1.2.0, 2.0.0" in info.value.message
    for bad in ("svc@^^1", "svc@one"):
        with pytest.raises(caw_lab.CawError) as info:
            client.call("template_get", template_id=bad)
        assert info.value.code == "INVALID_VERSION"
    assert dump(client.db) == before


def test_a_published_version_is_immutable(client: caw_lab.Client, published: str) -> None:
    before = dump(client.db)
    again = client.call("template_publish", name="svc", version="1.1.0", template=v(2), description="v2")
    assert again["published"] is False and dump(client.db) == before  # the same content: nothing to do
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_publish", name="svc", version="1.1.0", template=v(3), description="v2")
    assert info.value.code == "VERSION_EXISTS"
    for version in ("1.2", "v2", "latest"):
        with pytest.raises(caw_lab.CawError) as info:
            client.call("template_publish", name="svc", version=version, template=v(2))
        assert info.value.code == "INVALID_VERSION" and "semantic version" in info.value.message
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_publish", name="absent", version="1.0.0", template=v(1))
    assert info.value.code == "TEMPLATE_NOT_FOUND"
    assert dump(client.db) == before


def test_a_backport_does_not_become_the_default(client: caw_lab.Client, published: str) -> None:
    result = client.call("template_publish", name="svc", version="1.2.1", template=v(3), description="fix")
    assert result["published"] and result["version"] == "2.0.0" and result["revision"] == 5
    assert applied_version(client, template_id="svc") == "2.0.0"
    assert applied_version(client, template_id="svc@~1.2") == "1.2.1"
    kinds = [e["kind"] for e in client.call("events_list")["events"]]
    assert kinds.count("template.published") == 4 and kinds.count("template.created") == 1


def test_diff_names_task_and_variable_changes(client: caw_lab.Client, published: str) -> None:
    client.call(
        "template_publish",
        name="svc",
        version="2.1.0",
        description="v5",
        template={
            "summary": "Ship {{service}}",
            "variables": ["service", {"name": "env", "type": "enum", "values": ["dev", "prod"], "default": "prod"}],
            "tasks": [
                {"name": "build {{service}}", "estimated_complexity": "high"},
                {"name": "test", "depends_on": ["build {{service}}"]},
                {"name": "step 2", "depends_on": ["test"]},
                {"name": "release", "depends_on": ["step 2"]},
            ],
        },
    )
    diff = client.call("template_diff", name="svc", from_version="1.0.0", to_version="2.1.0")
    assert (diff["from"]["version"], diff["to"]["version"]) == ("1.0.0", "2.1.0")
    assert diff["tasks"]["added"] == ["step 2", "release"] and diff["tasks"]["removed"] == []
    assert diff["tasks"]["changed"] == [
        {"name": "build {{service}}", "changes": {"estimated_complexity": {"from": None, "to": "high"}}}
    ]
    assert diff["variables"]["added"] == ["env"]
    assert diff["changes"]["summary"] == {"from": None, "to": "Ship {{service}}"}
    text = diff["text"].splitlines()
    assert text[0] == "svc 1.0.0 -> 2.1.0"
    assert "+ task 'release'" in text and "+ variable 'env'" in text
    assert "~ task 'build {{service}}': estimated_complexity (none) -> 'high'" in text
    later = client.call("template_diff", name="svc", from_version="2.0.0", to_version="^2.1")
    assert "- task 'step 3'" in later["text"] and "- task 'step 4'" in later["text"]
    assert "~ variable 'env': default 'dev' -> 'prod'" in later["text"]
    same = client.call("template_diff", name="svc", from_version="1.1.0", to_version="1.1.0")
    assert same["identical"] and same["text"].endswith("(no changes)")


def test_a_range_looks_in_every_source_and_a_bare_name_follows_precedence(
    client: caw_lab.Client, published: str, allowed_roots: Path
) -> None:
    repo = git_repo(allowed_roots / "project")
    write(repo / ".caw" / "templates", "svc.yaml", {"name": "svc", "version": "0.9.0", **V1})
    assert applied_version(client, template_id="svc", repository_path=str(repo)) == "0.9.0"  # the repo's wins
    assert applied_version(client, template_id="svc@>=1", repository_path=str(repo)) == "2.0.0"
    listed = client.call("template_versions", name="svc", repository_path=str(repo))["versions"]
    assert [(x["version"], x["source"], x["default"]) for x in listed][-2:] == [
        ("1.0.0", "db", False),
        ("0.9.0", "file:repo", True),
    ]


@pytest.mark.sqlite_only
def test_concurrent_publishes_all_land_and_the_newest_wins(db_path: Path) -> None:
    with caw_lab.connect(db_path) as first:
        first.call("template_create", name="svc", template=V1)
    versions = [f"1.{i}.0" for i in range(1, 9)]
    errors: list[BaseException] = []

    def publish(version: str) -> None:
        try:
            with caw_lab.connect(db_path) as c:
                c.call("template_publish", name="svc", version=version, template=v(2))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(x,)) for x in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with caw_lab.connect(db_path) as c:
        listed = [x["version"] for x in c.call("template_versions", name="svc")["versions"]]
        row = c.db.one("SELECT version, latest_version FROM workflow_templates WHERE name = 'svc'")
    assert listed == [*reversed(versions), "1.0.0"]
    assert (row["version"], row["latest_version"]) == (9, "1.8.0")
