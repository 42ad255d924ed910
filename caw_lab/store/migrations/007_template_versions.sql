-- Template versions. Every version a database template was published at is a row of its
-- own, never updated afterwards: publishing makes a version immutable. workflow_templates
-- keeps the template's identity and mirrors its newest version (template, description),
-- its `version` counting the versions published (as the reference's revision counter), so
-- a publish can compare-and-set on it; latest_version is the newest semantic version.
-- A workflow made from a template records which version made it.
ALTER TABLE workflow_templates ADD COLUMN latest_version TEXT NOT NULL DEFAULT '1.0.0';

CREATE TABLE template_versions (
  template_id TEXT NOT NULL REFERENCES workflow_templates(id) ON DELETE CASCADE,
  version TEXT NOT NULL,
  description TEXT,
  template TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (template_id, version)
);

INSERT INTO template_versions (template_id, version, description, template, created_at)
SELECT id, '1.0.0', description, template, created_at FROM workflow_templates;

ALTER TABLE workflows ADD COLUMN template_version TEXT;
