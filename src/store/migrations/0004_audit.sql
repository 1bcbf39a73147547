-- The audit log (src/audit): one row per tool call a sandboxed run made, and per decision a user
-- took on a paused call. Rows hold who, what tool, what the policy layer decided, how it ended
-- and how long it took -- never arguments, results, headers, messages or secret values.
--
-- decision: 'allowed' (ran without asking: an `approve` policy, or nothing asked for approval),
--   'blocked' (a `block` policy), 'approval_required' (the run paused for a user's decision),
--   'approved' (it ran after a user accepted), 'declined' / 'cancelled' (a user refused it).
-- outcome: 'ok', 'pending' (paused, waiting), 'not_run' (declined, cancelled, or a pause that
--   was never answered), or a ToolResult error code such as 'upstream_http_error',
--   'invalid_tool_arguments', 'tool_blocked', 'tool_not_found', 'internal' (lowercase
--   [a-z0-9_], at most 64 characters).
-- time: when the call started (epoch milliseconds); duration_ms: until its answer.
-- http_status: the upstream's status when an HTTP request was answered.
-- execution_id: the paused execution the call belongs to (`exec_…`), when there is one.
--
-- `id` is the rowid, so it only grows: the row cap prunes ids below max(id) - cap, and newest-
-- first paging is keyed on (time, id).
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  time INTEGER NOT NULL,
  subject TEXT NOT NULL,
  email TEXT NOT NULL,
  address TEXT NOT NULL,
  integration TEXT,
  connection TEXT,
  decision TEXT NOT NULL CHECK (decision IN
    ('allowed', 'blocked', 'approval_required', 'approved', 'declined', 'cancelled')),
  outcome TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  http_status INTEGER,
  execution_id TEXT
);
-- Newest-first paging within a tenant (every filter narrows this scan).
CREATE INDEX IF NOT EXISTS audit_tenant_time_idx ON audit (tenant, time, id);
-- Retention: the oldest rows of any tenant.
CREATE INDEX IF NOT EXISTS audit_time_idx ON audit (time);

INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, 4);
