//! Connections: an owner's credentials for one integration (`executor-behaviour.md` §3.6).
//!
//! A connection is addressed by `(owner, integration, name)`; its name is part of every tool
//! address (`tools.<integration>.<owner>.<connection>.<path>`), so it is normalised to a JS
//! identifier on the way in ([`name::normalize`], `POST` only). Pasted credential values live in
//! the `encrypted` provider ([`crate::providers::encrypted`]) under the item ids built in
//! [`name`], in the connection owner's partition, written in the same batch as the connection.
//!
//! - [`wire`]: response shapes and request-body parsers (no error ever quotes a value);
//! - [`service`]: the operations and all SQL of the `connection` table.

pub mod name;
pub mod service;
pub mod wire;

pub use service::{ConnectionError, ConnectionKey};
pub use wire::{Connection, CreateRequest, Origin, PatchRequest, ProviderRef, ToolSummary};
