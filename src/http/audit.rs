//! `GET /api/audit`: the caller's tenant's audit rows, newest first, filtered and paged
//! ([`crate::audit`]; parameters in `audit::query`). Protected like every `/api` route.
//!
//! Errors: a bad parameter is 400 `{"_tag":"InvalidAuditFilterError","field","message"}`.

use serde_json::json;

use super::error::ApiError;
use super::{percent_decode, Request, Response};
use crate::app::App;
use crate::audit::{self, AuditError};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::InvalidFilter { field, message } => ApiError::tagged(
                400,
                "InvalidAuditFilterError",
                json!({ "field": field, "message": message }),
            ),
        }
    }
}

/// Answers this group's routes; `None` when the path is not one of them.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    match (request.method.as_str(), segs) {
        ("GET", ["audit"]) => Some(list(app, request).await),
        _ => None,
    }
}

async fn list(app: &App<'_>, request: &Request) -> Result<Response, ApiError> {
    let principal = super::router::authenticate(app, request).await?;
    let mut pairs = Vec::new();
    for pair in request.query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (percent_decode(key), percent_decode(value)) {
            (Some(key), Some(value)) => pairs.push((key, value)),
            _ => return Err(ApiError::bad_request("the query string is not UTF-8")),
        }
    }
    let filter = audit::parse_filter(pairs)?;
    let page = audit::list(app.services.sql, &principal, &filter).await?;
    Ok(Response::json(200, &page.to_json()))
}
