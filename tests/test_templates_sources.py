"""Template sources: the package's builtins, a real git repository's .caw/templates, the
user's folder and the database; ids, precedence, shadowing, and files that cannot be read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import caw_lab
from tests.conftest import dump

BUILTINS = ["bugfix", "docs", "feature", "refactor", "release"]


def git_repo(path: Path) -> Path:
    """A real git repository with one commit, as a user's project would be."""
    path.mkdir(parents=True, exist_ok=True)
    run = {"cwd": path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q", "-b", "main"], **run)
    (path / "README.md").write_text("project\n")
    subprocess.run(["git", "add", "."], **run)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"], **run)
    return path


def write(folder: Path, filename: str, body: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(json.dumps(body) if filename.endswith(".json") else yaml.safe_dump(body, sort_keys=False))
    return path


@pytest.fixture
def repo(tmp_path: Path, allowed_roots: Path) -> Path:
    return git_repo(tmp_path / "project")


def templates_dir(repo: Path) -> Path:
    return repo / ".caw" / "templates"


def by_name(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in listing["templates"]}


def test_the_package_ships_useful_templates_that_apply(client: caw_lab.Client, repo: Path) -> None:
    listed = by_name(client.call("template_list", repository_path=str(repo)))
    assert sorted(listed) == BUILTINS
    assert {t["source"] for t in listed.values()} == {"builtin"}
    assert listed["bugfix"]["id"] == "builtin:bugfix" and listed["bugfix"]["version"] == "1.0.0"
    values = {
        "bugfix": {"bug": "login fails"},
        "docs": {"topic": "the CLI"},
        "feature": {"feature": "export"},
        "refactor": {"target": "the parser"},
        "release": {"version": "2.1.0"},
    }
    for name in BUILTINS:
        applied = client.call(
            "template_apply", template_id=name, workflow_name=name, variables=values[name], repository_path=str(repo)
        )
        assert applied["template_source"] == "builtin" and applied["tasks_created"] >= 4
        tasks = client.call("workflow_get", id=applied["workflow_id"], include_tasks=True)["tasks"]
        assert all("{{" not in (t["description"] or "") and "{%" not in (t["description"] or "") for t in tasks)


def test_a_template_in_a_real_repository_lists_and_applies_as_the_reference_loads_it(
    client: caw_lab.Client, repo: Path
) -> None:
    """The reference's file format: name, description, variables as names or {name, default},
    tasks with depends_on; id file:repo:<file stem>; defaults filled in on apply."""
    write(
        templates_dir(repo),
        "ship-service.yaml",
        {
            "name": "ship",
            "description": "Ship a service",
            "variables": ["service", {"name": "env", "description": "target", "default": "staging"}],
            "tasks": [
                {"name": "Build {{service}}", "description": "Build it"},
                {
                    "name": "Deploy {{service}} to {{env}}",
                    "depends_on": ["Build {{service}}"],
                    "parallel_group": "deploy",
                    "estimated_complexity": "high",
                    "files_likely_affected": ["deploy/{{service}}.yaml"],
                },
            ],
        },
    )
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    nested = repo / "src" / "pkg"
    nested.mkdir(parents=True)
    listing = client.call("template_list", repository_path=str(nested))  # any folder inside the repository
    ship = by_name(listing)["ship"]
    assert (ship["id"], ship["source"], ship["version"], ship["description"]) == (
        "file:repo:ship-service",
        "file:repo",
        "1.0.0",
        "Ship a service",
    )
    assert ship["path"] == str(templates_dir(repo) / "ship-service.yaml") and listing["warnings"] == []
    applied = client.call(
        "template_apply",
        template_id="file:repo:ship-service",
        workflow_name="ship api",
        variables={"service": "api"},
        repository_path=str(repo),
    )
    workflow = client.call("workflow_get", id=applied["workflow_id"], include_tasks=True)
    assert (workflow["source_ref"], workflow["template_version"]) == ("file:repo:ship-service", "1.0.0")
    assert [t["name"] for t in workflow["tasks"]] == ["Build api", "Deploy api to staging"]
    assert workflow["tasks"][1]["files_likely_affected"] == ["deploy/api.yaml"]
    assert workflow["tasks"][1]["estimated_complexity"] == "high"
    by_name_applied = client.call(
        "template_apply",
        template_id="ship",
        workflow_name="by name",
        variables={"service": "web", "env": "prod"},
        repository_path=str(repo),
    )
    assert by_name_applied["template_id"] == "file:repo:ship-service"


def test_json_yml_and_user_templates_get_their_ids(client: caw_lab.Client, repo: Path, caw_home: Path) -> None:
    write(templates_dir(repo), "alpha.json", {"name": "alpha", "tasks": [{"name": "T1"}]})
    write(templates_dir(repo), "beta.yml", {"tasks": [{"name": "T2"}]})  # no name: the file's stem
    write(caw_home / "templates", "gamma.yaml", {"name": "gamma", "tasks": [{"name": "T3"}]})
    (templates_dir(repo) / "notes.md").write_text("# not a template")
    listed = by_name(client.call("template_list", repository_path=str(repo)))
    assert listed["alpha"]["id"] == "file:repo:alpha" and listed["beta"]["id"] == "file:repo:beta"
    assert (listed["gamma"]["id"], listed["gamma"]["source"]) == ("file:global:gamma", "file:global")


def test_precedence_repo_then_user_then_database_then_builtin_with_the_shadowed_shown(
    client: caw_lab.Client, repo: Path, caw_home: Path
) -> None:
    one_task = {"tasks": [{"name": "T"}]}
    client.call("template_create", name="bugfix", description="db", template=one_task)
    client.call("template_create", name="shared", description="db", template=one_task)
    write(caw_home / "templates", "bugfix.yaml", {"name": "bugfix", "description": "user", **one_task})
    write(templates_dir(repo), "bugfix.yaml", {"name": "bugfix", "description": "repo", **one_task})
    write(caw_home / "templates", "shared.yaml", {"name": "shared", "description": "user", **one_task})
    listed = by_name(client.call("template_list", repository_path=str(repo)))
    assert listed["bugfix"]["description"] == "repo"
    assert [s["source"] for s in listed["bugfix"]["shadowed"]] == ["file:global", "db", "builtin"]
    assert (listed["shared"]["source"], [s["source"] for s in listed["shared"]["shadowed"]]) == ("file:global", ["db"])
    assert listed["feature"]["shadowed"] == []
    assert client.call("template_get", template_id="bugfix", repository_path=str(repo))["source"] == "file:repo"
    # every shadowed template stays reachable by its id
    assert client.call("template_get", template_id="builtin:bugfix", repository_path=str(repo))["source"] == "builtin"


def test_unreadable_files_are_skipped_with_a_warning_naming_them(client: caw_lab.Client, repo: Path) -> None:
    folder = templates_dir(repo)
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{not json")
    (folder / "no-tasks.json").write_text('{"name": "no-tasks"}')
    (folder / "typo.yaml").write_text("name: typo\ntasks:\n  - name: a\n    depends-on: [b]\n")
    write(folder, "good.yaml", {"name": "good", "tasks": [{"name": "T"}]})
    listing = client.call("template_list", repository_path=str(repo))
    assert "good" in by_name(listing) and not {"broken", "no-tasks", "typo"} & set(by_name(listing))
    warnings = "\n".join(listing["warnings"])
    assert "broken.json" in warnings and "no-tasks.json" in warnings and "needs at least one task" in warnings
    assert "typo.yaml" in warnings and "depends-on" in warnings  # an unknown key is refused, not dropped


def test_unknown_template_names_the_known_ones_and_writes_nothing(client: caw_lab.Client, repo: Path) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id="nope", workflow_name="w", repository_path=str(repo))
    assert info.value.code == "TEMPLATE_NOT_FOUND" and "bugfix" in info.value.suggestion
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_apply", template_id="file:repo:nope", workflow_name="w", repository_path=str(repo))
    assert info.value.code == "TEMPLATE_NOT_FOUND"
    assert dump(client.db) == before


def test_repository_defaults_to_caw_repo_path(
    client: caw_lab.Client, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(templates_dir(repo), "here.yaml", {"name": "here", "tasks": [{"name": "T"}]})
    monkeypatch.setenv("CAW_REPO_PATH", str(repo))
    assert by_name(client.call("template_list"))["here"]["source"] == "file:repo"
