-- A covering index for the blocked-task test that workflow_next_tasks, workflow_progress
-- and task status changes run once per task ("does this task wait on an unfinished
-- blocking dependency?"): the dependency rows are read from the index alone.
CREATE INDEX idx_task_dependencies_blocking ON task_dependencies(task_id, dependency_type, depends_on_id);
