-- The append-only change feed. Every mutation writes its event in the same batch;
-- live views, delta context loading, audit and alerts read only this table.
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  workflow_id TEXT,
  task_id TEXT,
  agent_id TEXT,
  payload TEXT,
  correlation_id TEXT NOT NULL
);

CREATE INDEX idx_events_workflow ON events(workflow_id, seq);
CREATE INDEX idx_events_task ON events(task_id, seq);
CREATE INDEX idx_events_correlation ON events(correlation_id);
