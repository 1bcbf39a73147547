//! Support code for the end-to-end suite in `tests/e2e/`: test keys and a loopback JWKS server
//! ([`jwt`]), and a loopback stand-in for upstream APIs that records what the Worker sends
//! ([`upstream`]). Starting the Worker itself is `provision::local`, the same code
//! `provision dev` uses.

pub mod discovery;
pub mod graphql;
pub mod jwt;
pub mod oauth_server;
pub mod upstream;
