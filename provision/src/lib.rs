//! `provision`: the native command-line companion of the Rust Worker.
//!
//! - [`setup`] installs the build's tools on a fresh Debian machine (idempotent);
//! - [`local`] builds the Worker and runs it on workerd through `wrangler dev --local`
//!   (used by `provision dev`, `provision bench` and the e2e tests);
//! - [`bench`](mod@bench) measures latency and throughput of the local Worker;
//! - [`deploy`] (`up`, `plan`) stands the Worker up in a Cloudflare account behind Access,
//!   through [`api`] (the REST operations) on [`cf`] (the client), with [`config`] for the
//!   inputs, [`state`] for the local files, [`script`] and [`assets`] for the upload;
//!   [`destroy`] takes it down again;
//! - [`verify`] (`verify`, `verify-mcp`, `token`) and [`bridge`] check and use the deployment
//!   through Access;
//! - [`slice`](mod@slice) generates the read-only Cloudflare OpenAPI integration ([`openapi`] loads and
//!   validates OpenAPI documents);
//! - [`selfedit`] is the local `self_edit` MCP tool.
//!
//! This crate runs on the host only; it never links the Worker crate or the wasm platform
//! crates.

pub mod api;
pub mod assets;
pub mod bench;
pub mod bench_catalog;
pub mod bridge;
pub mod cf;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod envfile;
pub mod inspector;
pub mod local;
pub mod openapi;
pub mod report;
pub mod root;
pub mod script;
pub mod secret;
pub mod selfedit;
pub mod setup;
pub mod slice;
pub mod soak;
pub mod state;
pub mod verify;
pub mod wrangler;

pub use root::project_root;
