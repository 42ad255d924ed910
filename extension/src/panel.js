// The selected task: what it is, what it waits on and what waits on it, and the edits a
// person may make (status moves allowed by the state machine, retry, remove a dependency).
import { colorOf } from "./colors.js";
import { fill, h } from "./dom.js";
import { formatDuration } from "./text.js";

const NEEDS_TEXT = { completed: "outcome", failed: "error" };

export class Panel {
  /** @param {{edit: (action: string, args: object) => void, select: (id: string) => void}} actions */
  constructor(actions) {
    this.actions = actions;
    this.element = h("div", { class: "caw-dag-panel", hidden: true });
    this.element.addEventListener("keydown", (event) => event.stopPropagation());
    this.detail = null;
  }

  /** Show ``task`` (a row of the graph) or hide when null. */
  show(task, graph, transitions) {
    this.task = task;
    this.element.hidden = !task;
    if (!task) return fill(this.element);
    const colour = colorOf(task.status);
    const name = (id) => graph.tasks.get(id)?.name || id;
    const upstream = graph.preds.get(task.id) || [];
    const downstream = graph.succs.get(task.id) || [];
    this.checkpoint = h("div", { class: "caw-dag-checkpoint" }, this.detail?.id === task.id ? this.detailText() : "");
    fill(this.element,
      h("div", { class: "caw-dag-panel-head" },
        h("b", { class: "caw-dag-panel-name" }, task.name),
        h("button", { class: "caw-dag-close", title: "Deselect (Esc)", onclick: () => this.actions.select("") }, "✕")),
      h("code", { class: "caw-dag-panel-id" }, task.id),
      h("div", {},
        h("span", { class: "caw-dag-badge", "data-status": task.status,
          style: `background:${colour.fill};color:${colour.text};border-color:${colour.stroke}` },
        task.status.replace("_", " ")),
        task.group ? h("span", { class: "caw-dag-muted" }, ` group ${task.group}`) : null),
      task.agent ? h("div", { class: "caw-dag-muted" }, `agent ${task.agent}`) : null,
      task.duration ? h("div", { class: "caw-dag-muted caw-dag-duration" }, `took ${formatDuration(task.duration)}`) : null,
      task.summary ? h("div", { class: "caw-dag-summary" }, task.summary) : null,
      this.checkpoint,
      this.statusForm(task, transitions),
      h("div", { class: "caw-dag-section" }, `Depends on (${upstream.length})`),
      h("ul", { class: "caw-dag-list" }, upstream.map((id) => h("li", {},
        h("a", { href: "#", onclick: (e) => (e.preventDefault(), this.actions.select(id)) }, name(id)),
        h("button", { class: "caw-dag-remove", title: `Remove: ${task.name} no longer waits for ${name(id)}`,
          "data-depends-on": id,
          onclick: () => this.actions.edit("remove_dependency", { task_id: task.id, depends_on_id: id }) }, "✕")))),
      h("div", { class: "caw-dag-section" }, `Needed by (${downstream.length})`),
      h("ul", { class: "caw-dag-list" }, downstream.map((id) => h("li", {},
        h("a", { href: "#", onclick: (e) => (e.preventDefault(), this.actions.select(id)) }, name(id))))),
      h("div", { class: "caw-dag-hint" },
        "Drag from one task onto another, or Shift+click a task, to make it wait for the first."),
    );
  }

  statusForm(task, transitions) {
    const allowed = transitions[task.status] || [];
    const retry = task.status === "failed"
      ? h("button", { class: "caw-dag-button caw-primary", "data-action": "retry",
        onclick: () => this.actions.edit("retry", { id: task.id }) }, "Retry")
      : null;
    if (!allowed.length) return h("div", { class: "caw-dag-row" }, retry);
    const select = h("select", { class: "caw-dag-input", "aria-label": "New status" },
      allowed.map((s) => h("option", { value: s }, s.replace("_", " "))));
    const text = h("input", { class: "caw-dag-input", hidden: !NEEDS_TEXT[allowed[0]],
      placeholder: NEEDS_TEXT[allowed[0]] || "" });
    select.addEventListener("change", () => {
      text.hidden = !NEEDS_TEXT[select.value];
      text.placeholder = NEEDS_TEXT[select.value] || "";
    });
    const apply = () => {
      const args = { id: task.id, status: select.value };
      if (NEEDS_TEXT[select.value]) args[NEEDS_TEXT[select.value]] = text.value.trim();
      this.actions.edit("set_status", args);
    };
    return h("div", { class: "caw-dag-row" }, select, text,
      h("button", { class: "caw-dag-button", "data-action": "set-status", onclick: apply }, "Set status"), retry);
  }

  /** The task's newest checkpoint, read by the kernel on demand. */
  setDetail(detail) {
    this.detail = detail;
    if (this.task && detail.id === this.task.id && this.checkpoint) this.checkpoint.textContent = this.detailText();
  }

  detailText() {
    const cp = this.detail?.checkpoint;
    return cp ? `Last checkpoint (${cp.type}): ${cp.summary}` : "No checkpoints yet.";
  }
}
