//! `provision`: the native command-line companion of the Rust Worker.
//!
//! - [`setup`] installs the build's tools on a fresh Debian machine (idempotent);
//! - [`local`] builds the Worker and runs it on workerd through `wrangler dev --local`
//!   (used by `provision dev`, `provision bench` and the e2e tests);
//! - [`bench`] measures latency and throughput of the local Worker.
//!
//! This crate runs on the host only; it never links the Worker crate or the wasm platform
//! crates.

pub mod bench;
pub mod cmd;
pub mod envfile;
pub mod local;
pub mod root;
pub mod setup;

pub use root::project_root;
