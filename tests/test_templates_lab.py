"""Templates in the notebook: ``%caw new NAME --template T --var k=v`` with typed values and
version ranges, and the Workbench form showing each variable's type, default and problem
as the value is typed."""

from __future__ import annotations

import ipywidgets as widgets
from IPython.core.interactiveshell import InteractiveShell

import caw_lab
from caw_lab.lab.panels.workflow_form import WorkflowForm
from tests.conftest import dump
from tests.test_magics import ip, run, shown_html

__all__ = ["ip"]  # the shell fixture, shared with test_magics

TYPED = {
    "variables": [
        {"name": "title", "required": True, "description": "What to do"},
        {"name": "count", "type": "int", "default": 2},
        {"name": "env", "type": "enum", "values": ["dev", "prod"], "default": "dev"},
        {"name": "urgent", "type": "bool", "default": False},
        {"name": "files", "type": "list", "default": ["a.py"]},
    ],
    "tasks": [{"name": "{{ title }} x{{ count }} {{ env }}{{ ' !' if urgent else '' }} {{ files | join('+') }}"}],
}


def test_new_applies_a_builtin_by_range_with_typed_vars(ip: InteractiveShell, client: caw_lab.Client) -> None:
    wf, _ = run(ip, "new Cut 2.0 --template release@^1 --var version=2.0.0 --var prerelease=yes")
    assert wf["template_version"] == "1.0.0" and wf["template_source"] == "builtin"
    tasks = client.call("workflow_get", id=wf["workflow_id"], include_tasks=True)["tasks"]
    assert "Mark it as a pre-release" in tasks[4]["description"]
    before = dump(client.db)
    value, out = run(ip, "new Cut it --template release --var version=two")
    assert value is None and "version must match the pattern" in shown_html(out)
    assert dump(client.db) == before


def fields(form: WorkflowForm) -> dict[str, widgets.Widget]:
    return {f.spec["name"]: f for f in form.variables.children}


def test_the_form_shows_types_defaults_and_problems_as_they_are_typed(client: caw_lab.Client) -> None:
    client.call("template_create", name="typed", template=TYPED)
    form = WorkflowForm(client)
    form.template.label = "typed"
    shown = fields(form)
    assert list(shown) == ["title", "count", "env", "urgent", "files"]
    assert isinstance(shown["env"].input, widgets.Dropdown) and shown["env"].input.options == ("", "dev", "prod")
    assert isinstance(shown["urgent"].input, widgets.Checkbox)
    assert shown["count"].input.value == "2" and shown["files"].input.value == "a.py"
    assert "int, default 2" in shown["count"].about.value
    assert "string, required - What to do" in shown["title"].about.value
    assert shown["title"].input.description == "title *"
    shown["count"].input.value = "two"  # as typed: no click needed to see the problem
    assert "count must be an integer (got &#x27;two&#x27;)" in shown["count"].hint.value
    shown["count"].input.value = "3"
    assert shown["count"].hint.value == ""
    form.name.value = "Typed"
    before = dump(client.db)
    assert form.submit() is None and "title is required" in shown["title"].hint.value
    assert dump(client.db) == before
    shown["title"].input.value = "Ship"
    shown["env"].input.value = "prod"
    shown["urgent"].input.value = True
    shown["files"].input.value = "a.py, b.py"
    wf_id = form.submit()
    assert wf_id is not None
    task = client.call("workflow_get", id=wf_id, include_tasks=True)["tasks"][0]
    assert task["name"] == "Ship x3 prod ! a.py+b.py"
