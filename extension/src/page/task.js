// A task's detail beside its workflow's DAG: plan, checkpoint timeline, the context an
// agent would load (with its token count) and the agent's log, live while it runs.
import { fill, h } from "../dom.js";
import { badge, guarded, time } from "./ui.js";

/** Lines of the log kept on screen; older ones stay readable through the REST route. */
const LOG_LINES = 2000;

export function taskDetail(ctx, el, taskId) {
  const head = h("div", { class: "caw-task-head" });
  const plan = h("div", { class: "caw-task-plan" });
  const timeline = h("ol", { class: "caw-timeline", dataset: { list: "checkpoints" } });
  const tokens = h("span", { class: "caw-tokens", dataset: { tokens: "" } });
  const context = h("pre", { class: "caw-context" });
  const log = h("pre", { class: "caw-log", dataset: { lines: "0" } });
  const section = (label, ...body) => h("section", { class: "caw-task-section" }, h("h3", {}, label), ...body);
  fill(el, head, section("Plan", plan), section("Checkpoints", timeline),
    section("Context ", tokens, h("details", {}, h("summary", {}, "Preview"), context)), section("Agent log", log));
  let closed = false;

  const showTask = (task) => {
    fill(head, h("h2", {}, task.name), badge(task.status), h("code", { class: "caw-muted" }, ` ${task.id}`),
      task.assigned_agent_id ? h("div", { class: "caw-muted" }, `agent ${task.assigned_agent_id}`) : null,
      task.outcome ? h("div", { class: "caw-outcome" }, task.outcome) : null,
      task.error ? h("div", { class: "caw-error" }, task.error) : null);
    const text = typeof task.plan === "string" ? task.plan : task.plan ? JSON.stringify(task.plan, null, 2) : "";
    fill(plan, task.plan_summary ? h("p", {}, task.plan_summary) : null,
      text ? h("pre", {}, text) : null, task.description ? h("p", { class: "caw-muted" }, task.description) : null,
      !text && !task.plan_summary && !task.description ? h("p", { class: "caw-muted" }, "No plan yet.") : null);
  };

  const loadCheckpoints = async () => {
    const data = await guarded(timeline, () => ctx.api.get(`/api/tasks/${taskId}/checkpoints`));
    const list = data ? (Array.isArray(data) ? data : data.checkpoints || []) : [];
    fill(timeline, list.length ? list.map((cp) => h("li", { dataset: { type: cp.type } },
      h("span", { class: "caw-muted" }, `${time(cp.created_at)} · ${cp.type}`), h("div", {}, cp.summary)))
      : h("li", { class: "caw-muted" }, "No checkpoints yet."));
  };

  const loadContext = async () => {
    const data = await guarded(context, () => ctx.api.get("/api/tools/task_load_context", { task_id: taskId }));
    if (!data) return;
    tokens.dataset.tokens = String(data.token_estimate ?? "");
    tokens.textContent = `≈ ${(data.token_estimate ?? 0).toLocaleString("en")} tokens`;
    context.textContent = JSON.stringify(data, null, 2);
  };

  const append = (lines) => {
    const text = lines.map((l) => (typeof l === "string" ? l : `${l.stream === "stderr" ? "! " : ""}${l.line ?? l.text ?? ""}`));
    const all = (log.textContent ? log.textContent.split("\n") : []).concat(text).slice(-LOG_LINES);
    log.textContent = all.join("\n");
    log.dataset.lines = String(all.length);
    log.scrollTop = log.scrollHeight;
  };

  const loadLog = async () => {
    const data = await ctx.api.get(`/api/tasks/${taskId}/logs`).catch(() => null);
    if (!data) return (log.textContent = "No agent output yet.");
    const lines = Array.isArray(data) ? data : data.lines || [];
    log.textContent = "";
    append(lines);
    if (!lines.length) log.textContent = "No agent output yet.";
  };

  const offs = [
    ctx.live.on("agent:log", (data) => {
      if (data.task_id !== taskId) return;
      if (log.dataset.lines === "0") log.textContent = "";
      append(data.lines || [data]);
    }),
    ctx.live.on("checkpoint:added", (data) => data.task_id === taskId && loadCheckpoints()),
  ];

  (async () => {
    const task = await guarded(head, () => ctx.api.get(`/api/tasks/${taskId}`));
    if (!task || closed) return;
    showTask(task);
    loadCheckpoints();
    loadContext();
    loadLog();
  })();

  return {
    taskChanged(task) {
      showTask(task);
      loadCheckpoints();
    },
    destroy() {
      closed = true;
      offs.forEach((off) => off());
    },
  };
}
