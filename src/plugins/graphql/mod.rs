//! GraphQL ⇒ tools (executor-behaviour.md §3.4.2, §8.2, §8.6).
//!
//! * [`schema`]: introspection results ⇒ tools (input schemas, shared `$defs`, fixed operation
//!   documents with bounded selection sets; mutations need approval). Pure.
//! * [`invoke`]: one tool call ⇒ one POST `{query, variables}` through `guarded_fetch`, the
//!   answer ⇒ a ToolResult (`graphql_errors`, `graphql_http_error`, `connection_rejected`).
//! * [`store`]: GraphQL integrations in storage (add, config, lazy introspection, generations of
//!   `op:`/`defs:` rows shared with the catalog's reads, per-connection tool production,
//!   detection).

pub mod invoke;
pub mod schema;
pub mod store;

// Also the fuzz targets' seeds.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod fixture;

pub use schema::{
    derive, parse_introspection, Derived, GraphqlBinding, GraphqlTool, SchemaError,
    INTROSPECTION_QUERY,
};
