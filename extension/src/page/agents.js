// Agents and how long ago each was last heard from; the ages tick every second and the list
// reloads when an agent registers, beats or leaves.
import { fill, h } from "../dom.js";
import { age } from "./plan.js";
import { badge, guarded, throttle } from "./ui.js";

export function agentsScreen(ctx, el) {
  const table = h("div", { class: "caw-cards", dataset: { list: "agents" } });
  fill(el, h("div", { class: "caw-title-row" }, h("h1", {}, "Agents")), table);
  let agents = [];
  let loadedAt = Date.now();

  const ages = () => {
    for (const cell of table.querySelectorAll("[data-heartbeat]")) {
      cell.textContent = `heartbeat ${age(Number(cell.dataset.heartbeat), Date.now())} ago`;
    }
  };
  const draw = () => {
    if (!agents.length) return fill(table, h("p", { class: "caw-empty" }, "No agents registered."));
    fill(table, agents.map((a) => h("div", { class: "caw-card", dataset: { id: a.id, status: a.status } },
      h("div", { class: "caw-card-head" }, h("b", {}, a.name), badge(a.stale ? "stale" : a.status)),
      h("div", { class: "caw-muted" }, [a.runtime, a.role, a.id].filter(Boolean).join(" · ")),
      a.current_task_id && a.workflow_id
        ? h("a", { href: `#/workflows/${a.workflow_id}/tasks/${a.current_task_id}` }, `working on ${a.current_task_id}`)
        : null,
      // The server's age is exact at load; the browser's clock may differ, so count from it.
      h("div", { class: "caw-heartbeat", dataset: { heartbeat: String(loadedAt - (a.heartbeat_age_ms ?? 0)) } }))));
    ages();
  };
  const load = async () => {
    const data = await guarded(table, () => ctx.api.get("/api/agents"));
    if (!data) return;
    loadedAt = Date.now();
    agents = Array.isArray(data) ? data : data.agents || [];
    draw();
  };
  const refresh = throttle(load, 500);
  const offs = ["agent:registered", "agent:heartbeat", "agent:unregistered"].map((t) => ctx.live.on(t, refresh));
  const timer = setInterval(ages, 1000);
  ctx.live.subscribe("global");
  load();
  return () => {
    offs.forEach((off) => off());
    clearInterval(timer);
    ctx.live.unsubscribe("global");
  };
}
