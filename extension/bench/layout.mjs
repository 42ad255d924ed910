// Layout time, dagre against the widget's linear-time layered layout, on the staged graphs
// bench/widget.py draws (each task waits on one or two tasks of the stage before).
// `node bench/layout.mjs` from extension/ after `npm ci`; results in bench/RESULTS.md.
import dagre from "@dagrejs/dagre";
import { fastLayout } from "../src/fast-layout.js";

const SPACING = { rankSep: 56, nodeSep: 12 };
const DAGRE_UP_TO = 1000;

function staged(stages, width) {
  let seed = stages * width;
  const random = () => (seed = (seed * 1664525 + 1013904223) % 4294967296) / 4294967296;
  const nodes = [];
  const edges = new Map();
  for (let s = 0; s < stages; s++) {
    for (let w = 0; w < width; w++) {
      nodes.push({ id: `s${s}-${w}`, width: 168, height: 30 });
      const k = s ? 1 + Math.floor(random() * 2) : 0;
      for (let j = 0; j < k; j++) {
        const from = `s${s - 1}-${Math.floor(random() * width)}`;
        edges.set(`${from}>s${s}-${w}`, [from, `s${s}-${w}`]);
      }
    }
  }
  return { nodes, edges: [...edges.values()] };
}

function withDagre({ nodes, edges }) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", ranksep: SPACING.rankSep, nodesep: SPACING.nodeSep, edgesep: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const [from, to] of edges) g.setEdge(from, to);
  dagre.layout(g);
}

const time = (fn) => {
  const started = performance.now();
  fn();
  return performance.now() - started;
};

withDagre(staged(3, 10));
console.log("| tasks | edges | dagre 3.1.3 | layered (fast-layout.js) |");
console.log("|---:|---:|---:|---:|");
for (const [stages, width] of [[10, 10], [15, 20], [20, 50], [100, 50], [200, 100]]) {
  const graph = staged(stages, width);
  const n = graph.nodes.length;
  const dagreMs = n <= DAGRE_UP_TO ? `${Math.round(time(() => withDagre(graph))).toLocaleString("en")} ms` : "not run";
  const fastMs = Math.min(...[1, 2, 3].map(() => time(() => fastLayout(graph.nodes, graph.edges, SPACING))));
  console.log(`| ${n.toLocaleString("en")} | ${graph.edges.length.toLocaleString("en")} | ${dagreMs} | ${fastMs.toFixed(1)} ms |`);
}
