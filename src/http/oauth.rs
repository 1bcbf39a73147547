//! `/api/oauth/…` handlers (executor-behaviour.md §3.8): parse, authenticate, call
//! [`crate::oauth`], render. The callback answers `text/html` 200 whatever happened (the page
//! reports the outcome to the console).

use serde_json::json;

use super::error::{parse_body, ApiError};
use super::{Request, Response};
use crate::app::App;
use crate::json_fields::{string_member, Fields};
use crate::oauth::{self, clients, flow, page, OAuthError};
use crate::owner::Owner;

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Schema(message) | OAuthError::InvalidClient(message) => {
                ApiError::bad_request(message)
            }
            OAuthError::Start(message) => {
                ApiError::tagged(400, "OAuthStartError", json!({ "message": message }))
            }
            OAuthError::Complete {
                message,
                restart_required,
            } => ApiError::tagged(
                400,
                "OAuthCompleteError",
                json!({ "message": message, "restartRequired": restart_required }),
            ),
            OAuthError::SessionNotFound { state } => {
                ApiError::tagged(404, "OAuthSessionNotFoundError", json!({ "state": state }))
            }
            OAuthError::Probe(message) => {
                ApiError::tagged(400, "OAuthProbeError", json!({ "message": message }))
            }
            OAuthError::RegisterDynamic(message) => ApiError::tagged(
                400,
                "OAuthRegisterDynamicError",
                json!({ "message": message }),
            ),
            OAuthError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// `{owner}`.
fn owner_body(text: &str) -> Result<Owner, String> {
    Fields::parse(text, &["owner"], false)?.owner("owner")
}

/// `{state, code}`.
fn complete_body(text: &str) -> Result<(String, String), String> {
    let f = Fields::parse(text, &["state", "code"], false)?;
    Ok((f.string("state")?, f.string("code")?))
}

fn state_body(text: &str) -> Result<String, String> {
    string_member(text, "state")
}

fn probe_body(text: &str) -> Result<String, String> {
    string_member(text, "url")
}

/// Answers the OAuth routes; `None` when the path is not one of them.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    let method = request.method.as_str();
    let known = matches!(
        (method, segs),
        ("GET" | "POST", ["oauth", "clients"])
            | ("POST", ["oauth", "clients", "register-dynamic"])
            | ("DELETE", ["oauth", "clients", _])
            | ("POST", ["oauth", "start" | "complete" | "cancel" | "probe"])
            | ("GET", ["oauth", "callback"])
    );
    if !known {
        return None;
    }
    Some(Box::pin(handle(app, request, method, segs)).await)
}

/// `<web origin>/api/oauth/callback`: the pinned console origin, else the request's.
fn callback_url(app: &App<'_>, request: &Request) -> String {
    let origin = app
        .services
        .config
        .public_site_url
        .clone()
        .unwrap_or_else(|| request.origin());
    format!("{}/api/oauth/callback", origin.trim_end_matches('/'))
}

async fn handle(
    app: &App<'_>,
    request: &Request,
    method: &str,
    segs: &[&str],
) -> Result<Response, ApiError> {
    let principal = super::router::authenticate(app, request).await?;
    let services = app.services;
    let value = match (method, segs) {
        ("GET", ["oauth", "clients"]) => clients::list(services, &principal).await?,
        ("POST", ["oauth", "clients"]) => {
            let (body, secret) = clients::parse_create(&request.body)?;
            clients::create(services, &principal, body, secret).await?
        }
        ("POST", ["oauth", "clients", "register-dynamic"]) => {
            let body = parse_body(&request.body, clients::RegisterDynamic::parse)?;
            let redirect = callback_url(app, request);
            clients::register_dynamic(services, &principal, body, &redirect).await?
        }
        ("DELETE", ["oauth", "clients", slug]) => {
            let owner = parse_body(&request.body, owner_body)?;
            clients::remove(services, &principal, owner, slug).await?
        }
        ("POST", ["oauth", "start"]) => {
            let body = parse_body(&request.body, flow::StartRequest::parse)?;
            let redirect = callback_url(app, request);
            flow::start(services, &principal, body, &redirect).await?
        }
        ("POST", ["oauth", "complete"]) => {
            let (state, code) = parse_body(&request.body, complete_body)?;
            flow::complete(services, &principal, &state, &code).await?
        }
        ("POST", ["oauth", "cancel"]) => {
            let state = parse_body(&request.body, state_body)?;
            flow::cancel(services, &principal, &state).await?
        }
        ("POST", ["oauth", "probe"]) => {
            let url = parse_body(&request.body, probe_body)?;
            oauth::probe::probe(services, &url).await?
        }
        ("GET", ["oauth", "callback"]) => return Ok(callback(app, request, &principal).await),
        _ => return Err(ApiError::RouteNotFound),
    };
    Ok(Response::json(200, &value))
}

/// `GET /api/oauth/callback?state&code|error`: completes the flow and renders the page.
async fn callback(
    app: &App<'_>,
    request: &Request,
    principal: &crate::auth::Principal,
) -> Response {
    let state = request.query_param("state").unwrap_or_default();
    let code = request.query_param("code").filter(|c| !c.is_empty());
    let denied = request.query_param("error").filter(|e| !e.is_empty());
    let outcome: Result<(), (String, String)> = if state.is_empty() {
        Err((
            "OAuth session expired or not found".into(),
            "The callback has no state.".into(),
        ))
    } else if let Some(error) = denied {
        // The user or the server refused: the flow is over.
        let _ = flow::cancel(app.services, principal, &state).await;
        let description = request
            .query_param("error_description")
            .map(|d| format!(" ({})", oauth::clip(&d)))
            .unwrap_or_default();
        Err((
            "Authentication failed".into(),
            format!(
                "The authorization server answered {}{description}.",
                oauth::clip(&error)
            ),
        ))
    } else if let Some(code) = code {
        match flow::complete(app.services, principal, &state, &code).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if let OAuthError::Internal(cause) = &e {
                    crate::logging::error(&format!("oauth callback: {cause}"));
                }
                Err((e.page_text().into(), e.public_message()))
            }
        }
    } else {
        Err((
            "Could not complete authentication".into(),
            "The callback has no authorization code.".into(),
        ))
    };
    let (error, details) = match &outcome {
        Ok(()) => (None, None),
        Err((e, d)) => (Some(e.as_str()), Some(d.as_str())),
    };
    let (html, nonce) = page::render(&page::Outcome {
        ok: outcome.is_ok(),
        state: &state,
        error,
        details,
    });
    Response::text(200, "text/html; charset=utf-8", html)
        .with_header("content-security-policy", &page::csp(&nonce))
        .with_header("cache-control", "no-store")
        .with_header("referrer-policy", "no-referrer")
        .with_header("x-content-type-options", "nosniff")
}
