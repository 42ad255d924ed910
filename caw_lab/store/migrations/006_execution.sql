-- Execution and recovery. A task counts the attempts that failed, when it may be tried
-- again (backoff) and why it last failed, and may override the workflow's runtime and
-- retry policy. A rollback marks later checkpoints rolled back: kept for audit, hidden
-- from context. A task that used up its attempts waits in the dead-letter queue until
-- someone requeues or discards it; at most one queued entry per task.
ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN next_attempt_at INTEGER;
ALTER TABLE tasks ADD COLUMN last_error TEXT;
ALTER TABLE tasks ADD COLUMN runtime TEXT;
ALTER TABLE tasks ADD COLUMN retry_policy TEXT;
ALTER TABLE checkpoints ADD COLUMN rolled_back INTEGER NOT NULL DEFAULT 0;

CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  status TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL,
  error TEXT,
  created_at INTEGER NOT NULL,
  resolved_at INTEGER,
  resolution TEXT
);

CREATE INDEX idx_dead_letters_workflow ON dead_letters(workflow_id, status, created_at);
CREATE UNIQUE INDEX idx_dead_letters_queued_task ON dead_letters(task_id) WHERE status = 'queued';
