// The workflow as the browser holds it: rows rebuilt from the column-shaped synced state
// (caw_lab/lab/dag_state.py is the contract), patched by deltas, and the graph actually
// drawn, where a collapsed parallel group stands in for its members.

/** Synced task column -> field of a task row. */
export const TASK_COLUMNS = {
  ids: "id",
  names: "name",
  statuses: "status",
  groups: "group",
  summaries: "summary",
  agents: "agent",
  durations: "duration",
};

export const STATUSES = ["pending", "blocked", "planning", "in_progress", "paused", "completed", "failed", "skipped"];

export const TASK_SIZE = { width: 168, height: 30 };
export const GROUP_SIZE = { width: 196, height: 50 };
export const GROUP_PREFIX = "group:";

const edgeKey = (from, to) => `${from}>${to}`;

/** Rows of column-shaped data: ``{ids: [...], names: [...]}`` -> ``[{id, name}, ...]``. */
export function rows(columns) {
  const ids = columns.ids || [];
  return ids.map((_, i) => {
    const row = {};
    for (const [column, field] of Object.entries(TASK_COLUMNS)) row[field] = (columns[column] || [])[i] ?? "";
    row.duration = Number(row.duration) || 0;
    return row;
  });
}

export class TaskGraph {
  constructor() {
    this.tasks = new Map();
    this.edges = new Map();
    this.preds = new Map();
    this.succs = new Map();
  }

  load(tasks, edges) {
    this.tasks = new Map(rows(tasks).map((t) => [t.id, t]));
    this.edges = new Map();
    (edges.from || []).forEach((from, i) => this.edges.set(edgeKey(from, edges.to[i]), { from, to: edges.to[i] }));
    this.index();
  }

  /** Apply a delta; says whether the shape changed (needs a new layout) and which tasks changed. */
  apply(delta) {
    let structural = false;
    const changed = new Set();
    for (const row of rows(delta.upsert || {})) {
      const old = this.tasks.get(row.id);
      if (!old || old.group !== row.group || old.name !== row.name) structural = true;
      this.tasks.set(row.id, row);
      changed.add(row.id);
    }
    for (const id of delta.remove || []) {
      structural = this.tasks.delete(id) || structural;
    }
    const added = delta.edges_added || {};
    (added.from || []).forEach((from, i) => this.edges.set(edgeKey(from, added.to[i]), { from, to: added.to[i] }));
    const removed = delta.edges_removed || {};
    (removed.from || []).forEach((from, i) => this.edges.delete(edgeKey(from, removed.to[i])));
    if ((added.from || []).length || (removed.from || []).length) structural = true;
    for (const [key, e] of this.edges) if (!this.tasks.has(e.from) || !this.tasks.has(e.to)) this.edges.delete(key);
    if (structural) this.index();
    return { structural, changed };
  }

  index() {
    this.preds = new Map([...this.tasks.keys()].map((id) => [id, []]));
    this.succs = new Map([...this.tasks.keys()].map((id) => [id, []]));
    for (const { from, to } of this.edges.values()) {
      this.succs.get(from)?.push(to);
      this.preds.get(to)?.push(from);
    }
  }

  /** Every task upstream (``preds``) or downstream (``succs``) of ``id``, transitively. */
  reach(id, direction) {
    const next = direction === "up" ? this.preds : this.succs;
    const seen = new Set();
    const stack = [id];
    while (stack.length) {
      for (const other of next.get(stack.pop()) || []) {
        if (!seen.has(other)) {
          seen.add(other);
          stack.push(other);
        }
      }
    }
    return seen;
  }

  counts(ids) {
    const counts = {};
    for (const id of ids) {
      const status = this.tasks.get(id)?.status;
      if (status) counts[status] = (counts[status] || 0) + 1;
    }
    return counts;
  }

  /** ``id`` with everything upstream and downstream of it: what its lineage focus shows. */
  lineage(id) {
    if (!this.tasks.has(id)) return new Set();
    return new Set([id, ...this.reach(id, "up"), ...this.reach(id, "down")]);
  }

  /** Parallel group -> member ids, of the tasks ``shown`` keeps (all of them by default). */
  groups(shown = null) {
    const groups = new Map();
    for (const t of this.tasks.values()) {
      if (!t.group || (shown && !shown(t))) continue;
      if (!groups.has(t.group)) groups.set(t.group, []);
      groups.get(t.group).push(t.id);
    }
    return groups;
  }
}

/**
 * Which tasks are drawn: none whose status is in ``hidden``, and with ``focus`` (a set of ids,
 * a task's lineage) only those in it. Returns null when every task is drawn.
 */
export function taskFilter(hidden, focus) {
  if (!hidden.size && !focus) return null;
  return (t) => !hidden.has(t.status) && (!focus || focus.has(t.id));
}

/**
 * The graph to lay out and draw: the tasks ``shown`` keeps (all when null), with each collapsed
 * group replaced by one node. ``rep`` maps a drawn task's id to the id of the node that shows it;
 * a task filtered out has no entry, and neither have its edges.
 */
export function visibleGraph(graph, collapsed, shown = null) {
  const nodes = new Map();
  const rep = new Map();
  const groups = graph.groups(shown);
  for (const [group, members] of groups) {
    if (!collapsed.has(group)) continue;
    const id = GROUP_PREFIX + group;
    nodes.set(id, { id, kind: "group", group, label: group, members, counts: graph.counts(members), ...GROUP_SIZE });
    for (const m of members) rep.set(m, id);
  }
  for (const t of graph.tasks.values()) {
    if (rep.has(t.id) || (shown && !shown(t))) continue;
    rep.set(t.id, t.id);
    nodes.set(t.id, { id: t.id, kind: "task", group: t.group, label: t.name, status: t.status, ...TASK_SIZE });
  }
  const edges = new Map();
  for (const { from, to } of graph.edges.values()) {
    const a = rep.get(from);
    const b = rep.get(to);
    if (a && b && a !== b) edges.set(edgeKey(a, b), { from: a, to: b, key: edgeKey(a, b), task: a === from && b === to });
  }
  return { nodes, edges, rep, groups };
}

export { edgeKey };
