// What is drawn: nodes placed by the layout, edge geometry, group boxes, bounds, and a
// grid index so hover, click and drag find a node in constant time at any size.

const CELL = 256;
const BOX_PAD = 10;
const BOX_HEADER = 20;

/**
 * @param {ReturnType<import("./graph.js").visibleGraph>} visible
 * @param {{positions: Record<string, [number, number]>, routes: Record<string, [number, number][]>}} layout
 * @param {import("./graph.js").TaskGraph} graph
 */
export function buildScene(visible, layout, graph) {
  const nodes = [];
  const byId = new Map();
  for (const node of visible.nodes.values()) {
    const [cx, cy] = layout.positions[node.id] || [0, 0];
    const placed = { ...node, x: cx - node.width / 2, y: cy - node.height / 2, w: node.width, h: node.height };
    nodes.push(placed);
    byId.set(node.id, placed);
  }
  const edges = [];
  for (const edge of visible.edges.values()) {
    const from = byId.get(edge.from);
    const to = byId.get(edge.to);
    if (from && to) edges.push({ ...edge, geom: geometry(from, to, layout.routes[edge.key]) });
  }
  const scene = { nodes, byId, edges, boxes: [], bounds: { x: 0, y: 0, w: 1, h: 1 }, grid: new Map(), rep: visible.rep,
    preds: new Map(), succs: new Map() };
  for (const e of edges) {
    if (!scene.succs.has(e.from)) scene.succs.set(e.from, []);
    if (!scene.preds.has(e.to)) scene.preds.set(e.to, []);
    scene.succs.get(e.from).push(e);
    scene.preds.get(e.to).push(e);
  }
  scene.boxes = groupBoxes(visible, byId, graph, layout.clusters || {});
  scene.bounds = bounds(nodes, scene.boxes);
  index(scene);
  return scene;
}

/** A polyline when the layout routed the edge, else a horizontal S-curve. */
function geometry(from, to, route) {
  if (route && route.length >= 2) return { kind: "poly", pts: route };
  const x0 = from.x + from.w;
  const y0 = from.y + from.h / 2;
  const x3 = to.x;
  const y3 = to.y + to.h / 2;
  const dx = Math.max(24, (x3 - x0) / 2);
  return { kind: "bezier", p: [x0, y0, x0 + dx, y0, x3 - dx, y3, x3, y3] };
}

/** Points along an edge, for hit tests and the minimap. */
export function samples(geom, steps = 12) {
  if (geom.kind === "poly") return geom.pts;
  const [x0, y0, x1, y1, x2, y2, x3, y3] = geom.p;
  const out = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    const u = 1 - t;
    const a = u * u * u;
    const b = 3 * u * u * t;
    const c = 3 * u * t * t;
    const d = t * t * t;
    out.push([a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3]);
  }
  return out;
}

export function svgPath(geom) {
  if (geom.kind === "poly") return "M" + geom.pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L");
  const p = geom.p.map((v) => v.toFixed(1));
  return `M${p[0]},${p[1]}C${p[2]},${p[3]} ${p[4]},${p[5]} ${p[6]},${p[7]}`;
}

/** A box per expanded group: the layout's cluster when it made one, else around the members. */
function groupBoxes(visible, byId, graph, clusters) {
  const boxes = [];
  for (const [group, members] of visible.groups) {
    const placed = members.map((id) => byId.get(id)).filter(Boolean);
    if (!placed.length || placed[0].kind !== "task") continue;
    const counts = graph.counts(members);
    if (clusters[group]) {
      const [x, y, w, h] = clusters[group];
      boxes.push({ group, members, counts, x, y: y - BOX_HEADER, w, h: h + BOX_HEADER });
      continue;
    }
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const n of placed) {
      x0 = Math.min(x0, n.x);
      y0 = Math.min(y0, n.y);
      x1 = Math.max(x1, n.x + n.w);
      y1 = Math.max(y1, n.y + n.h);
    }
    boxes.push({
      group, members, counts,
      x: x0 - BOX_PAD, y: y0 - BOX_PAD - BOX_HEADER, w: x1 - x0 + 2 * BOX_PAD, h: y1 - y0 + 2 * BOX_PAD + BOX_HEADER,
    });
  }
  return boxes;
}

function bounds(nodes, boxes) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of [...nodes, ...boxes]) {
    x0 = Math.min(x0, n.x);
    y0 = Math.min(y0, n.y);
    x1 = Math.max(x1, n.x + n.w);
    y1 = Math.max(y1, n.y + n.h);
  }
  return nodes.length ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : { x: 0, y: 0, w: 1, h: 1 };
}

function index(scene) {
  scene.grid = new Map();
  for (const node of scene.nodes) {
    for (let cx = Math.floor(node.x / CELL); cx <= Math.floor((node.x + node.w) / CELL); cx++) {
      for (let cy = Math.floor(node.y / CELL); cy <= Math.floor((node.y + node.h) / CELL); cy++) {
        const key = `${cx},${cy}`;
        if (!scene.grid.has(key)) scene.grid.set(key, []);
        scene.grid.get(key).push(node);
      }
    }
  }
}

export function nodeAt(scene, wx, wy) {
  for (const n of scene.grid.get(`${Math.floor(wx / CELL)},${Math.floor(wy / CELL)}`) || []) {
    if (wx >= n.x && wx <= n.x + n.w && wy >= n.y && wy <= n.y + n.h) return n;
  }
  return null;
}

/** The header strip of an expanded group's box at a point (clicking it collapses the group). */
export function boxHeaderAt(scene, wx, wy) {
  return scene.boxes.find((b) => wx >= b.x && wx <= b.x + b.w && wy >= b.y && wy <= b.y + BOX_HEADER) || null;
}

export function edgeAt(scene, wx, wy, tolerance) {
  let best = null;
  let bestDistance = tolerance;
  for (const edge of scene.edges) {
    const pts = samples(edge.geom);
    for (let i = 1; i < pts.length; i++) {
      const d = segmentDistance(wx, wy, pts[i - 1], pts[i]);
      if (d < bestDistance) {
        bestDistance = d;
        best = edge;
      }
    }
  }
  return best;
}

function segmentDistance(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Statuses changed but the shape did not: refresh nodes, group counts and box counts. */
export function refreshStatuses(scene, graph) {
  for (const node of scene.nodes) {
    if (node.kind === "task") {
      const task = graph.tasks.get(node.id);
      if (task) node.status = task.status;
    } else {
      node.counts = graph.counts(node.members);
    }
  }
  for (const box of scene.boxes) box.counts = graph.counts(box.members);
}

/** The lineage of a drawn node: every node and edge upstream and downstream of it. */
export function lineage(scene, id) {
  const related = new Set([id]);
  const walk = (next, end, keys) => {
    const stack = [id];
    const seen = new Set([id]);
    while (stack.length) {
      for (const e of next.get(stack.pop()) || []) {
        keys.add(e.key);
        related.add(e[end]);
        if (!seen.has(e[end])) {
          seen.add(e[end]);
          stack.push(e[end]);
        }
      }
    }
  };
  const up = new Set();
  const down = new Set();
  walk(scene.preds, "from", up);
  walk(scene.succs, "to", down);
  return { related, up, down };
}
