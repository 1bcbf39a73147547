//! `/api/connections…` and `/api/providers…` handlers (executor-behaviour.md §3.6, §3.7): parse,
//! authenticate, call [`crate::connections::service`] / [`crate::providers`], render. Every route
//! is protected (401 `text/plain` before anything else).

use serde_json::json;

use super::error::ApiError;
use super::{Request, Response};
use crate::app::App;
use crate::connections::{service, ConnectionError, ConnectionKey, CreateRequest, PatchRequest};
use crate::owner::Owner;
use crate::providers;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::Schema(message) => ApiError::bad_request(message),
            ConnectionError::IntegrationNotFound { slug } => ApiError::integration_not_found(&slug),
            ConnectionError::ConnectionNotFound {
                owner,
                integration,
                name,
            } => ApiError::tagged(
                404,
                "ConnectionNotFoundError",
                json!({ "owner": owner, "integration": integration, "name": name }),
            ),
            ConnectionError::InvalidInput(message) => ApiError::tagged(
                400,
                "InvalidConnectionInputError",
                json!({ "message": message }),
            ),
            ConnectionError::ProviderNotRegistered { provider } => ApiError::tagged(
                409,
                "CredentialProviderNotRegisteredError",
                json!({ "provider": provider }),
            ),
            ConnectionError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

fn owner_param(value: &str) -> Result<Owner, ApiError> {
    Owner::parse(value).ok_or_else(|| ApiError::bad_request("`owner` must be \"org\" or \"user\""))
}

fn key(owner: &str, integration: &str, name: &str) -> Result<ConnectionKey, ApiError> {
    Ok(ConnectionKey {
        owner: owner_param(owner)?,
        integration: integration.to_string(),
        name: name.to_string(),
    })
}

/// Answers the connections and providers routes; `None` when the path is not one of them.
/// `segs` are the percent-decoded path segments after `/api/`.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    let method = request.method.as_str();
    let known = matches!(
        (method, segs),
        ("GET" | "POST", ["connections"])
            | ("GET" | "PATCH" | "DELETE", ["connections", _, _, _])
            | ("POST", ["connections", _, _, _, "refresh"])
            | ("GET", ["providers"])
            | ("GET", ["providers", _, "items"])
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
        ("GET", ["connections"]) => {
            let owner = match request.query_param("owner") {
                Some(owner) => Some(owner_param(&owner)?),
                None => None,
            };
            let integration = request.query_param("integration");
            let list =
                service::list(services.sql, &principal, integration.as_deref(), owner).await?;
            Ok(Response::json(200, &list))
        }
        ("POST", ["connections"]) => {
            let body = CreateRequest::parse(&request.body).map_err(ConnectionError::from)?;
            let connection = service::create(services, &principal, body).await?;
            Ok(Response::json(200, &connection))
        }
        ("GET", ["connections", owner, integration, name]) => {
            let key = key(owner, integration, name)?;
            Ok(Response::json(
                200,
                &service::get(services.sql, &principal, &key).await?,
            ))
        }
        ("PATCH", ["connections", owner, integration, name]) => {
            let key = key(owner, integration, name)?;
            let patch = PatchRequest::parse(&request.body).map_err(ConnectionError::from)?;
            Ok(Response::json(
                200,
                &service::update(services, &principal, &key, patch).await?,
            ))
        }
        ("DELETE", ["connections", owner, integration, name]) => {
            let key = key(owner, integration, name)?;
            service::remove(services.sql, &principal, &key).await?;
            Ok(Response::json(200, &json!({ "removed": true })))
        }
        ("POST", ["connections", owner, integration, name, "refresh"]) => {
            let key = key(owner, integration, name)?;
            Ok(Response::json(
                200,
                &service::refresh(services, &principal, &key).await?,
            ))
        }
        ("GET", ["providers"]) => Ok(Response::json(200, providers::PROVIDERS)),
        ("GET", ["providers", provider, "items"]) => {
            let items = providers::list_items(services.sql, &principal, provider).await?;
            Ok(Response::json(200, &items))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
