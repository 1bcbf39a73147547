-- Executions in flight, counted across isolates (src/executions/lease.rs): one row per run or
-- resume that is executing code right now, owned by a principal (tenant + subject). A run
-- inserts its row only while the principal has fewer than EXECUTE_MAX_CONCURRENT unexpired rows
-- (one INSERT … SELECT … WHERE count < limit) and deletes it when it ends. `expires_at` (epoch
-- milliseconds) is the run's wall-clock limit plus a margin: a row whose isolate died never
-- counts past it, and later releases delete a few such rows.
CREATE TABLE IF NOT EXISTS execution_lease (
  id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  subject TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS execution_lease_owner_idx
  ON execution_lease (tenant, subject, expires_at);
CREATE INDEX IF NOT EXISTS execution_lease_expiry_idx ON execution_lease (expires_at);

INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, 6);
