//! `/api/*` and `/mcp` routing. Handlers are thin: authenticate, call a service, render. Unknown
//! `/api` paths answer 404 with an empty body before any identity check (§1.3).

use serde_json::json;

use super::error::{parse_body, ApiError};
use super::{percent_decode, Request, Response};
use crate::app::App;
use crate::auth::Principal;
use crate::executions::{self, ExecuteError};
use crate::integrations;
use crate::json_fields::{unknown_variant, Fields};
use crate::logging;

/// Entry point for every request the Worker sees.
pub async fn handle(app: &App<'_>, request: Request) -> Response {
    if let Some(answer) = super::limits::check_body(&request, app.services.clock.now_ms()) {
        return answer;
    }
    if request.path == "/mcp" {
        return crate::mcp::envelope::handle(app, request).await;
    }
    let now = app.services.clock.now_ms();
    match api(app, &request).await {
        Ok(response) => response,
        Err(error) => error.into_response(now),
    }
}

/// The answer when the Worker cannot serve at all (bad configuration, schema not applied),
/// shaped for the surface that was asked.
pub fn startup_failure(request: &Request, message: &str, now_ms: f64) -> Response {
    if request.path == "/mcp" || request.path.starts_with("/mcp/") {
        logging::error(&format!("configuration error: {message}"));
        return crate::mcp::jsonrpc::with_cors(crate::mcp::jsonrpc::error_response(
            500,
            crate::mcp::jsonrpc::INTERNAL_ERROR,
            &format!("Server misconfigured: {message}"),
        ));
    }
    ApiError::Config(message.to_string()).into_response(now_ms)
}

const ACCOUNT_MANAGED: &str = "Managed by Cloudflare Access, not in the app.";

fn account_error() -> ApiError {
    ApiError::tagged(500, "AccountError", json!({ "message": ACCOUNT_MANAGED }))
}

/// Path segments after `/api/`, percent-decoded; `None` when a segment is not UTF-8 or longer
/// than 1000 characters (the router limit upstream has).
fn segments(path: &str) -> Option<Vec<String>> {
    path.trim_start_matches("/api/")
        .split('/')
        .map(|s| percent_decode(s).filter(|d| d.chars().count() <= 1000))
        .collect()
}

pub(crate) async fn authenticate(app: &App<'_>, request: &Request) -> Result<Principal, ApiError> {
    app.identity.identify(request).await.map_err(|e| {
        logging::info(&format!(
            "api: unauthenticated request to {}: {e}",
            request.path
        ));
        ApiError::Unauthorized
    })
}

/// `{code}`.
fn execute_body(text: &str) -> Result<String, String> {
    Fields::parse(text, &["code"], false)?.string("code")
}

/// `{action, content?}`: form content is accepted (it must be JSON) and not used, since approval
/// gates ask for none.
fn resume_body(text: &str) -> Result<executions::ResumeAction, String> {
    let f = Fields::parse(text, &["action", "content"], false)?;
    f.opt_value("content")?;
    resume_action(&f)
}

/// `action`: `accept` | `decline` | `cancel`.
pub(super) fn resume_action(f: &Fields<'_>) -> Result<executions::ResumeAction, String> {
    let action = f.string("action")?;
    executions::ResumeAction::parse(&action)
        .ok_or_else(|| unknown_variant("action", &action, &["accept", "decline", "cancel"]))
}

/// `{status: "completed", text, structured, isError}` or `{status: "paused", text, structured}`
/// (§3.10).
pub(super) fn execution_response(envelope: executions::Envelope) -> Response {
    if envelope.paused {
        return Response::json(
            200,
            &json!({
                "status": "paused",
                "text": envelope.text,
                "structured": envelope.structured,
            }),
        );
    }
    Response::json(
        200,
        &json!({
            "status": "completed",
            "text": envelope.text,
            "structured": envelope.structured,
            "isError": envelope.is_error,
        }),
    )
}

pub(super) fn execution_error(error: ExecuteError, id: &str) -> ApiError {
    match error {
        ExecuteError::EmptyCode => ApiError::bad_request(error.to_string()),
        // Unknown, expired and other principals' ids look the same (wire 68).
        ExecuteError::NotFound => {
            ApiError::tagged(404, "ExecutionNotFoundError", json!({ "executionId": id }))
        }
        ExecuteError::InProgress => ApiError::tagged(
            409,
            "ExecutionInProgressError",
            json!({
                "executionId": id,
                "message": "Another request is resuming this execution; resume it again in a \
                            moment to get its outcome.",
            }),
        ),
        ExecuteError::TooManyRunning { limit } => ApiError::tagged(
            429,
            "ExecutionLimitError",
            json!({ "limit": limit, "message": error.to_string() }),
        ),
        ExecuteError::Store(e) => ApiError::internal(e),
    }
}

async fn api(app: &App<'_>, request: &Request) -> Result<Response, ApiError> {
    if !request.path.starts_with("/api/") {
        return Err(ApiError::RouteNotFound);
    }
    let Some(segments) = segments(&request.path) else {
        return Err(ApiError::RouteNotFound);
    };
    super::limits::check_cross_site(request, app.services.config.public_site_url.as_deref())?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    if let Some(answer) = super::connections::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::openapi::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::graphql::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::google::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::mcp_sources::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::oauth::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::tools::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::policies::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::audit::route(app, request, &segs).await {
        return answer;
    }
    if let Some(answer) = super::approvals::route(app, request, &segs).await {
        return answer;
    }
    let method = request.method.as_str();
    match (method, segs.as_slice()) {
        // Account: only `me` checks identity (it is the console's auth gate).
        ("GET", ["account", "me"]) => {
            let principal = app
                .identity
                .identify(request)
                .await
                .map_err(|_| ApiError::AccountUnauthorized)?;
            Ok(Response::json(200, &account_me(&principal)))
        }
        ("GET", ["account", "api-keys"]) => Ok(Response::json(200, &json!({ "apiKeys": [] }))),
        ("GET", ["account", "members"]) => Ok(Response::json(200, &json!({ "members": [] }))),
        ("GET", ["account", "roles"]) => Ok(Response::json(200, &json!({ "roles": [] }))),
        ("POST", ["account", "api-keys"])
        | ("DELETE", ["account", "api-keys", _])
        | ("POST", ["account", "members", "invite"])
        | ("DELETE", ["account", "members", _])
        | ("PATCH", ["account", "members", _, "role"])
        | ("PATCH", ["account", "name"]) => Err(account_error()),

        ("GET", ["integrations"]) => {
            let principal = authenticate(app, request).await?;
            let list = integrations::list(app.services.sql, &principal.organization.id).await?;
            Ok(Response::json(200, &list))
        }
        ("GET", ["integrations", slug]) => {
            let principal = authenticate(app, request).await?;
            integrations::get(app.services.sql, principal.tenant(), slug)
                .await?
                .map(|i| Response::json(200, &i))
                .ok_or_else(|| ApiError::integration_not_found(slug))
        }
        ("PATCH", ["integrations", slug]) => {
            let principal = authenticate(app, request).await?;
            let patch = parse_body(&request.body, integrations::IntegrationPatch::parse)?;
            let now = app.services.clock.now_ms() as i64;
            integrations::patch(app.services.sql, principal.tenant(), slug, &patch, now)
                .await?
                .map(|i| Response::json(200, &i))
                .ok_or_else(|| ApiError::integration_not_found(slug))
        }
        ("DELETE", ["integrations", slug]) => {
            let principal = authenticate(app, request).await?;
            let outcome = integrations::remove(
                app.services.sql,
                principal.tenant(),
                principal.subject(),
                slug,
            )
            .await?;
            match outcome {
                integrations::RemoveOutcome::Removed => {
                    Ok(Response::json(200, &json!({ "removed": true })))
                }
                integrations::RemoveOutcome::NotAllowed => Err(ApiError::tagged(
                    409,
                    "IntegrationRemovalNotAllowedError",
                    json!({ "slug": slug }),
                )),
            }
        }

        ("POST", ["executions"]) => {
            let principal = authenticate(app, request).await?;
            let code = parse_body(&request.body, execute_body)?;
            let origin = request.origin();
            let envelope = executions::execute_at(app.services, &principal, &code, Some(&origin))
                .await
                .map_err(|e| execution_error(e, ""))?;
            Ok(execution_response(envelope))
        }
        ("GET", ["executions", id]) => {
            let principal = authenticate(app, request).await?;
            let envelope = executions::paused(app.services, &principal, id)
                .await
                .map_err(|e| execution_error(e, id))?;
            Ok(Response::json(
                200,
                &json!({ "text": envelope.text, "structured": envelope.structured }),
            ))
        }
        ("POST", ["executions", id, "resume"]) => {
            let principal = authenticate(app, request).await?;
            let action = parse_body(&request.body, resume_body)?;
            let origin = request.origin();
            let envelope = executions::resume(app.services, &principal, id, action, Some(&origin))
                .await
                .map_err(|e| execution_error(e, id))?;
            Ok(execution_response(envelope))
        }
        // Development only (refused unless dev auth is on): the storage adapter contract against
        // the real D1 and R2 bindings, driven by the e2e suite.
        ("GET", ["dev", "storage-contract"])
            if app.services.config.auth == crate::config::AuthMode::Dev =>
        {
            let checks = crate::store::contract::run(app.services.sql, app.services.blobs).await;
            let ok = checks.iter().all(|c| c.ok);
            Ok(Response::json(200, &json!({ "ok": ok, "checks": checks })))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

fn account_me(principal: &Principal) -> serde_json::Value {
    json!({
        "user": {
            "id": principal.account_id,
            "email": principal.email,
            "name": principal.name,
            "avatarUrl": null,
        },
        "organization": {
            "id": principal.organization.id,
            "name": principal.organization.name,
            "slug": principal.organization.slug,
        }
    })
}
