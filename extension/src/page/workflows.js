// The workflow list: every workflow with its status and progress, refreshed when anything
// changes (the ``global`` channel).
import { fill, h } from "../dom.js";
import { badge, guarded, progressBar, throttle, time } from "./ui.js";

export function workflowsScreen(ctx, el) {
  const list = h("div", { class: "caw-cards", dataset: { list: "workflows" } });
  const status = h("select", { class: "caw-input", "aria-label": "Filter by status" },
    ["", "planning", "ready", "in_progress", "paused", "completed", "failed", "abandoned"].map((s) =>
      h("option", { value: s }, s ? s.replace("_", " ") : "all statuses")));
  fill(el, h("div", { class: "caw-title-row" }, h("h1", {}, "Workflows"), status,
    h("a", { class: "caw-button caw-primary", href: "#/new" }, "New workflow")), list);

  const load = async () => {
    const data = await guarded(list, () => ctx.api.get("/api/workflows", { status: status.value }));
    if (!data) return;
    const workflows = Array.isArray(data) ? data : data.workflows || [];
    if (!workflows.length) return fill(list, h("p", { class: "caw-empty" }, "No workflows yet."));
    fill(list, workflows.map((wf) =>
      h("a", { class: "caw-card", href: `#/workflows/${wf.id}`, dataset: { id: wf.id, status: wf.status } },
        h("div", { class: "caw-card-head" }, h("b", { class: "caw-card-name" }, wf.name), badge(wf.status)),
        progressBar(wf.completed_count || 0, wf.task_count || 0),
        h("div", { class: "caw-muted" }, `${wf.id} · updated ${time(wf.updated_at)}`))));
  };
  status.addEventListener("change", load);
  const refresh = throttle(load, 500);
  const offs = ["workflow:status", "task:updated"].map((type) => ctx.live.on(type, refresh));
  ctx.live.subscribe("global");
  load();
  return () => {
    offs.forEach((off) => off());
    ctx.live.unsubscribe("global");
  };
}
