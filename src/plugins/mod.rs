//! Integration plugins: pure tool derivation (and later invocation) per integration kind.
//! Nothing here names the platform; the edge feeds them text and stores what they produce.

pub mod google;
pub mod graphql;
pub mod mcp_remote;
pub mod openapi;
pub mod produce;
