// The timeline view: one bar per attempt at a task, over time, in its agent's lane (the
// kernel lays out lanes and rows: caw_lab/lab/timeline.py). Bars take the DAG's status
// colours (colors.js, light or dark from the page's --jp-* variables); a bar still running
// grows with the clock, which runs on the kernel's time (``now`` when the bars were sent).
import { applyTheme, colorOf } from "./colors.js";
import { fill, h } from "./dom.js";
import { STATUSES } from "./graph.js";
import { formatDuration } from "./text.js";

const LABEL_W = 120;
const AXIS_H = 22;
const ROW_H = 18;
const BAR_H = 13;
const LANE_PAD = 6;
const RIGHT_PAD = 16;
/** A tick's clock time is written only where it fits whole. */
const TICK_LABEL_W = 50;
/** The stage shrinks to its lanes (up to the widget's ``height``, then scrolls), but no lower than this. */
const MIN_HEIGHT = 120;
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((s) => s * 1000);

const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/** Bars from the synced columns: ``[{task, name, agent, status, start, end, lane, row, released}]`` (end 0: running). */
export function barRows(columns) {
  return (columns.tasks || []).map((task, i) => ({
    index: i, task, name: columns.names[i], agent: columns.agents[i], status: columns.statuses[i],
    start: columns.starts[i], end: columns.ends[i], lane: columns.lanes[i], row: columns.rows[i],
    released: !!(columns.released || [])[i],
  }));
}

/** Round tick times between ``t0`` and ``t1``, at most about one per ``minGap`` of ``width`` pixels. */
export function ticks(t0, t1, width, minGap = 90) {
  const span = Math.max(1, t1 - t0);
  const step = TICK_STEPS.find((s) => (span / s) * minGap <= width) || TICK_STEPS[TICK_STEPS.length - 1];
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

const clock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });

export class TimelineView {
  /** ``select(id)`` sets the synced selection (the same as the DAG's). */
  constructor(el, { height, select }) {
    this.select = select;
    this.bars = [];
    this.lanes = [];
    this.laneRows = [];
    this.selected = "";
    this.offset = 0;
    this.root = h("div", { class: "caw-timeline", dataset: { ready: "0", bars: "0" } });
    this.title = h("span", { class: "caw-dag-title" }, "Timeline");
    this.legend = h("span", { class: "caw-dag-legend" });
    this.stage = h("div", { class: "caw-timeline-stage", style: `max-height:${height}px` });
    this.svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    this.svg.setAttribute("class", "caw-timeline-svg");
    this.tooltip = h("div", { class: "caw-dag-tooltip", hidden: true });
    this.empty = h("div", { class: "caw-dag-status" });
    this.stage.append(this.svg, this.empty);
    // The tooltip floats over the whole view, not the stage, which is as short as its lanes.
    this.root.append(h("div", { class: "caw-dag-toolbar" }, this.title, this.legend), this.stage, this.tooltip);
    el.appendChild(this.root);
    this.listen();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.themeObserver = new MutationObserver(() => [0, 250, 1000].forEach((ms) => setTimeout(() => this.retheme(), ms)));
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name"] });
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** New bars from the kernel; ``now`` is the kernel's clock when it sent them. */
  load(columns, now) {
    this.offset = now ? now - Date.now() : 0;
    this.bars = barRows(columns);
    this.lanes = columns.lane_names || [];
    this.laneRows = columns.lane_rows || [];
    this.root.dataset.bars = String(this.bars.length);
    this.root.dataset.running = String(this.bars.filter((b) => !b.end).length);
    this.draw();
  }

  now() {
    return Date.now() + this.offset;
  }

  setHeight(height) {
    this.stage.style.maxHeight = `${height}px`;
  }

  setSelected(id) {
    this.selected = id || "";
    this.root.dataset.selected = this.selected;
    for (const bar of this.svg.querySelectorAll("rect.caw-bar")) {
      bar.classList.toggle("is-selected", bar.dataset.task === this.selected);
    }
  }

  /** Running bars grow: draw again each second while any runs (and the view is on the page). */
  tick() {
    if (this.bars.some((b) => !b.end) && this.root.isConnected) this.draw();
  }

  resize() {
    if (!this.themed && this.root.isConnected) {
      this.themed = true;
      applyTheme(this.root);
    }
    this.draw();
  }

  retheme() {
    if (applyTheme(this.root)) this.draw();
  }

  draw() {
    const width = this.stage.clientWidth;
    this.empty.textContent = this.bars.length ? "" : "No work yet: a bar appears when an agent claims or starts a task.";
    this.drawLegend();
    if (!width) return;
    const now = this.now();
    const t0 = Math.min(...this.bars.map((b) => b.start), now);
    const t1 = Math.max(...this.bars.map((b) => b.end || now), t0 + 1000);
    const plot = Math.max(40, width - LABEL_W - RIGHT_PAD);
    const x = (t) => LABEL_W + ((t - t0) / (t1 - t0)) * plot;
    const tops = [];
    let y = AXIS_H;
    for (let i = 0; i < this.lanes.length; i++) {
      tops.push(y);
      y += (this.laneRows[i] || 1) * ROW_H + 2 * LANE_PAD;
    }
    const height = Math.max(y + 4, MIN_HEIGHT);
    const parts = [];
    for (const t of ticks(t0, t1, plot)) {
      parts.push(`<line class="caw-timeline-tick" x1="${x(t)}" x2="${x(t)}" y1="${AXIS_H - 4}" y2="${height}"/>`);
      if (x(t) + TICK_LABEL_W <= width) {
        parts.push(`<text class="caw-timeline-axis" x="${x(t) + 3}" y="${AXIS_H - 8}">${clock(t)}</text>`);
      }
    }
    this.lanes.forEach((name, i) => {
      const laneH = (this.laneRows[i] || 1) * ROW_H + 2 * LANE_PAD;
      parts.push(`<rect class="caw-timeline-lane${i % 2 ? " is-odd" : ""}" x="0" y="${tops[i]}" width="${width}" height="${laneH}"/>`,
        `<text class="caw-timeline-lane-label" x="6" y="${tops[i] + LANE_PAD + 11}">${esc(name || "no agent")}</text>`);
    });
    for (const b of this.bars) {
      const c = colorOf(b.status);
      const x0 = x(b.start);
      const w = Math.max(2, x(b.end || now) - x0);
      const by = tops[b.lane] + LANE_PAD + b.row * ROW_H + (ROW_H - BAR_H) / 2;
      const cls = `caw-bar${b.task === this.selected ? " is-selected" : ""}${b.end ? "" : " is-running"}`;
      parts.push(`<rect class="${cls}" data-index="${b.index}" data-task="${esc(b.task)}" data-status="${esc(b.status)}" ` +
        `x="${x0.toFixed(1)}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" rx="2" ` +
        `fill="${c.fill}" stroke="${c.stroke}"${b.released ? ' stroke-dasharray="3 2"' : ""}/>`);
    }
    if (this.bars.some((b) => !b.end)) {
      parts.push(`<line class="caw-timeline-now" x1="${x(now)}" x2="${x(now)}" y1="${AXIS_H - 4}" y2="${height}"/>`);
    }
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("height", String(height));
    this.svg.innerHTML = parts.join("");
    this.root.dataset.until = String(Math.round(t1));
    this.root.dataset.ready = "1";
  }

  drawLegend() {
    const counts = {};
    for (const b of this.bars) counts[b.status] = (counts[b.status] || 0) + 1;
    const running = this.bars.filter((b) => !b.end).length;
    this.title.textContent = `Timeline · ${this.bars.length} bars${running ? ` · ${running} running` : ""}`;
    fill(this.legend, ...STATUSES.filter((s) => counts[s]).map((status) =>
      h("span", { class: "caw-dag-legend-item", "data-status": status },
        h("i", { style: `background:${colorOf(status).stroke}` }), `${status.replace("_", " ")} ${counts[status]}`)));
  }

  listen() {
    const barAt = (event) => {
      const rect = event.target.closest?.("rect.caw-bar");
      return rect ? this.bars[Number(rect.dataset.index)] : null;
    };
    this.svg.addEventListener("pointermove", (event) => {
      const bar = barAt(event);
      if (!bar) return this.hideTip();
      this.showTip(bar);
      const box = this.root.getBoundingClientRect();
      const [sx, sy] = [event.clientX - box.left, event.clientY - box.top];
      const t = this.tooltip;
      t.style.left = `${Math.max(4, sx + 14 + t.offsetWidth > box.width ? sx - 14 - t.offsetWidth : sx + 14)}px`;
      const below = sy + 14 + t.offsetHeight <= box.height - 4;
      t.style.top = `${Math.max(4, below ? sy + 14 : sy - 14 - t.offsetHeight)}px`;
    });
    this.svg.addEventListener("pointerleave", () => this.hideTip());
    this.svg.addEventListener("click", (event) => {
      const bar = barAt(event);
      this.setSelected(bar ? bar.task : "");
      this.select(this.selected);
    });
  }

  showTip(bar) {
    const t = this.tooltip;
    if (t.dataset.index === String(bar.index) && !t.hidden && bar.end) return;
    const took = (bar.end || this.now()) - bar.start;
    const how = bar.end ? (bar.released ? `given back after ${formatDuration(took)}` : `took ${formatDuration(took)}`)
      : `running for ${formatDuration(took)}`;
    fill(t, h("b", {}, bar.name),
      h("div", {}, h("span", { class: "caw-dag-dot", style: `background:${colorOf(bar.status).stroke}` }),
        ` ${bar.status.replace("_", " ")} · ${this.lanes[bar.lane] || "no agent"}`),
      h("div", { class: "caw-dag-duration" }, how),
      h("div", { class: "caw-dag-muted" }, `${clock(bar.start)} – ${bar.end ? clock(bar.end) : "now"}`));
    t.dataset.index = String(bar.index);
    t.dataset.task = bar.task;
    t.hidden = false;
  }

  hideTip() {
    this.tooltip.hidden = true;
    this.tooltip.dataset.index = "";
  }

  destroy() {
    clearInterval(this.timer);
    this.resizeObserver.disconnect();
    this.themeObserver.disconnect();
    this.root.remove();
  }
}
