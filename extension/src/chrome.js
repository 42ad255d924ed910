// The widget's frame: toolbar (title, status legend whose chips filter by status, search, fit,
// lineage focus, groups, export, add task), the add-task form, and the message that shows
// refusals (the view floats it over its stage).
import { colorOf } from "./colors.js";
import { fill, h } from "./dom.js";
import { STATUSES } from "./graph.js";

export class Chrome {
  /** @param {{onSearch, onSearchNext, onFit, onToggleGroups, onAddTask, onExport, onToggleStatus, onLineage,
   *   onShowAll}} actions */
  constructor(root, actions) {
    this.actions = actions;
    this.title = h("span", { class: "caw-dag-title" });
    this.legend = h("span", { class: "caw-dag-legend" });
    this.search = h("input", { class: "caw-dag-search", type: "search", placeholder: "Search tasks…",
      "aria-label": "Search tasks" });
    this.matches = h("span", { class: "caw-dag-matches" });
    this.filterNote = h("span", { class: "caw-dag-filter-note", hidden: true });
    this.lineageButton = h("button", { class: "caw-dag-button", "data-action": "lineage", disabled: true,
      title: "Draw only the selected task's ancestors and descendants (l)", onclick: actions.onLineage }, "Lineage");
    this.showAllButton = h("button", { class: "caw-dag-button caw-primary", "data-action": "show-all", hidden: true,
      title: "Draw every task again", onclick: actions.onShowAll }, "Show all");
    this.groupsButton = h("button", { class: "caw-dag-button", "data-action": "groups", onclick: actions.onToggleGroups },
      "Collapse groups");
    this.toolbar = h("div", { class: "caw-dag-toolbar" },
      this.title, this.legend, this.filterNote, this.showAllButton, h("span", { class: "caw-dag-spacer" }),
      this.search, this.matches,
      h("button", { class: "caw-dag-button", "data-action": "fit", title: "Fit the graph (f)", onclick: actions.onFit }, "Fit"),
      this.lineageButton,
      this.groupsButton,
      h("button", { class: "caw-dag-button", "data-action": "export-svg", title: "Save the graph as SVG",
        onclick: () => actions.onExport("svg") }, "SVG"),
      h("button", { class: "caw-dag-button", "data-action": "export-png", title: "Save the graph as PNG",
        onclick: () => actions.onExport("png") }, "PNG"),
      h("button", { class: "caw-dag-button", "data-action": "add-task", onclick: () => this.toggleForm() }, "+ Task"));
    this.search.addEventListener("input", () => actions.onSearch(this.search.value));
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") actions.onSearchNext(event.shiftKey ? -1 : 1);
      if (event.key === "Escape") {
        this.search.value = "";
        actions.onSearch("");
      }
      event.stopPropagation();
    });
    this.form = this.buildForm(actions.onAddTask);
    this.messageText = h("span", { class: "caw-dag-message-text" });
    this.message = h("div", { class: "caw-dag-message", role: "status", hidden: true }, this.messageText,
      h("button", { class: "caw-dag-close", title: "Dismiss", onclick: () => this.clearMessage(),
        onpointerdown: (event) => event.stopPropagation() }, "✕"));
    root.append(this.toolbar, this.form);
  }

  buildForm(onAddTask) {
    const name = h("input", { class: "caw-dag-input", name: "name", placeholder: "Task name", required: true });
    const group = h("input", { class: "caw-dag-input", name: "group", placeholder: "Parallel group (optional)" });
    const after = h("input", { type: "checkbox", name: "after" });
    this.afterLabel = h("span", {}, "waiting for the selected task");
    const submit = (event) => {
      event.preventDefault();
      if (!name.value.trim()) return name.focus();
      onAddTask({ name: name.value.trim(), group: group.value.trim(), after: after.checked });
      name.value = "";
    };
    const form = h("form", { class: "caw-dag-form", hidden: true, onsubmit: submit },
      name, group, h("label", { class: "caw-dag-check" }, after, this.afterLabel),
      h("button", { class: "caw-dag-button caw-primary", type: "submit" }, "Add task"),
      h("button", { class: "caw-dag-button", type: "button", onclick: () => this.toggleForm(false) }, "Cancel"));
    form.addEventListener("keydown", (event) => event.stopPropagation());
    this.formName = name;
    this.formAfter = after;
    return form;
  }

  toggleForm(show = this.form.hidden) {
    this.form.hidden = !show;
    if (show) this.formName.focus();
  }

  setSelectedName(name) {
    this.formAfter.disabled = !name;
    if (!name) this.formAfter.checked = false;
    this.afterLabel.textContent = name ? `waiting for “${name}”` : "waiting for the selected task (select one first)";
  }

  setWorkflow(workflow, total) {
    this.title.textContent = `${workflow.name || workflow.id} · ${workflow.status || ""} · ${total} tasks`;
  }

  /** One chip per status present, with its count; clicking a chip hides (or shows again) its tasks. */
  setCounts(counts, hidden = new Set()) {
    fill(this.legend, ...STATUSES.filter((s) => counts[s] || hidden.has(s)).map((status) =>
      h("button", { class: `caw-dag-legend-item${hidden.has(status) ? " is-off" : ""}`, "data-status": status,
        "aria-pressed": String(!hidden.has(status)),
        title: hidden.has(status) ? `Show ${status.replace("_", " ")} tasks` : `Hide ${status.replace("_", " ")} tasks`,
        onclick: () => this.actions.onToggleStatus(status) },
      h("i", { style: `background:${colorOf(status).stroke}` }), `${status.replace("_", " ")} ${counts[status] || 0}`)));
  }

  /** What the filter draws: "lineage of X", "12 of 400 tasks", and the way back to everything. */
  setFilter({ focus, selected, drawn, total, active }) {
    this.lineageButton.disabled = !selected && !focus;
    this.lineageButton.textContent = focus ? "All tasks" : "Lineage";
    this.lineageButton.classList.toggle("is-on", !!focus);
    this.showAllButton.hidden = !active;
    this.filterNote.hidden = !active;
    const what = focus ? `lineage of “${focus}”: ` : "";
    this.filterNote.textContent = `${what}${drawn.toLocaleString("en")} of ${total.toLocaleString("en")} tasks`;
  }

  setGroupsCollapsed(collapsed, any) {
    this.groupsButton.hidden = !any;
    this.groupsButton.textContent = collapsed ? "Expand groups" : "Collapse groups";
  }

  setMatches(text) {
    this.matches.textContent = text;
  }

  /** ``kind`` is "error" (stays until dismissed or replaced) or "info" (fades after a few seconds). */
  showMessage(kind, text) {
    clearTimeout(this.messageTimer);
    this.message.hidden = false;
    this.message.dataset.kind = kind;
    this.messageText.textContent = text;
    if (kind === "info") this.messageTimer = setTimeout(() => this.clearMessage(), 4000);
  }

  clearMessage() {
    clearTimeout(this.messageTimer);
    this.message.hidden = true;
    this.messageText.textContent = "";
  }

  destroy() {
    clearTimeout(this.messageTimer);
  }
}
