//! The end-to-end suite: the real Worker on real workerd (`wrangler dev --local` with local D1,
//! R2 and Durable Objects), driven over HTTP. Gated by `E2E=1` (the test command sets it), so a
//! plain `cargo test` on a machine without the JS toolchain skips with a notice. The repository
//! checks in [`boundary`] always run.

mod api;
mod audit;
mod auth;
mod boundary;
mod browser_approvals;
mod bundle;
mod catalog;
mod catalog_big;
mod console;
mod executions;
mod google;
mod graphql;
mod limits;
mod malformed;
mod mcp;
mod mcp_2026;
mod mcp_sources;
mod native;
mod oauth;
mod soak;
mod support;
