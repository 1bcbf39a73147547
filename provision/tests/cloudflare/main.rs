//! `provision` against an offline fake of the Cloudflare API (and a fake Access edge), all on
//! 127.0.0.1. The fake checks every request against Cloudflare's OpenAPI document.

mod fake_api;
mod fake_edge;
mod multipart;
mod spec;
mod support;

mod destroy;
mod preconditions;
mod self_edit;
mod slice;
mod up;
mod verify;
