//! `/api/mcp/…` handlers for remote MCP servers as sources (executor-behaviour.md §3.4.3):
//! parse, authenticate, call [`crate::plugins::mcp_remote::store`], render. (Our own MCP
//! endpoint is `/mcp`, outside `/api`; see `src/mcp/`.)

use serde_json::json;

use super::error::{parse_value, ApiError};
use super::{Request, Response};
use crate::app::App;
use crate::integrations;
use crate::plugins::mcp_remote::store::{self, McpStoreError};

impl From<McpStoreError> for ApiError {
    fn from(e: McpStoreError) -> Self {
        match e {
            McpStoreError::Invalid(message) => ApiError::bad_request(message),
            McpStoreError::Connection(message) => ApiError::tagged(
                400,
                "McpConnectionError",
                json!({ "transport": "remote", "message": message }),
            ),
            McpStoreError::AlreadyExists { slug } => ApiError::tagged(
                409,
                "IntegrationAlreadyExistsError",
                json!({ "slug": slug }),
            ),
            McpStoreError::Internal(cause) => ApiError::internal(cause),
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
        ("POST", ["mcp", "probe"])
            | ("POST", ["mcp", "servers"])
            | ("GET" | "DELETE", ["mcp", "servers", _])
            | ("POST", ["mcp", "servers", _, "config" | "auth"])
    );
    if !known {
        return None;
    }
    Some(Box::pin(handle(app, request, method, segs)).await)
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
        ("POST", ["mcp", "probe"]) => {
            let body = parse_value(&request.body)?;
            Ok(Response::json(200, &store::probe(services, &body).await?))
        }
        ("POST", ["mcp", "servers"]) => {
            let body = parse_value(&request.body)?;
            let slug = store::add(services, tenant, &body).await?;
            Ok(Response::json(200, &json!({ "slug": slug })))
        }
        ("GET", ["mcp", "servers", slug]) => Ok(Response::json(
            200,
            &store::get(services.sql, tenant, slug).await?,
        )),
        ("DELETE", ["mcp", "servers", slug]) => {
            // Same semantics as `DELETE /integrations/:slug`, but only for MCP rows.
            if store::get(services.sql, tenant, slug).await?.is_some() {
                integrations::remove(services.sql, tenant, principal.subject(), slug).await?;
            }
            Ok(Response::json(200, &json!({ "removed": true })))
        }
        ("POST", ["mcp", "servers", slug, "config"]) => {
            let body = parse_value(&request.body)?;
            let config = store::set_config(services, tenant, slug, &body).await?;
            Ok(Response::json(200, &json!({ "config": config })))
        }
        ("POST", ["mcp", "servers", slug, "auth"]) => {
            let body = parse_value(&request.body)?;
            let methods = store::set_auth(services, tenant, slug, &body).await?;
            Ok(Response::json(
                200,
                &json!({ "authenticationTemplate": methods }),
            ))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
