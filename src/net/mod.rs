//! Outbound networking policy shared by every upstream call made on behalf of users (spec fetch,
//! introspection, MCP dialling, OAuth discovery and token calls, tool invocations).
//!
//! Pure predicates only; the edge's fetch adapter applies them (`executor-behaviour.md` §12).

pub mod ssrf;
