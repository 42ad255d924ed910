import assert from "node:assert/strict";
import { test } from "node:test";
import { TaskGraph, rows, taskFilter, visibleGraph } from "../src/graph.js";

const columns = (tasks) => ({
  ids: tasks.map((t) => t[0]), names: tasks.map((t) => t[0].toUpperCase()), statuses: tasks.map((t) => t[1]),
  groups: tasks.map((t) => t[2] || ""), summaries: tasks.map(() => ""), agents: tasks.map(() => ""),
});
const edges = (pairs) => ({ from: pairs.map((p) => p[0]), to: pairs.map((p) => p[1]) });

function sample() {
  const g = new TaskGraph();
  g.load(columns([["a", "completed"], ["b", "pending", "build"], ["c", "blocked", "build"], ["d", "blocked"]]),
    edges([["a", "b"], ["a", "c"], ["b", "c"], ["c", "d"]]));
  return g;
}

test("rows turn columns into records", () => {
  assert.deepEqual(rows(columns([["a", "pending", "g"]])),
    [{ id: "a", name: "A", status: "pending", group: "g", summary: "", agent: "", duration: 0 }]);
});

test("a status delta is not structural; an edge or a new task is", () => {
  const g = sample();
  const status = g.apply({ upsert: columns([["d", "pending"]]), remove: [] });
  assert.deepEqual([status.structural, [...status.changed]], [false, ["d"]]);
  assert.equal(g.tasks.get("d").status, "pending");
  assert.equal(g.apply({ edges_added: edges([["a", "d"]]) }).structural, true);
  assert.deepEqual(g.preds.get("d").sort(), ["a", "c"]);
  assert.equal(g.apply({ upsert: columns([["e", "pending"]]) }).structural, true);
});

test("removing a task drops its edges", () => {
  const g = sample();
  g.apply({ remove: ["c"] });
  assert.deepEqual([...g.edges.keys()], ["a>b"]);
  assert.deepEqual(g.succs.get("a"), ["b"]);
});

test("lineage follows edges both ways", () => {
  const g = sample();
  assert.deepEqual([...g.reach("c", "up")].sort(), ["a", "b"]);
  assert.deepEqual([...g.reach("b", "down")].sort(), ["c", "d"]);
});

test("a collapsed group stands in for its members, with their counts and outside edges", () => {
  const v = visibleGraph(sample(), new Set(["build"]));
  assert.deepEqual([...v.nodes.keys()].sort(), ["a", "d", "group:build"]);
  assert.deepEqual(v.nodes.get("group:build").counts, { pending: 1, blocked: 1 });
  assert.deepEqual([...v.edges.keys()].sort(), ["a>group:build", "group:build>d"]);
  assert.equal(v.rep.get("c"), "group:build");
});

test("a status filter drops those tasks, their edges, and groups left empty", () => {
  const g = sample();
  const v = visibleGraph(g, new Set(["build"]), taskFilter(new Set(["pending", "blocked"]), null));
  assert.deepEqual([...v.nodes.keys()], ["a"]);
  assert.equal(v.edges.size, 0);
  assert.equal(v.rep.has("b"), false);
  assert.equal(taskFilter(new Set(), null), null, "no filter: every task is drawn");
});

test("lineage is the task with its ancestors and descendants, and a focus draws only them", () => {
  const g = sample();
  g.load(columns([["a", "completed"], ["b", "pending"], ["c", "blocked"], ["d", "blocked"], ["x", "pending"]]),
    edges([["a", "b"], ["b", "c"], ["c", "d"], ["a", "x"]]));
  assert.deepEqual([...g.lineage("c")].sort(), ["a", "b", "c", "d"]);
  const v = visibleGraph(g, new Set(), taskFilter(new Set(), g.lineage("c")));
  assert.deepEqual([...v.nodes.keys()].sort(), ["a", "b", "c", "d"]);
  assert.deepEqual([...v.edges.keys()].sort(), ["a>b", "b>c", "c>d"]);
  assert.deepEqual([...g.lineage("missing")], []);
});
