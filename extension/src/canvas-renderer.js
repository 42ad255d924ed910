// Canvas for large graphs: one element whatever the size, nodes batched by colour, edges
// stroked as one path, off-screen items culled, and labels drawn only when readable.
import { colorOf, theme } from "./colors.js";
import { countsBar, fitText } from "./text.js";

const LABEL_ZOOM = 0.45;
const ARROW_ZOOM = 0.3;
const DIM_ALPHA = 0.22;

export class CanvasRenderer {
  constructor(stage, onPaint) {
    this.kind = "canvas";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "caw-dag-canvas";
    this.ctx = this.canvas.getContext("2d");
    this.onPaint = onPaint;
    this.frame = 0;
    this.hl = null;
    stage.appendChild(this.canvas);
    this.element = this.canvas;
  }

  setScene(scene) {
    this.scene = scene;
    this.requestDraw();
  }

  updateNodes() {
    this.requestDraw();
  }

  flash() {}

  setView(view) {
    this.view = view;
    this.requestDraw();
  }

  setHighlight(hl) {
    this.hl = hl;
    this.requestDraw();
  }

  resize(width, height) {
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(width * dpr));
    this.canvas.height = Math.max(1, Math.round(height * dpr));
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.requestDraw();
  }

  requestDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const { scene, view } = this;
    if (!scene || !view) return;
    const started = performance.now();
    const dpr = window.devicePixelRatio || 1;
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = { x: view.x, y: view.y, k: view.k };
    this.paint(this.ctx, view, dpr);
    if (this.onPaint) this.onPaint(performance.now() - started);
  }

  /** Draw the scene into another context (an export) through ``view``. */
  drawInto(ctx, view) {
    const own = this.ctx;
    this.ctx = ctx;
    ctx.fillStyle = theme.dark ? "#111" : "#fff";
    ctx.fillRect(0, 0, view.width, view.height);
    const seen = { worldRect: () => ({ x: -view.x / view.k, y: -view.y / view.k, w: view.width / view.k,
      h: view.height / view.k }) };
    this.paint(ctx, { ...view, ...seen }, 1);
    this.ctx = own;
  }

  paint(ctx, view, dpr) {
    const { scene } = this;
    ctx.setTransform(dpr * view.k, 0, 0, dpr * view.k, dpr * view.x, dpr * view.y);
    const seen = view.worldRect();
    const visible = (x, y, w, h) => x + w >= seen.x && x <= seen.x + seen.w && y + h >= seen.y && y <= seen.y + seen.h;
    const hl = this.hl || { up: new Set(), down: new Set() };
    this.drawBoxes(scene.boxes.filter((b) => visible(b.x, b.y, b.w, b.h)), view.k);
    this.drawEdges(scene.edges, hl, visible, view.k);
    const nodes = scene.nodes.filter((n) => visible(n.x, n.y, n.w, n.h));
    this.drawNodes(nodes, hl, view.k);
    this.drawMarks(hl, view.k);
  }

  drawBoxes(boxes, k) {
    const { ctx } = this;
    ctx.lineWidth = 1 / k;
    for (const b of boxes) {
      ctx.fillStyle = theme.groupBox.fill;
      ctx.strokeStyle = theme.groupBox.stroke;
      ctx.fillRect(b.x, b.y, b.w, b.h);
      ctx.strokeRect(b.x, b.y, b.w, b.h);
      if (k >= LABEL_ZOOM) {
        ctx.fillStyle = theme.groupBox.text;
        ctx.font = "bold 12px sans-serif";
        ctx.fillText(`▾ ${b.group}`, b.x + 8, b.y + 14);
      }
    }
  }

  drawEdges(edges, hl, visible, k) {
    const { ctx } = this;
    const lit = { up: [], down: [], sel: [] };
    ctx.beginPath();
    for (const e of edges) {
      const box = edgeBox(e.geom);
      if (!visible(box[0], box[1], box[2] - box[0], box[3] - box[1])) continue;
      if (hl.selectedEdge === e.key) lit.sel.push(e);
      else if (hl.up.has(e.key)) lit.up.push(e);
      else if (hl.down.has(e.key)) lit.down.push(e);
      else trace(ctx, e.geom);
    }
    ctx.globalAlpha = hl.related || hl.matches ? DIM_ALPHA : 1;
    ctx.strokeStyle = theme.edge;
    ctx.lineWidth = Math.max(1 / k, 0.8);
    ctx.stroke();
    ctx.globalAlpha = 1;
    const litColours = [[lit.up, theme.edgeUp], [lit.down, theme.edgeDown], [lit.sel, theme.selected]];
    for (const [list, colour] of litColours) {
      if (!list.length) continue;
      ctx.beginPath();
      for (const e of list) trace(ctx, e.geom);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2 / Math.min(k, 1);
      ctx.stroke();
    }
    if (k >= ARROW_ZOOM) this.drawArrows(edges, hl, visible);
  }

  drawArrows(edges, hl, visible) {
    const { ctx } = this;
    ctx.beginPath();
    for (const e of edges) {
      const [x, y, px, py] = tip(e.geom);
      if (!visible(x - 8, y - 8, 16, 16)) continue;
      const a = Math.atan2(y - py, x - px);
      ctx.moveTo(x, y);
      ctx.lineTo(x - 8 * Math.cos(a - 0.4), y - 8 * Math.sin(a - 0.4));
      ctx.lineTo(x - 8 * Math.cos(a + 0.4), y - 8 * Math.sin(a + 0.4));
      ctx.closePath();
    }
    ctx.fillStyle = theme.edge;
    ctx.fill();
  }

  drawNodes(nodes, hl, k) {
    const { ctx } = this;
    const dimmed = (id) => (hl.matches && !hl.matches.has(id)) || (hl.related && !hl.related.has(id));
    const batches = new Map();
    for (const n of nodes) {
      const key = `${n.kind === "group" ? "group" : n.status}|${dimmed(n.id) ? 1 : 0}`;
      if (!batches.has(key)) batches.set(key, []);
      batches.get(key).push(n);
    }
    for (const [key, list] of batches) {
      const [status, dim] = key.split("|");
      const colour = status === "group" ? theme.groupNode : colorOf(status);
      ctx.globalAlpha = dim === "1" ? DIM_ALPHA : 1;
      ctx.fillStyle = k >= LABEL_ZOOM ? colour.fill : colour.stroke;
      ctx.beginPath();
      const least = 1.5 / k; // at any zoom a node stays at least a pixel and a half on screen
      for (const n of list) ctx.rect(n.x, n.y, Math.max(n.w, least), Math.max(n.h, least));
      ctx.fill();
      if (k >= LABEL_ZOOM) {
        ctx.strokeStyle = colour.stroke;
        ctx.lineWidth = 1 / k;
        ctx.stroke();
        ctx.fillStyle = colour.stroke;
        ctx.beginPath();
        for (const n of list) ctx.rect(n.x, n.y, 5, n.h);
        ctx.fill();
        ctx.fillStyle = colour.text;
        ctx.font = "12px sans-serif";
        for (const n of list) this.drawLabel(n);
      }
    }
    ctx.globalAlpha = 1;
    for (const n of nodes) if (n.kind === "group" && k >= LABEL_ZOOM * 0.6) this.drawCounts(n);
  }

  drawLabel(n) {
    const { ctx } = this;
    if (n.kind === "group") {
      ctx.font = "bold 12px sans-serif";
      ctx.fillText(`▸ ${fitText(n.label, n.w - 60)} (${n.members.length})`, n.x + 12, n.y + 18);
      ctx.font = "12px sans-serif";
    } else {
      ctx.fillText(fitText(n.label, n.w - 20), n.x + 12, n.y + n.h / 2 + 4);
    }
  }

  drawCounts(n) {
    const { ctx } = this;
    let x = n.x + 12;
    ctx.font = "9px sans-serif";
    for (const part of countsBar(n.counts)) {
      ctx.fillStyle = colorOf(part.status).stroke;
      ctx.fillRect(x, n.y + n.h - 19, part.width - 2, 11);
      ctx.fillStyle = "#fff";
      ctx.fillText(String(part.count), x + 3, n.y + n.h - 10);
      x += part.width;
    }
  }

  drawMarks(hl, k) {
    const { ctx, scene } = this;
    const outline = (id, colour, width) => {
      const n = id && scene.byId.get(id);
      if (!n) return;
      ctx.strokeStyle = colour;
      ctx.lineWidth = width / Math.min(k, 1);
      ctx.strokeRect(n.x - 2, n.y - 2, n.w + 4, n.h + 4);
    };
    if (hl.matches && hl.matches.size < 2000) for (const id of hl.matches) outline(id, theme.match, 3);
    outline(hl.hover, theme.hover, 1.5);
    outline(hl.dropTarget, theme.edgeUp, 3);
    outline(hl.selected, theme.selected, 2.5);
    if (hl.drag) {
      const [x1, y1, x2, y2] = hl.drag;
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.setLineDash([6 / k, 4 / k]);
      ctx.strokeStyle = theme.edgeUp;
      ctx.lineWidth = 2 / k;
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.canvas.remove();
  }
}

function trace(ctx, geom) {
  if (geom.kind === "poly") {
    ctx.moveTo(geom.pts[0][0], geom.pts[0][1]);
    for (let i = 1; i < geom.pts.length; i++) ctx.lineTo(geom.pts[i][0], geom.pts[i][1]);
  } else {
    const p = geom.p;
    ctx.moveTo(p[0], p[1]);
    ctx.bezierCurveTo(p[2], p[3], p[4], p[5], p[6], p[7]);
  }
}

function edgeBox(geom) {
  const xs = geom.kind === "poly" ? geom.pts.map((p) => p[0]) : [geom.p[0], geom.p[6]];
  const ys = geom.kind === "poly" ? geom.pts.map((p) => p[1]) : [geom.p[1], geom.p[7]];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function tip(geom) {
  if (geom.kind === "poly") {
    const n = geom.pts.length;
    return [geom.pts[n - 1][0], geom.pts[n - 1][1], geom.pts[n - 2][0], geom.pts[n - 2][1]];
  }
  return [geom.p[6], geom.p[7], geom.p[4], geom.p[5]];
}
