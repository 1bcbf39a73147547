//! Running agent code: the one `execute` service behind both `POST /api/executions` and the MCP
//! `execute` tool, plus the result envelope both surfaces render ([`envelope`]).

pub mod envelope;

use crate::app::Services;
use crate::auth::Principal;
use crate::catalog::CatalogHost;
use crate::sandbox::{self, Limits};

pub use envelope::Envelope;

/// Why a run could not start (the caller's mistake, not a script error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    #[error("code must be a non-empty string")]
    EmptyCode,
}

/// Runs `code` for `principal`, with `tools` backed by their catalog, and formats the outcome.
/// Script failures (syntax errors, throws, the deadline) are part of the envelope, not an `Err`.
pub async fn execute(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
) -> Result<Envelope, ExecuteError> {
    execute_at(services, principal, code, None).await
}

/// [`execute`] for a request that reached this Worker at `web_origin` (`scheme://host[:port]`),
/// which browser hand-off links of the built-in tools fall back to when no public URL is
/// configured (see `catalog::core_tools::web_base_url`).
pub async fn execute_at(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
    web_origin: Option<&str>,
) -> Result<Envelope, ExecuteError> {
    if code.trim().is_empty() {
        return Err(ExecuteError::EmptyCode);
    }
    let limits = Limits {
        timeout_ms: services.config.execute_timeout_ms,
        memory_bytes: services.config.execute_memory_bytes,
        ..Limits::default()
    };
    // The caller's catalog: search, describe and tool calls, loaded lazily per run.
    let host = CatalogHost::new(services, principal).with_web_origin(web_origin);
    let run = sandbox::run(code, &limits, &host, services.clock).await;
    Ok(envelope::from_run(&run))
}
