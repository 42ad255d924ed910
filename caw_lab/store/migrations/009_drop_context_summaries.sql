-- The context engine keeps source summaries in the process (context.loader): a load writes
-- nothing, so the table migration 004 made for them is no longer written or read.
DROP INDEX IF EXISTS idx_context_summaries_version;
DROP TABLE IF EXISTS context_summaries;
