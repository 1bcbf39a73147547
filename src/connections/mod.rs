//! Connections: an owner's credentials for one integration (`executor-behaviour.md` §3.6).
//!
//! A connection is addressed by `(owner, integration, name)`; its name is part of every tool
//! address (`tools.<integration>.<owner>.<connection>.<path>`), so it is normalised to a JS
//! identifier on the way in ([`name::normalize`]). Pasted credential values and OAuth tokens live
//! in the `encrypted` provider under the item ids built in [`name`].

pub mod name;
