//! Running agent code: the services behind `POST /api/executions` and the MCP `execute` tool
//! ([`execute`]), and behind resuming a paused run (`GET /api/executions/:id`,
//! `POST /api/executions/:id/resume`, the MCP `resume` tool: [`paused`], [`resume`]), plus the
//! result envelope every surface renders ([`envelope`]).
//!
//! # Durable pauses
//!
//! A tool call that needs approval (a `require_approval` policy, or the tool's own annotation)
//! makes the host answer [`HostReply::Pause`](crate::sandbox::HostReply::Pause). The run goes on
//! until nothing else can happen, then ends *paused*; its code, its journal (the seed, the clock
//! and every settled tool call, see `sandbox/journal.rs`) and the gated call are written to one
//! D1 `execution` row with a fresh id `exec_<uuid v4>`, owned by the caller (tenant + subject).
//! Nothing is kept in memory, so any isolate can continue it.
//!
//! A resume claims the row (`paused` → `running`, with a lease so a crashed resume can be taken
//! over), settles the gated call — *accept* runs it through the catalog with the approval gate
//! skipped for that call only; *decline*/*cancel* make it reject with
//! `Tool "<path>" requires approval but the request was declined|cancelled by the user.` — and
//! records that outcome in the row before anything else, so the tool runs at most once per
//! execution even when the resume is retried. Then the code runs again from the start against
//! the journal plus that outcome (recorded calls are answered from the journal and never reach
//! an upstream), and continues live.
//!
//! - Finished: the row becomes `settled` with the envelope; repeated resumes answer it.
//! - Another gate: the continuation is a *new* paused execution with a new id (its own row,
//!   carrying the whole journal); the old row settles with that paused envelope. So an old id
//!   never approves a later call, and a repeated resume of the old id just answers the new
//!   pause again.
//! - The replay did not make the recorded calls again (the sandbox or its inputs changed): the
//!   row settles with an error envelope "the script did not replay deterministically: …".
//!
//! Limits: a pause is refused (the gated call rejects inside the script) once the recorded tool
//! outcomes exceed [`crate::sandbox::MAX_JOURNAL_BYTES`] (1 MiB); a paused row (code + journal +
//! gated call) must fit [`MAX_PAUSED_ROW_BYTES`]; a settled row keeps at most
//! [`MAX_OUTCOME_BYTES`] of envelope (a larger outcome is answered once, and later resumes get
//! a short note instead). Pauses expire after `EXECUTION_PAUSE_TTL_SECONDS` (default 24 h); a
//! settled outcome is kept for the same time after settling. Unknown, expired and other
//! principals' ids are all "not found".

pub mod envelope;
pub mod lease;
mod store;
pub mod waiting;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::Services;
use crate::audit::{self, Decision, Entry};
use crate::auth::Principal;
use crate::catalog::address::DynamicAddress;
use crate::catalog::{builtin, CatalogHost};
use crate::logging;
use crate::sandbox::{self, Batch, HostReply, Journal, Limits, PauseRequest, Recorded, Settled};
use crate::store::StoreError;

pub use envelope::Envelope;
use store::{ExecutionRow, NewPause, Status};

/// Largest paused row (code + journal + gated call), below D1's 2 MB row limit.
pub const MAX_PAUSED_ROW_BYTES: usize = 1_800_000;
/// Largest settled outcome kept for repeated resumes.
pub const MAX_OUTCOME_BYTES: usize = 512 * 1024;

/// Why a request about an execution could not be served (script failures are envelopes).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecuteError {
    #[error("code must be a non-empty string")]
    EmptyCode,
    /// No paused execution with this id for this caller (unknown, expired or someone else's).
    #[error("no paused execution with this id")]
    NotFound,
    /// Another request is resuming this execution right now.
    #[error("this execution is being resumed by another request")]
    InProgress,
    /// The caller already has [`Config::execute_max_concurrent`](crate::config::Config)
    /// executions running, in this isolate or across all of them (see [`lease`]).
    #[error(
        "too many executions running at once: at most {limit} per caller; wait for one to finish"
    )]
    TooManyRunning { limit: u32 },
    /// Storage failed (logged by the surface, never shown).
    #[error("execution storage: {0}")]
    Store(#[from] StoreError),
}

/// The answer to a paused call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResumeAction {
    Accept,
    Decline,
    Cancel,
}

impl ResumeAction {
    /// `accept` | `decline` | `cancel`.
    pub fn parse(text: &str) -> Option<ResumeAction> {
        match text {
            "accept" => Some(ResumeAction::Accept),
            "decline" => Some(ResumeAction::Decline),
            "cancel" => Some(ResumeAction::Cancel),
            _ => None,
        }
    }
}

/// The gated call of a paused row.
#[derive(Debug, Clone, Serialize)]
struct Pending {
    seq: u32,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Value>,
    address: String,
    message: String,
    /// The MCP session (browser mode) whose approval link answers this call; continuations
    /// inherit it. Kept inside the `pending` JSON, so it needs no column.
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
}

impl Pending {
    fn parse(text: &str) -> Result<Pending, String> {
        const NAMES: &[&str] = &["seq", "path", "args", "address", "message", "session"];
        let f = crate::json_fields::Fields::parse(text, NAMES, false)?;
        Ok(Pending {
            seq: f.u32("seq")?,
            path: f.string("path")?,
            args: f.opt_value("args")?,
            address: f.string("address")?,
            message: f.string("message")?,
            session: f.opt_string("session")?,
        })
    }

    fn request(&self) -> PauseRequest {
        PauseRequest {
            address: self.address.clone(),
            message: self.message.clone(),
        }
    }
}

fn limits(services: Services<'_>) -> Limits {
    Limits {
        timeout_ms: services.config.execute_timeout_ms,
        memory_bytes: services.config.execute_memory_bytes,
        max_tool_calls: services.config.execute_max_tool_calls,
        ..Limits::default()
    }
}

pub mod running {
    //! How many executions (runs and resumes that replay code) each principal has in flight in
    //! this isolate: the cheap first check of [`super::lease`], which holds the count across
    //! isolates in D1. A caller already at the limit here is refused without a D1 round trip.

    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::ExecuteError;
    use crate::auth::Principal;

    thread_local! {
        static RUNNING: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
    }

    /// A held slot; dropping it (the run ended, or its future was dropped) frees it.
    pub struct Slot(String);

    /// Takes a slot for `principal`, or says how many may run.
    pub fn acquire(principal: &Principal, limit: u32) -> Result<Slot, ExecuteError> {
        let key = format!("{}\u{0}{}", principal.tenant(), principal.subject());
        RUNNING.with(|running| {
            let mut running = running.borrow_mut();
            let count = running.entry(key.clone()).or_insert(0);
            if *count >= limit {
                return Err(ExecuteError::TooManyRunning { limit });
            }
            *count += 1;
            Ok(Slot(key))
        })
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            RUNNING.with(|running| {
                let mut running = running.borrow_mut();
                if let Some(count) = running.get_mut(&self.0) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        running.remove(&self.0);
                    }
                }
            });
        }
    }
}

fn now_ms(services: Services<'_>) -> i64 {
    services.clock.now_ms() as i64
}

/// How long a resume holds its claim: the approved call and the replay each get the execution
/// deadline, plus a margin.
fn lease_ms(services: Services<'_>) -> i64 {
    i64::try_from(services.config.execute_timeout_ms.saturating_mul(2))
        .unwrap_or(i64::MAX / 2)
        .saturating_add(30_000)
}

/// The wall-clock limit of a new run, which bounds its execution lease.
fn run_ms(services: Services<'_>) -> i64 {
    i64::try_from(services.config.execute_timeout_ms).unwrap_or(i64::MAX / 2)
}

fn ttl_ms(services: Services<'_>) -> i64 {
    i64::try_from(services.config.execution_pause_ttl_ms).unwrap_or(i64::MAX / 2)
}

/// Runs `code` for `principal`, with `tools` backed by their catalog, and formats the outcome:
/// finished, or paused at a call that needs approval (then stored, see the module docs).
/// Script failures (syntax errors, throws, the deadline) are part of the envelope, not an `Err`.
pub async fn execute(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
) -> Result<Envelope, ExecuteError> {
    execute_at(services, principal, code, None).await
}

/// [`execute`] for a request that reached this Worker at `web_origin` (`scheme://host[:port]`),
/// which browser hand-off links of the built-in tools fall back to when no public URL is
/// configured (see `catalog::core_tools::web_base_url`).
pub async fn execute_at(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
    web_origin: Option<&str>,
) -> Result<Envelope, ExecuteError> {
    execute_in_session(services, principal, code, web_origin, None).await
}

/// [`execute_at`] for an MCP session in browser mode: a pause records `session_id`, so its
/// approval link (`/api/mcp-sessions/<session_id>/executions/<id>`) answers it
/// ([`check_session`]).
pub async fn execute_in_session(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
    web_origin: Option<&str>,
    session_id: Option<&str>,
) -> Result<Envelope, ExecuteError> {
    if code.trim().is_empty() {
        return Err(ExecuteError::EmptyCode);
    }
    let lease = lease::acquire(services, principal, run_ms(services)).await?;
    let result = run_new(services, principal, code, web_origin, session_id).await;
    // Every ending (finished, failed, paused, storage error) gives the slot back.
    lease.release(services).await;
    result
}

/// [`execute_in_session`] once it holds its slot.
async fn run_new(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
    web_origin: Option<&str>,
    session_id: Option<&str>,
) -> Result<Envelope, ExecuteError> {
    // The caller's catalog: search, describe and tool calls, loaded lazily per run.
    let host = CatalogHost::new(services, principal).with_web_origin(web_origin);
    let run = sandbox::run(code, &limits(services), &host, services.clock).await;
    let entries = host.take_audit();
    match run.paused {
        None => {
            audit::write(services, principal, &settle_audit(entries, None, None)).await;
            Ok(envelope::from_run(&run))
        }
        Some(call) => {
            let pause = store_pause(
                services,
                principal,
                code,
                run.journal,
                &call,
                entries,
                PauseOrigin {
                    run_id: None,
                    session: session_id,
                },
            )
            .await?;
            Ok(pause.unwrap_or_else(|e| e))
        }
    }
}

/// Gives a run's audit entries their execution id and settles its approval entries. When the
/// run paused (`paused`: the gated call's address and the new execution's id), the first
/// pending entry for that address is the pause and carries the new id; other pending entries
/// are dropped (those calls are asked again when the run resumes). When it did not pause,
/// pending entries never ran (the script finished or failed first, or the pause could not be
/// kept): outcome `not_run`. Every other entry carries `run_id` (the execution being resumed),
/// else the new pause's id.
fn settle_audit(
    mut entries: Vec<Entry>,
    paused: Option<(&str, &str)>,
    run_id: Option<&str>,
) -> Vec<Entry> {
    let mut pause_kept = false;
    entries.retain_mut(|entry| {
        let pending =
            entry.decision == Decision::ApprovalRequired && entry.outcome == audit::OUTCOME_PENDING;
        if pending {
            match paused {
                Some((address, id)) if !pause_kept && entry.address == address => {
                    pause_kept = true;
                    entry.execution_id = Some(id.to_owned());
                    return true;
                }
                Some(_) => return false,
                None => entry.outcome = audit::OUTCOME_NOT_RUN.to_owned(),
            }
        }
        entry.execution_id = run_id.or(paused.map(|(_, id)| id)).map(str::to_owned);
        true
    });
    entries
}

/// Where a new pause comes from: the execution it continues (audit rows name it) and the MCP
/// session whose approval link may answer it.
#[derive(Clone, Copy, Default)]
struct PauseOrigin<'a> {
    run_id: Option<&'a str>,
    session: Option<&'a str>,
}

/// Writes a new paused execution. `Ok(Err(envelope))` when it cannot be kept (too large): the
/// envelope says so, and nothing was stored.
async fn store_pause(
    services: Services<'_>,
    principal: &Principal,
    code: &str,
    journal: Option<Journal>,
    call: &sandbox::PausedCall,
    entries: Vec<Entry>,
    origin: PauseOrigin<'_>,
) -> Result<Result<Envelope, Envelope>, ExecuteError> {
    let PauseOrigin { run_id, session } = origin;
    let too_large = |bytes: usize| {
        envelope::failed(&format!(
            "{} needs approval, but this execution is too large to pause ({bytes} bytes of code \
             and recorded tool results; at most {MAX_PAUSED_ROW_BYTES}). Make the call that \
             needs approval from a smaller script.",
            call.request.address
        ))
    };
    let not_kept = |entries: Vec<Entry>| async move {
        audit::write(services, principal, &settle_audit(entries, None, run_id)).await;
    };
    let Some(journal) = journal else {
        // The engine does not pause once its journal overflowed; treat it as too large anyway.
        not_kept(entries).await;
        return Ok(Err(too_large(sandbox::MAX_JOURNAL_BYTES)));
    };
    let pending = Pending {
        seq: call.seq,
        path: call.path.clone(),
        args: call.args.clone(),
        address: call.request.address.clone(),
        message: call.request.message.clone(),
        session: session.map(str::to_owned),
    };
    let journal_text = serde_json::to_string(&journal)
        .map_err(|e| StoreError::new("encode journal", e.to_string()))?;
    let pending_text = serde_json::to_string(&pending)
        .map_err(|e| StoreError::new("encode pending call", e.to_string()))?;
    let bytes = code.len() + journal_text.len() + pending_text.len();
    if bytes > MAX_PAUSED_ROW_BYTES {
        not_kept(entries).await;
        return Ok(Err(too_large(bytes)));
    }
    let id = crate::ids::execution_id();
    let now = now_ms(services);
    let entries = settle_audit(entries, Some((&call.request.address, &id)), run_id);
    // The audit rows ride in the batch that stores the pause (no extra round trip).
    store::insert_paused(
        services.sql,
        principal,
        &NewPause {
            id: &id,
            code,
            journal: &journal_text,
            pending: &pending_text,
            now,
            expires_at: now.saturating_add(ttl_ms(services)),
        },
        audit::statements(services, principal, &entries),
    )
    .await?;
    Ok(Ok(envelope::paused(&id, &call.request, call.args.as_ref())))
}

/// The paused envelope of the caller's execution `id` while it waits for a decision.
pub async fn paused(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
) -> Result<Envelope, ExecuteError> {
    let row = live_row(services, principal, id).await?;
    if row.status == Status::Settled || row.decision.is_some() {
        return Err(ExecuteError::NotFound);
    }
    let pending = pending_of(&row)?;
    Ok(envelope::paused(
        &row.id,
        &pending.request(),
        pending.args.as_ref(),
    ))
}

/// The row, unless it is missing, someone else's or expired.
async fn live_row(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
) -> Result<ExecutionRow, ExecuteError> {
    let row = store::load(services.sql, principal, id)
        .await?
        .ok_or(ExecuteError::NotFound)?;
    if row.expires_at <= now_ms(services) {
        return Err(ExecuteError::NotFound);
    }
    Ok(row)
}

fn pending_of(row: &ExecutionRow) -> Result<Pending, ExecuteError> {
    decode(row.pending.as_deref(), "pending call", Pending::parse)
}

fn decode<T>(
    text: Option<&str>,
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, ExecuteError> {
    let text = text.ok_or_else(|| StoreError::new("read execution", format!("no {what}")))?;
    parse(text).map_err(|e| {
        ExecuteError::Store(StoreError::new("decode execution", format!("{what}: {e}")))
    })
}

/// The outcome a settled row answers.
fn settled_outcome(row: &ExecutionRow) -> Result<Envelope, ExecuteError> {
    decode(row.outcome.as_deref(), "outcome", Envelope::parse)
}

/// Resumes the caller's paused execution `id` with `action` and formats what follows: the
/// finished run, or the next pause (with a new id). A repeated resume answers the recorded
/// outcome; the first decision recorded for a call is the one that counts. `web_origin` is
/// the origin of this request, as for [`execute_at`].
pub async fn resume(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
    action: ResumeAction,
    web_origin: Option<&str>,
) -> Result<Envelope, ExecuteError> {
    let row = live_row(services, principal, id).await?;
    let now = now_ms(services);
    match row.status {
        Status::Settled => return settled_outcome(&row),
        Status::Running if row.lease_until.is_some_and(|until| until > now) => {
            return Err(ExecuteError::InProgress)
        }
        // Paused, or a resume whose lease ran out (its isolate went away): take it.
        Status::Paused | Status::Running => {}
    }
    // Before the claim, so a refused resume leaves the row as it was. The approved call and
    // the replay each get the wall-clock limit, as the claim's lease does.
    let lease = lease::acquire(services, principal, run_ms(services).saturating_mul(2)).await?;
    let result = resume_held(services, principal, &row, action, web_origin).await;
    lease.release(services).await;
    result
}

/// [`resume`] once it holds an execution slot: claim the row, settle the gated call, replay.
async fn resume_held(
    services: Services<'_>,
    principal: &Principal,
    row: &ExecutionRow,
    action: ResumeAction,
    web_origin: Option<&str>,
) -> Result<Envelope, ExecuteError> {
    let id = row.id.as_str();
    let now = now_ms(services);
    let claim = crate::ids::hex(&crate::ids::random_bytes::<16>());
    let claimed = store::claim(
        services.sql,
        principal,
        row,
        &claim,
        now.saturating_add(lease_ms(services)),
        now,
    )
    .await?;
    if !claimed {
        // Someone got there first: answer their outcome when there is one.
        let again = live_row(services, principal, id).await?;
        return match again.status {
            Status::Settled => settled_outcome(&again),
            _ => Err(ExecuteError::InProgress),
        };
    }

    let pending = pending_of(row)?;
    let code: String = row
        .code
        .clone()
        .ok_or_else(|| StoreError::new("read execution", "no code"))?;
    let mut journal = decode(row.journal.as_deref(), "journal", Journal::parse)?;

    // The gated call's outcome: recorded before the replay, so it is produced at most once.
    // Audit entries of this resume: the decision (when this resume takes it), then the live
    // calls after the replay.
    let mut entries = Vec::new();
    let decision: Batch = match row.decision.as_deref() {
        Some(text) => decode(Some(text), "decision", Batch::parse)?,
        None => {
            let (reply, decided) = decide(services, principal, &pending, action, web_origin).await;
            entries = decided;
            let batch = Batch {
                at: services.clock.now_ms(),
                calls: vec![Settled {
                    seq: pending.seq,
                    path: pending.path.clone(),
                    args: pending.args.clone(),
                    reply: Recorded::from_reply(reply),
                }],
            };
            let text = serde_json::to_string(&batch)
                .map_err(|e| StoreError::new("encode decision", e.to_string()))?;
            if !store::record_decision(services.sql, principal, id, &claim, &text, now_ms(services))
                .await?
            {
                // The call may have run: it is audited even though this resume lost its claim.
                audit::write(services, principal, &settle_audit(entries, None, Some(id))).await;
                return Err(ExecuteError::InProgress);
            }
            batch
        }
    };
    journal.batches.push(decision);

    let host = CatalogHost::new(services, principal).with_web_origin(web_origin);
    let replayed = sandbox::replay(&code, &limits(services), &host, services.clock, journal).await;
    entries.extend(host.take_audit());
    let outcome = match replayed {
        Err(diverged) => {
            audit::write(services, principal, &settle_audit(entries, None, Some(id))).await;
            envelope::failed(&diverged.to_string())
        }
        Ok(run) => match &run.paused {
            None => {
                audit::write(services, principal, &settle_audit(entries, None, Some(id))).await;
                envelope::from_run(&run)
            }
            Some(call) => {
                let journal = run.journal.clone();
                let session = pending.session.as_deref();
                match store_pause(
                    services,
                    principal,
                    &code,
                    journal,
                    call,
                    entries,
                    PauseOrigin {
                        run_id: Some(id),
                        session,
                    },
                )
                .await?
                {
                    Ok(next) => next,
                    Err(too_large) => too_large,
                }
            }
        },
    };
    finish(services, principal, id, &claim, outcome).await
}

/// Runs (accept) or refuses (decline, cancel) the gated call; with its audit entry.
async fn decide(
    services: Services<'_>,
    principal: &Principal,
    pending: &Pending,
    action: ResumeAction,
    web_origin: Option<&str>,
) -> (HostReply, Vec<Entry>) {
    let target = pending
        .address
        .strip_prefix("tools.")
        .unwrap_or(&pending.address);
    let (decision, verb) = match action {
        ResumeAction::Accept => {
            let host = CatalogHost::new(services, principal).with_web_origin(web_origin);
            let reply = host
                .call_approved(&pending.path, pending.args.clone())
                .await;
            return (reply, host.take_audit());
        }
        ResumeAction::Decline => (Decision::Declined, "declined"),
        ResumeAction::Cancel => (Decision::Cancelled, "cancelled"),
    };
    let now = services.clock.now_ms();
    let mut entry = Entry::new(&pending.address, decision, now, now);
    entry.outcome = audit::OUTCOME_NOT_RUN.to_owned();
    if let Some(address) = DynamicAddress::parse(&pending.address) {
        entry.connection = Some(format!("{}.{}", address.owner.as_str(), address.connection));
        entry.integration = Some(address.integration);
    } else if builtin::find(&pending.address).is_some() {
        entry.integration = Some(builtin::INTEGRATION.to_owned());
    }
    (
        HostReply::Reject(format!(
            "Tool \"{target}\" requires approval but the request was {verb} by the user."
        )),
        vec![entry],
    )
}

/// Settles the row with `outcome` and answers it. When our claim was lost meanwhile (a resume
/// took over after our lease ran out), the winner's outcome is answered instead, and a pause we
/// created is withdrawn.
async fn finish(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
    claim: &str,
    outcome: Envelope,
) -> Result<Envelope, ExecuteError> {
    let mut kept = serde_json::to_string(&outcome)
        .map_err(|e| StoreError::new("encode outcome", e.to_string()))?;
    if kept.len() > MAX_OUTCOME_BYTES {
        let note = envelope::failed(&format!(
            "This execution already finished, but its outcome ({} bytes) was too large to keep \
             for repeated resumes; it was only returned to the first one.",
            kept.len()
        ));
        kept = serde_json::to_string(&note)
            .map_err(|e| StoreError::new("encode outcome", e.to_string()))?;
    }
    let now = now_ms(services);
    let settled = store::settle(
        services.sql,
        principal,
        id,
        claim,
        &kept,
        now,
        now.saturating_add(ttl_ms(services)),
    )
    .await?;
    if settled {
        return Ok(outcome);
    }
    logging::warn(&format!(
        "executions: {id} was taken over by another resume; answering its outcome"
    ));
    if let Some(next) = outcome
        .structured
        .get("executionId")
        .and_then(Value::as_str)
    {
        if outcome.paused {
            store::delete(services.sql, principal, next).await?;
        }
    }
    let row = live_row(services, principal, id).await?;
    match row.status {
        Status::Settled => settled_outcome(&row),
        _ => Err(ExecuteError::InProgress),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
