//! Support code for the end-to-end suite in `tests/e2e/`: test keys and a loopback JWKS server
//! ([`jwt`]). Starting the Worker itself is `provision::local`, the same code `provision dev` uses.

pub mod jwt;
