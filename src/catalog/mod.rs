//! The caller's tool catalog across integrations (executor-behaviour.md §3.5, §7.3, §8.9, §8.10,
//! §9): `GET /api/tools` listing, `GET /api/tools/schema` views, and [`CatalogHost`], the
//! sandbox's `tools` proxy (search, describe, `executor.sources.list`, tool calls).
//!
//! - [`address`]: tool addresses and sandbox call paths;
//! - [`builtin`]: the built-in static tools (metadata);
//! - `core_tools`: running them — schemas, argument checks, the services they call
//!   (`oauth_tools`: the `coreTools.oauth.*` ones);
//! - `store`: every catalog read, one statement each (the D1 storage layout is described there);
//! - `listing`: the two HTTP views;
//! - `host`: [`CatalogHost`]; `cache`: search indexes kept between runs of an isolate;
//! - `seams`: the calls into stale-connection refresh, policies and OpenAPI invocation.
//!
//! Reads never touch the spec blob: tool rows carry schemas, operation rows carry bindings and
//! the names of the `$defs` they reach, and definitions are read by name.

pub mod address;
pub mod builtin;
mod cache;
mod concurrent;
mod core_tools;
mod host;
mod listing;
mod oauth_tools;
mod seams;
mod store;

pub use host::CatalogHost;
pub use listing::{list_tools, tool_schema, ListFilter, ToolMetadata, ToolSchemaView};
pub use store::CatalogError;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod core_tools_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod testing;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
