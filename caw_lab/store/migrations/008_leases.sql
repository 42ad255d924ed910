-- Leases: an agent's time-limited hold on a resource (files by glob, a workflow, a name).
-- A row is a grant that has not been released or taken over; whether it is still live
-- (ttl not passed, holder not stale) is computed when read. Its fencing token is the seq
-- of its lease.acquired event, so tokens strictly increase across the whole database.
-- scope is the conflict domain (file leases of one repository, one workflow, one name);
-- prefix is a file glob's literal text before its first wildcard, which lets SQL rule out
-- most non-overlapping globs before Python decides the rest exactly (engine/globs.py).
CREATE TABLE leases (
  id TEXT PRIMARY KEY,
  resource TEXT NOT NULL,
  scope TEXT NOT NULL,
  prefix TEXT NOT NULL,
  mode TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  task_id TEXT,
  workflow_id TEXT,
  fencing_token INTEGER NOT NULL UNIQUE,
  ttl_ms INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE INDEX idx_leases_scope ON leases(scope, fencing_token);
CREATE INDEX idx_leases_agent ON leases(agent_id);
CREATE INDEX idx_leases_task ON leases(task_id) WHERE task_id IS NOT NULL;

-- Capabilities a task needs (a JSON list); workflow_next_tasks prefers agents that have them
-- and workflow_scaling_hints counts ready work per capability.
ALTER TABLE tasks ADD COLUMN required_capabilities TEXT;

-- The tasks taking a slot of their workflow (and of their parallel group): started, or claimed
-- and not finished. A claim counts them inside its compare-and-set, reading only this index
-- (every column the count reads is in it, so it never visits the table).
CREATE INDEX idx_tasks_active ON tasks(workflow_id, parallel_group, id, status, assigned_agent_id)
  WHERE status IN ('planning', 'in_progress') OR (assigned_agent_id IS NOT NULL AND status IN ('pending', 'paused'));
