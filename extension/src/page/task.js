// A task's detail beside its workflow's DAG: plan, checkpoint timeline, the context an
// agent would load (with its token count) and the agent's log, live while it runs.
import { fill, h } from "../dom.js";
import { badge, errorNote, guarded, time } from "./ui.js";

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

  /** The moves the state machine allows from the task's status, as in the widget's panel
   * (which narrow screens hide). */
  const moves = (task) => {
    // A blocked task waits on its dependencies: every move would be refused, so none is offered.
    const allowed = task.status === "blocked" ? [] : ctx.config.transitions?.[task.status] || [];
    if (!allowed.length) return null;
    const select = h("select", { class: "caw-input", "aria-label": "New status" },
      allowed.map((s) => h("option", { value: s }, s.replace("_", " "))));
    const note = h("input", { class: "caw-input", placeholder: "outcome or error", "aria-label": "Outcome or error" });
    const result = h("span");
    return h("form", { class: "caw-move", onsubmit: async (event) => {
      event.preventDefault();
      const body = { status: select.value };
      if (select.value === "completed") body.outcome = note.value || undefined;
      if (select.value === "failed") body.error = note.value || undefined;
      try {
        await ctx.api.send("PUT", `/api/tasks/${taskId}/status`, body);
        fill(result);
      } catch (error) {
        fill(result, errorNote(error));
      }
    } }, select, note, h("button", { class: "caw-button", type: "submit" }, "Set status"), result);
  };

  const showTask = (task) => {
    fill(head, h("h2", {}, task.name), badge(task.status), h("code", { class: "caw-muted" }, ` ${task.id}`), moves(task),
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
    fill(timeline, list.length ? list.map((cp) => h("li", { dataset: { type: cp.checkpoint_type } },
      h("span", { class: "caw-muted" }, `${time(cp.created_at)} · ${cp.checkpoint_type}`), h("div", {}, cp.summary)))
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

  /** The latest attempt's log as ``task_logs`` returns it (its tail, when long). */
  const loadLog = async () => {
    const data = await ctx.api.get(`/api/tasks/${taskId}/logs`).catch(() => null);
    const text = data?.text || "";
    log.textContent = "";
    log.dataset.lines = "0";
    if (text) append(text.replace(/\n$/, "").split("\n"));
    else log.textContent = "No agent output yet.";
  };

  // The workflow's channel carries its tasks' agent:log lines; the workflow screen follows it.
  const offs = [
    ctx.live.on("agent:log", (data) => {
      if (data.task_id !== taskId) return;
      if (log.dataset.lines === "0") log.textContent = "";
      append(data.lines || [data]);
    }),
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
