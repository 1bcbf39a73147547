//! Executor's Cloudflare host, as one Rust crate.
//!
//! The crate is both the Worker (`cdylib`, built by `worker-build`) and a host-testable library
//! (`rlib`). Everything outside [`edge`] is plain Rust that compiles and is tested on the host;
//! `edge` adapts it to the Workers runtime (D1, R2, Durable Objects, WebCrypto, outbound fetch).
//!
//! Invariants (see `ARCHITECTURE.md`):
//! - only `src/edge/` names `worker`, `wasm_bindgen`, `js_sys` or `web_sys`; a test in `tests/`
//!   fails otherwise;
//! - `/api` and `/mcp` call the same service functions (e.g. [`executions::execute`]);
//! - errors become HTTP responses in one place per surface ([`http::error`] for `/api`,
//!   [`mcp::jsonrpc`] for `/mcp`);
//! - secret values are never logged or returned: they live in [`config::Secret`], whose `Debug`
//!   is redacted.

// The `/api` router's future nests every route's future; its layout needs more than the default
// query depth once the host tests await it inside their own futures.
#![recursion_limit = "256"]

pub mod app;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod connections;
pub mod crypto;
pub mod executions;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod ids;
pub mod integrations;
pub mod json_fields;
pub mod logging;
pub mod mcp;
pub mod net;
pub mod oauth;
pub mod owner;
pub mod plugins;
pub mod policies;
pub mod providers;
pub mod sandbox;
#[cfg(test)]
mod security_matrix;
pub mod sort;
pub mod store;
#[cfg(test)]
mod test_support;
pub mod time;
pub mod tools;

#[cfg(target_arch = "wasm32")]
mod edge;
