//! Executions waiting for a person: the caller's list of open approvals (`GET /api/executions`),
//! a decision's progress as the browser-mode MCP `resume` sees it ([`progress`]), and the check
//! that an approval link's MCP session is the one that paused ([`check_session`]).

use serde::Serialize;
use serde_json::Value;

use super::store::{self, Status};
use super::{live_row, now_ms, pending_of, settled_outcome, Envelope, ExecuteError};
use crate::app::Services;
use crate::auth::Principal;

/// Longest argument preview in the waiting list (characters of compact JSON).
pub const MAX_ARGS_PREVIEW_CHARS: usize = 1_000;
/// Longest approval message in the waiting list.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Most rows per page of the waiting list.
pub const MAX_PAGE: usize = 100;

/// Where a decision stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Nobody decided yet, or a resume is running right now.
    Waiting,
    /// Decided and finished: the outcome every resume answers (possibly the next pause).
    Settled(Envelope),
}

/// Reads the caller's execution `id` without touching it.
pub async fn progress(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
) -> Result<Progress, ExecuteError> {
    let row = live_row(services, principal, id).await?;
    match row.status {
        Status::Settled => Ok(Progress::Settled(settled_outcome(&row)?)),
        Status::Paused | Status::Running => Ok(Progress::Waiting),
    }
}

/// Succeeds when `id` is the caller's execution, still waiting, and paused by the MCP session
/// `session_id` (or a continuation of it). Anything else reads as [`ExecuteError::NotFound`],
/// so an approval link only works with the session it was made for.
pub async fn check_session(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
    session_id: &str,
) -> Result<(), ExecuteError> {
    let row = live_row(services, principal, id).await?;
    if row.status == Status::Settled {
        return Err(ExecuteError::NotFound);
    }
    match pending_of(&row)?.session.as_deref() {
        Some(recorded) if recorded == session_id => Ok(()),
        _ => Err(ExecuteError::NotFound),
    }
}

/// One open approval.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    pub execution_id: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub expires_at: i64,
    /// The gated tool (`tools.<path>`).
    pub address: String,
    pub message: String,
    pub message_truncated: bool,
    /// Compact JSON of the call's arguments, cut at [`MAX_ARGS_PREVIEW_CHARS`].
    pub args_preview: String,
    pub args_truncated: bool,
    /// The MCP session whose approval link answers it (browser mode), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_session_id: Option<String>,
}

/// One page of open approvals, newest first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingPage {
    pub executions: Vec<Waiting>,
    /// Pass as `cursor` for the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Why a page request is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCursor;

/// Reads a cursor made by [`list`]: `<created_at>.<id>`.
pub fn parse_cursor(cursor: &str) -> Result<(i64, String), BadCursor> {
    let (at, id) = cursor.split_once('.').ok_or(BadCursor)?;
    let at = at.parse::<i64>().map_err(|_| BadCursor)?;
    if id.is_empty() || id.len() > 100 {
        return Err(BadCursor);
    }
    Ok((at, id.to_owned()))
}

fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (format!("{}…", &text[..at]), true),
        None => (text.to_owned(), false),
    }
}

/// The caller's paused, unexpired executions, newest first, `limit` (1..=[`MAX_PAGE`]) at a
/// time, after `cursor`.
pub async fn list(
    services: Services<'_>,
    principal: &Principal,
    limit: usize,
    cursor: Option<(i64, String)>,
) -> Result<WaitingPage, ExecuteError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let after = cursor.as_ref().map(|(at, id)| (*at, id.as_str()));
    let mut rows = store::list_paused(
        services.sql,
        principal,
        now_ms(services),
        after,
        limit as i64 + 1,
    )
    .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more
        .then(|| rows.last().map(|r| format!("{}.{}", r.created_at, r.id)))
        .flatten();
    let mut executions = Vec::with_capacity(rows.len());
    for row in rows {
        let pending: serde_json::Value = super::decode(row.pending.as_deref(), "pending call")?;
        let pending = super::Pending::from_json(&pending)?;
        let args = pending.args.as_ref().map_or_else(
            || "{}".to_owned(),
            |a| serde_json::to_string(a).unwrap_or_default(),
        );
        let (args_preview, args_truncated) = cut(&args, MAX_ARGS_PREVIEW_CHARS);
        let (message, message_truncated) = cut(&pending.message, MAX_MESSAGE_CHARS);
        executions.push(Waiting {
            execution_id: row.id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            address: pending.address,
            message,
            message_truncated,
            args_preview,
            args_truncated,
            mcp_session_id: pending.session,
        });
    }
    Ok(WaitingPage {
        executions,
        next_cursor,
    })
}

/// The id of the next pause when `envelope` is one.
pub fn next_pause(envelope: &Envelope) -> Option<&str> {
    if !envelope.paused {
        return None;
    }
    envelope
        .structured
        .get("executionId")
        .and_then(Value::as_str)
}
