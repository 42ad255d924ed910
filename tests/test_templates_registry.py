"""Registries over real HTTP: a folder written by ``publish`` served by a local static file
server, then added, searched and installed from; wrong checksums, unreachable registries,
malformed indexes and hostile names are clear errors that write nothing."""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import caw_lab
from caw_lab.cli import main
from caw_lab.engine.templates import registry
from tests.conftest import dump

REVIEW = {
    "description": "Review a change",
    "variables": [{"name": "change", "required": True}],
    "tasks": [{"name": "Read {{ change }}"}, {"name": "Comment", "depends_on": ["Read {{ change }}"]}],
}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, allowed_roots: Path) -> Iterator[tuple[Path, str]]:
    """A folder and the URL a real HTTP server on loopback serves it at."""
    root = tmp_path / "site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def with_review(client: caw_lab.Client, served: tuple[Path, str], tmp_path: Path) -> str:
    """A registry serving review 1.0.0 and 1.1.0 and the builtin bugfix, added to the user's list."""
    root, url = served
    client.call("template_create", name="review", template=REVIEW, description="Review a change")
    registry.publish(client.db, "review", root, repository_path=str(tmp_path))
    client.call(
        "template_publish",
        name="review",
        version="1.1.0",
        description="Review a change carefully",
        template={**REVIEW, "tasks": [*REVIEW["tasks"], {"name": "Approve", "depends_on": ["Comment"]}]},
    )
    registry.publish(client.db, "review@1.1.0", root, repository_path=str(tmp_path))
    registry.publish(client.db, "bugfix", root, repository_path=str(tmp_path))
    registry.add_registry(url)
    return url


def test_publish_writes_files_and_an_index_any_static_host_can_serve(
    client: caw_lab.Client, with_review: str, served: tuple[Path, str]
) -> None:
    root, _ = served
    index = json.loads((root / "index.json").read_text())
    assert index["format"] == "caw-templates/1"
    entries = {t["name"]: t for t in index["templates"]}
    assert [v["version"] for v in entries["review"]["versions"]] == ["1.0.0", "1.1.0"]
    first = entries["review"]["versions"][0]
    assert first["url"] == "review/1.0.0.yaml"
    assert first["sha256"] == hashlib.sha256((root / "review" / "1.0.0.yaml").read_bytes()).hexdigest()
    assert registry.registries() == [with_review + "index.json"]


def test_search_install_and_apply_round_trip(client: caw_lab.Client, with_review: str, caw_home: Path) -> None:
    found = registry.search("CAREFULLY")
    assert [(t["name"], t["version"], t["versions"]) for t in found["templates"]] == [
        ("review", "1.1.0", ["1.1.0", "1.0.0"])
    ]
    installed = registry.install(client.db, "review@^1.0 <1.1")
    assert (installed["version"], installed["to"], installed["written"]) == ("1.0.0", "user", True)
    assert Path(installed["path"]) == caw_home / "templates" / "review@1.0.0.yaml"
    assert registry.install(client.db, "review@1.0.0")["written"] is False  # the same bytes: nothing to do
    newest = registry.install(client.db, "review")
    assert newest["version"] == "1.1.0"
    listed = client.call("template_versions", name="review")["versions"]
    assert {(x["version"], x["source"]) for x in listed} >= {("1.1.0", "file:global"), ("1.0.0", "file:global")}
    applied = client.call(
        "template_apply", template_id="file:global:review@1.0.0", workflow_name="w", variables={"change": "PR 7"}
    )
    assert [t["name"] for t in applied["tasks"]] == ["Read PR 7", "Comment"]


def test_install_into_the_database_adds_versions(client: caw_lab.Client, with_review: str) -> None:
    installed = registry.install(client.db, "bugfix@1.0.0", to="db")
    assert installed["to"] == "db" and installed["written"]
    listed = client.call("template_versions", name="bugfix")["versions"]
    assert {x["source"] for x in listed} == {"db", "builtin"}
    assert registry.install(client.db, "bugfix@1.0.0", to="db")["written"] is False


def test_a_wrong_checksum_is_refused_and_nothing_is_written(
    client: caw_lab.Client, with_review: str, served: tuple[Path, str], caw_home: Path
) -> None:
    root, _ = served
    file = root / "review" / "1.1.0.yaml"
    file.write_text(file.read_text().replace("Approve", "Merge without review"))
    before = dump(client.db)
    for target in ("user", "db"):
        with pytest.raises(caw_lab.CawError) as info:
            registry.install(client.db, "review@1.1.0", to=target)
        assert info.value.code == "CHECKSUM_MISMATCH"
    assert not (caw_home / "templates").exists() and dump(client.db) == before


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_registry_is_refused_and_not_added(caw_home: Path) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        registry.add_registry(f"http://127.0.0.1:{free_port()}/")
    assert info.value.code == "REGISTRY_UNREACHABLE" and "Cannot reach" in info.value.message
    assert not registry.registries_file().exists()
    with pytest.raises(caw_lab.CawError) as info:
        registry.add_registry("ftp://example.org/index.json")
    assert info.value.code == "INVALID_INPUT"


def one_entry(version: str, sha256: str) -> bytes:
    entry = {"name": "x", "versions": [{"version": version, "url": "x.yaml", "sha256": sha256}]}
    return json.dumps({"format": "caw-templates/1", "templates": [entry]}).encode()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>not json</html>", "malformed"),
        (b'{"templates": []}', "format: Field required"),
        (b'{"format": "caw-templates/9", "templates": []}', "caw-templates/9"),
        (one_entry("1.0.0", "00"), "sha256"),
        (one_entry("one", "0" * 64), "semantic version"),
    ],
)
def test_a_malformed_index_is_refused(served: tuple[Path, str], body: bytes, fragment: str) -> None:
    root, url = served
    (root / "index.json").write_bytes(body)
    with pytest.raises(caw_lab.CawError) as info:
        registry.add_registry(url)
    assert info.value.code == "REGISTRY_INDEX_INVALID" and fragment in info.value.message
    assert registry.registries() == []
    (root / "index.json").unlink()
    with pytest.raises(caw_lab.CawError) as info:
        registry.add_registry(url)
    assert info.value.code == "REGISTRY_UNREACHABLE" and "404" in info.value.message


def hosted(root: Path, name: str, version: str, data: bytes, filename: str = "t.yaml") -> None:
    (root / filename).write_bytes(data)
    entry = {
        "name": name,
        "versions": [{"version": version, "url": filename, "sha256": hashlib.sha256(data).hexdigest()}],
    }
    (root / "index.json").write_text(json.dumps({"format": "caw-templates/1", "templates": [entry]}))


def test_a_name_that_walks_out_of_the_folder_is_refused(
    client: caw_lab.Client, served: tuple[Path, str], caw_home: Path, tmp_path: Path
) -> None:
    root, url = served
    hosted(root, "../../../evil", "1.0.0", b"name: ../../../evil\nversion: 1.0.0\ntasks:\n  - name: a\n")
    registry.add_registry(url)
    with pytest.raises(caw_lab.CawError) as info:
        registry.install(client.db, "../../../evil")
    assert info.value.code == "TEMPLATE_NAME_INVALID"
    assert not list(tmp_path.rglob("evil*"))


def test_hostile_and_mismatched_files_from_a_registry_are_refused(
    client: caw_lab.Client, served: tuple[Path, str], caw_home: Path
) -> None:
    root, url = served
    cases = [
        (b"name: x\nversion: 1.0.0\ntasks:\n  - name: \"{{ ''.__class__.__mro__ }}\"\n", "TEMPLATE_UNSAFE"),
        (b"name: x\nversion: 2.0.0\ntasks:\n  - name: a\n", "REGISTRY_INDEX_INVALID"),
        (b"name: x\nversion: 1.0.0\na: &a [1]\ntasks:\n  - name: *a\n", "TEMPLATE_INVALID"),
        (b"x" * (300 * 1024), "REGISTRY_INDEX_INVALID"),
    ]
    registry_added = False
    for data, code in cases:
        hosted(root, "x", "1.0.0", data)
        if not registry_added:
            registry.add_registry(url)
            registry_added = True
        with pytest.raises(caw_lab.CawError) as info:
            registry.install(client.db, "x")
        assert info.value.code == code, info.value.message
    assert not (caw_home / "templates").exists()


def test_a_published_version_cannot_be_republished_differently(
    client: caw_lab.Client, with_review: str, served: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = served
    index = (root / "index.json").read_bytes()
    again = registry.publish(client.db, "review@1.0.0", root, repository_path=str(tmp_path))
    assert again["published"] is False and (root / "index.json").read_bytes() == index
    with pytest.raises(caw_lab.CawError) as info:
        registry.publish(client.db, "review@1.1.0", root, version="1.0.0", repository_path=str(tmp_path))
    assert info.value.code == "VERSION_EXISTS" and (root / "index.json").read_bytes() == index


def test_the_cli_round_trip(served: tuple[Path, str], tmp_path: Path) -> None:
    root, url = served
    runner = CliRunner(env={"CAW_REPO_PATH": str(tmp_path)})

    def caw(*args: str) -> Result:
        return runner.invoke(main, ["--db", str(tmp_path / "w.db"), *args])

    assert caw("templates", "publish", "refactor", "--to", str(root)).exit_code == 0
    assert caw("templates", "registry", "add", url).exit_code == 0
    assert caw("templates", "registry", "list").stdout.strip() == url + "index.json"
    assert "refactor" in caw("templates", "search", "behaviour").stdout
    assert json.loads(caw("templates", "search", "behaviour", "--json").stdout)["templates"][0]["name"] == "refactor"
    installed = json.loads(caw("templates", "install", "refactor@^1").stdout)
    assert installed["path"].endswith("refactor@1.0.0.yaml")
    listing = caw("templates", "list", "--all")
    assert "file:global:refactor@1.0.0" in listing.stdout and "(shadows) refactor" in listing.stdout
    missing = caw("templates", "install", "nope")
    assert missing.exit_code == 1 and json.loads(missing.stderr)["code"] == "TEMPLATE_NOT_FOUND"
    assert caw("templates", "registry", "remove", url).exit_code == 0
    assert json.loads(caw("templates", "search", "x").stderr)["code"] == "NO_REGISTRIES"
