//! `/api/google…` handlers (executor-behaviour.md §3.4.4): parse, authenticate, call
//! [`crate::plugins::google::store`], render. Errors are the OpenAPI store's (a bundle is stored
//! as an OpenAPI spec), so they map to HTTP through the same `From` impl.

use serde_json::json;

use super::error::{parse_body, ApiError};
use super::{Request, Response};
use crate::app::App;
use crate::plugins::google::store::{self, AddRequest, BundleUpdate};
use crate::plugins::openapi::store::ConfigUpdate;

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "google_tests.rs"]
mod tests;

/// Answers this group's routes; `None` when the path is not one of them.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    let method = request.method.as_str();
    let known = matches!(
        (method, segs),
        ("POST", ["google", "bundles"])
            | ("GET" | "DELETE", ["google", "integrations", _])
            | ("GET" | "POST", ["google", "integrations", _, "config"])
            | ("POST", ["google", "integrations", _, "bundle"])
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
    let tenant = principal.tenant();
    match (method, segs) {
        ("POST", ["google", "bundles"]) => {
            let body = parse_body(&request.body, AddRequest::parse)?;
            Ok(Response::json(
                200,
                &store::add(services, tenant, body).await?,
            ))
        }
        ("GET", ["google", "integrations", slug]) => Ok(Response::json(
            200,
            &store::get(services.sql, tenant, slug).await?,
        )),
        ("DELETE", ["google", "integrations", slug]) => {
            store::remove(services.sql, &principal, slug).await?;
            Ok(Response::empty(204))
        }
        ("GET", ["google", "integrations", slug, "config"]) => Ok(Response::json(
            200,
            &store::get_config(services.sql, tenant, slug).await?,
        )),
        ("POST", ["google", "integrations", slug, "config"]) => {
            let body = parse_body(&request.body, ConfigUpdate::parse)?;
            let stored = store::set_config(services, tenant, slug, body).await?;
            Ok(Response::json(
                200,
                &json!({ "authenticationTemplate": stored }),
            ))
        }
        ("POST", ["google", "integrations", slug, "bundle"]) => {
            // Every field is optional, so an empty body means "re-fetch the stored URLs".
            let body: BundleUpdate = if request.body.iter().all(u8::is_ascii_whitespace) {
                BundleUpdate::default()
            } else {
                parse_body(&request.body, BundleUpdate::parse)?
            };
            Ok(Response::json(
                200,
                &store::update_bundle(services, &principal, slug, body).await?,
            ))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
