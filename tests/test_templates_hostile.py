"""Hostile templates are refused before they can cost anything, and nothing is written:
sandbox escapes at load time, oversized files before parsing, YAML alias bombs, deep
nesting, files linked from outside the folder, and names that would walk out of it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import caw_lab
from caw_lab.engine.templates import document, interpolation, registry
from tests.conftest import dump
from tests.test_templates_sources import git_repo

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ x.__init__.__globals__ }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__ }}",
    "{{ x|attr('__class__') }}",
    "{{ x['__class__'] }}",
    "{{ x[name] }}",
    "{{ x.upper() }}",
    "{{ range(10) }}",
    "{% include '/etc/passwd' %}",
    "{% import 'x' as y %}",
    "{% extends 'base' %}",
    "{% macro m() %}{% endmacro %}",
    "{{ 'a' * 1000000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ x|center(999999999) }}",
    "{{ x|map(attribute='__class__')|list }}",
    "{{ x|sort(attribute='__class__') }}",
    "{% for a in x %}{% for b in x %}{% for c in x %}{% endfor %}{% endfor %}{% endfor %}",
    "{{ x.gi_frame }}",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_sandbox_escapes_are_refused_at_load_time(client: caw_lab.Client, text: str) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("template_create", name="evil", template={"tasks": [{"name": "a", "description": text}]})
    assert info.value.code == "TEMPLATE_UNSAFE", info.value.message
    assert "tasks[0].description" in info.value.message and "sandbox" in info.value.message
    assert dump(client.db) == before


def test_what_a_template_may_do_still_renders() -> None:
    values = {"xs": ["a", "b"], "n": 2, "flag": True, "name": "api"}
    text = (
        "{% for x in xs %}{{ loop.index }}{{ x|upper }}{% endfor %} {{ n + 1 }} {{ n / 2 }} "
        "{{ 'y' if flag and n > 1 else 'n' }} {{ name ~ '-svc' }} {{ xs[0] }} {{ name|title }}"
        "{% set shout = name|upper %} {{ shout }}"
    )
    interpolation.check(text, "t")
    assert interpolation.render(text, values, "t") == "1A2B 3 1.0 y api-svc a Api API"


def test_rendering_is_capped() -> None:
    text = "{% for a in xs %}{% for b in xs %}{{ big }}{% endfor %}{% endfor %}"
    with pytest.raises(caw_lab.CawError) as info:
        interpolation.render(text, {"xs": ["x"] * 100, "big": "y" * 10_000}, "t")
    assert info.value.code == "TEMPLATE_RENDER_FAILED" and "more than" in info.value.message


@pytest.fixture
def repo(tmp_path: Path, allowed_roots: Path) -> Path:
    return git_repo(tmp_path / "project")


def folder(repo: Path) -> Path:
    path = repo / ".caw" / "templates"
    path.mkdir(parents=True, exist_ok=True)
    return path


def refused(client: caw_lab.Client, repo: Path, file: str, code: str, fragment: str) -> None:
    """The file is skipped with a warning when listing, and applying it is refused, writing nothing."""
    listing = client.call("template_list", repository_path=str(repo))
    assert not [t for t in listing["templates"] if t["source"] == "file:repo"]
    assert any(file in w and fragment in w for w in listing["warnings"]), listing["warnings"]
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(
            "template_apply", template_id=f"file:repo:{Path(file).stem}", workflow_name="w", repository_path=str(repo)
        )
    assert info.value.code == "TEMPLATE_NOT_FOUND"
    with pytest.raises(caw_lab.CawError) as info:
        document.load(document.parse(document.read_bytes(folder(repo) / file), "yaml", file), file)
    assert info.value.code == code
    assert dump(client.db) == before


def test_an_escape_in_a_repository_file_is_refused(client: caw_lab.Client, repo: Path) -> None:
    (folder(repo) / "evil.yaml").write_text("name: evil\ntasks:\n  - name: \"{{ ''.__class__.__mro__ }}\"\n")
    refused(client, repo, "evil.yaml", "TEMPLATE_UNSAFE", "sandbox")


def test_a_ten_megabyte_file_is_refused_before_parsing(client: caw_lab.Client, repo: Path) -> None:
    with (folder(repo) / "huge.yaml").open("w") as f:
        f.write("name: huge\ntasks:\n  - name: a\n    description: '")
        f.write("x" * (10 * 1024 * 1024))
        f.write("'\n")
    started = time.perf_counter()
    refused(client, repo, "huge.yaml", "TEMPLATE_TOO_LARGE", "over the")
    assert time.perf_counter() - started < 30  # generous: what matters is that nothing parsed 10 MB
    with pytest.raises(caw_lab.CawError) as info:
        document.parse(b"x" * (document.MAX_TEMPLATE_BYTES + 1), "json", "upload")
    assert info.value.code == "TEMPLATE_TOO_LARGE"


BOMB = """name: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
tasks:
  - name: *i
"""


def test_a_yaml_alias_bomb_is_refused(client: caw_lab.Client, repo: Path) -> None:
    (folder(repo) / "bomb.yaml").write_text(BOMB)
    refused(client, repo, "bomb.yaml", "TEMPLATE_INVALID", "aliases")


def test_even_a_harmless_alias_is_refused(client: caw_lab.Client, repo: Path) -> None:
    (folder(repo) / "alias.yaml").write_text("name: alias\ntasks:\n  - &t {name: a}\n  - *t\n")
    refused(client, repo, "alias.yaml", "TEMPLATE_INVALID", "aliases")


def test_deep_nesting_is_refused(client: caw_lab.Client, repo: Path) -> None:
    (folder(repo) / "deep.yaml").write_text("name: deep\ntasks: " + "[" * 50_000 + "]" * 50_000 + "\n")
    refused(client, repo, "deep.yaml", "TEMPLATE_INVALID", "nest")
    block = "".join(f"{'  ' * i}- \n" for i in range(40))  # block style: nesting by indentation
    with pytest.raises(caw_lab.CawError, match="more than 32 levels"):
        document.parse("tasks:\n" + block, "yaml", "block")
    with pytest.raises(caw_lab.CawError, match="nested too deeply"):
        document.parse("[" * 50_000 + "]" * 50_000, "json", "json")


def test_a_file_linked_from_outside_the_folder_is_refused(client: caw_lab.Client, repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("name: secret\ntasks:\n  - name: a\n")
    (folder(repo) / "secret.yaml").symlink_to(outside)
    listing = client.call("template_list", repository_path=str(repo))
    assert "secret" not in {t["name"] for t in listing["templates"]}
    assert any("secret.yaml" in w and "not a file inside" in w for w in listing["warnings"])


@pytest.mark.parametrize("name", ["../../evil", "a/b", "..", ".hidden", "x\\y", ""])
def test_names_that_would_leave_the_folder_cannot_become_files(name: str) -> None:
    with pytest.raises(caw_lab.CawError) as info:
        document.check_slug(name)
    assert info.value.code == "TEMPLATE_NAME_INVALID"


def test_publishing_a_template_whose_name_walks_out_writes_nothing(
    client: caw_lab.Client, tmp_path: Path, allowed_roots: Path
) -> None:
    client.call("template_create", name="../../escape", template={"tasks": [{"name": "a"}]})
    out = tmp_path / "registry" / "deep"
    with pytest.raises(caw_lab.CawError) as info:
        registry.publish(client.db, "../../escape", out, repository_path=str(tmp_path))
    assert info.value.code == "TEMPLATE_NAME_INVALID"
    assert not (tmp_path / "registry").exists() and not (tmp_path / "escape").exists()


def test_names_with_version_separators_or_control_characters_are_refused(client: caw_lab.Client) -> None:
    for name in ("a@1", "tab\there"):
        with pytest.raises(caw_lab.CawError) as info:
            client.call("template_create", name=name, template={"tasks": [{"name": "a"}]})
        assert info.value.code == "TEMPLATE_INVALID"


def test_folders_outside_the_users_roots_are_refused(client: caw_lab.Client, repo: Path, tmp_path: Path) -> None:
    """A client names which repository's templates to read; it cannot name one outside the
    roots the user allows (CAW_ALLOWED_ROOTS here is the test's folder)."""
    for call in (
        lambda: client.call("template_list", repository_path="/etc"),
        lambda: client.call("template_get", template_id="x", repository_path="/"),
        lambda: registry.publish(client.db, "bugfix", Path("/tmp/../etc/caw-registry")),
    ):
        with pytest.raises(caw_lab.CawError) as info:
            call()
        assert info.value.code == "PATH_OUTSIDE_ROOTS"
    assert not Path("/etc/caw-registry").exists()
