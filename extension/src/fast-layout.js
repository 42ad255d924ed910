// A layered (Sugiyama-style) layout in linear time per sweep, for graphs too big for dagre.
//
// dagre 3 and elkjs both take tens of seconds to minutes on a few thousand tasks with
// many edges (measured: bench/RESULTS.md, "DAG widget"), so large graphs get this: longest
// path layering, a few barycentre sweeps to reduce crossings (members of a parallel group
// kept together), then each column placed as near its neighbours as ordering allows.

const SWEEPS = 4;
const MAX_PER_COLUMN = 60;

/**
 * @param {{id: string, width: number, height: number, group?: string}[]} nodes
 * @param {[string, string][]} edges  upstream -> downstream
 * @param {{rankSep: number, nodeSep: number}} spacing
 * @returns {{positions: Record<string, [number, number]>, width: number, height: number}}
 */
export function fastLayout(nodes, edges, spacing) {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const preds = nodes.map(() => []);
  const succs = nodes.map(() => []);
  for (const [from, to] of edges) {
    const u = index.get(from);
    const v = index.get(to);
    if (u === undefined || v === undefined || u === v) continue;
    succs[u].push(v);
    preds[v].push(u);
  }
  const layer = layering(nodes.length, preds, succs);
  const layers = ordering(nodes, layer, preds, succs);
  return coordinates(nodes, layers, preds, succs, spacing);
}

function topologicalOrder(count, preds, succs) {
  const indegree = preds.map((p) => p.length);
  const queue = [];
  for (let i = 0; i < count; i++) if (indegree[i] === 0) queue.push(i);
  for (let head = 0; head < queue.length; head++) {
    for (const v of succs[queue[head]]) if (--indegree[v] === 0) queue.push(v);
  }
  if (queue.length < count) {
    // A cycle (the server refuses them, but a layout must never hang): append the rest.
    const seen = new Uint8Array(count);
    for (const i of queue) seen[i] = 1;
    for (let i = 0; i < count; i++) if (!seen[i]) queue.push(i);
  }
  return queue;
}

function layering(count, preds, succs) {
  const order = topologicalOrder(count, preds, succs);
  const layer = new Int32Array(count);
  for (const v of order) {
    for (const u of preds[v]) if (layer[u] + 1 > layer[v]) layer[v] = layer[u] + 1;
  }
  // Sources with successors move right, next to their first successor, to shorten edges.
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i];
    if (preds[v].length || !succs[v].length) continue;
    let nearest = Infinity;
    for (const w of succs[v]) nearest = Math.min(nearest, layer[w]);
    layer[v] = nearest - 1;
  }
  return layer;
}

function ordering(nodes, layer, preds, succs) {
  let depth = 0;
  for (const l of layer) depth = Math.max(depth, l + 1);
  const layers = Array.from({ length: depth }, () => []);
  for (let i = 0; i < nodes.length; i++) layers[layer[i]].push(i);
  const position = new Float64Array(nodes.length);
  const place = () => layers.forEach((row) => row.forEach((v, i) => (position[v] = (i + 0.5) / row.length)));
  place();
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    const neighbours = sweep % 2 === 0 ? preds : succs;
    const rows = sweep % 2 === 0 ? layers : [...layers].reverse();
    for (const row of rows) sortRow(row, nodes, neighbours, position);
    place();
  }
  return layers;
}

function sortRow(row, nodes, neighbours, position) {
  const own = new Map();
  for (const v of row) {
    const ns = neighbours[v];
    own.set(v, ns.length ? ns.reduce((s, u) => s + position[u], 0) / ns.length : position[v]);
  }
  const groupSum = new Map();
  for (const v of row) {
    const g = nodes[v].group;
    if (!g) continue;
    const [sum, count] = groupSum.get(g) || [0, 0];
    groupSum.set(g, [sum + own.get(v), count + 1]);
  }
  const key = (v) => {
    const g = nodes[v].group;
    if (!g) return own.get(v);
    const [sum, count] = groupSum.get(g);
    return sum / count;
  };
  row.sort((a, b) => key(a) - key(b) || (nodes[a].group || "").localeCompare(nodes[b].group || "") ||
    own.get(a) - own.get(b));
}

function coordinates(nodes, layers, preds, succs, { rankSep, nodeSep }) {
  const y = new Float64Array(nodes.length);
  const columns = layers.map((row) => splitColumns(row));
  for (const column of columns.flat()) stack(column, nodes, nodeSep, y);
  const passes = [[preds, columns.slice(1)], [succs, columns.slice(0, -1).reverse()], [preds, columns.slice(1)]];
  for (const [neighbours, rows] of passes) {
    for (const column of rows.flat()) align(column, nodes, neighbours, nodeSep, y);
  }
  let top = Infinity;
  let bottom = -Infinity;
  for (let v = 0; v < nodes.length; v++) {
    top = Math.min(top, y[v] - nodes[v].height / 2);
    bottom = Math.max(bottom, y[v] + nodes[v].height / 2);
  }
  const positions = {};
  let x = 0;
  for (const layer of columns) {
    let width = 0;
    for (const column of layer) for (const v of column) width = Math.max(width, nodes[v].width);
    layer.forEach((column, c) => {
      for (const v of column) positions[nodes[v].id] = [x + c * (width + nodeSep * 2) + width / 2, y[v] - top];
    });
    x += layer.length * (width + nodeSep * 2) - nodeSep * 2 + rankSep;
  }
  return { positions, width: Math.max(0, x - rankSep), height: Math.max(0, bottom - top) };
}

/** A very wide layer is drawn as several side-by-side columns of at most MAX_PER_COLUMN. */
function splitColumns(row) {
  const count = Math.max(1, Math.ceil(row.length / MAX_PER_COLUMN));
  const size = Math.ceil(row.length / count);
  return Array.from({ length: count }, (_, c) => row.slice(c * size, (c + 1) * size));
}

/** Minimum centre-to-centre offsets of a column's nodes from its first node. */
function offsets(column, nodes, nodeSep) {
  const out = new Float64Array(column.length);
  for (let i = 1; i < column.length; i++) {
    out[i] = out[i - 1] + nodes[column[i - 1]].height / 2 + nodeSep + nodes[column[i]].height / 2;
  }
  return out;
}

function stack(column, nodes, nodeSep, y) {
  const off = offsets(column, nodes, nodeSep);
  column.forEach((v, i) => (y[v] = off[i]));
}

/**
 * Move a column's nodes as close as they can get to the mean height of their neighbours
 * while keeping their order and spacing: least squares under ordering constraints,
 * solved exactly in linear time by pooling adjacent violators.
 */
function align(column, nodes, neighbours, nodeSep, y) {
  const off = offsets(column, nodes, nodeSep);
  const target = column.map((v, i) => {
    const ns = neighbours[v];
    return (ns.length ? ns.reduce((sum, u) => sum + y[u], 0) / ns.length : y[v]) - off[i];
  });
  const blocks = [];
  for (let i = 0; i < column.length; i++) {
    let block = { sum: target[i], count: 1, start: i };
    while (blocks.length && blocks[blocks.length - 1].sum / blocks[blocks.length - 1].count >= block.sum / block.count) {
      const prev = blocks.pop();
      block = { sum: prev.sum + block.sum, count: prev.count + block.count, start: prev.start };
    }
    blocks.push(block);
  }
  for (const block of blocks) {
    const z = block.sum / block.count;
    for (let i = block.start; i < block.start + block.count; i++) y[column[i]] = z + off[i];
  }
}
