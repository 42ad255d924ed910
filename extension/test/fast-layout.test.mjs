import assert from "node:assert/strict";
import { test } from "node:test";
import { fastLayout } from "../src/fast-layout.js";

const SPACING = { rankSep: 56, nodeSep: 12 };
const node = (id, group) => ({ id, width: 168, height: 30, group });

function stages(count, width) {
  const nodes = [];
  const edges = [];
  for (let s = 0; s < count; s++) {
    for (let w = 0; w < width; w++) {
      nodes.push(node(`s${s}-${w}`, s % 2 ? undefined : `g${s}`));
      if (s) edges.push([`s${s - 1}-${(w * 7) % width}`, `s${s}-${w}`], [`s${s - 1}-${w}`, `s${s}-${w}`]);
    }
  }
  return { nodes, edges };
}

function overlaps(nodes, positions) {
  const byX = new Map();
  for (const n of nodes) {
    const [x, y] = positions[n.id];
    if (!byX.has(x)) byX.set(x, []);
    byX.get(x).push(y);
  }
  for (const ys of byX.values()) {
    ys.sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) if (ys[i] - ys[i - 1] < 30 + 12 - 1e-6) return true;
  }
  return false;
}

test("every edge runs left to right and no two nodes overlap", () => {
  const { nodes, edges } = stages(12, 20);
  const { positions, width, height } = fastLayout(nodes, edges, SPACING);
  assert.equal(Object.keys(positions).length, nodes.length);
  for (const [from, to] of edges) assert.ok(positions[from][0] < positions[to][0], `${from} -> ${to}`);
  assert.equal(overlaps(nodes, positions), false);
  for (const [x, y] of Object.values(positions)) assert.ok(x >= 0 && x <= width && y >= 0 && y <= height);
});

test("a source sits next to the task that waits for it, not in the first column", () => {
  const nodes = [node("a"), node("b"), node("c"), node("late")];
  const edges = [["a", "b"], ["b", "c"], ["late", "c"]];
  const { positions } = fastLayout(nodes, edges, SPACING);
  assert.equal(positions.late[0], positions.b[0]);
});

test("a very wide layer is split into side-by-side columns", () => {
  const nodes = Array.from({ length: 500 }, (_, i) => node(`t${i}`));
  const { positions, width, height } = fastLayout(nodes, [], SPACING);
  assert.ok(new Set(Object.values(positions).map(([x]) => x)).size > 1);
  assert.ok(height < 80 * 42 && width > 168);
  assert.equal(overlaps(nodes, positions), false);
});

test("a cycle is laid out instead of hanging", () => {
  const nodes = [node("a"), node("b"), node("c")];
  const { positions } = fastLayout(nodes, [["a", "b"], ["b", "c"], ["c", "a"]], SPACING);
  assert.equal(Object.keys(positions).length, 3);
});

test("collapsed groups between wide layers do not drift into a staircase", () => {
  // As the widget draws 5,000 tasks: a group node, 50 tasks waiting on it, some of them
  // (not all: the rest are sinks) feeding the next group node, and so on.
  const nodes = [];
  const edges = [];
  let seed = 7;
  const random = () => (seed = (seed * 1664525 + 1013904223) % 4294967296) / 4294967296;
  for (let s = 0; s < 50; s++) {
    nodes.push({ id: `g${s}`, width: 196, height: 50 });
    for (let w = 0; w < 50; w++) {
      nodes.push(node(`s${s}-${w}`));
      edges.push([`g${s}`, `s${s}-${w}`]);
      if (s < 49 && random() < 0.6) edges.push([`s${s}-${w}`, `g${s + 1}`]);
    }
  }
  const { positions } = fastLayout(nodes, edges, SPACING);
  const groups = Array.from({ length: 50 }, (_, s) => positions[`g${s}`][1]);
  assert.ok(Math.max(...groups) - Math.min(...groups) < 25 * 42, `groups span ${Math.max(...groups) - Math.min(...groups)}`);
});
