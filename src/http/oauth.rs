//! `/api/oauth/…` handlers (executor-behaviour.md §3.8): parse, authenticate, call
//! [`crate::oauth`], render. The callback answers `text/html` 200 whatever happened (the page
//! reports the outcome to the console).

use serde::Deserialize;
use serde_json::json;

use super::error::{parse_json, ApiError};
use super::{Request, Response};
use crate::app::App;
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

#[derive(Deserialize)]
struct OwnerBody {
    owner: Owner,
}

#[derive(Deserialize)]
struct CompleteBody {
    state: String,
    code: String,
}

#[derive(Deserialize)]
struct StateBody {
    state: String,
}

#[derive(Deserialize)]
struct ProbeBody {
    url: String,
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
            let body: clients::RegisterDynamic = parse_json(&request.body)?;
            let redirect = callback_url(app, request);
            clients::register_dynamic(services, &principal, body, &redirect).await?
        }
        ("DELETE", ["oauth", "clients", slug]) => {
            let body: OwnerBody = parse_json(&request.body)?;
            clients::remove(services, &principal, body.owner, slug).await?
        }
        ("POST", ["oauth", "start"]) => {
            let body: flow::StartRequest = parse_json(&request.body)?;
            let redirect = callback_url(app, request);
            flow::start(services, &principal, body, &redirect).await?
        }
        ("POST", ["oauth", "complete"]) => {
            let body: CompleteBody = parse_json(&request.body)?;
            flow::complete(services, &principal, &body.state, &body.code).await?
        }
        ("POST", ["oauth", "cancel"]) => {
            let body: StateBody = parse_json(&request.body)?;
            flow::cancel(services, &principal, &body.state).await?
        }
        ("POST", ["oauth", "probe"]) => {
            let body: ProbeBody = parse_json(&request.body)?;
            oauth::probe::probe(services, &body.url).await?
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
