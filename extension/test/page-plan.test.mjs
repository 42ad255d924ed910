import assert from "node:assert/strict";
import { test } from "node:test";
import { age, graphOf, planText, validatePlan } from "../src/page/plan.js";

test("a good plan passes", () => {
  const { plan, errors } = validatePlan('{"tasks": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}');
  assert.deepEqual(errors, []);
  assert.equal(plan.tasks.length, 2);
});

test("every mistake is named, with where it is", () => {
  assert.match(validatePlan("{nope").errors[0], /^Not JSON/);
  assert.deepEqual(validatePlan("[]").errors, ["The plan must be an object."]);
  assert.deepEqual(validatePlan("{}").errors, ['The plan needs a "tasks" list.']);
  const { plan, errors } = validatePlan(JSON.stringify({ tasks: [
    { name: "a" }, { name: "a" }, { name: "" }, { name: "c", depends_on: ["zz", "c"] }, { name: "d", depends_on: "a" }] }));
  assert.equal(plan, null);
  assert.deepEqual(errors, [
    'tasks[1]: the name "a" is already used by tasks[0].',
    "tasks[2] needs a name.",
    'tasks[3] "c" depends on "zz", which is not in the plan.',
    'tasks[3] "c" cannot depend on itself.',
    "tasks[4].depends_on must be a list of task names.",
  ]);
});

test("a cycle is shown as its path", () => {
  const { errors } = validatePlan(JSON.stringify({ tasks: [
    { name: "a", depends_on: ["c"] }, { name: "b", depends_on: ["a"] }, { name: "c", depends_on: ["b"] }] }));
  assert.deepEqual(errors, ["Dependency cycle: a → c → b → a."]);
});

test("tasks become the DAG view's columns and edges, dependencies by id or name", () => {
  const tasks = [
    { id: "tk_1", name: "a", status: "completed", outcome: "x".repeat(300), depends_on: [] },
    { id: "tk_2", name: "b", status: "pending", parallel_group: "g", assigned_agent_id: "ag_1", depends_on: ["tk_1"] },
    { id: "tk_3", name: "c", status: "failed", error: "boom", depends_on: ["b"] },
  ];
  const { tasks: cols, edges } = graphOf(tasks);
  assert.deepEqual(cols.ids, ["tk_1", "tk_2", "tk_3"]);
  assert.deepEqual(cols.groups, ["", "g", ""]);
  assert.deepEqual(cols.agents, ["", "ag_1", ""]);
  assert.equal(cols.summaries[0].length, 240);
  assert.equal(cols.summaries[2], "boom");
  assert.deepEqual(edges, { from: ["tk_1", "tk_2"], to: ["tk_2", "tk_3"] });
  const text = JSON.parse(planText({ plan_summary: "s" }, tasks));
  assert.deepEqual(text.tasks[2], { name: "c", depends_on: ["b"] });
  assert.deepEqual(text.tasks[1], { name: "b", parallel_group: "g", depends_on: ["a"] });
});

test("heartbeat ages read as a person says them", () => {
  assert.equal(age(0), "never");
  assert.equal(age(1000, 6000), "5 s");
  assert.equal(age(0 + 1, 1 + 5 * 60_000), "5 min");
  assert.equal(age(1, 1 + 3 * 3600_000), "3 h");
});
