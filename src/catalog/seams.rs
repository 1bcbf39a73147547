//! The catalog's calls into neighbouring services, in one place: stale-connection refresh
//! (§8.7), tool policies (§9) and OpenAPI invocation (§8.1.5). Keeping them behind these names
//! lets the host code read as "catalog asks policy / invoker" without knowing module layout.

pub use crate::connections::service::refresh_stale;
pub use crate::plugins::openapi::invoke::{invoke, InvokeOutcome, OpenApiCall};
pub use crate::policies::{load as load_policies, Action, Decision, PolicySet};
