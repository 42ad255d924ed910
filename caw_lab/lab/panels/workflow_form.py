"""Create a workflow (from a prompt or a template) and edit the selected one's plan and
parallelism, with what is wrong shown next to the field that needs fixing."""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from caw_lab.errors import CawError
from caw_lab.lab.panels.base import Panel, kinds_start
from caw_lab.lab.plan_yaml import EXAMPLE, parse_plan
from caw_lab.lab.render import badge, error_html
from caw_lab.tools.client import Client

NO_TEMPLATE = "(none: from a prompt)"
FIELD = {"width": "auto", "max_width": "100%", "flex": "1 1 auto"}
FINAL_STATES = ("completed", "abandoned")


def hint(text: str = "") -> widgets.HTML:
    return widgets.HTML(f"<span style='color:#c62828; font-size:12px'>{escape(text)}</span>")


def variable_specs(template: dict[str, Any]) -> list[dict[str, Any]]:
    """A template's variables as dicts, whether it declared names or full specs."""
    specs = (template.get("template") or {}).get("variables") or []
    return [{"name": v, "required": True} if isinstance(v, str) else dict(v) for v in specs]


class VariableField(widgets.VBox):
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        mark = " *" if spec.get("required", True) and spec.get("default") is None else ""
        self.input = widgets.Text(value=spec.get("default") or "", description=spec["name"] + mark,
                                  placeholder=spec.get("description") or "", layout=FIELD)
        self.hint = hint()
        super().__init__([self.input, self.hint])

    def check(self) -> bool:
        missing = not self.input.value.strip() and self.spec.get("required", True) and self.spec.get("default") is None
        self.hint.value = hint(f"{self.spec['name']} is required by this template").value if missing else ""
        return not missing

    def __repr__(self) -> str:
        return f"<caw_lab VariableField: {self.spec['name']}>"


class WorkflowForm(Panel):
    """``created`` holds the id of the last workflow made here; set ``workflow_id`` to edit one."""

    title = "New / edit workflow"
    created = Unicode(None, allow_none=True)
    workflow_id = Unicode(None, allow_none=True)

    def __init__(self, client: Client, workflow_id: str | None = None, **kwargs: Any) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.workflow: dict[str, Any] = {}
        self.name = widgets.Text(description="Name", placeholder="Fix the login bug", layout=FIELD)
        self.name_hint = hint()
        self.source = widgets.Textarea(description="Source", placeholder="The prompt or issue text", layout=FIELD)
        self.template = widgets.Dropdown(description="Template", layout=FIELD)
        self.variables = widgets.VBox()
        self.parallel = widgets.BoundedIntText(1, min=1, max=1000, description="Parallel", layout={"width": "160px"})
        self.create = widgets.Button(description="Create workflow", button_style="success", icon="plus")
        self.message = widgets.HTML()
        self.edit = widgets.VBox()
        super().__init__(client, **kwargs)
        self.body.children = [self.name, self.name_hint, self.source, self.template, self.variables,
                              widgets.HBox([self.parallel, self.create], layout={"flex_flow": "row wrap"}),
                              self.message, self.edit]
        self.template.observe(lambda _: self.show_variables(), "value")
        self.create.on_click(lambda _: self.submit())
        self.workflow_id = workflow_id
        self.observe(lambda _: self.refresh(), "workflow_id")
        self.refresh()

    def draw(self) -> None:
        self.templates = {t["id"]: t for t in self.client.call("template_list")["templates"]}
        options = [(NO_TEMPLATE, "")] + [(t["name"], t["id"]) for t in self.templates.values()]
        if tuple(options) != tuple(self.template.options):
            keep = self.template.value if self.template.value in self.templates else ""
            self.template.options = options
            self.template.value = keep
        self.workflow = self.client.call("workflow_get", id=self.workflow_id) if self.workflow_id else {}
        self.edit.children = self.edit_widgets() if self.workflow else []

    def show_variables(self) -> None:
        chosen = self.templates.get(self.template.value or "")
        self.variables.children = [VariableField(s) for s in variable_specs(chosen)] if chosen else []
        self.source.layout.display = "none" if chosen else None

    def submit(self) -> str | None:
        """Create the workflow; returns its id, or None when a field needs fixing first."""
        name = self.name.value.strip()
        self.name_hint.value = "" if name else hint("Give the workflow a name").value
        checked = [f.check() for f in self.variables.children]  # every field, so each shows its own hint
        fields_ok = all(checked)
        if not name or not fields_ok:
            self.message.value = ""
            return None
        try:
            wf_id = self.create_workflow(name)
        except CawError as err:
            self.message.value = error_html(err)
            return None
        self.message.value = f"<span style='color:#2e7d32'>Created {escape(name)} ({escape(wf_id)})</span>"
        self.created = wf_id
        return wf_id

    def create_workflow(self, name: str) -> str:
        if self.template.value:
            values = {f.spec["name"]: f.input.value for f in self.variables.children if f.input.value.strip()}
            applied = self.client.call("template_apply", template_id=self.template.value, workflow_name=name,
                                       variables=values, max_parallel_tasks=self.parallel.value)
            return str(applied["workflow_id"])
        created = self.client.call("workflow_create", name=name, source_type="prompt",
                                   source_content=self.source.value.strip() or name,
                                   max_parallel_tasks=self.parallel.value)
        return str(created["id"])

    def edit_widgets(self) -> list[widgets.Widget]:
        wf = self.workflow
        head = widgets.HTML(f"<hr style='margin:6px 0'><b>Edit {escape(wf['name'])}</b> {badge(wf['status'])}")
        if wf["status"] in FINAL_STATES:
            return [head, widgets.HTML("<i>This workflow is finished; nothing left to edit.</i>")]
        parallel = widgets.BoundedIntText(wf["max_parallel_tasks"], min=1, max=1000, description="Parallel",
                                          layout={"width": "160px"})
        save = widgets.Button(description="Save parallelism", icon="save")
        save.on_click(
            lambda _: self.attempt("workflow_set_parallelism", id=wf["id"], max_parallel_tasks=parallel.value)
        )
        parts: list[widgets.Widget] = [head, widgets.HBox([parallel, save], layout={"flex_flow": "row wrap"})]
        if wf["status"] == "planning":
            plan = widgets.Textarea(placeholder=EXAMPLE, description="Plan", layout={**FIELD, "height": "140px"})
            set_plan = widgets.Button(description="Set plan", button_style="primary", icon="sitemap")
            set_plan.on_click(lambda _: self.attempt_plan(plan.value))
            parts += [plan, set_plan]
        return parts

    def attempt(self, tool: str, **params: Any) -> bool:
        try:
            self.client.call(tool, **params)
        except CawError as err:
            self.message.value = error_html(err)
            return False
        self.message.value = "<span style='color:#2e7d32'>Saved.</span>"
        return True

    def attempt_plan(self, text: str) -> bool:
        try:
            plan = parse_plan(text)
        except CawError as err:
            self.message.value = error_html(err)
            return False
        return self.attempt("workflow_set_plan", id=self.workflow_id, plan=plan)

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "template.") or any(
            e.get("workflow_id") == self.workflow_id and str(e.get("kind")).startswith("workflow.") for e in events
        )

    def describe(self) -> str:
        return f"editing {self.workflow['name']}" if self.workflow else "new workflow"
