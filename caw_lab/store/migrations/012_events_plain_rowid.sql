-- The change feed's seq is its rowid, which SQLite gives as one more than the largest: as events
-- are only ever appended (nothing deletes one), that never reuses a number, so AUTOINCREMENT
-- added nothing but its bookkeeping, an update of sqlite_sequence (one more page) in every
-- change's batch. The table is rebuilt without it, every event keeping its seq.
CREATE TABLE events_rebuilt (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  workflow_id TEXT,
  task_id TEXT,
  agent_id TEXT,
  payload TEXT,
  correlation_id TEXT NOT NULL
);
INSERT INTO events_rebuilt (seq, at, kind, workflow_id, task_id, agent_id, payload, correlation_id)
  SELECT seq, at, kind, workflow_id, task_id, agent_id, payload, correlation_id FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX idx_events_workflow ON events(workflow_id, seq);
CREATE INDEX idx_events_task ON events(task_id, seq);
CREATE INDEX idx_events_correlation ON events(correlation_id);
