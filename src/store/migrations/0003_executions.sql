-- Paused executions (src/executions): a run that stopped at an approval gate, kept so that any
-- isolate can finish it. A resume re-runs `code` against `journal` (the run's seed, clock and
-- every settled tool call) plus `decision` (the outcome of the gated call), then goes on live.
-- Rows belong to one principal (tenant + subject); ids are `exec_<uuid v4>`.
--
-- status: 'paused' (waiting for a decision), 'running' (a resume holds `claim` until
-- `lease_until`), 'settled' (`outcome` is the envelope repeated resumes answer; `code`,
-- `journal`, `pending` and `decision` are cleared). Rows are deleted some time after
-- `expires_at` (epoch milliseconds).
CREATE TABLE IF NOT EXISTS execution (
  id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  subject TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('paused', 'running', 'settled')),
  code TEXT,
  journal TEXT,
  pending TEXT,
  decision TEXT,
  outcome TEXT,
  claim TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS execution_expiry_idx ON execution (expires_at);

INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, 3);
