// The widget's frame: toolbar (title, status legend, search, fit, groups, export, add task), the
// add-task form, and the message that shows refusals (the view floats it over its stage).
import { colorOf } from "./colors.js";
import { fill, h } from "./dom.js";
import { STATUSES } from "./graph.js";

export class Chrome {
  /** @param {{onSearch, onSearchNext, onFit, onToggleGroups, onAddTask, onExport}} actions */
  constructor(root, actions) {
    this.title = h("span", { class: "caw-dag-title" });
    this.legend = h("span", { class: "caw-dag-legend" });
    this.search = h("input", { class: "caw-dag-search", type: "search", placeholder: "Search tasks…",
      "aria-label": "Search tasks" });
    this.matches = h("span", { class: "caw-dag-matches" });
    this.groupsButton = h("button", { class: "caw-dag-button", "data-action": "groups", onclick: actions.onToggleGroups },
      "Collapse groups");
    this.toolbar = h("div", { class: "caw-dag-toolbar" },
      this.title, this.legend, h("span", { class: "caw-dag-spacer" }), this.search, this.matches,
      h("button", { class: "caw-dag-button", "data-action": "fit", title: "Fit the graph (f)", onclick: actions.onFit }, "Fit"),
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

  setCounts(counts) {
    fill(this.legend, ...STATUSES.filter((s) => counts[s]).map((status) =>
      h("span", { class: "caw-dag-legend-item", "data-status": status, title: status },
        h("i", { style: `background:${colorOf(status).stroke}` }), `${status.replace("_", " ")} ${counts[status]}`)));
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
