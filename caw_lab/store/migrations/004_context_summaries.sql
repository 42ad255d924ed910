-- Compressed texts the context loader made, cached by what they were made from.
-- Keyed by the source's content hash and the compressor's version: a changed source or a
-- new compressor simply misses. Derived data, rebuilt on demand, so no events (docs/context.md).
CREATE TABLE context_summaries (
  content_hash TEXT NOT NULL,
  kind TEXT NOT NULL,
  compressor_version INTEGER NOT NULL,
  summary TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  encoding TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (content_hash, kind, compressor_version)
);

CREATE INDEX idx_context_summaries_version ON context_summaries(kind, compressor_version);
