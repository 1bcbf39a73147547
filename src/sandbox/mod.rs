//! The JavaScript sandbox ("code mode"): runs an agent's script in a fresh QuickJS context with a
//! wall-clock deadline, a memory cap and a stack cap, and lets it call tools through the host.
//!
//! How the submitted text is read (fenced blocks, `export default`, single expressions and
//! functions, plain bodies) is described in `preprocess.rs`.
//!
//! The script sees these globals (see `prelude.js`): `tools` (a lazy proxy, `tools.a.b(arg)`
//! calls [`ToolHost::call`] with path `"a.b"`), `console.log|info|warn|error|debug`, `emit`, and a
//! `fetch` that always throws. There are no timers, no modules and no network.
//!
//! Runs are deterministic given their [`Journal`] (see `journal.rs`): `Math.random` is seeded per
//! execution, `Date.now()`/`new Date()` only move when tool outcomes are delivered, and every
//! settled call is recorded. [`replay`] re-runs code against a journal — recorded outcomes first,
//! then live calls — which is how a paused execution continues in another isolate.
//!
//! Pausing: a host may answer a call with [`HostReply::Pause`]. The call then stays pending while
//! everything else runs on; once nothing else can happen (no job queued, no other call in flight)
//! and the script has not finished, the run ends *paused* at the first such call
//! ([`RunResult::paused`]). A script that finishes without awaiting a paused call just finishes.
//!
//! Values cross the boundary as JSON text only: tool arguments (first argument only), tool
//! results, emitted values and the script's result.
//!
//! Result conversion: `undefined` → `None`; values `JSON.stringify` cannot represent (functions,
//! symbols) → `None`; values it rejects (BigInt, cyclic objects) → an error
//! "TypeError: the result is not JSON-serialisable: …".
//!
//! Nothing here reads the system time directly: the deadline is measured with the injected
//! [`Clock`], polled from QuickJS's interrupt handler while script code runs and checked again
//! whenever a tool call settles (and when [`ToolHost::sleep`] fires, for hosts that have a timer).
//! If the clock stands still while JS runs, a generous budget of interrupt polls still ends
//! endless loops (later than the deadline, but before any platform CPU limit would matter).

mod engine;
pub mod journal;
mod preprocess;

pub use journal::{Batch, Journal, Recorded, ReplayError, Settled, MAX_JOURNAL_BYTES};

/// The preprocessing step on its own, for the fuzz targets (`crate::fuzzing`): each candidate's
/// source and whether it is the expression reading.
#[cfg(any(test, feature = "fuzzing"))]
pub fn preprocess_candidates_for_fuzzing(code: &str) -> Vec<(String, bool)> {
    preprocess::candidates(code)
        .into_iter()
        .map(|c| (c.source, c.is_expression))
        .collect()
}

use crate::time::Clock;

/// Resource limits for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget for the whole run, including time spent waiting on tool calls.
    pub timeout_ms: u64,
    /// QuickJS heap cap.
    pub memory_bytes: usize,
    /// QuickJS stack cap. On wasm32 it is capped at 32 KiB (about 110 nested JS calls):
    /// QuickJS can only watch the shadow stack there, and a larger cap lets deep recursion
    /// exhaust V8's native stack first, which traps the whole wasm instance (see `engine.rs`).
    pub max_stack_bytes: usize,
    /// Tool calls one run may make; later calls resolve to a `tool_call_limit_exceeded`
    /// ToolResult without reaching the host. Replayed calls count (a resumed run is the same
    /// execution).
    pub max_tool_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: 30_000,
            memory_bytes: 64 * 1024 * 1024,
            max_stack_bytes: 1024 * 1024,
            max_tool_calls: DEFAULT_MAX_TOOL_CALLS,
        }
    }
}

/// Default of [`Limits::max_tool_calls`] (`EXECUTE_MAX_TOOL_CALLS`).
pub const DEFAULT_MAX_TOOL_CALLS: u32 = 1_000;

/// Largest tool result (its JSON text) handed to a script; a larger one becomes a
/// `tool_result_too_large` ToolResult, so one answer cannot fill the script's heap or the
/// journal. Upstream responses are already capped at 16 MiB; the QuickJS heap (64 MiB by
/// default) would not hold the parsed value of much more than this.
pub const MAX_TOOL_RESULT_BYTES: usize = 4 * 1024 * 1024;

/// The ToolResult a call past [`Limits::max_tool_calls`] resolves to.
pub(crate) fn tool_call_limit_result(path: &str, limit: u32) -> serde_json::Value {
    serde_json::json!({
        "ok": false,
        "error": {
            "code": "tool_call_limit_exceeded",
            "message": format!(
                "tools.{path} was not called: an execution may make at most {limit} tool calls"
            ),
            "details": { "limit": limit },
        },
    })
}

/// The ToolResult that replaces a result over [`MAX_TOOL_RESULT_BYTES`].
pub(crate) fn tool_result_too_large(bytes: usize) -> String {
    serde_json::json!({
        "ok": false,
        "error": {
            "code": "tool_result_too_large",
            "message": format!(
                "The tool's result ({bytes} bytes of JSON) is larger than the {} MiB a script may \
                 receive; ask for less (filters, paging, fewer fields).",
                MAX_TOOL_RESULT_BYTES / (1024 * 1024)
            ),
            "details": { "limitBytes": MAX_TOOL_RESULT_BYTES, "bytes": bytes },
        },
    })
    .to_string()
}

/// What the host answers to one `tools.<path>(args)` call made by the script.
#[derive(Debug, Clone, PartialEq)]
pub enum HostReply {
    /// The call's promise resolves with this value.
    Resolve(serde_json::Value),
    /// The call's promise resolves with the value of this JSON text (it must be valid JSON).
    /// Lets a host hand over text it already serialised, with its key order.
    Json(String),
    /// The call's promise rejects with `new Error(message)`.
    Reject(String),
    /// The call cannot be answered now (it needs a decision from outside); see the module docs.
    Pause(PauseRequest),
}

/// Why a call paused, for whoever will decide on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PauseRequest {
    /// The tool's address (`tools.petstore.org.main.pets.getPet`).
    pub address: String,
    /// What to ask the user.
    pub message: String,
}

/// The call a run paused at.
#[derive(Debug, Clone, PartialEq)]
pub struct PausedCall {
    /// The call's number in the run (see [`Settled::seq`]).
    pub seq: u32,
    pub path: String,
    pub args: Option<serde_json::Value>,
    pub request: PauseRequest,
}

/// The host side of `tools.<path>(args)`.
#[async_trait::async_trait(?Send)]
pub trait ToolHost {
    /// Handles one tool call. `args` is the script's first argument as JSON (`None` when it was
    /// `undefined` or absent). The future may stay pending for a long time (e.g. while waiting
    /// for an approval); the run's deadline still applies.
    async fn call(&self, path: &str, args: Option<serde_json::Value>) -> HostReply;

    /// A future that completes after about `ms` milliseconds. The sandbox races it against the
    /// pending tool calls so the deadline also holds while the script only waits on the host.
    /// The default never completes: the deadline is then checked whenever a call settles.
    async fn sleep(&self, ms: f64) {
        let _ = ms;
        std::future::pending::<()>().await
    }
}

/// A host with no tools: every call resolves to a `tool_not_found` ToolResult.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTools;

#[async_trait::async_trait(?Send)]
impl ToolHost for NoTools {
    async fn call(&self, path: &str, _args: Option<serde_json::Value>) -> HostReply {
        HostReply::Resolve(serde_json::json!({
            "ok": false,
            "error": {
                "code": "tool_not_found",
                "message": format!("Tool not found: {path}"),
            },
        }))
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The script's result as JSON; `None` when it returned `undefined` (or failed).
    pub result: Option<serde_json::Value>,
    /// Uncaught exception, syntax error, timeout or out-of-memory, as text.
    pub error: Option<String>,
    /// Console output, one entry per call: `"[log] hello"`, `"[warn] …"`.
    pub logs: Vec<String>,
    /// Values passed to `emit()`, in order.
    pub emitted: Vec<serde_json::Value>,
    /// Set when the run stopped at a paused call instead of finishing (`result` and `error` are
    /// then `None`).
    pub paused: Option<PausedCall>,
    /// What the run observed, replayed ones included; `None` once it outgrew
    /// [`MAX_JOURNAL_BYTES`] (a call that asks to pause after that is rejected instead).
    pub journal: Option<Journal>,
}

/// Runs `code` in a fresh sandbox and reports its outcome. Never panics on script behaviour:
/// every failure (syntax error, exception, timeout, memory exhaustion) becomes `error`.
pub async fn run(code: &str, limits: &Limits, host: &dyn ToolHost, clock: &dyn Clock) -> RunResult {
    let journal = Journal::fresh(clock.now_ms());
    match engine::execute(code, limits, host, clock, journal).await {
        Ok(result) => result,
        // A fresh journal has nothing to replay, so nothing can diverge.
        Err(e) => RunResult {
            result: None,
            error: Some(e.to_string()),
            logs: Vec::new(),
            emitted: Vec::new(),
            paused: None,
            journal: None,
        },
    }
}

/// Runs `code` again in a fresh sandbox, feeding it the seed, clock and tool outcomes of
/// `journal` before going on live. Fails when the script does not make the recorded calls again.
pub async fn replay(
    code: &str,
    limits: &Limits,
    host: &dyn ToolHost,
    clock: &dyn Clock,
    journal: Journal,
) -> Result<RunResult, ReplayError> {
    engine::execute(code, limits, host, clock, journal).await
}

#[cfg(test)]
mod tests;
