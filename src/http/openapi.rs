//! `/api/openapi…` handlers and `POST /api/integrations/detect` (executor-behaviour.md §3.3,
//! §3.4.1): parse, authenticate, call [`crate::plugins::openapi::store`], render. Every route is
//! protected (401 `text/plain` before anything else).

use serde_json::json;

use super::error::{parse_body, ApiError};
use super::{Request, Response};
use crate::app::App;
use crate::integrations::detect;
use crate::json_fields::string_member;
use crate::logging;
use crate::plugins::openapi::store::{
    self, AddRequest, ConfigUpdate, OpenApiStoreError, SpecUpdate,
};
use crate::plugins::openapi::{OpenApiError, PARSE_PREFIX};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

impl From<OpenApiStoreError> for ApiError {
    fn from(e: OpenApiStoreError) -> Self {
        match e {
            OpenApiStoreError::Spec(e) => spec_error(e),
            OpenApiStoreError::Invalid(message) => ApiError::bad_request(message),
            OpenApiStoreError::AlreadyExists { slug } => ApiError::tagged(
                409,
                "IntegrationAlreadyExistsError",
                json!({ "slug": slug }),
            ),
            OpenApiStoreError::NotFound { slug } => ApiError::integration_not_found(&slug),
            OpenApiStoreError::RemovalNotAllowed { slug } => ApiError::tagged(
                409,
                "IntegrationRemovalNotAllowedError",
                json!({ "slug": slug }),
            ),
            OpenApiStoreError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// `400 {"_tag": "OpenApiParseError" | "OpenApiExtractionError", "message"}`. Unparsable text
/// answers upstream's exact message (wire 13); the parser's detail goes to the log.
fn spec_error(e: OpenApiError) -> ApiError {
    let message = match &e {
        OpenApiError::Parse(m) if m.starts_with(PARSE_PREFIX) => {
            if m.len() > PARSE_PREFIX.len() {
                logging::info(&format!("openapi: {m}"));
            }
            PARSE_PREFIX.to_owned()
        }
        _ => e.message(),
    };
    ApiError::tagged(400, e.tag(), json!({ "message": message }))
}

fn preview_body(text: &str) -> Result<String, String> {
    string_member(text, "spec")
}

fn detect_body(text: &str) -> Result<String, String> {
    string_member(text, "url")
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
        ("POST", ["openapi", "preview"])
            | ("POST", ["openapi", "specs"])
            | ("GET" | "DELETE", ["openapi", "integrations", _])
            | ("GET" | "POST", ["openapi", "integrations", _, "config"])
            | ("POST", ["openapi", "integrations", _, "spec"])
            | ("POST", ["integrations", "detect"])
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
        ("POST", ["openapi", "preview"]) => {
            let spec = parse_body(&request.body, preview_body)?;
            Ok(Response::json(200, &store::preview(services, spec).await?))
        }
        ("POST", ["openapi", "specs"]) => {
            let body = parse_body(&request.body, AddRequest::parse)?;
            Ok(Response::json(
                200,
                &store::add(services, tenant, body).await?,
            ))
        }
        ("GET", ["openapi", "integrations", slug]) => Ok(Response::json(
            200,
            &store::get(services.sql, tenant, slug).await?,
        )),
        ("DELETE", ["openapi", "integrations", slug]) => {
            store::remove(services.sql, &principal, slug).await?;
            Ok(Response::empty(204))
        }
        ("GET", ["openapi", "integrations", slug, "config"]) => Ok(Response::json(
            200,
            &store::get_config(services.sql, tenant, slug).await?,
        )),
        ("POST", ["openapi", "integrations", slug, "config"]) => {
            let body = parse_body(&request.body, ConfigUpdate::parse)?;
            let stored = store::set_config(services, tenant, slug, body).await?;
            Ok(Response::json(
                200,
                &json!({ "authenticationTemplate": stored }),
            ))
        }
        ("POST", ["openapi", "integrations", slug, "spec"]) => {
            // `spec` is optional, so an empty body means "re-fetch".
            let body: SpecUpdate = if request.body.iter().all(u8::is_ascii_whitespace) {
                SpecUpdate::default()
            } else {
                parse_body(&request.body, SpecUpdate::parse)?
            };
            Ok(Response::json(
                200,
                &store::update_spec(services, &principal, slug, body).await?,
            ))
        }
        ("POST", ["integrations", "detect"]) => {
            let url = parse_body(&request.body, detect_body)?;
            let url = url.trim();
            if url.chars().count() > detect::MAX_URL_CHARS {
                return Err(ApiError::bad_request(format!(
                    "`url` must be at most {} characters",
                    detect::MAX_URL_CHARS
                )));
            }
            Ok(Response::json(200, &detect::detect(services, url).await))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
