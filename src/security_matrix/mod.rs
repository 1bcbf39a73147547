//! The security matrices of issue #8, in one place (host tests over the real code; `SECURITY.md`
//! says what each control is for):
//!
//! - [`jwt`]: the Access JWT matrix through the router → 401 on `/api/account/me`, a protected
//!   `/api` route and `/mcp`; JWKS rotation; tokens never echoed or logged.
//! - [`ssrf`]: the SSRF matrix through `guarded_fetch` and an OpenAPI tool call → the typed
//!   `outbound_blocked` error, direct and through redirects.
//! - [`origin`]: the `/mcp` Origin matrix → 403 before authentication.
//!
//! Canary secrets (a stored credential never in a response, log line or error) are covered where
//! the values flow, not here: `http::connections::tests::canary_secret_never_leaves` (every
//! connection route, bad requests included), `plugins::openapi::invoke::tests` (`Setup::run`
//! checks every tool result; `the_credential_never_leaves_in_results`),
//! `catalog::core_tools_tests` (every built-in tool's result and the stored rows),
//! `net::http::tests` (outbound request `Debug`/errors), and on real workerd
//! `tests/e2e/catalog.rs::assert_canary_absent` (every answer the e2e client received and every
//! line of the Worker's log) and `assert_canary_not_stored` (D1 and R2 in plaintext).
//! `cargo test -p executor --lib security_matrix -- --nocapture` prints the case counts.

#![allow(clippy::unwrap_used)]

mod jwt;
mod origin;
mod ssrf;

use std::sync::{Mutex, OnceLock};

use crate::logging::{self, Level};

fn captured() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

fn capture(level: Level, message: &str) {
    eprintln!("[{}] {message}", level.as_str());
    if let Ok(mut lines) = captured().lock() {
        lines.push(message.to_string());
    }
}

/// Installs the capturing log sink (process-wide; the first install wins, so every test of
/// this binary that logs after this point is captured too).
fn capture_logs() {
    logging::install(capture);
}

/// No captured log line contains `secret`.
fn assert_not_logged(secret: &str) {
    let lines = captured().lock().map(|l| l.clone()).unwrap_or_default();
    let leaked: Vec<&String> = lines.iter().filter(|l| l.contains(secret)).collect();
    assert!(leaked.is_empty(), "a secret reached the log: {leaked:?}");
}
