//! Binding names from `wrangler.toml`. The only place that knows them; a test in `tests/`
//! compares these constants with `wrangler.toml`.

pub const D1_BINDING: &str = "DB";
pub const R2_BINDING: &str = "BLOBS";
pub const MCP_SESSION_BINDING: &str = "MCP_SESSION";
