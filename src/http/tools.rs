//! `/api/tools…` handlers (executor-behaviour.md §3.5): parse the query, authenticate, call
//! [`crate::catalog`], render.

use serde_json::json;

use super::error::ApiError;
use super::{Request, Response};
use crate::app::App;
use crate::catalog::{self, CatalogError, ListFilter};
use crate::owner::Owner;

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        ApiError::internal(e)
    }
}

/// Answers this group's routes; `None` when the path is not one of them.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    match (request.method.as_str(), segs) {
        ("GET", ["tools"]) => Some(list(app, request).await),
        ("GET", ["tools", "schema"]) => Some(schema(app, request).await),
        _ => None,
    }
}

async fn list(app: &App<'_>, request: &Request) -> Result<Response, ApiError> {
    let principal = super::router::authenticate(app, request).await?;
    let owner = match request.query_param("owner") {
        Some(owner) => Some(
            Owner::parse(&owner)
                .ok_or_else(|| ApiError::bad_request("`owner` must be \"org\" or \"user\""))?,
        ),
        None => None,
    };
    // `includeAnnotations` is accepted and ignored (annotations are always listed).
    let filter = ListFilter {
        integration: request.query_param("integration"),
        owner,
        connection: request.query_param("connection"),
        query: request.query_param("query"),
        include_blocked: request.query_param("includeBlocked").as_deref() != Some("false"),
    };
    let tools = catalog::list_tools(app.services, &principal, &filter).await?;
    Ok(Response::json(200, &tools))
}

async fn schema(app: &App<'_>, request: &Request) -> Result<Response, ApiError> {
    let principal = super::router::authenticate(app, request).await?;
    let address = request
        .query_param("address")
        .ok_or_else(|| ApiError::bad_request("`address` is required"))?;
    match catalog::tool_schema(app.services, &principal, &address).await? {
        Some(view) => Ok(Response::json(200, &view)),
        None => Err(ApiError::tagged(
            404,
            "ToolNotFoundError",
            json!({ "address": address }),
        )),
    }
}
