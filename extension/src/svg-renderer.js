// SVG for graphs small enough to keep one element per node: crisp text, DOM hit targets
// (each node is a <g data-id>), CSS transitions. Panning only moves one transform.
import { colorOf, theme } from "./colors.js";
import { svgPath } from "./scene.js";
import { countsBar, fitText } from "./text.js";

const NS = "http://www.w3.org/2000/svg";
let serial = 0;

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

export class SvgRenderer {
  constructor(stage) {
    this.kind = "svg";
    this.uid = `caw-dag-${++serial}`;
    this.svg = el("svg", { class: "caw-dag-svg", width: "100%", height: "100%" });
    const defs = el("defs", {}, this.svg);
    const arrows = [["", theme.edge], ["-up", theme.edgeUp], ["-down", theme.edgeDown], ["-sel", theme.selected]];
    for (const [name, colour] of arrows) {
      const marker = el("marker", { id: `${this.uid}-arrow${name}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0L10,5L0,10z", fill: colour }, marker);
    }
    this.world = el("g", { class: "caw-dag-world" }, this.svg);
    this.boxLayer = el("g", { class: "caw-dag-boxes" }, this.world);
    this.edgeLayer = el("g", { class: "caw-dag-edges" }, this.world);
    this.nodeLayer = el("g", { class: "caw-dag-nodes" }, this.world);
    this.dragLine = el("line", { class: "caw-drag-line", visibility: "hidden" }, this.world);
    this.nodeEls = new Map();
    this.edgeEls = new Map();
    stage.appendChild(this.svg);
    this.element = this.svg;
  }

  setScene(scene) {
    this.scene = scene;
    for (const layer of [this.boxLayer, this.edgeLayer, this.nodeLayer]) layer.replaceChildren();
    this.nodeEls.clear();
    this.edgeEls.clear();
    for (const box of scene.boxes) this.drawBox(box);
    for (const edge of scene.edges) {
      const path = el("path", { class: "caw-edge", d: svgPath(edge.geom), "data-from": edge.from, "data-to": edge.to,
        stroke: theme.edge, "marker-end": `url(#${this.uid}-arrow)` }, this.edgeLayer);
      this.edgeEls.set(edge.key, path);
    }
    for (const node of scene.nodes) this.drawNode(node);
  }

  drawBox(box) {
    const g = el("g", { class: "caw-group-box", "data-group": box.group }, this.boxLayer);
    el("rect", { x: box.x, y: box.y, width: box.w, height: box.h, rx: 8,
      fill: theme.groupBox.fill, stroke: theme.groupBox.stroke,
      "stroke-dasharray": "4 3" }, g);
    const label = el("text", { x: box.x + 8, y: box.y + 14, class: "caw-group-label", fill: theme.groupBox.text }, g);
    label.textContent = `▾ ${box.group}`;
    box.countsEl = el("g", { transform: `translate(${box.x + box.w - 8}, ${box.y + 5})` }, g);
    this.drawCounts(box.countsEl, box.counts, true);
  }

  drawCounts(g, counts, alignRight) {
    g.replaceChildren();
    let x = 0;
    const parts = countsBar(counts);
    const total = parts.reduce((s, p) => s + p.width, 0);
    if (alignRight) x = -total;
    for (const part of parts) {
      el("rect", { x, y: 0, width: part.width - 2, height: 11, rx: 3, fill: colorOf(part.status).stroke }, g);
      const t = el("text", { x: x + (part.width - 2) / 2, y: 9, class: "caw-count", "text-anchor": "middle" }, g);
      t.textContent = String(part.count);
      x += part.width;
    }
  }

  drawNode(node) {
    const g = el("g", { class: `caw-node caw-node-${node.kind}`, "data-id": node.id, "data-name": node.label,
      transform: `translate(${node.x},${node.y})` }, this.nodeLayer);
    const rect = el("rect", { width: node.w, height: node.h, rx: 6 }, g);
    const stripe = el("rect", { width: 5, height: node.h, rx: 2 }, g);
    const label = el("text", { x: 12, y: node.kind === "group" ? 18 : node.h / 2 + 4, class: "caw-node-label" }, g);
    const title = el("title", {}, g);
    const counts = node.kind === "group" ? el("g", { transform: `translate(12, ${node.h - 19})` }, g) : null;
    this.nodeEls.set(node.id, { g, rect, stripe, label, title, counts });
    this.paintNode(node);
  }

  paintNode(node) {
    const parts = this.nodeEls.get(node.id);
    if (!parts) return;
    const colour = node.kind === "group" ? theme.groupNode : colorOf(node.status);
    parts.rect.setAttribute("fill", colour.fill);
    parts.rect.setAttribute("stroke", colour.stroke);
    parts.stripe.setAttribute("fill", colour.stroke);
    parts.label.setAttribute("fill", colour.text);
    parts.label.textContent = node.kind === "group" ? `▸ ${fitText(node.label, node.w - 24)} (${node.members.length})`
      : fitText(node.label, node.w - 20);
    parts.title.textContent = node.kind === "group" ? `${node.label}: ${node.members.length} tasks (click to expand)`
      : `${node.label} · ${node.status}`;
    parts.g.dataset.status = node.status || "group";
    if (parts.counts) this.drawCounts(parts.counts, node.counts, false);
  }

  updateNodes() {
    for (const node of this.scene.nodes) this.paintNode(node);
    for (const box of this.scene.boxes) this.drawCounts(box.countsEl, box.counts, true);
  }

  flash(ids) {
    for (const id of ids) {
      const parts = this.nodeEls.get(id);
      if (!parts) continue;
      parts.g.classList.remove("caw-flash");
      void parts.g.getBoundingClientRect();
      parts.g.classList.add("caw-flash");
    }
  }

  setView(view) {
    this.drawn = { x: view.x, y: view.y, k: view.k };
    this.world.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
  }

  setHighlight(hl) {
    for (const [id, parts] of this.nodeEls) {
      const c = parts.g.classList;
      c.toggle("is-hover", hl.hover === id);
      c.toggle("is-selected", hl.selected === id);
      c.toggle("is-source", hl.dragFrom === id);
      c.toggle("is-target", hl.dropTarget === id);
      c.toggle("is-match", !!hl.matches && hl.matches.has(id));
      c.toggle("is-dim", (!!hl.matches && !hl.matches.has(id)) || (!!hl.related && !hl.related.has(id)));
    }
    for (const [key, path] of this.edgeEls) {
      const state = hl.selectedEdge === key ? "-sel" : hl.up.has(key) ? "-up" : hl.down.has(key) ? "-down" : "";
      const stroke = { "-sel": theme.selected, "-up": theme.edgeUp, "-down": theme.edgeDown, "": theme.edge }[state];
      path.setAttribute("stroke", stroke);
      path.setAttribute("marker-end", `url(#${this.uid}-arrow${state})`);
      path.classList.toggle("is-lit", state !== "");
      path.classList.toggle("is-dim", !!hl.related && state === "");
    }
    if (hl.drag) {
      const [x1, y1, x2, y2] = hl.drag;
      for (const [k, v] of Object.entries({ x1, y1, x2, y2, visibility: "visible" })) this.dragLine.setAttribute(k, v);
    } else {
      this.dragLine.setAttribute("visibility", "hidden");
    }
  }

  resize() {}

  destroy() {
    this.svg.remove();
  }
}
