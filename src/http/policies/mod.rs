//! `/api/policies…` handlers (executor-behaviour.md §3.9): parse, authenticate, call
//! [`crate::policies::service`], render. Every route is protected (401 `text/plain` first).
//!
//! Errors: schema violations 400 `HttpApiSchemaError`; invalid pattern/action/position (or a
//! user-owned rule without a subject) 400 `{"_tag":"InvalidToolPolicyError","field","message"}`;
//! an id not in the named partition 404 `{"_tag":"PolicyNotFoundError","policyId","owner"}`.
//! Upstream answered all of these with an opaque 500 (§14 #4; wire 33, 36).

use serde_json::json;

use super::error::ApiError;
use super::{Request, Response};
use crate::app::App;
use crate::policies::{service, CreateRequest, PolicyError, RemoveRequest, UpdateRequest};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Schema(message) => ApiError::bad_request(message),
            PolicyError::Invalid { field, message } => ApiError::tagged(
                400,
                "InvalidToolPolicyError",
                json!({ "field": field.as_str(), "message": message }),
            ),
            PolicyError::NotFound { id, owner } => ApiError::tagged(
                404,
                "PolicyNotFoundError",
                json!({ "policyId": id, "owner": owner }),
            ),
            PolicyError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// Answers this group's routes; `None` when the path is not one of them.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    let method = request.method.as_str();
    let known = matches!(
        (method, segs),
        ("GET" | "POST", ["policies"]) | ("PATCH" | "DELETE", ["policies", _])
    );
    if !known {
        return None;
    }
    Some(handle(app, request, method, segs).await)
}

async fn handle(
    app: &App<'_>,
    request: &Request,
    method: &str,
    segs: &[&str],
) -> Result<Response, ApiError> {
    let principal = super::router::authenticate(app, request).await?;
    let services = app.services;
    match (method, segs) {
        ("GET", ["policies"]) => Ok(Response::json(
            200,
            &service::list(services.sql, &principal).await?,
        )),
        ("POST", ["policies"]) => {
            let body = CreateRequest::parse(&request.body).map_err(PolicyError::from)?;
            Ok(Response::json(
                200,
                &service::create(services, &principal, body).await?,
            ))
        }
        ("PATCH", ["policies", id]) => {
            let body = UpdateRequest::parse(&request.body).map_err(PolicyError::from)?;
            Ok(Response::json(
                200,
                &service::update(services, &principal, id, body).await?,
            ))
        }
        ("DELETE", ["policies", id]) => {
            let body = RemoveRequest::parse(&request.body).map_err(PolicyError::from)?;
            service::remove(services.sql, &principal, id, body).await?;
            Ok(Response::json(200, &json!({ "removed": true })))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
