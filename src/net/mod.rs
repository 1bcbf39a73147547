//! Outbound networking policy shared by every upstream call made on behalf of users (spec fetch,
//! introspection, MCP dialling, OAuth discovery and token calls, tool invocations).
//!
//! [`ssrf`] has the pure predicates; [`http`] the client trait the edge implements and the guarded
//! fetch every caller goes through (`executor-behaviour.md` §12).

pub mod http;
pub mod ssrf;
