//! The catalog's calls into services built in parallel with it (see the shared contract in
//! `notes/catalog-contract.md`): stale-connection refresh, tool policies and OpenAPI invocation.
//!
//! Each is reached through exactly one item here, shaped like the contract, so that wiring the
//! real implementation is a one-line change per seam:
//!
//! - [`refresh_stale`] → `crate::connections::service::refresh_stale`;
//! - [`PolicySet`], [`Decision`], [`Action`], [`load_policies`] → `crate::policies::{PolicySet,
//!   Decision, Action, load}`;
//! - [`OpenApiCall`], [`InvokeOutcome`], [`invoke`] → `crate::plugins::openapi::invoke::{…}`.
//!
//! Policies and invocation are wired to the real modules; refresh is a no-op until the OpenAPI
//! store lands.

use crate::app::Services;
use crate::auth::Principal;
use crate::connections::ConnectionError;

// ---------------------------------------------------------------------------------------------
// Stale connections (§8.7)

/// Re-produces the tools of the caller's visible connections whose integration changed since
/// they were produced. Stand-in: nothing is ever stale in this build yet.
pub async fn refresh_stale(
    services: Services<'_>,
    principal: &Principal,
) -> Result<(), ConnectionError> {
    let _ = (services, principal);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Policies (§9) and OpenAPI invocation (§8.1.5)

pub use crate::plugins::openapi::invoke::{invoke, InvokeOutcome, OpenApiCall};
pub use crate::policies::{load as load_policies, Action, Decision, PolicySet};
