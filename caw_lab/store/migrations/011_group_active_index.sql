-- Since migration 010 a workflow's slots taken are its stored count, so the index of active tasks
-- serves only the parallel-group counts (claims, workflow_next_tasks): it now holds only the active
-- tasks of a group, and a claim of a task in no group (the usual case) writes no entry to it.
-- Worded as engine/orchestration.py ACTIVE, with the group's IS NOT NULL that every group count has.
DROP INDEX IF EXISTS idx_tasks_active;
CREATE INDEX idx_tasks_group_active ON tasks(workflow_id, parallel_group, id, status, assigned_agent_id)
  WHERE parallel_group IS NOT NULL
    AND (status IN ('planning', 'in_progress') OR (assigned_agent_id IS NOT NULL AND status IN ('pending', 'paused')));

-- Tasks are looked up by their holder, never by having none (idx_tasks_claimable serves the
-- unclaimed): indexing only the held ones spares a claim moving its task's entry out of the NULLs.
DROP INDEX IF EXISTS idx_tasks_agent;
CREATE INDEX idx_tasks_agent ON tasks(assigned_agent_id) WHERE assigned_agent_id IS NOT NULL;
