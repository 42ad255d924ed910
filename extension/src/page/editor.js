// Create a workflow, or edit one: the form (name, description, parallelism) and the plan
// editor, checked as the person types; the server's refusal, if any, is shown as it came.
import { fill, h } from "../dom.js";
import { planText, validatePlan } from "./plan.js";
import { errorNote } from "./ui.js";

const EXAMPLE = { summary: "", tasks: [{ name: "design" }, { name: "build", depends_on: ["design"] },
  { name: "test", depends_on: ["build"] }] };

export function editorScreen(ctx, el, workflowId) {
  const field = (label, input) => h("label", { class: "caw-field" }, h("span", {}, label), input);
  const name = h("input", { class: "caw-input", name: "name", required: true, maxlength: 200 });
  const source = h("textarea", { class: "caw-input", name: "source_content", rows: 3, required: true });
  const parallel = h("input", { class: "caw-input", name: "max_parallel_tasks", type: "number", min: 1, value: 1 });
  const plan = h("textarea", { class: "caw-input caw-plan-editor", name: "plan", rows: 14, spellcheck: "false",
    "aria-label": "Plan (JSON)" });
  const problems = h("ul", { class: "caw-problems", "aria-live": "polite", dataset: { count: "0" } });
  const notice = h("div");
  const submit = h("button", { class: "caw-button caw-primary", type: "submit" }, workflowId ? "Save plan" : "Create");
  const form = h("form", { class: "caw-editor", onsubmit: (event) => {
    event.preventDefault();
    save();
  } },
  workflowId ? null : h("div", { class: "caw-form-grid" }, field("Name", name), field("Description", source),
    field("Parallel tasks", parallel)),
  field("Plan", plan), problems, notice, h("div", {}, submit));
  fill(el, h("div", { class: "caw-title-row" }, h("h1", {}, workflowId ? "Edit plan" : "New workflow"),
    workflowId ? h("a", { href: `#/workflows/${workflowId}` }, "back") : null), form);

  const check = () => {
    const { errors } = validatePlan(plan.value);
    problems.dataset.count = String(errors.length);
    fill(problems, errors.map((e) => h("li", {}, e)));
    submit.disabled = errors.length > 0;
    return errors.length === 0;
  };
  plan.addEventListener("input", check);

  let id = workflowId;
  const save = async () => {
    if (!check()) return;
    const { plan: parsed } = validatePlan(plan.value);
    fill(notice);
    submit.disabled = true;
    try {
      if (!id) {
        const created = await ctx.api.send("POST", "/api/workflows", { name: name.value, source_type: "prompt",
          source_content: source.value, max_parallel_tasks: Number(parallel.value) || 1 });
        id = created.id;
      }
      if (parsed.tasks.length) await ctx.api.send("PUT", `/api/workflows/${id}/plan`, { plan: parsed });
      ctx.go(`#/workflows/${id}`);
    } catch (error) {
      // Created but the plan refused: the workflow exists, so the next save sends the plan only.
      fill(notice, errorNote(error), id && !workflowId ? h("a", { href: `#/workflows/${id}` }, "Open the workflow") : null);
    } finally {
      submit.disabled = false;
    }
  };

  if (workflowId) {
    Promise.all([ctx.api.get(`/api/workflows/${workflowId}`), ctx.api.get(`/api/workflows/${workflowId}/tasks`)])
      .then(([wf, data]) => {
        plan.value = planText(wf, Array.isArray(data) ? data : data.tasks || []);
        check();
      }).catch((error) => fill(notice, errorNote(error)));
  } else {
    plan.value = JSON.stringify(EXAMPLE, null, 2);
    check();
  }
  return null;
}
