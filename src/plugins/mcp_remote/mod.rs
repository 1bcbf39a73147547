//! Remote MCP servers as sources (executor-behaviour.md §3.4.3, §8.3, §8.6).
//!
//! * [`client`]: the MCP client (streamable HTTP with reusable sessions, legacy HTTP+SSE),
//!   through the SSRF guard.
//! * [`store`]: MCP integrations in storage (add, config, auth, probe, detection), per-connection
//!   tool production from the server's live `tools/list`, the upstream session kept per
//!   connection, and tool calls.

pub mod client;
pub mod store;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
