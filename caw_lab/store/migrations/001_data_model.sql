-- The reference's data model: workflows of tasks in a DAG, their checkpoints,
-- workspaces, templates, agents, messages, sessions and memories.
CREATE TABLE repositories (
  id TEXT PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  name TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  last_heartbeat INTEGER NOT NULL,
  is_daemon INTEGER NOT NULL DEFAULT 0,
  metadata TEXT
);

CREATE TABLE workflows (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source_ref TEXT,
  source_content TEXT,
  status TEXT NOT NULL DEFAULT 'planning',
  initial_plan TEXT,
  plan_summary TEXT,
  max_parallel_tasks INTEGER NOT NULL DEFAULT 1,
  auto_create_workspaces INTEGER NOT NULL DEFAULT 0,
  config TEXT,
  locked_by_session_id TEXT,
  locked_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE workflow_repositories (
  workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  repository_id TEXT NOT NULL REFERENCES repositories(id),
  added_at INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, repository_id)
);

CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  repository_id TEXT REFERENCES repositories(id),
  path TEXT NOT NULL,
  branch TEXT NOT NULL,
  base_branch TEXT,
  status TEXT NOT NULL DEFAULT 'active',
  merge_commit TEXT,
  pr_url TEXT,
  config TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  runtime TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'worker',
  status TEXT NOT NULL DEFAULT 'offline',
  capabilities TEXT,
  current_task_id TEXT,
  workflow_id TEXT REFERENCES workflows(id) ON DELETE SET NULL,
  workspace_path TEXT,
  last_heartbeat INTEGER,
  metadata TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  sequence INTEGER NOT NULL,
  parallel_group TEXT,
  estimated_complexity TEXT,
  files_likely_affected TEXT,
  plan TEXT,
  plan_summary TEXT,
  context TEXT,
  context_from TEXT,
  outcome TEXT,
  outcome_detail TEXT,
  error TEXT,
  workspace_id TEXT REFERENCES workspaces(id) ON DELETE SET NULL,
  repository_id TEXT REFERENCES repositories(id),
  assigned_agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
  claimed_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE task_dependencies (
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  depends_on_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  dependency_type TEXT NOT NULL DEFAULT 'blocks',
  PRIMARY KEY (task_id, depends_on_id)
);

CREATE TABLE checkpoints (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  sequence INTEGER NOT NULL,
  checkpoint_type TEXT NOT NULL,
  summary TEXT NOT NULL,
  detail TEXT,
  files_changed TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (task_id, sequence)
);

CREATE TABLE workflow_templates (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  template TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  sender_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
  recipient_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  message_type TEXT NOT NULL,
  subject TEXT,
  body TEXT NOT NULL,
  priority TEXT NOT NULL DEFAULT 'normal',
  status TEXT NOT NULL DEFAULT 'unread',
  workflow_id TEXT REFERENCES workflows(id) ON DELETE SET NULL,
  task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
  reply_to_id TEXT REFERENCES messages(id) ON DELETE SET NULL,
  thread_id TEXT,
  created_at INTEGER NOT NULL,
  read_at INTEGER,
  expires_at INTEGER
);

CREATE TABLE memories (
  id TEXT PRIMARY KEY,
  repository_id TEXT,
  topic TEXT NOT NULL,
  memory_type TEXT NOT NULL DEFAULT 'learning',
  content TEXT NOT NULL,
  confidence REAL NOT NULL DEFAULT 1.0,
  reinforcement_count INTEGER NOT NULL DEFAULT 1,
  last_reinforced_at INTEGER NOT NULL,
  decay_rate REAL NOT NULL DEFAULT 0.05,
  metadata TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE INDEX idx_workflows_status ON workflows(status);
CREATE INDEX idx_workflow_repositories_repo ON workflow_repositories(repository_id);
CREATE INDEX idx_tasks_workflow ON tasks(workflow_id, sequence);
CREATE INDEX idx_tasks_workflow_status ON tasks(workflow_id, status);
CREATE INDEX idx_tasks_agent ON tasks(assigned_agent_id);
CREATE INDEX idx_task_dependencies_upstream ON task_dependencies(depends_on_id);
CREATE INDEX idx_checkpoints_task ON checkpoints(task_id, sequence);
CREATE INDEX idx_workspaces_workflow ON workspaces(workflow_id);
CREATE INDEX idx_agents_status ON agents(status);
CREATE INDEX idx_messages_recipient ON messages(recipient_id, status);
CREATE INDEX idx_messages_thread ON messages(thread_id);
CREATE INDEX idx_sessions_heartbeat ON sessions(last_heartbeat);
CREATE INDEX idx_memories_topic ON memories(topic);
CREATE INDEX idx_memories_repository ON memories(repository_id);
