"""Repositories: registration keyed by normalised path, workflow links, hostile paths refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import caw_lab
from tests.conftest import dump, make_workflow

pytestmark = pytest.mark.usefixtures("allowed_roots")


def test_register_is_idempotent_by_normalised_path(client: caw_lab.Client, tmp_path: Path) -> None:
    first = client.call("repository_register", path=str(tmp_path / "repo"), name="repo")
    again = client.call("repository_register", path=str(tmp_path / "x" / ".." / "repo") + "/")
    assert again["id"] == first["id"] and first["id"].startswith("rp_")
    assert client.call("repository_get", path=str(tmp_path / "repo"))["name"] == "repo"
    assert client.call("repository_list")["total"] == 1
    kinds = [e["kind"] for e in client.call("events_list")["events"]]
    assert kinds.count("repository.registered") == 1


def test_list_pages_in_path_order(client: caw_lab.Client, tmp_path: Path) -> None:
    for name in ("c", "a", "b"):
        client.call("repository_register", path=str(tmp_path / name))
    page = client.call("repository_list", limit=2, offset=1)
    assert [Path(r["path"]).name for r in page["repositories"]] == ["b", "c"]
    assert page["total"] == 3


def test_get_unknown_path_is_not_found(client: caw_lab.Client, tmp_path: Path) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        client.call("repository_get", path=str(tmp_path / "nowhere"))
    assert info.value.code == "REPOSITORY_NOT_FOUND"


def test_workflow_links_add_list_remove(client: caw_lab.Client, tmp_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    added = client.call("workflow_add_repository", workflow_id=wf["id"], repository_path=str(tmp_path / "one"))
    client.call("workflow_add_repository", workflow_id=wf["id"], repository_path=str(tmp_path / "two"))
    client.call("workflow_add_repository", workflow_id=wf["id"], repository_path=str(tmp_path / "one"))
    listed = client.call("workflow_list_repositories", workflow_id=wf["id"])["repositories"]
    assert [Path(r["path"]).name for r in listed] == ["one", "two"]
    client.call("workflow_remove_repository", workflow_id=wf["id"], repository_id=added["repository_id"])
    listed = client.call("workflow_list_repositories", workflow_id=wf["id"])["repositories"]
    assert [Path(r["path"]).name for r in listed] == ["two"]
    filtered = client.call("workflow_list", repository_path=str(tmp_path / "two"))["workflows"]
    assert [w["id"] for w in filtered] == [wf["id"]]


def test_removing_an_unlinked_repository_is_not_found(client: caw_lab.Client, tmp_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    repo = client.call("repository_register", path=str(tmp_path))
    with pytest.raises(caw_lab.CawError) as info:
        client.call("workflow_remove_repository", workflow_id=wf["id"], repository_id=repo["id"])
    assert info.value.code == "REPOSITORY_NOT_FOUND"


@pytest.mark.parametrize("hostile", ["", "   ", "repo\x00/etc/passwd", "repo\nINJECTED", "\x1b[31mred", "a" * 5000])
def test_hostile_paths_are_refused_without_writing(client: caw_lab.Client, hostile: str) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    before = dump(client.db)
    for tool, args in (("repository_register", {"path": hostile}),
                       ("workflow_add_repository", {"workflow_id": wf["id"], "repository_path": hostile}),
                       ("workflow_create", {"name": "w", "source_type": "prompt", "source_content": "x",
                                            "repository_paths": [hostile]})):
        with pytest.raises(caw_lab.CawError) as info:
            client.call(tool, **args)
        assert info.value.code == "INVALID_INPUT", (tool, info.value)
    assert dump(client.db) == before


def test_session_lock_guards_workflow_links(client: caw_lab.Client, tmp_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_lock", id=wf["id"], session_id="ss_holder")
    with pytest.raises(caw_lab.CawError) as info:
        client.call("workflow_add_repository", workflow_id=wf["id"], session_id="ss_other",
                    repository_path=str(tmp_path))
    assert info.value.code == "WORKFLOW_LOCKED"
    client.call("workflow_add_repository", workflow_id=wf["id"], session_id="ss_holder", repository_path=str(tmp_path))
