-- The catalog's per-run fingerprint (COUNT/MAX/TOTAL over the caller's tool rows, src/catalog)
-- reads only this index. Without it SQLite walks the rows themselves, whose schema columns make
-- that touch megabytes for a large catalog (5.5 ms -> 0.14 ms for 1,230 GitHub-sized rows).
CREATE INDEX IF NOT EXISTS tool_fingerprint_idx ON tool (tenant, owner, subject, updated_at, created_at);

INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, 2);
