-- How many of a workflow's tasks take one of its max_parallel_tasks slots: started, or claimed
-- and unfinished (engine/orchestration.py ACTIVE, worded as idx_tasks_active). A claim compares
-- it with max_parallel_tasks inside its compare-and-set instead of counting the workflow's
-- active tasks, which cost every claim time in proportion to the tasks already running.
--
-- Triggers keep it, so it changes inside the very statement that moves a task into or out of a
-- slot: in the same change (the same batch, on SQLite and D1), whichever mutation makes it
-- (claims, releases, status changes, recovery sweeps, handoffs, replans, removals), and no
-- mutation written later can forget to.
ALTER TABLE workflows ADD COLUMN active_tasks INTEGER NOT NULL DEFAULT 0;

UPDATE workflows SET active_tasks = (
  SELECT COUNT(*) FROM tasks t WHERE t.workflow_id = workflows.id
    AND (t.status IN ('planning', 'in_progress') OR (t.assigned_agent_id IS NOT NULL AND t.status IN ('pending', 'paused')))
);

CREATE TRIGGER tasks_active_inserted AFTER INSERT ON tasks
WHEN NEW.status IN ('planning', 'in_progress') OR (NEW.assigned_agent_id IS NOT NULL AND NEW.status IN ('pending', 'paused'))
BEGIN
  UPDATE workflows SET active_tasks = active_tasks + 1 WHERE id = NEW.workflow_id;
END;

CREATE TRIGGER tasks_active_deleted AFTER DELETE ON tasks
WHEN OLD.status IN ('planning', 'in_progress') OR (OLD.assigned_agent_id IS NOT NULL AND OLD.status IN ('pending', 'paused'))
BEGIN
  UPDATE workflows SET active_tasks = active_tasks - 1 WHERE id = OLD.workflow_id;
END;

CREATE TRIGGER tasks_active_updated AFTER UPDATE OF status, assigned_agent_id, workflow_id ON tasks
WHEN OLD.workflow_id IS NOT NEW.workflow_id
  OR (OLD.status IN ('planning', 'in_progress') OR (OLD.assigned_agent_id IS NOT NULL AND OLD.status IN ('pending', 'paused')))
  != (NEW.status IN ('planning', 'in_progress') OR (NEW.assigned_agent_id IS NOT NULL AND NEW.status IN ('pending', 'paused')))
BEGIN
  UPDATE workflows SET active_tasks = active_tasks - 1 WHERE id = OLD.workflow_id
    AND (OLD.status IN ('planning', 'in_progress') OR (OLD.assigned_agent_id IS NOT NULL AND OLD.status IN ('pending', 'paused')));
  UPDATE workflows SET active_tasks = active_tasks + 1 WHERE id = NEW.workflow_id
    AND (NEW.status IN ('planning', 'in_progress') OR (NEW.assigned_agent_id IS NOT NULL AND NEW.status IN ('pending', 'paused')));
END;
