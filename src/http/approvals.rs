//! Approval routes: the caller's open approvals (`GET /api/executions?status=paused`) and the
//! MCP browser-approval routes (§3.11) behind the links that browser-mode sessions hand out:
//! `GET /api/mcp-sessions/:sid/executions/:eid` and `POST …/resume`.
//!
//! Unlike upstream (which asks the session's Durable Object), the decision is made here: the
//! POST runs [`executions::resume`] as the signed-in principal, so it is durable in D1 and the
//! session's waiting `resume` sees the row settle (`src/mcp/browser.rs`). The session id must
//! be well formed and be the session that paused (recorded in the pause, inherited by its
//! continuations); anything else — including another principal's execution — is a 404 like an
//! unknown id. Errors use the typed `/api` mapping, not upstream's `{"error": …}` bodies.

use serde_json::{json, Value};

use super::error::{parse_body, ApiError};
use super::router::{authenticate, execution_error, execution_response};
use super::{Request, Response};
use crate::app::App;
use crate::executions::{self, waiting, ResumeAction};
use crate::json_fields::Fields;

/// Default page size of the open-approvals list.
const DEFAULT_LIMIT: usize = 20;

/// Answers this group's routes; `None` when the path is not one of them.
pub async fn route(
    app: &App<'_>,
    request: &Request,
    segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    match (request.method.as_str(), segs) {
        ("GET", ["executions"]) => Some(list(app, request).await),
        ("GET", ["mcp-sessions", sid, "executions", eid]) => {
            Some(get(app, request, sid, eid).await)
        }
        ("POST", ["mcp-sessions", sid, "executions", eid, "resume"]) => {
            Some(resume(app, request, sid, eid).await)
        }
        _ => None,
    }
}

async fn list(app: &App<'_>, request: &Request) -> Result<Response, ApiError> {
    let principal = authenticate(app, request).await?;
    match request.query_param("status").as_deref() {
        None | Some("paused") => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "`status` must be \"paused\" (only waiting executions are listed)",
            ))
        }
    }
    let limit = match request.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=waiting::MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`limit` must be a whole number from 1 to {}",
                    waiting::MAX_PAGE
                ))
            })?,
    };
    let cursor = match request.query_param("cursor") {
        None => None,
        Some(text) => Some(
            waiting::parse_cursor(&text)
                .map_err(|_| ApiError::bad_request("`cursor` is not one this API returned"))?,
        ),
    };
    let page = waiting::list(app.services, &principal, limit, cursor)
        .await
        .map_err(|e| execution_error(e, ""))?;
    Ok(Response::json(200, &page))
}

/// Session ids are Durable Object ids; any other shape cannot have paused anything.
fn check_sid(sid: &str, eid: &str) -> Result<(), ApiError> {
    if crate::mcp::is_session_id(sid) {
        Ok(())
    } else {
        Err(execution_error(executions::ExecuteError::NotFound, eid))
    }
}

async fn get(app: &App<'_>, request: &Request, sid: &str, eid: &str) -> Result<Response, ApiError> {
    let principal = authenticate(app, request).await?;
    check_sid(sid, eid)?;
    waiting::check_session(app.services, &principal, eid, sid)
        .await
        .map_err(|e| execution_error(e, eid))?;
    let envelope = executions::paused(app.services, &principal, eid)
        .await
        .map_err(|e| execution_error(e, eid))?;
    Ok(Response::json(
        200,
        &json!({ "text": envelope.text, "structured": envelope.structured }),
    ))
}

/// `{action, content?}` and nothing else; form content (approval gates ask for none) must be an
/// object when present.
fn approval_body(text: &str) -> Result<ResumeAction, String> {
    let f = Fields::parse(text, &["action", "content"], true)?;
    let action = super::router::resume_action(&f)?;
    match f.opt_value("content")? {
        Some(content) if !content.is_object() => Err("`content` must be an object".into()),
        _ => Ok(action),
    }
}

async fn resume(
    app: &App<'_>,
    request: &Request,
    sid: &str,
    eid: &str,
) -> Result<Response, ApiError> {
    let principal = authenticate(app, request).await?;
    let action = parse_body(&request.body, approval_body).map_err(|_| invalid_body())?;
    check_sid(sid, eid)?;
    waiting::check_session(app.services, &principal, eid, sid)
        .await
        .map_err(|e| execution_error(e, eid))?;
    let origin = request.origin();
    let envelope = executions::resume(app.services, &principal, eid, action, Some(&origin))
        .await
        .map_err(|e| execution_error(e, eid))?;
    let (text, status) = match action {
        ResumeAction::Accept => ("I've approved it", "approved"),
        ResumeAction::Decline => ("I've denied it", "denied"),
        ResumeAction::Cancel => ("I've canceled it", "canceled"),
    };
    // The reference fields (§3.11), plus what the run did next so the page can show it: the
    // outcome in the `/api/executions` shape and, when it paused again, the next link.
    let next = waiting::next_pause(&envelope).map(|next| {
        json!({
            "executionId": next,
            "approvalPath": format!(
                "/resume/{}?mcp_session_id={}",
                super::percent_encode(next),
                super::percent_encode(sid)
            ),
        })
    });
    let outcome = execution_response(envelope)
        .json_body()
        .unwrap_or(Value::Null);
    Ok(Response::json(
        200,
        &json!({
            "status": "completed",
            "text": text,
            "structured": { "status": status, "executionId": eid },
            "isError": false,
            "outcome": outcome,
            "next": next,
        }),
    ))
}

fn invalid_body() -> ApiError {
    ApiError::bad_request(
        "Invalid approval response: send {\"action\": \"accept\" | \"decline\" | \"cancel\", \
         \"content\"?: object}",
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
