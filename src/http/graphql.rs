//! `/api/graphql…` handlers (executor-behaviour.md §3.4.2): parse, authenticate, call
//! [`crate::plugins::graphql::store`], render. Removal goes through `DELETE /integrations/:slug`
//! (there is no GraphQL-specific DELETE).

use serde_json::json;

use super::error::{parse_body, ApiError};
use super::{Request, Response};
use crate::app::App;
use crate::plugins::graphql::store::{self, AddRequest, ConfigUpdate, GraphqlStoreError};

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "graphql_tests.rs"]
mod tests;

impl From<GraphqlStoreError> for ApiError {
    fn from(e: GraphqlStoreError) -> Self {
        match e {
            GraphqlStoreError::Schema(e) => {
                ApiError::tagged(400, e.tag(), json!({ "message": e.message() }))
            }
            GraphqlStoreError::Invalid(message) => ApiError::bad_request(message),
            GraphqlStoreError::AlreadyExists { slug } => ApiError::tagged(
                409,
                "IntegrationAlreadyExistsError",
                json!({ "slug": slug }),
            ),
            GraphqlStoreError::Internal(cause) => ApiError::internal(cause),
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
        ("POST", ["graphql", "integrations"])
            | ("GET", ["graphql", "integrations", _])
            | ("GET" | "POST", ["graphql", "integrations", _, "config"])
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
        ("POST", ["graphql", "integrations"]) => {
            let body = parse_body(&request.body, AddRequest::parse)?;
            Ok(Response::json(
                200,
                &store::add(services, tenant, body).await?,
            ))
        }
        ("GET", ["graphql", "integrations", slug]) => Ok(Response::json(
            200,
            &store::get(services.sql, tenant, slug).await?,
        )),
        ("GET", ["graphql", "integrations", slug, "config"]) => Ok(Response::json(
            200,
            &store::get_config(services.sql, tenant, slug).await?,
        )),
        ("POST", ["graphql", "integrations", slug, "config"]) => {
            let body = parse_body(&request.body, ConfigUpdate::parse)?;
            let stored = store::set_config(services, tenant, slug, body).await?;
            Ok(Response::json(
                200,
                &json!({ "authenticationTemplate": stored }),
            ))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
