//! The audit log: one row per tool call a sandboxed run made (and per decision a user took on a
//! paused call), readable through `GET /api/audit` ([`list`]).
//!
//! A row says who (subject, email), which tool (address, integration, connection), what the
//! policy layer decided ([`Decision`]), how the call ended (an outcome *code*, see
//! [`outcome_of_value`]), when, how long it took and the upstream's HTTP status. It never holds
//! arguments, results, headers, error messages or secret values: the only free text is the
//! tool address.
//!
//! Recording: [`crate::catalog::CatalogHost`] notes an [`Entry`] per tool call in its
//! [`Recorder`]; the executions service takes them when the run ends or pauses, fills in the
//! execution id, and writes them with one `Sql::batch` ([`statements`]: rows travel as JSON
//! arrays expanded by `json_each`), or inside the batch that stores the pause. Calls a resumed
//! run replays from its journal never reach the host, so they are not recorded twice; a resume
//! records the user's decision (accept: the approved call as the host ran it; decline, cancel:
//! one `not_run` entry) when it takes it. Known gap: when a resume dies after storing the decision
//! in the execution row but before writing its audit rows, the resume that takes over replays
//! that decision and does not record it. A failed audit write is logged and never fails the run.
//!
//! Catalog reads (`tools.search`, `tools.describe.tool`, `tools.executor.sources.list`) are not
//! tool calls and are not recorded.
//!
//! Retention: every write also deletes a bounded number of rows older than
//! `AUDIT_RETENTION_DAYS` and rows beyond the newest `AUDIT_MAX_ROWS` (ids only grow, so that is
//! `id <= max(id) - AUDIT_MAX_ROWS`), at most [`prune_limit`] of each (so a log nobody writes to
//! keeps its old rows until the next write). `AUDIT_MAX_ROWS=0` turns
//! the log off: nothing is written (rows already kept stay until the log is turned on again and
//! prunes them).

mod query;
mod store;

use std::cell::RefCell;

use serde_json::Value;

use crate::app::Services;
use crate::auth::Principal;
use crate::logging;
use crate::store::Statement;

pub use query::{parse_filter, AuditError, Filter, Page, MAX_LIMIT};
pub use store::list;

/// What the policy layer (or the user) decided about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Ran without asking: an `approve` policy, or nothing asked for approval. Also calls that
    /// named no tool (outcome `tool_not_found`), which no policy could judge.
    Allowed,
    /// A `block` policy stopped it.
    Blocked,
    /// The run paused for a user's decision (outcome `pending`, or `not_run` when the run
    /// ended without that pause being kept).
    ApprovalRequired,
    /// It ran after a user accepted it.
    Approved,
    /// A user declined it.
    Declined,
    /// A user cancelled it.
    Cancelled,
}

impl Decision {
    pub const ALL: [Decision; 6] = [
        Decision::Allowed,
        Decision::Blocked,
        Decision::ApprovalRequired,
        Decision::Approved,
        Decision::Declined,
        Decision::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Blocked => "blocked",
            Decision::ApprovalRequired => "approval_required",
            Decision::Approved => "approved",
            Decision::Declined => "declined",
            Decision::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// The call succeeded.
pub const OUTCOME_OK: &str = "ok";
/// Paused, waiting for a decision.
pub const OUTCOME_PENDING: &str = "pending";
/// Never ran (declined, cancelled, or a pause that was not kept).
pub const OUTCOME_NOT_RUN: &str = "not_run";
/// The host failed (the script saw `Internal tool error [id]`).
pub const OUTCOME_INTERNAL: &str = "internal";
/// A ToolResult error without a usable code.
pub const OUTCOME_ERROR: &str = "error";

/// Longest outcome code kept.
pub const MAX_OUTCOME_CHARS: usize = 64;
/// Longest tool address kept (the script names the path; longer ones are cut).
pub const MAX_ADDRESS_CHARS: usize = 300;
/// Most entries one run records; later calls are counted in the log only (bounds memory and
/// the write).
pub const MAX_ENTRIES_PER_RUN: usize = 10_000;

/// One recorded call, before the principal is attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When the call started (epoch ms).
    pub time: i64,
    pub address: String,
    pub integration: Option<String>,
    /// `<owner>.<name>` of the connection (`org.main`).
    pub connection: Option<String>,
    pub decision: Decision,
    pub outcome: String,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub execution_id: Option<String>,
}

impl Entry {
    /// An entry for a call at `address` that started at `start_ms` and answered at `end_ms`.
    pub fn new(address: &str, decision: Decision, start_ms: f64, end_ms: f64) -> Entry {
        let address = match address.char_indices().nth(MAX_ADDRESS_CHARS) {
            Some((cut, _)) => address[..cut].to_owned(),
            None => address.to_owned(),
        };
        Entry {
            time: start_ms as i64,
            address,
            integration: None,
            connection: None,
            decision,
            outcome: OUTCOME_OK.to_owned(),
            duration_ms: (end_ms - start_ms).max(0.0).round() as i64,
            http_status: None,
            execution_id: None,
        }
    }
}

/// The entries of one run (interior mutability: the sandbox holds the host by `&`).
#[derive(Debug, Default)]
pub struct Recorder {
    entries: RefCell<Vec<Entry>>,
    dropped: std::cell::Cell<usize>,
}

impl Recorder {
    pub fn record(&self, entry: Entry) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() < MAX_ENTRIES_PER_RUN {
            entries.push(entry);
        } else {
            self.dropped.set(self.dropped.get() + 1);
        }
    }

    /// Everything recorded so far, emptying the recorder.
    pub fn take(&self) -> Vec<Entry> {
        let dropped = self.dropped.replace(0);
        if dropped > 0 {
            logging::warn(&format!(
                "audit: {dropped} tool calls of one run were not recorded (more than \
                 {MAX_ENTRIES_PER_RUN})"
            ));
        }
        std::mem::take(&mut *self.entries.borrow_mut())
    }
}

/// The outcome code and HTTP status of a ToolResult value: `ok` (status from `http.status`) for
/// `{ok: true}` and for values that are not ToolResults, else `error.code` (status from
/// `error.status`). Codes are kept only when they look like codes, never as free text.
pub fn outcome_of_value(value: &Value) -> (String, Option<u16>) {
    let status = |v: Option<&Value>| {
        v.and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
    };
    match value.get("ok").and_then(Value::as_bool) {
        Some(false) => {
            let error = value.get("error");
            let code = error
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .map_or_else(|| OUTCOME_ERROR.to_owned(), outcome_code);
            (code, status(error.and_then(|e| e.get("status"))))
        }
        _ => (
            OUTCOME_OK.to_owned(),
            status(value.get("http").and_then(|h| h.get("status"))),
        ),
    }
}

/// [`outcome_of_value`] for a ToolResult as JSON text (built-in tools answer text).
pub fn outcome_of_text(text: &str) -> (String, Option<u16>) {
    // Parsed as a `Value` rather than a dedicated struct: the generic parser is in the Worker
    // anyway, a derived one would add to its size, and built-in results are small.
    match serde_json::from_str::<Value>(text) {
        Ok(value) => outcome_of_value(&value),
        Err(_) => (OUTCOME_OK.to_owned(), None),
    }
}

/// `code` when it is a plausible code (`[a-z0-9_]`, 1 to [`MAX_OUTCOME_CHARS`] characters),
/// else `error`.
pub fn outcome_code(code: &str) -> String {
    let plausible = !code.is_empty()
        && code.len() <= MAX_OUTCOME_CHARS
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plausible {
        code.to_owned()
    } else {
        OUTCOME_ERROR.to_owned()
    }
}

/// How many old rows one write may delete per retention rule: twice what it adds, at least 50,
/// so a backlog shrinks while each write stays bounded.
pub fn prune_limit(added: usize) -> i64 {
    i64::try_from(added.saturating_mul(2).max(50)).unwrap_or(i64::MAX)
}

/// The statements that write `entries` for `principal` and prune old rows (empty when there is
/// nothing to write, or when `AUDIT_MAX_ROWS=0` turned the log off).
pub fn statements(
    services: Services<'_>,
    principal: &Principal,
    entries: &[Entry],
) -> Vec<Statement> {
    if entries.is_empty() || services.config.audit_max_rows == 0 {
        return Vec::new();
    }
    let now = services.clock.now_ms() as i64;
    let cutoff = now
        .saturating_sub(i64::try_from(services.config.audit_retention_ms).unwrap_or(i64::MAX / 2));
    store::write_statements(
        principal,
        entries,
        cutoff,
        i64::try_from(services.config.audit_max_rows).unwrap_or(i64::MAX / 2),
    )
}

/// Writes `entries`; a failure is logged, never returned (the audit must not fail a run).
pub async fn write(services: Services<'_>, principal: &Principal, entries: &[Entry]) {
    let statements = statements(services, principal, entries);
    if statements.is_empty() {
        return;
    }
    if let Err(e) = services.sql.batch(statements).await {
        logging::error(&format!(
            "audit: {} rows were not written: {e}",
            entries.len()
        ));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
