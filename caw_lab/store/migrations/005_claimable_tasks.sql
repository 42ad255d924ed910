-- The tasks an agent may still claim, in the order they are offered: task_get_available
-- reads the first few of a workflow's unclaimed pending tasks without stepping over the
-- thousands already claimed, and a claim drops its task from this index.
CREATE INDEX idx_tasks_claimable ON tasks(workflow_id, sequence) WHERE assigned_agent_id IS NULL AND status = 'pending';
