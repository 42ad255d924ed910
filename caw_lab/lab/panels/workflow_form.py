"""Create a workflow (from a prompt or a template) and edit the selected one's plan and
parallelism, with what is wrong shown next to the field that needs fixing."""

from __future__ import annotations

from collections.abc import Callable
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


def note(text: str = "") -> widgets.HTML:
    return widgets.HTML(f"<span style='color:#57606a; font-size:11px'>{escape(text)}</span>")


VARIABLE_ERRORS = ("MISSING_VARIABLES", "INVALID_VARIABLES", "UNKNOWN_VARIABLES")


def describe(spec: dict[str, Any]) -> str:
    """The line under a variable's input: its type, choices, whether required, its default."""
    kind = spec.get("type") or "string"
    detail = {"enum": f" ({', '.join(spec.get('values') or [])})", "pattern": f" /{spec.get('pattern')}/"}
    default = f", default {spec['default']!r}" if spec.get("default") is not None else ""
    return f"{kind}{detail.get(kind, '')}{', required' if spec.get('required') else ''}{default}"


class VariableField(widgets.VBox):
    """One typed variable: an input fitting its type, a line saying its type and default, and
    the problem with its value (``show``), which the form asks the template about as it is typed."""

    def __init__(self, spec: dict[str, Any], on_change: Callable[[VariableField], None]) -> None:
        self.spec = spec
        label = spec["name"] + (" *" if spec.get("required") else "")
        self.input = self.input_for(spec, label)
        self.about = note(" - ".join(filter(None, [describe(spec), spec.get("description")])))
        self.hint = hint()
        super().__init__([self.input, self.about, self.hint])
        self.input.observe(lambda _: on_change(self), "value")

    @staticmethod
    def input_for(spec: dict[str, Any], label: str) -> widgets.ValueWidget:
        default = spec.get("default")
        if spec["type"] == "bool":
            return widgets.Checkbox(value=bool(default), description=label, indent=False)
        if spec["type"] == "enum":
            options = ([] if spec.get("required") else [""]) + list(spec.get("values") or [])
            return widgets.Dropdown(options=options, value=default if default in options else options[0],
                                    description=label, layout=FIELD)
        shown = ", ".join(default) if isinstance(default, list) else "" if default is None else str(default)
        return widgets.Text(value=shown, description=label, placeholder=spec.get("description") or "",
                            continuous_update=True, layout=FIELD)

    def given(self) -> bool:
        value = self.input.value
        return not (value is None or (isinstance(value, str) and not value.strip()))

    def show(self, problem: str | None) -> None:
        self.hint.value = hint(problem).value if problem else ""

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
        """The chosen template's variables, its parents' included (resolved)."""
        chosen = self.templates.get(self.template.value or "")
        self.source.layout.display = "none" if chosen else None
        self.variables.children = []
        if chosen:
            try:
                resolved = self.client.call("template_get", template_id=chosen["id"], resolved=True)
            except CawError as err:
                self.message.value = error_html(err)
                return
            self.variables.children = [VariableField(s, self.field_changed) for s in resolved["template"]["variables"]]

    def values(self) -> dict[str, Any]:
        return {f.spec["name"]: f.input.value for f in self.variables.children if f.given()}

    def problems(self) -> dict[str, str]:
        """Each variable's problem, as template_apply sees it in a dry run (writing nothing)."""
        try:
            self.client.call("template_apply", template_id=self.template.value, variables=self.values(),
                             workflow_name=self.name.value.strip() or "(check)", dry_run=True)
        except CawError as err:
            if err.code not in VARIABLE_ERRORS:
                raise
            missing = {n: f"{n} is required by this template" for n in err.details.get("missing", [])}
            return {**missing, **err.details.get("invalid", {})}
        return {}

    def field_changed(self, field: VariableField) -> None:
        """Say what is wrong with the value just typed, at once."""
        try:
            field.show(self.problems().get(field.spec["name"]))
        except CawError as err:
            self.message.value = error_html(err)

    def submit(self) -> str | None:
        """Create the workflow; returns its id, or None when a field needs fixing first."""
        name = self.name.value.strip()
        self.name_hint.value = "" if name else hint("Give the workflow a name").value
        try:
            fields_ok = self.check_fields()
        except CawError as err:
            self.message.value = error_html(err)
            return None
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

    def check_fields(self) -> bool:
        """Every field shows its own problem; True when there is none."""
        if not self.variables.children:
            return True
        problems = self.problems()
        for field in self.variables.children:
            field.show(problems.get(field.spec["name"]))
        return not problems

    def create_workflow(self, name: str) -> str:
        if self.template.value:
            applied = self.client.call("template_apply", template_id=self.template.value, workflow_name=name,
                                       variables=self.values(), max_parallel_tasks=self.parallel.value)
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
            self.plan_said = widgets.HTML(layout={"width": "100%", "min_width": "0"})
            self.plan_said.add_class("caw-plan-said")
            set_plan.on_click(lambda _: self.attempt_plan(plan.value))
            parts += [plan, self.plan_said, set_plan]
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
        """What is wrong with a plan shows right under the plan box, its lines kept."""
        try:
            self.client.call("workflow_set_plan", id=self.workflow_id, plan=parse_plan(text))
        except CawError as err:
            self.plan_said.value = error_html(err)
            return False
        self.plan_said.value = "<span style='color:#2e7d32'>Plan set.</span>"
        return True

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "template.") or any(
            e.get("workflow_id") == self.workflow_id and str(e.get("kind")).startswith("workflow.") for e in events
        )

    def describe(self) -> str:
        return f"editing {self.workflow['name']}" if self.workflow else "new workflow"
