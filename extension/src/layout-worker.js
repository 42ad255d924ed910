// The layout worker: dagre for graphs it lays out quickly, the linear-time layered layout
// beyond that, so the page never freezes whatever the workflow's size.
import dagre from "@dagrejs/dagre";
import { fastLayout } from "./fast-layout.js";

/** Largest graph given to dagre: it takes up to about 0.5 s at this size, over a second at
 * 300 tasks and minutes at a few thousand. */
const DAGRE_NODES = 150;
const DAGRE_EDGES = 300;
/** Up to this size parallel groups are laid out as dagre clusters, so a group's box holds
 * only its members; beyond it clustering doubles dagre's time and boxes are drawn around
 * members placed next to each other. */
const CLUSTER_NODES = 60;
const SPACING = { rankSep: 56, nodeSep: 12 };
const CLUSTER = "cluster:";

/** ``direction`` "TB" (top to bottom, for narrow stages) or "LR"; the layered layout of big
 * graphs is always left to right. */
function dagreLayout(nodes, edges, direction = "LR") {
  const clustered = nodes.length <= CLUSTER_NODES && nodes.some((n) => n.group);
  const g = new dagre.graphlib.Graph({ compound: clustered });
  g.setGraph({ rankdir: direction === "TB" ? "TB" : "LR", ranksep: SPACING.rankSep,
    nodesep: clustered ? 30 : SPACING.nodeSep, edgesep: 8, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    g.setNode(n.id, { width: n.width, height: n.height });
    if (clustered && n.group) {
      if (!g.hasNode(CLUSTER + n.group)) g.setNode(CLUSTER + n.group, {});
      g.setParent(n.id, CLUSTER + n.group);
    }
  }
  for (const [from, to] of edges) if (from !== to) g.setEdge(from, to);
  dagre.layout(g);
  const positions = {};
  const clusters = {};
  for (const id of g.nodes()) {
    const p = g.node(id);
    if (id.startsWith(CLUSTER)) clusters[id.slice(CLUSTER.length)] = [p.x - p.width / 2, p.y - p.height / 2, p.width, p.height];
    else positions[id] = [p.x, p.y];
  }
  const routes = {};
  for (const e of g.edges()) routes[`${e.v}>${e.w}`] = g.edge(e).points.map((p) => [p.x, p.y]);
  const { width, height } = g.graph();
  return { positions, routes, clusters, width, height };
}

function layout({ nodes, edges, direction }) {
  const small = nodes.length <= DAGRE_NODES && edges.length <= DAGRE_EDGES;
  const started = performance.now();
  const result = small ? dagreLayout(nodes, edges, direction) : { ...fastLayout(nodes, edges, SPACING), routes: {}, clusters: {} };
  return { ...result, engine: small ? "dagre" : "layered", ms: performance.now() - started };
}

self.onmessage = (event) => {
  const { id, graph } = event.data;
  try {
    self.postMessage({ id, result: layout(graph) });
  } catch (error) {
    self.postMessage({ id, error: String(error && error.stack || error) });
  }
};
