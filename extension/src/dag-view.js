// One view of the DAG widget: the graph, its layout and renderer, and everything a person
// does with the pointer and keyboard. It talks to the kernel only through ``kernel``:
// ``edit(action, args)`` returns a promise of the reply, ``describe(id)`` asks for a
// task's newest checkpoint, ``select(id)`` sets the synced ``selected``.
import { CanvasRenderer } from "./canvas-renderer.js";
import { Chrome } from "./chrome.js";
import { applyTheme, colorOf } from "./colors.js";
import { fill, h } from "./dom.js";
import { download, scenePng, sceneSvg } from "./export.js";
import { TaskGraph, visibleGraph } from "./graph.js";
import { Layouter } from "./layout.js";
import { Minimap } from "./minimap.js";
import { Panel } from "./panel.js";
import { boxHeaderAt, buildScene, edgeAt, lineage, nodeAt, refreshStatuses } from "./scene.js";
import { SvgRenderer } from "./svg-renderer.js";
import { countsBar } from "./text.js";
import { View } from "./view.js";

/** Above this many drawn nodes, Canvas replaces SVG. */
const SVG_LIMIT = 400;
/** Above this many tasks, parallel groups start collapsed. */
const COLLAPSE_ABOVE = 400;
/** Above this many drawn nodes the minimap shows. */
const MINIMAP_ABOVE = 200;
const DRAG_THRESHOLD = 5;
/** A stage narrower than this (a phone, a narrow output area) lays the graph out top to
 * bottom: left to right, even a short chain of tasks would be scaled down to slivers. */
const NARROW_STAGE = 480;

export class DagView {
  /** ``details`` false leaves the selected task's detail to the page around the view (the
   * Workbench has its own task panel) rather than overlaying a second one. */
  constructor(el, kernel, { height, transitions, started, details = true }) {
    this.kernel = kernel;
    this.details = details;
    this.transitions = transitions;
    this.started = started;
    this.graph = new TaskGraph();
    this.collapsed = new Set();
    this.view = new View();
    this.layouter = new Layouter();
    this.scene = null;
    this.renderer = null;
    this.selected = "";
    this.selectedEdge = null;
    this.hover = null;
    this.drag = null;
    this.matches = null;
    this.matchCursor = -1;
    this.query = "";
    this.firstPaint = false;
    this.autoFit = true;

    this.root = h("div", { class: "caw-dag", dataset: { ready: "0" } });
    this.chrome = new Chrome(this.root, {
      onSearch: (q) => this.search(q),
      onSearchNext: (step) => this.searchNext(step),
      onFit: () => this.fit(),
      onToggleGroups: () => this.toggleAllGroups(),
      onAddTask: (spec) => this.addTask(spec),
      onExport: (kind) => this.exportImage(kind),
    });
    this.stage = h("div", { class: "caw-dag-stage", tabindex: 0, style: `height:${height}px` });
    this.status = h("div", { class: "caw-dag-status" });
    this.tooltip = h("div", { class: "caw-dag-tooltip", hidden: true });
    this.stage.append(this.status, this.chrome.message, this.tooltip);
    this.minimap = new Minimap(this.stage, (wx, wy) => this.centreOn(wx, wy, this.view.k));
    this.panel = new Panel({ edit: (action, args) => this.edit(action, args), select: (id) => this.select(id) });
    this.body = h("div", { class: "caw-dag-body" }, this.stage, this.panel.element);
    this.root.append(this.body);
    this.root.cawDrawnRects = () => this.drawnRects();
    el.appendChild(this.root);
    this.listen();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    applyTheme(this.root);
    this.root.dataset.theme = document.body.dataset.jpThemeName || "";
    this.themeObserver = new MutationObserver(() => this.retheme());
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name"] });
    this.resize();
  }

  // ---- data from the kernel ------------------------------------------------------------

  load(workflow, tasks, edges, rev) {
    this.graph.load(tasks, edges);
    this.rev = rev;
    this.workflow = workflow;
    if (!this.loadedOnce && this.graph.tasks.size > COLLAPSE_ABOVE) this.collapsed = new Set(this.graph.groups().keys());
    this.loadedOnce = true;
    this.root.dataset.rev = String(rev);
    this.relayout();
  }

  applyDelta(delta) {
    const { structural, changed } = this.graph.apply(delta);
    this.rev = delta.rev;
    this.root.dataset.rev = String(delta.rev);
    if (structural || !this.scene) return this.relayout(changed);
    refreshStatuses(this.scene, this.graph);
    this.renderer.updateNodes();
    this.renderer.flash([...changed].map((id) => this.scene.rep.get(id)).filter(Boolean));
    this.minimap.paint(this.scene);
    this.minimap.drawView(this.view);
    this.refreshChrome();
  }

  setHeight(height) {
    this.stage.style.height = `${height}px`;
  }

  setWorkflow(workflow) {
    this.workflow = workflow;
    this.refreshChrome();
  }

  // ---- layout and drawing ----------------------------------------------------------------

  async relayout(flash = new Set()) {
    const visible = visibleGraph(this.graph, this.collapsed);
    const n = visible.nodes.size;
    this.status.textContent = n > SVG_LIMIT ? `Laying out ${n.toLocaleString("en")} nodes…` : "";
    this.narrow = this.isNarrow();
    const request = {
      nodes: [...visible.nodes.values()].map((v) => ({ id: v.id, width: v.width, height: v.height, group: v.group })),
      edges: [...visible.edges.values()].map((e) => [e.from, e.to]),
      direction: this.narrow ? "TB" : "LR",
    };
    let layout;
    try {
      layout = await this.layouter.layout(request);
    } catch (error) {
      this.status.textContent = "";
      this.chrome.showMessage("error", `Layout failed: ${error.message}`);
      return;
    }
    if (!layout || this.destroyed) return;
    this.status.textContent = n ? "" : "No tasks yet: set the workflow's plan (%%caw plan, or the tool workflow_set_plan).";
    this.scene = buildScene(visible, layout, this.graph);
    this.root.dataset.engine = layout.engine;
    this.root.dataset.layoutMs = String(Math.round(layout.ms));
    this.useRenderer(n > SVG_LIMIT ? "canvas" : "svg");
    this.renderer.setScene(this.scene);
    if (this.autoFit) this.view.fit(this.scene.bounds, this.freeWidth());
    this.renderer.setView(this.view);
    this.renderer.setHighlight(this.highlight());
    this.renderer.flash([...flash].map((id) => this.scene.rep.get(id)).filter(Boolean));
    this.minimap.setVisible(n > MINIMAP_ABOVE);
    this.minimap.paint(this.scene);
    this.minimap.drawView(this.view);
    this.refreshChrome();
    if (this.query) this.search(this.query);
    if (this.renderer.kind === "svg") requestAnimationFrame(() => this.painted());
  }

  useRenderer(kind) {
    if (this.renderer && this.renderer.kind === kind) return;
    if (this.renderer) this.renderer.destroy();
    this.renderer = kind === "svg" ? new SvgRenderer(this.stage) : new CanvasRenderer(this.stage, (ms) => this.painted(ms));
    this.stage.prepend(this.renderer.element);
    this.renderer.resize(this.view.width, this.view.height);
    this.root.dataset.renderer = kind;
  }

  /** JupyterLab switched theme: read the new colours and paint again with them. The theme's
   * stylesheet may land a little after the attribute changes, so look again shortly after. */
  retheme() {
    for (const ms of [0, 250, 1000]) setTimeout(() => this.repaintTheme(), ms);
  }

  repaintTheme() {
    if (this.destroyed) return;
    this.root.dataset.theme = document.body.dataset.jpThemeName || "";
    if (!applyTheme(this.root) || !this.renderer || !this.scene) return;
    const kind = this.renderer.kind;
    this.renderer.destroy();
    this.renderer = null;
    this.useRenderer(kind);
    this.renderer.setScene(this.scene);
    this.renderer.setView(this.view);
    this.renderer.setHighlight(this.highlight());
    this.minimap.paint(this.scene);
    this.minimap.drawView(this.view);
    this.refreshChrome();
  }

  /** Records time to first paint (from the view's creation) and the last frame's cost, for
   * tests and the benchmark. */
  painted(drawMs) {
    if (drawMs !== undefined) this.root.dataset.drawMs = drawMs.toFixed(1);
    this.root.dataset.tasks = String(this.graph.tasks.size);
    this.root.dataset.nodes = String(this.scene.nodes.length);
    if (this.firstPaint) return;
    this.firstPaint = true;
    this.root.dataset.firstPaintMs = String(Math.round(performance.now() - this.started));
    this.root.dataset.ready = "1";
  }

  /** A stage point in world coordinates, through the transform the renderer last drew: every
   * hover, click and drag asks here, so a hit lands on what the person sees even when the view
   * moved and has not been drawn yet. */
  toWorld(sx, sy) {
    const drawn = this.renderer?.drawn || this.view;
    return [(sx - drawn.x) / drawn.k, (sy - drawn.y) / drawn.k];
  }

  /** The drawn node under a stage point, or null. */
  pick(sx, sy) {
    const [wx, wy] = this.toWorld(sx, sy);
    return this.scene ? nodeAt(this.scene, wx, wy) : null;
  }

  /** Where each drawn task is on the stage, as the person sees it (for tests and exports). */
  drawnRects() {
    const d = this.renderer?.drawn || this.view;
    return (this.scene?.nodes || []).map((n) => ({ id: n.id, kind: n.kind, x: n.x * d.k + d.x, y: n.y * d.k + d.y,
      w: n.w * d.k, h: n.h * d.k }));
  }

  redrawView() {
    if (!this.renderer) return;
    this.renderer.setView(this.view);
    this.minimap.drawView(this.view);
  }

  redrawHighlight() {
    if (this.renderer) this.renderer.setHighlight(this.highlight());
  }

  highlight() {
    const focus = this.hover || (this.selected && this.scene?.rep.get(this.selected));
    const lit = focus && this.scene ? lineage(this.scene, focus) : { related: null, up: new Set(), down: new Set() };
    return {
      hover: this.hover,
      selected: this.selected ? this.scene?.rep.get(this.selected) || null : null,
      selectedEdge: this.selectedEdge,
      matches: this.matches,
      related: this.hover ? lit.related : null,
      up: lit.up,
      down: lit.down,
      drag: this.drag?.line || null,
      dragFrom: this.drag?.from || null,
      dropTarget: this.drag?.target || null,
    };
  }

  refreshChrome() {
    const counts = this.graph.counts(this.graph.tasks.keys());
    if (this.workflow) this.chrome.setWorkflow(this.workflow, this.graph.tasks.size);
    this.chrome.setCounts(counts);
    this.chrome.setGroupsCollapsed(this.collapsed.size > 0, this.graph.groups().size > 0);
    const task = this.graph.tasks.get(this.selected) || null;
    this.chrome.setSelectedName(task?.name || "");
    this.panel.show(this.details ? task : null, this.graph, this.transitions);
  }

  resize() {
    if (!this.themed && this.root.isConnected) {
      this.themed = true; // the first time on the page: the theme's variables resolve now
      this.retheme();
    }
    const rect = this.stage.getBoundingClientRect();
    this.view.width = Math.max(1, rect.width);
    this.view.height = Math.max(1, rect.height);
    if (this.renderer) this.renderer.resize(this.view.width, this.view.height);
    if (this.scene && this.narrow !== this.isNarrow()) return this.relayout();
    if (this.scene && this.autoFit) this.view.fit(this.scene.bounds, this.freeWidth());
    this.redrawView();
  }

  /** Narrow once the stage has a width (before it is on the page it has none). */
  isNarrow() {
    return this.view.width > 1 && this.view.width < NARROW_STAGE;
  }

  /** Fit the whole graph, and keep fitting it as it changes until the person pans or zooms. */
  fit() {
    if (!this.scene) return;
    this.autoFit = true;
    this.view.fit(this.scene.bounds, this.freeWidth());
    this.redrawView();
  }

  /** The stage's width left of the task panel, when it is open. */
  freeWidth() {
    return this.view.width - (this.panel.element.hidden ? 0 : this.panel.element.offsetWidth);
  }

  centreOn(wx, wy, k) {
    this.autoFit = false;
    this.view.centreOn(wx, wy, k);
    this.redrawView();
  }

  // ---- selection, search, groups ----------------------------------------------------------

  /** Select a task (or "" for none); the kernel's ``selected`` follows. */
  select(id, fromKernel = false) {
    this.selected = id || "";
    this.selectedEdge = null;
    if (!fromKernel) this.kernel.select(this.selected);
    if (this.selected) this.kernel.describe(this.selected);
    this.root.dataset.selected = this.selected;
    this.refreshChrome();
    if (this.autoFit && this.scene) this.view.fit(this.scene.bounds, this.freeWidth());
    this.reveal(this.selected);
    this.redrawView();
    this.redrawHighlight();
  }

  /** Pan so the selected task is on screen and not under the task panel. */
  reveal(id) {
    const node = id && this.scene?.byId.get(this.scene.rep.get(id));
    if (!node) return;
    const panel = this.panel.element.hidden ? 0 : this.panel.element.offsetWidth;
    const [left, top] = this.view.toScreen(node.x, node.y);
    const [right, bottom] = this.view.toScreen(node.x + node.w, node.y + node.h);
    const room = this.view.width - panel - 16;
    if (left >= 8 && right <= room && top >= 8 && bottom <= this.view.height - 8) return;
    if (right - left > room - 8 || left < 8 || top < 8 || bottom > this.view.height - 8) {
      const [cx, cy] = [node.x + node.w / 2, node.y + node.h / 2];
      this.centreOn(cx, cy, this.view.k);
      this.view.panBy(-panel / 2, 0);
    } else {
      this.autoFit = false;
      this.view.panBy(room - right, 0);
    }
    this.redrawView();
  }

  search(query) {
    this.query = query.trim().toLowerCase();
    this.matchCursor = -1;
    if (!this.query || !this.scene) {
      this.matches = null;
      this.chrome.setMatches("");
    } else {
      const hits = [...this.graph.tasks.values()].filter((t) =>
        t.name.toLowerCase().includes(this.query) || t.id.toLowerCase().includes(this.query));
      this.matches = new Set(hits.map((t) => this.scene.rep.get(t.id)).filter(Boolean));
      this.matchList = [...this.matches];
      this.chrome.setMatches(`${hits.length} match${hits.length === 1 ? "" : "es"}`);
    }
    this.root.dataset.matches = String(this.matches ? this.matches.size : 0);
    this.redrawHighlight();
  }

  searchNext(step) {
    if (!this.matchList || !this.matches || !this.matches.size) return;
    this.matchCursor = (this.matchCursor + step + this.matchList.length) % this.matchList.length;
    const node = this.scene.byId.get(this.matchList[this.matchCursor]);
    if (node) this.centreOn(node.x + node.w / 2, node.y + node.h / 2, Math.max(this.view.k, 0.9));
  }

  toggleGroup(group) {
    if (this.collapsed.has(group)) this.collapsed.delete(group);
    else this.collapsed.add(group);
    this.hover = null;
    this.relayout();
  }

  toggleAllGroups() {
    this.collapsed = this.collapsed.size ? new Set() : new Set(this.graph.groups().keys());
    this.hover = null;
    this.relayout();
  }

  /** Save the whole graph as a file; SVG needs the SVG renderer (graphs up to a few hundred nodes). */
  async exportImage(kind) {
    if (!this.scene || !this.renderer) return;
    const name = `${(this.workflow?.name || "workflow").replace(/[^\w.-]+/g, "_")}.${kind}`;
    if (kind === "svg" && this.renderer.kind !== "svg") {
      this.chrome.showMessage("error", "This graph is drawn on a canvas: save it as PNG.");
      return;
    }
    const blob = kind === "svg" ? new Blob([sceneSvg(this.renderer, this.scene)], { type: "image/svg+xml" })
      : await scenePng(this.renderer, this.scene);
    download(blob, name);
  }

  // ---- edits --------------------------------------------------------------------------------

  async edit(action, args) {
    const reply = await this.kernel.edit(action, args);
    if (reply.ok) this.chrome.showMessage("info", reply.message);
    else this.chrome.showMessage("error", `${reply.code}: ${reply.message}`);
    return reply;
  }

  addTask({ name, group, after }) {
    const args = { name };
    if (group) args.parallel_group = group;
    if (after && this.selected) args.depends_on = [this.selected];
    this.edit("add_task", args).then((reply) => {
      if (reply.ok) this.chrome.toggleForm(false);
    });
  }

  // ---- pointer and keyboard ------------------------------------------------------------------

  listen() {
    const stage = this.stage;
    const local = (event) => {
      const rect = stage.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    stage.addEventListener("pointerdown", (event) => this.pointerDown(event, local(event)));
    stage.addEventListener("pointermove", (event) => this.pointerMove(event, local(event)));
    stage.addEventListener("pointerup", (event) => this.pointerUp(event, local(event)));
    stage.addEventListener("pointerleave", () => this.leave());
    stage.addEventListener("wheel", (event) => this.wheel(event, local(event)), { passive: false });
    stage.addEventListener("keydown", (event) => this.key(event));
    stage.addEventListener("dblclick", (event) => event.preventDefault());
  }

  pointerDown(event, [sx, sy]) {
    if (event.button !== 0 || !this.scene || event.target.closest(".caw-dag-minimap")) return;
    focusStage(this.stage);
    this.stage.setPointerCapture(event.pointerId);
    const [wx, wy] = this.toWorld(sx, sy);
    const node = this.pick(sx, sy);
    const box = node ? null : boxHeaderAt(this.scene, wx, wy);
    const mode = node ? node.kind : box ? "box" : "pan";
    this.press = { mode, node, box, sx, sy, lastX: sx, lastY: sy, moved: false };
  }

  pointerMove(event, [sx, sy]) {
    if (!this.scene) return;
    const press = this.press;
    if (!press) return this.hoverAt(sx, sy);
    const far = Math.hypot(sx - press.sx, sy - press.sy) > DRAG_THRESHOLD;
    if (press.mode === "task" && (far || press.moved)) {
      press.moved = true;
      this.hideTooltip();
      const [wx, wy] = this.toWorld(sx, sy);
      const target = this.pick(sx, sy);
      const n = press.node;
      this.drag = { from: n.id, target: target && target.kind === "task" && target.id !== n.id ? target.id : null,
        line: [n.x + n.w, n.y + n.h / 2, wx, wy] };
      this.redrawHighlight();
    } else if (press.mode !== "task") {
      if (far) press.moved = true;
      if (press.moved) {
        this.autoFit = false;
        this.view.panBy(sx - press.lastX, sy - press.lastY);
        this.redrawView();
      }
    }
    press.lastX = sx;
    press.lastY = sy;
  }

  pointerUp(event, [sx, sy]) {
    const press = this.press;
    this.press = null;
    if (!press || !this.scene) return;
    if (press.mode === "task") {
      const drag = this.drag;
      this.drag = null;
      if (press.moved) {
        this.hover = null;
        this.hoverAt(sx, sy);
        this.redrawHighlight();
        if (drag && drag.target) this.connect(drag.from, drag.target);
      } else if (event.shiftKey && this.selected && this.selected !== press.node.id) {
        this.connect(this.selected, press.node.id);
      } else {
        this.select(press.node.id);
      }
    } else if (press.moved) {
      return;
    } else if (press.mode === "group") {
      this.toggleGroup(press.node.group);
    } else if (press.mode === "box") {
      this.toggleGroup(press.box.group);
    } else {
      const [wx, wy] = this.toWorld(sx, sy);
      const edge = edgeAt(this.scene, wx, wy, 6 / this.view.k);
      if (edge && edge.task) {
        this.selectedEdge = edge.key;
        this.chrome.showMessage("info", `Selected: ${this.nameOf(edge.to)} waits for ${this.nameOf(edge.from)}. ` +
          "Press Delete to remove this dependency.");
        this.redrawHighlight();
      } else if (this.selected || this.selectedEdge) {
        this.select("");
      }
    }
  }

  connect(upstream, downstream) {
    this.edit("add_dependency", { task_id: downstream, depends_on_id: upstream });
  }

  nameOf(id) {
    return this.graph.tasks.get(id)?.name || id;
  }

  hoverAt(sx, sy) {
    const [wx, wy] = this.toWorld(sx, sy);
    const node = this.pick(sx, sy);
    const id = node ? node.id : null;
    if (id !== this.hover) {
      this.hover = id;
      this.redrawHighlight();
      if (node) this.showTooltip(node);
      else this.hideTooltip();
    }
    this.stage.style.cursor = node ? "pointer" : boxHeaderAt(this.scene, wx, wy) ? "pointer" : "grab";
    if (node) this.placeTooltip(sx, sy);
  }

  leave() {
    if (this.press) return;
    this.hover = null;
    this.hideTooltip();
    this.redrawHighlight();
  }

  showTooltip(node) {
    const t = this.tooltip;
    if (node.kind === "group") {
      fill(t, h("b", {}, node.label), h("div", {}, `${node.members.length} tasks · click to expand`),
        h("div", { class: "caw-dag-tip-counts" }, countsBar(node.counts).map((p) =>
          h("span", { style: `background:${colorOf(p.status).stroke}` }, `${p.status.replace("_", " ")} ${p.count}`))));
    } else {
      const task = this.graph.tasks.get(node.id);
      this.tipDetail = h("div", { class: "caw-dag-muted" }, "…");
      fill(t, h("b", {}, task.name),
        h("div", {}, h("span", { class: "caw-dag-dot", style: `background:${colorOf(task.status).stroke}` }),
          ` ${task.status.replace("_", " ")}`, task.group ? ` · ${task.group}` : "", task.agent ? ` · ${task.agent}` : ""),
        task.summary ? h("div", { class: "caw-dag-summary" }, task.summary) : null,
        this.tipDetail);
      clearTimeout(this.describeTimer);
      this.describeTimer = setTimeout(() => this.kernel.describe(node.id), 120);
    }
    t.dataset.id = node.id;
    t.hidden = false;
  }

  placeTooltip(sx, sy) {
    const t = this.tooltip;
    const left = sx + 16 + t.offsetWidth > this.view.width ? sx - 16 - t.offsetWidth : sx + 16;
    t.style.left = `${Math.max(4, left)}px`;
    t.style.top = `${Math.min(Math.max(4, sy + 12), Math.max(4, this.view.height - t.offsetHeight - 4))}px`;
  }

  hideTooltip() {
    clearTimeout(this.describeTimer);
    this.tooltip.hidden = true;
  }

  /** The kernel's answer to ``describe``: the task's newest checkpoint. */
  describe(detail) {
    this.panel.setDetail(detail);
    if (!this.tooltip.hidden && this.tooltip.dataset.id === detail.id && this.tipDetail) {
      const cp = detail.checkpoint;
      this.tipDetail.textContent = cp ? `last checkpoint (${cp.type}): ${cp.summary}` : "no checkpoints yet";
    }
  }

  wheel(event, [sx, sy]) {
    if (!this.scene) return;
    if (!(event.ctrlKey || event.metaKey || document.activeElement === this.stage)) return;
    event.preventDefault();
    this.autoFit = false;
    this.view.zoomAt(sx, sy, Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)));
    this.redrawView();
  }

  key(event) {
    const actions = {
      Escape: () => {
        this.drag = null;
        this.select("");
      },
      Delete: () => this.removeSelectedEdge(),
      Backspace: () => this.removeSelectedEdge(),
      f: () => this.fit(),
      "+": () => this.zoomCentre(1.25),
      "=": () => this.zoomCentre(1.25),
      "-": () => this.zoomCentre(0.8),
      "/": () => this.chrome.search.focus(),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  }

  zoomCentre(factor) {
    this.autoFit = false;
    this.view.zoomAt(this.view.width / 2, this.view.height / 2, factor);
    this.redrawView();
  }

  removeSelectedEdge() {
    const edge = this.selectedEdge && this.scene.edges.find((e) => e.key === this.selectedEdge);
    if (!edge) return;
    this.selectedEdge = null;
    this.edit("remove_dependency", { task_id: edge.to, depends_on_id: edge.from });
  }

  destroy() {
    this.destroyed = true;
    this.resizeObserver.disconnect();
    this.themeObserver.disconnect();
    this.layouter.dispose();
    if (this.renderer) this.renderer.destroy();
    this.minimap.destroy();
    this.chrome.destroy();
    clearTimeout(this.describeTimer);
    this.root.remove();
  }
}

function focusStage(stage) {
  if (document.activeElement !== stage) stage.focus({ preventScroll: true });
}
