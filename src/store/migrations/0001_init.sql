-- The core schema (executor-behaviour.md §4.2): table and column names as upstream, cleaner
-- encodings (timestamps are integer epoch milliseconds, JSON is TEXT). Owner-partitioned tables
-- carry tenant, owner ('org' | 'user') and subject ('' for org rows); every query filters on them.

CREATE TABLE IF NOT EXISTS integration (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  slug TEXT NOT NULL,
  plugin_id TEXT NOT NULL,
  name TEXT,
  description TEXT,
  config TEXT,
  config_revised_at INTEGER,
  can_remove INTEGER NOT NULL DEFAULT 1,
  can_refresh INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS integration_uidx ON integration (tenant, slug);

CREATE TABLE IF NOT EXISTS connection (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  integration TEXT NOT NULL,
  name TEXT NOT NULL,
  template TEXT NOT NULL,
  provider TEXT NOT NULL,
  item_ids TEXT NOT NULL DEFAULT '{}',
  identity_label TEXT,
  description TEXT,
  tools_synced_at INTEGER,
  oauth_client TEXT,
  oauth_client_owner TEXT,
  refresh_item_id TEXT,
  expires_at INTEGER,
  oauth_scope TEXT,
  oauth_token_url TEXT,
  provider_state TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS connection_uidx ON connection (tenant, owner, subject, integration, name);

CREATE TABLE IF NOT EXISTS oauth_client (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  slug TEXT NOT NULL,
  authorization_url TEXT NOT NULL,
  token_url TEXT NOT NULL,
  grant TEXT NOT NULL,
  client_id TEXT NOT NULL,
  client_secret_item_id TEXT,
  resource TEXT,
  origin_kind TEXT,
  origin_integration TEXT,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS oauth_client_uidx ON oauth_client (tenant, owner, subject, slug);

CREATE TABLE IF NOT EXISTS oauth_session (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  client_slug TEXT NOT NULL,
  integration TEXT NOT NULL,
  name TEXT NOT NULL,
  template TEXT NOT NULL,
  redirect_url TEXT NOT NULL,
  pkce_verifier TEXT,
  identity_label TEXT,
  payload TEXT NOT NULL DEFAULT '{}',
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS oauth_session_uidx ON oauth_session (tenant, state);

CREATE TABLE IF NOT EXISTS tool (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  integration TEXT NOT NULL,
  connection TEXT NOT NULL,
  plugin_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  input_schema TEXT,
  output_schema TEXT,
  annotations TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tool_uidx ON tool (tenant, owner, subject, integration, connection, name);

CREATE TABLE IF NOT EXISTS definition (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  integration TEXT NOT NULL,
  connection TEXT NOT NULL,
  plugin_id TEXT NOT NULL,
  name TEXT NOT NULL,
  schema TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS definition_uidx ON definition (tenant, owner, subject, integration, connection, name);

CREATE TABLE IF NOT EXISTS tool_policy (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  id TEXT NOT NULL,
  pattern TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('approve', 'require_approval', 'block')),
  position TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tool_policy_uidx ON tool_policy (tenant, owner, subject, id);

CREATE TABLE IF NOT EXISTS plugin_storage (
  row_id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT NOT NULL,
  owner TEXT NOT NULL CHECK (owner IN ('org', 'user')),
  subject TEXT NOT NULL DEFAULT '',
  plugin_id TEXT NOT NULL,
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS plugin_storage_uidx ON plugin_storage (tenant, owner, subject, plugin_id, collection, key);

-- Ledger of data migrations (run once each, in order, by the Worker).
CREATE TABLE IF NOT EXISTS data_migration (
  name TEXT PRIMARY KEY NOT NULL,
  time_completed INTEGER NOT NULL
);

-- The schema version the Worker expects; it refuses to serve when the database is behind.
CREATE TABLE IF NOT EXISTS schema_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, 1);
