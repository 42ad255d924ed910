// Create a workflow, or edit one: the form (name, description, parallelism) and the plan
// editor, checked as the person types; the server's refusal, if any, is shown as it came.
// A workflow that has tasks already is replanned (workflow_replan keeps the work done and
// asks why); one without gets its first plan (workflow_set_plan).
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
  const reason = h("input", { class: "caw-input", name: "reason", maxlength: 500,
    placeholder: "why the plan changes (kept in its history)" });
  const plan = h("textarea", { class: "caw-input caw-plan-editor", name: "plan", rows: 14, spellcheck: "false",
    "aria-label": "Plan (JSON)" });
  const problems = h("ul", { class: "caw-problems", "aria-live": "polite", dataset: { count: "0" } });
  const notice = h("div");
  const submit = h("button", { class: "caw-button caw-primary", type: "submit" }, workflowId ? "Save" : "Create");
  const reasonField = field("Reason", reason);
  reasonField.hidden = true;
  const form = h("form", { class: "caw-editor", onsubmit: (event) => {
    event.preventDefault();
    save();
  } },
  h("div", { class: "caw-form-grid" }, workflowId ? null : field("Name", name),
    workflowId ? null : field("Description", source), field("Parallel tasks", parallel)),
  field("Plan", plan), reasonField, problems, notice, h("div", {}, submit));
  fill(el, h("div", { class: "caw-title-row" }, h("h1", {}, workflowId ? "Edit workflow" : "New workflow"),
    workflowId ? h("a", { href: `#/workflows/${workflowId}` }, "back") : null), form);

  const check = () => {
    const { errors } = validatePlan(plan.value);
    if (!reasonField.hidden && plan.value !== saved.text && !reason.value.trim()) {
      errors.push("Say why the plan changes (Reason).");
    }
    problems.dataset.count = String(errors.length);
    fill(problems, errors.map((e) => h("li", {}, e)));
    submit.disabled = errors.length > 0;
    return errors.length === 0;
  };
  plan.addEventListener("input", check);
  reason.addEventListener("input", check);

  let id = workflowId;
  let saved = { parallel: null, text: null, planned: false };
  const savePlan = async (parsed) => {
    if (!parsed.tasks.length || plan.value === saved.text) return;
    if (saved.planned) {
      await ctx.api.send("POST", "/api/tools/workflow_replan", { workflow_id: id,
        plan: { ...parsed, summary: parsed.summary || "", reason: reason.value.trim() } });
    } else {
      await ctx.api.send("PUT", `/api/workflows/${id}/plan`, { plan: parsed });
    }
  };
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
        saved.parallel = parallel.value;
      }
      if (parallel.value !== saved.parallel) {
        await ctx.api.send("POST", "/api/tools/workflow_set_parallelism", { id,
          max_parallel_tasks: Number(parallel.value) || 1 });
      }
      await savePlan(parsed);
      ctx.go(`#/workflows/${id}`);
    } catch (error) {
      // Created but the plan refused: the workflow exists, so the next save sends the plan only.
      fill(notice, errorNote(error), id && !workflowId ? h("a", { href: `#/workflows/${id}` }, "Open the workflow") : null);
    } finally {
      submit.disabled = false;
    }
  };

  if (workflowId) {
    ctx.api.get(`/api/workflows/${workflowId}`).then((wf) => {
      const tasks = wf.tasks || [];
      plan.value = planText(wf, tasks);
      parallel.value = String(wf.max_parallel_tasks || 1);
      saved = { parallel: parallel.value, text: plan.value, planned: tasks.length > 0 };
      reasonField.hidden = !saved.planned;
      check();
    }).catch((error) => fill(notice, errorNote(error)));
  } else {
    plan.value = JSON.stringify(EXAMPLE, null, 2);
    check();
  }
  return null;
}
