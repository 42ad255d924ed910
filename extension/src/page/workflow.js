// One workflow: its header (status, progress, run/suspend/resume, edit), who else is viewing
// it, the DAG — the notebook widget's own DagView, fed from the REST API and the WebSocket
// instead of a kernel — and the selected task's detail.
import { DagView } from "../dag-view.js";
import { fill, h } from "../dom.js";
import { graphOf, rowOf, columnsOf } from "./plan.js";
import { taskDetail } from "./task.js";
import { badge, errorNote, guarded, progressBar, throttle } from "./ui.js";

/** The widget's edits (extension/src/panel.js, dag-view.js) as REST calls, as
 * caw_lab/lab/dag_widget.py maps them onto tools. */
const EDITS = {
  add_task: (wf, a) => ["POST", "/api/tools/workflow_add_task", { workflow_id: wf, ...a }, `Added task "${a.name}"`],
  add_dependency: (wf, a) => ["POST", "/api/tools/task_add_dependency", a, "Dependency added"],
  remove_dependency: (wf, a) => ["POST", "/api/tools/task_remove_dependency", a, "Dependency removed"],
  set_status: (wf, a) => ["PUT", `/api/tasks/${a.id}/status`, { status: a.status, outcome: a.outcome, error: a.error },
    `Now ${a.status}`],
  retry: (wf, a) => ["PUT", `/api/tasks/${a.id}/status`, { status: "pending" }, "Will be retried"],
};

/** Button, label, tool, and the workflow statuses it is offered in. */
const ACTIONS = [
  ["run", "Run", "workflow_start", ["ready", "planning", "failed"]],
  ["suspend", "Suspend", "workflow_suspend", ["in_progress"]],
  ["resume", "Resume", "workflow_resume", ["paused"]],
];

export function workflowScreen(ctx, el, workflowId, taskId) {
  const started = performance.now();
  const title = h("h1", { class: "caw-wf-name" }, "…");
  const state = h("span");
  const progress = h("div", { class: "caw-wf-progress" });
  const notice = h("div", { class: "caw-notice" });
  const viewers = h("ul", { class: "caw-viewers", "aria-label": "Viewing now", dataset: { count: "0" } });
  const buttons = ACTIONS.map(([name, label, tool]) => h("button", { class: "caw-button",
    dataset: { action: name }, onclick: () => act(tool, label) }, label));
  const editLink = h("a", { class: "caw-button", href: `#/workflows/${workflowId}/edit` }, "Edit");
  const dagBox = h("section", { class: "caw-dag-box" });
  const side = h("section", { class: "caw-side" });
  fill(el,
    h("div", { class: "caw-title-row" }, title, state, h("span", { class: "caw-spacer" }), ...buttons, editLink),
    progress,
    h("div", { class: "caw-viewers-row" }, h("span", { class: "caw-muted" }, "Viewing: "), viewers),
    notice,
    h("div", { class: "caw-wf-body" }, dagBox, side));

  let workflow = null;
  let tasks = new Map();
  let selected = taskId || "";
  let detail = null;
  const height = () => (window.innerWidth < 700 ? 380 : Math.max(420, Math.min(640, window.innerHeight - 260)));

  const kernel = {
    async edit(action, args) {
      const [method, path, body, done] = EDITS[action](workflowId, args);
      try {
        await ctx.api.send(method, path, body);
        refreshTasks();
        return { ok: true, message: done, code: "" };
      } catch (error) {
        return { ok: false, message: error.message, code: error.code };
      }
    },
    async describe(id) {
      const data = await ctx.api.get(`/api/tasks/${id}/checkpoints`).catch(() => null);
      const list = data ? (Array.isArray(data) ? data : data.checkpoints || []) : [];
      const cp = list[list.length - 1];
      view.describe({ id, checkpoint: cp ? { type: cp.checkpoint_type, summary: cp.summary, created_at: cp.created_at } : null });
    },
    select(id) {
      const hash = id ? `#/workflows/${workflowId}/tasks/${id}` : `#/workflows/${workflowId}`;
      if (location.hash !== hash) history.replaceState(null, "", hash);
      showTask(id);
    },
  };
  const view = new DagView(dagBox, kernel, { height: height(), transitions: ctx.config.transitions || {}, started });

  const showHeader = () => {
    title.textContent = workflow.name;
    fill(state, badge(workflow.status));
    const done = [...tasks.values()].filter((t) => t.status === "completed" || t.status === "skipped").length;
    fill(progress, progressBar(done, tasks.size));
    for (const button of buttons) {
      const allowed = ACTIONS.find(([name]) => name === button.dataset.action)[3];
      button.disabled = !allowed.includes(workflow.status);
    }
    view.setWorkflow({ id: workflow.id, name: workflow.name, status: workflow.status });
  };

  const act = async (tool, label) => {
    fill(notice);
    try {
      await ctx.api.send("POST", `/api/tools/${tool}`, { workflow_id: workflowId });
      fill(notice, h("div", { class: "caw-info" }, `${label}: done`));
      const wf = await ctx.api.get(`/api/workflows/${workflowId}`);
      workflow.status = wf.status;
      showHeader();
    } catch (error) {
      fill(notice, errorNote(error));
    }
  };

  const setTasks = (list) => {
    tasks = new Map(list.map((t) => [t.id, t]));
    const graph = graphOf(list);
    view.load({ id: workflowId, name: workflow?.name || workflowId, status: workflow?.status || "" },
      graph.tasks, graph.edges, (view.rev || 0) + 1);
    if (workflow) showHeader();
    if (selected) view.select(selected, true);
  };

  /** The workflow with its tasks, one request (the route includes them). */
  const loadWorkflow = async () => {
    const wf = await guarded(notice, () => ctx.api.get(`/api/workflows/${workflowId}`));
    if (!wf) return;
    const { tasks: list, ...rest } = wf;
    workflow = rest;
    if (list) setTasks(list);
    else await loadTasks();
    showHeader();
  };

  const loadTasks = async () => {
    const data = await guarded(notice, () => ctx.api.get(`/api/workflows/${workflowId}/tasks`));
    if (data) setTasks(Array.isArray(data) ? data : data.tasks || []);
  };
  const refreshTasks = throttle(loadTasks, 300);

  /** One task changed: redraw just it, as the widget's deltas do. */
  const taskChanged = async (data) => {
    if (data.workflow_id && data.workflow_id !== workflowId) return;
    const task = await ctx.api.get(`/api/tasks/${data.id}`).catch(() => null);
    if (!task) return refreshTasks();
    const known = tasks.has(task.id);
    const same = known && String(tasks.get(task.id).depends_on) === String(task.depends_on);
    tasks.set(task.id, task);
    if (!same) return refreshTasks();
    view.applyDelta({ rev: view.rev + 1, upsert: columnsOf([rowOf(task)]), remove: [],
      edges_added: { from: [], to: [] }, edges_removed: { from: [], to: [] } });
    if (workflow) showHeader();
    if (detail && task.id === selected) detail.taskChanged(task);
  };

  const showTask = (id) => {
    selected = id || "";
    if (detail) detail.destroy();
    detail = null;
    if (!selected) return fill(side, h("p", { class: "caw-muted" }, "Select a task in the graph to see its plan, " +
      "checkpoints, context and agent log."));
    detail = taskDetail(ctx, side, selected);
  };

  const showViewers = (data, event) => {
    if ((event.channel || `workflow:${data.workflow_id}`) !== `workflow:${workflowId}`) return;
    const names = (data.viewers || []).map((v) => (typeof v === "string" ? v : v.name || v.id));
    viewers.dataset.count = String(names.length);
    fill(viewers, names.map((name) => h("li", { class: name === ctx.live.viewer ? "caw-me" : "" },
      name === ctx.live.viewer ? `${name} (you)` : name)));
  };

  const offs = [
    ctx.live.on("task:updated", taskChanged),
    ctx.live.on("workflow:status", (data) => {
      if (data.id !== workflowId || !workflow) return;
      workflow.status = data.status;
      showHeader();
    }),
    ctx.live.on("presence", showViewers),
  ];
  const onResize = () => view.setHeight(height());
  window.addEventListener("resize", onResize);
  ctx.live.subscribe(`workflow:${workflowId}`);
  showTask(selected);
  loadWorkflow();

  const cleanup = () => {
    offs.forEach((off) => off());
    window.removeEventListener("resize", onResize);
    ctx.live.unsubscribe(`workflow:${workflowId}`);
    if (detail) detail.destroy();
    view.destroy();
  };
  cleanup.retarget = (hash) => {
    const [, , id] = hash.match(/^#\/workflows\/([\w-]+)(?:\/tasks\/([\w-]+))?$/) || [];
    if ((id || "") !== selected) view.select(id || "");
  };
  return cleanup;
}
