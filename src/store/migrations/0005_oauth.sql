-- OAuth refresh coordination (src/oauth/refresh.rs).
-- oauth_refresh_lease: epoch ms until which one claimant holds the right to refresh this
--   connection's token (compare-and-swap claimed; NULL = free).
-- oauth_reauth_required: 1 once the authorization server rejected the refresh token
--   (invalid_grant); tool calls then answer oauth_reauth_required until a new flow re-mints.
ALTER TABLE connection ADD COLUMN oauth_refresh_lease INTEGER;
ALTER TABLE connection ADD COLUMN oauth_reauth_required INTEGER NOT NULL DEFAULT 0;

INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, 5);
