//! Secret-value encryption for the `encrypted` credential provider (`executor-behaviour.md` §5).
//!
//! Pasted connection values, OAuth access/refresh tokens and OAuth client secrets are stored in
//! `plugin_storage` as one string, `v1.<base64 iv>.<base64 tag>.<base64 ciphertext>`, sealed with
//! AES-256-GCM under a key derived from `EXECUTOR_SECRET_KEY` by scrypt. The format is
//! byte-compatible with the TypeScript build (Node `scryptSync` + `aes-256-gcm`), so both can
//! share a database.
//!
//! Everything here is pure Rust (RustCrypto), so the host tests run the exact cipher the Worker
//! runs. Randomness comes from [`crate::ids::random_bytes`].
//!
//! Secret hygiene: [`SecretBox`] and [`SecretValue`] have redacted `Debug`, no `Display`, and wipe
//! their bytes on drop; [`CryptoError`] never carries plaintext, ciphertext or key material.

mod secret_box;

pub use secret_box::{CryptoError, SecretBox, SecretValue, KDF_SALT, VERSION};
