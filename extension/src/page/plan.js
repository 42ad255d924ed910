// Plans as the page edits them, and tasks as the DAG view draws them. Pure functions, so
// node's test runner checks them without a browser (extension/test/page-plan.test.mjs).

const SUMMARY_CHARS = 240; // caw_lab/lab/dag_state.py SUMMARY_CHARS: the widget's hover card shows as much

/** ``text`` (the plan editor's JSON) checked as ``workflow_set_plan`` will check it, so a
 * person sees every mistake, with where it is, before anything is sent. */
export function validatePlan(text) {
  let plan;
  try {
    plan = JSON.parse(text);
  } catch (error) {
    return { plan: null, errors: [`Not JSON: ${error.message}`] };
  }
  if (!plan || typeof plan !== "object" || Array.isArray(plan)) return { plan: null, errors: ["The plan must be an object."] };
  if (!Array.isArray(plan.tasks)) return { plan: null, errors: ['The plan needs a "tasks" list.'] };
  const errors = [];
  const names = new Map();
  plan.tasks.forEach((task, i) => {
    const where = `tasks[${i}]`;
    if (!task || typeof task !== "object") return errors.push(`${where} must be an object.`);
    if (typeof task.name !== "string" || !task.name.trim()) return errors.push(`${where} needs a name.`);
    if (names.has(task.name)) errors.push(`${where}: the name "${task.name}" is already used by tasks[${names.get(task.name)}].`);
    names.set(task.name, i);
  });
  plan.tasks.forEach((task, i) => {
    const deps = task?.depends_on ?? [];
    if (!Array.isArray(deps)) return errors.push(`tasks[${i}].depends_on must be a list of task names.`);
    for (const dep of deps) {
      if (dep === task.name) errors.push(`tasks[${i}] "${task.name}" cannot depend on itself.`);
      else if (!names.has(dep)) errors.push(`tasks[${i}] "${task.name}" depends on "${dep}", which is not in the plan.`);
    }
  });
  if (!errors.length) {
    const cycle = findCycle(plan.tasks);
    if (cycle) errors.push(`Dependency cycle: ${cycle.join(" → ")}.`);
  }
  return { plan: errors.length ? null : plan, errors };
}

function findCycle(tasks) {
  const deps = new Map(tasks.map((t) => [t.name, t.depends_on || []]));
  const state = new Map();
  const path = [];
  const visit = (name) => {
    if (state.get(name) === 2) return null;
    if (state.get(name) === 1) return [...path.slice(path.indexOf(name)), name];
    state.set(name, 1);
    path.push(name);
    for (const dep of deps.get(name) || []) {
      const found = visit(dep);
      if (found) return found;
    }
    path.pop();
    state.set(name, 2);
    return null;
  };
  for (const name of deps.keys()) {
    const found = visit(name);
    if (found) return found;
  }
  return null;
}

/** One task as the DAG view's row (caw_lab/lab/dag_state.py ``row_of``). */
export function rowOf(task) {
  let summary = task.outcome || task.error || "";
  if (summary.length > SUMMARY_CHARS) summary = `${summary.slice(0, SUMMARY_CHARS - 1)}…`;
  return { id: task.id, name: task.name, status: task.status, group: task.parallel_group || "", summary,
    agent: task.assigned_agent_id || "" };
}

/** Rows as the column-shaped state the DAG view loads. */
export function columnsOf(rows) {
  return {
    ids: rows.map((r) => r.id), names: rows.map((r) => r.name), statuses: rows.map((r) => r.status),
    groups: rows.map((r) => r.group), summaries: rows.map((r) => r.summary), agents: rows.map((r) => r.agent),
  };
}

/** Tasks as ``GET /api/workflows/:id/tasks`` returns them -> ``{tasks, edges}`` for ``DagView.load``.
 * ``depends_on`` holds ids; names are accepted too. */
export function graphOf(tasks) {
  const ids = new Set(tasks.map((t) => t.id));
  const byName = new Map(tasks.map((t) => [t.name, t.id]));
  const from = [];
  const to = [];
  for (const task of tasks) {
    for (const dep of task.depends_on || []) {
      const key = typeof dep === "string" ? dep : dep.id;
      from.push(ids.has(key) ? key : byName.get(key) || key);
      to.push(task.id);
    }
  }
  return { tasks: columnsOf(tasks.map(rowOf)), edges: { from, to } };
}

/** A workflow's plan back as editor text: names, not ids, for dependencies. */
export function planText(workflow, tasks) {
  if (!tasks.length) return JSON.stringify(workflow?.initial_plan || { summary: "", tasks: [] }, null, 2);
  const names = new Map(tasks.map((t) => [t.id, t.name]));
  const plan = {
    summary: workflow?.plan_summary || "",
    tasks: tasks.map((t) => {
      const entry = { name: t.name };
      if (t.description) entry.description = t.description;
      if (t.parallel_group) entry.parallel_group = t.parallel_group;
      const deps = (t.depends_on || []).map((d) => names.get(d) || d);
      if (deps.length) entry.depends_on = deps;
      return entry;
    }),
  };
  return JSON.stringify(plan, null, 2);
}

/** "3 s", "4 min", "2 h" since ``ms`` (epoch milliseconds). */
export function age(ms, now = Date.now()) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
