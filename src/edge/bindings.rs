//! Binding names from `wrangler.toml`. The only place that knows them; a test in `tests/`
//! compares these constants with `wrangler.toml`.

pub const D1_BINDING: &str = "DB";
pub const R2_BINDING: &str = "BLOBS";
pub const MCP_SESSION_BINDING: &str = "MCP_SESSION";

/// Every configuration variable the Worker reads (vars and secrets alike).
pub const CONFIG_VARIABLES: &[&str] = &[
    "EXECUTOR_SECRET_KEY",
    "ACCESS_TEAM_DOMAIN",
    "ACCESS_AUD",
    "ACCESS_NAME_CLAIM",
    "ACCESS_GROUPS_CLAIM",
    "ADMIN_EMAILS",
    "SELF_HOSTED_ORG_ID",
    "SELF_HOSTED_ORG_NAME",
    "SELF_HOSTED_ORG_SLUG",
    "ALLOW_LOCAL_NETWORK",
    "ENABLE_DEV_AUTH",
    "VITE_PUBLIC_SITE_URL",
    "EXECUTE_TIMEOUT_MS",
    "EXECUTE_MEMORY_MB",
];
