//! `provision soak`: load and soak of the local Worker on workerd, with a restart in the middle.
//!
//! 1. **Load**: many MCP sessions (streamable HTTP; each initializes once, then loops) for a
//!    fixed time, mixing `tools/list`, `execute` with plain code, `execute` calling a petstore
//!    tool backed by the loopback stand-in, and the trivial-route floor (`GET /api/nope`) — so
//!    the floor is measured under the same load. workerd's RSS before and after.
//! 2. **Soak**: the same mix at lower concurrency for longer, sampling workerd's RSS, with a
//!    linear-fit growth verdict over the second half of each workerd lifetime.
//! 3. **Restart** in the middle of the soak: integrations, connections, policies and
//!    approval-paused executions are created, the server's process group is stopped and a new
//!    one started on the same port and persisted state; every committed row must still be
//!    there and every pause must resume once (one upstream call each, none on a second resume).
//!    Client errors while the server is down are counted apart; after it is back, none.
//!
//! It reuses the bench's client ([`crate::bench`]), percentiles and table, the stand-in API
//! ([`crate::bench_catalog`]) and [`crate::local`]'s Worker start/stop. Loopback only, every
//! loop bounded in time and count.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::bench::{self, mcp_body, render_table, snippet, summarize, Conn, Latency};
use crate::bench_catalog::{self, StandIn};
use crate::inspector::{self, IsolateMemory};
use crate::local::{self, LocalOptions, LocalWorker};

/// Per-request timeout: 50 sessions on a 2-core machine queue up, so allow more than the
/// bench's 10 s before calling a request failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed request (bounds the retry rate while the server is down).
const ERROR_BACKOFF: Duration = Duration::from_millis(200);
/// Upper bound of requests per session per phase.
const MAX_REQUESTS_PER_SESSION: usize = 1_000_000;
/// Failure messages kept per operation.
const KEPT_ERRORS: usize = 5;
/// A slope up to this (MB/min) is reported as "no growth trend".
const FLAT_MB_PER_MIN: f64 = 1.0;
/// First petId of the approval-gated calls (the load only asks for pet 1).
const GATED_PET_BASE: u64 = 1000;

/// Code of the tool-calling `execute`: one real call through the petstore integration.
const TOOL_CODE: &str = bench_catalog::PETSTORE_CALL_CODE;
/// Code of the plain `execute`.
const PLAIN_CODE: &str = "let s = 0; for (let i = 0; i < 100; i++) s += i; return s";

/// Knobs of a soak run.
#[derive(Debug, Clone, Serialize)]
pub struct SoakOptions {
    /// Concurrent MCP sessions of the load phase (0 skips it).
    pub load_sessions: usize,
    pub load_seconds: u64,
    /// Concurrent MCP sessions of the soak phase (0 skips it, and the restart with it).
    pub soak_sessions: usize,
    pub soak_seconds: u64,
    /// RSS sampling interval during the soak.
    pub sample_seconds: u64,
    /// Restart the server in the middle of the soak.
    pub restart: bool,
    /// When to restart, as a fraction of the soak (0.5: in the middle).
    pub restart_at: f64,
    /// Integrations (each with a connection and a `require_approval` policy) created before
    /// the restart.
    pub integrations: usize,
    /// Approval-paused executions created before the restart.
    pub pauses: usize,
    /// Largest growth (MB/min, linear fit over the second half of a workerd lifetime) of the
    /// Worker isolate's own memory — V8 heap after a forced GC plus wasm linear memory — that
    /// passes; `None` reports the trend without failing on it. workerd's RSS is reported too
    /// but not judged: under `wrangler dev` it grows with the request count even for a trivial
    /// JS Worker (README, "Load and soak"), so it measures the dev stack.
    pub max_growth_mb_per_min: Option<f64>,
    /// The mix each session cycles through (default: all four).
    pub ops: Vec<Op>,
}

impl SoakOptions {
    /// The full run of issue #8: 50 sessions for 60 s, then 10 for 10 minutes with a restart.
    pub fn full() -> Self {
        Self {
            load_sessions: 50,
            load_seconds: 60,
            soak_sessions: 10,
            soak_seconds: 600,
            restart_at: 0.5,
            sample_seconds: 10,
            restart: true,
            integrations: 3,
            pauses: 6,
            // The isolate holds a few MiB; a leak of 1 KiB a request at the soak's ~30 req/s
            // would show as ~1.8 MB/min.
            max_growth_mb_per_min: Some(1.0),
            ops: Op::ALL.to_vec(),
        }
    }

    /// The short variant the test suite runs (well under a minute of traffic). Too short for a
    /// meaningful growth verdict, so the threshold is loose; it checks the machinery, errors,
    /// and the restart.
    pub fn short() -> Self {
        Self {
            load_sessions: 10,
            load_seconds: 10,
            soak_sessions: 4,
            soak_seconds: 32,
            // Early, so that traffic runs on the restarted server for a while.
            restart_at: 0.25,
            sample_seconds: 2,
            restart: true,
            integrations: 2,
            pauses: 3,
            max_growth_mb_per_min: None,
            ops: Op::ALL.to_vec(),
        }
    }
}

/// The operations of the mix, in the order a session cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    ToolsList,
    Execute,
    ExecuteTool,
    Floor,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::ToolsList, Op::Execute, Op::ExecuteTool, Op::Floor];

    /// The short name `--ops` takes.
    pub fn key(self) -> &'static str {
        match self {
            Op::ToolsList => "list",
            Op::Execute => "execute",
            Op::ExecuteTool => "tool",
            Op::Floor => "floor",
        }
    }

    /// Parses a comma-separated `--ops` list (`list,execute,tool,floor`).
    pub fn parse_list(text: &str) -> Result<Vec<Op>> {
        let mut ops = Vec::new();
        for key in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let op = Op::ALL
                .into_iter()
                .find(|o| o.key() == key)
                .with_context(|| {
                    format!("unknown operation `{key}` (list, execute, tool, floor)")
                })?;
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        if ops.is_empty() {
            bail!("no operations given");
        }
        Ok(ops)
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::ToolsList => "MCP tools/list",
            Op::Execute => "MCP execute (plain code)",
            Op::ExecuteTool => "MCP execute (petstore getPet)",
            Op::Floor => "floor: GET /api/nope",
        }
    }

    fn index(self) -> usize {
        Op::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// A failed request and when it ran (to tell restart-window failures apart).
#[derive(Debug, Clone)]
struct Failure {
    started: Instant,
    ended: Instant,
    message: String,
}

/// What one session (or a whole phase) observed per operation.
#[derive(Debug, Default)]
struct OpLog {
    samples: Vec<f64>,
    /// When each successful request started (to count those after a restart).
    ok_starts: Vec<Instant>,
    failures: Vec<Failure>,
}

/// One operation's results in a phase.
#[derive(Debug, Clone, Serialize)]
pub struct OpResult {
    pub name: String,
    /// Successful requests.
    pub count: usize,
    /// Failed requests outside the restart window (must be 0).
    pub errors: usize,
    /// Failed requests while the server was being restarted (expected).
    pub restart_window_errors: usize,
    pub latency: Option<Latency>,
    pub per_second: f64,
    /// The first few distinct failure messages outside the restart window.
    pub first_errors: Vec<String>,
}

/// One phase (load or soak).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub name: String,
    pub sessions: usize,
    pub seconds: f64,
    pub ops: Vec<OpResult>,
    /// Sessions that could not initialize (counted as errors).
    pub session_errors: usize,
    /// Successful requests sent after the restarted server answered.
    pub ok_after_restart: usize,
    pub requests_per_second: f64,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
}

impl PhaseResult {
    pub fn errors(&self) -> usize {
        self.session_errors + self.ops.iter().map(|o| o.errors).sum::<usize>()
    }
    pub fn restart_window_errors(&self) -> usize {
        self.ops.iter().map(|o| o.restart_window_errors).sum()
    }
}

/// One RSS sample of the soak.
#[derive(Debug, Clone, Serialize)]
pub struct RssSample {
    /// Seconds since the soak started.
    pub t_s: f64,
    /// Summed VmRSS of the workerd processes; `None` while the server was down.
    pub rss_kib: Option<u64>,
    /// Which workerd lifetime (0 before the restart, 1 after).
    pub segment: usize,
    /// VmRSS of each workerd process (by pid), KiB.
    pub per_process_kib: Vec<u64>,
    /// The Worker isolate's own memory (V8 heap after a forced GC, wasm linear memory), read
    /// over workerd's inspector; `None` when it could not be read.
    pub isolate: Option<IsolateMemory>,
}

impl RssSample {
    /// The Worker's own memory (heap after GC + wasm), MiB.
    fn isolate_mib(&self) -> Option<f64> {
        self.isolate
            .map(|m| (m.heap_used + m.wasm) as f64 / (1024.0 * 1024.0))
    }
    /// Summed workerd RSS, MiB.
    fn rss_mib(&self) -> Option<f64> {
        self.rss_kib.map(|k| k as f64 / 1024.0)
    }
}

/// The linear fit of one workerd lifetime's second half.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub segment: usize,
    pub samples: usize,
    pub from_s: f64,
    pub to_s: f64,
    pub slope_mb_per_min: Option<f64>,
}

/// What the restart check found.
#[derive(Debug, Clone, Serialize)]
pub struct RestartResult {
    pub at_s: f64,
    /// From the stop signal until the new server answered.
    pub downtime_s: f64,
    pub integrations: Vec<String>,
    pub connections: Vec<String>,
    pub policies: Vec<String>,
    pub paused: Vec<String>,
    /// Rows (integrations, connections, policies, pauses) missing after the restart.
    pub missing: Vec<String>,
    /// Pauses that resumed to the expected result with exactly one upstream call.
    pub resumed_ok: usize,
    /// What went wrong resuming (empty when every pause resumed once).
    pub resume_failures: Vec<String>,
}

/// Everything a soak run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub options: SoakOptions,
    pub load: Option<PhaseResult>,
    pub soak: Option<PhaseResult>,
    pub rss_series: Vec<RssSample>,
    /// workerd RSS per lifetime (the whole local stack).
    pub trends: Vec<Trend>,
    /// The Worker isolate's heap after GC + wasm memory per lifetime: the growth verdict.
    pub isolate_trends: Vec<Trend>,
    pub restart: Option<RestartResult>,
    /// Empty when the run passed; otherwise why not.
    pub problems: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// workerd's memory

/// VmRSS (KiB) of every `workerd` process in process group `pgid`, summed, with their count.
pub fn workerd_rss_kib(pgid: i32) -> Option<(u64, usize)> {
    let each = workerd_processes(pgid);
    (!each.is_empty()).then(|| (each.iter().map(|p| p.1).sum(), each.len()))
}

/// (pid, VmRSS KiB) of every `workerd` process in process group `pgid` (wrangler runs two:
/// the Worker's and its dev proxy's), by pid.
pub fn workerd_processes(pgid: i32) -> Vec<(i32, u64)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, pgrp)) = parse_stat(&stat) else {
            continue;
        };
        if comm != "workerd" || pgrp != pgid {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        if let (Some(kib), Ok(pid)) = (vm_rss_kib(&status), pid.parse()) {
            found.push((pid, kib));
        }
    }
    found.sort_unstable();
    found
}

/// `comm` and process group of a `/proc/PID/stat` line (`pid (comm) state ppid pgrp …`; the
/// comm may itself contain spaces and parentheses, so split at the last `)`).
fn parse_stat(stat: &str) -> Option<(&str, i32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let _ppid = rest.next()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some((comm, pgrp))
}

/// The `VmRSS:` line of `/proc/PID/status`, in KiB.
fn vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Least-squares slope of `points` (x, y); `None` with fewer than 3 points or no x spread.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Per workerd lifetime: the slope (MB/min) of workerd's RSS over its second half.
pub fn trends(series: &[RssSample]) -> Vec<Trend> {
    trends_of(series, RssSample::rss_mib)
}

/// Per workerd lifetime: the slope (MB/min) of the Worker isolate's own memory (heap after GC
/// plus wasm) over its second half.
pub fn isolate_trends(series: &[RssSample]) -> Vec<Trend> {
    trends_of(series, RssSample::isolate_mib)
}

fn trends_of(series: &[RssSample], value: fn(&RssSample) -> Option<f64>) -> Vec<Trend> {
    let segments = series.iter().map(|s| s.segment).max().map_or(0, |m| m + 1);
    (0..segments)
        .map(|segment| {
            let points: Vec<(f64, f64)> = series
                .iter()
                .filter(|s| s.segment == segment)
                .filter_map(|s| value(s).map(|mib| (s.t_s, mib)))
                .collect();
            let second_half = &points[points.len() / 2..];
            Trend {
                segment,
                samples: second_half.len(),
                from_s: second_half.first().map_or(0.0, |p| p.0),
                to_s: second_half.last().map_or(0.0, |p| p.0),
                slope_mb_per_min: slope(
                    &second_half
                        .iter()
                        .map(|(t, mb)| (t / 60.0, *mb))
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Traffic

/// One request of `op` on an initialized connection.
async fn once(conn: &Conn, op: Op) -> Result<Duration> {
    match op {
        Op::Floor => conn.get_expect("/api/nope", 404).await,
        Op::ToolsList => {
            conn.rpc(&mcp_body(2, "tools/list", None), |result| {
                result
                    .get("tools")
                    .and_then(Value::as_array)
                    .filter(|t| !t.is_empty())
                    .map(|_| ())
                    .context("tools/list result has no tools")
            })
            .await
        }
        Op::Execute | Op::ExecuteTool => {
            let (code, expected) = match op {
                Op::Execute => (PLAIN_CODE, "4950"),
                _ => (TOOL_CODE, "Rex"),
            };
            let body = mcp_body(
                3,
                "tools/call",
                Some(json!({"name": "execute", "arguments": {"code": code}})),
            );
            conn.rpc(&body, |result| {
                let text = result.to_string();
                if text.contains(expected) {
                    Ok(())
                } else {
                    bail!("unexpected execute result: {}", snippet(&text))
                }
            })
            .await
        }
    }
}

/// One session: initialize once, wait until every session has, then cycle through the mix
/// for `duration`. Returns the per-operation logs and whether it initialized.
async fn session(
    base: Arc<str>,
    mix: Arc<[Op]>,
    offset: usize,
    duration: Duration,
    ready: Arc<tokio::sync::Barrier>,
) -> (Vec<OpLog>, bool) {
    let mut logs: Vec<OpLog> = Op::ALL.iter().map(|_| OpLog::default()).collect();
    let mut conn = match Conn::with_timeout(base, REQUEST_TIMEOUT) {
        Ok(conn) => open_session(conn).await,
        Err(_) => None,
    };
    ready.wait().await;
    let deadline = Instant::now() + duration;
    let Some(conn) = conn.as_mut() else {
        return (logs, false);
    };
    let mut n = 0usize;
    while Instant::now() < deadline && n < MAX_REQUESTS_PER_SESSION {
        let op = mix[(offset + n) % mix.len()];
        n += 1;
        let started = Instant::now();
        match once(conn, op).await {
            Ok(took) => {
                logs[op.index()].samples.push(took.as_secs_f64() * 1000.0);
                logs[op.index()].ok_starts.push(started);
            }
            Err(e) => {
                logs[op.index()].failures.push(Failure {
                    started,
                    ended: Instant::now(),
                    message: format!("{e:#}"),
                });
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    if let Some(id) = conn.session.take() {
        let _ = conn.delete_session(&id).await;
    }
    (logs, true)
}

/// `initialize` + `notifications/initialized`; `None` if either fails.
async fn open_session(mut conn: Conn) -> Option<Conn> {
    let id = conn.initialize().await.ok()?;
    conn.initialized(&id).await.ok()?;
    conn.session = Some(id);
    Some(conn)
}

/// A phase in flight: its sessions and when they started looping.
struct Phase {
    name: &'static str,
    sessions: usize,
    mix: Arc<[Op]>,
    handles: Vec<tokio::task::JoinHandle<(Vec<OpLog>, bool)>>,
    started: Instant,
}

/// Starts `sessions` sessions; returns once all have initialized and started looping.
async fn start_phase(
    name: &'static str,
    base: &str,
    mix: &[Op],
    sessions: usize,
    seconds: u64,
) -> Phase {
    let mix: Arc<[Op]> = Arc::from(if mix.is_empty() { &Op::ALL[..] } else { mix });
    let base: Arc<str> = Arc::from(base.trim_end_matches('/'));
    let ready = Arc::new(tokio::sync::Barrier::new(sessions + 1));
    let duration = Duration::from_secs(seconds);
    let handles = (0..sessions)
        .map(|i| {
            tokio::spawn(session(
                base.clone(),
                mix.clone(),
                i,
                duration,
                ready.clone(),
            ))
        })
        .collect();
    ready.wait().await;
    Phase {
        name,
        sessions,
        mix,
        handles,
        started: Instant::now(),
    }
}

/// The restart window: failures of requests that started before the new server answered and
/// ended after the old one was told to stop are expected.
#[derive(Debug, Clone, Copy)]
struct Window {
    stop: Instant,
    ready: Instant,
}

impl Window {
    fn covers(&self, f: &Failure) -> bool {
        f.started < self.ready && f.ended >= self.stop
    }
}

/// Waits for a phase's sessions and summarizes them per operation.
async fn finish_phase(phase: Phase, window: Option<Window>) -> Result<PhaseResult> {
    let mut total: Vec<OpLog> = Op::ALL.iter().map(|_| OpLog::default()).collect();
    let mut session_errors = 0;
    for handle in phase.handles {
        let (logs, ok) = handle.await.context("a soak session panicked")?;
        if !ok {
            session_errors += 1;
        }
        for (sum, log) in total.iter_mut().zip(logs) {
            sum.samples.extend(log.samples);
            sum.ok_starts.extend(log.ok_starts);
            sum.failures.extend(log.failures);
        }
    }
    let seconds = phase.started.elapsed().as_secs_f64().max(f64::EPSILON);
    let ok_after_restart = window.map_or(0, |w| {
        total
            .iter()
            .flat_map(|log| &log.ok_starts)
            .filter(|t| **t >= w.ready)
            .count()
    });
    let ops: Vec<OpResult> = Op::ALL
        .iter()
        .zip(total)
        .filter(|(op, _)| phase.mix.contains(op))
        .map(|(op, log)| {
            let (windowed, errors): (Vec<&Failure>, Vec<&Failure>) = log
                .failures
                .iter()
                .partition(|f| window.is_some_and(|w| w.covers(f)));
            let mut first_errors: Vec<String> = Vec::new();
            for f in &errors {
                if first_errors.len() < KEPT_ERRORS && !first_errors.contains(&f.message) {
                    first_errors.push(f.message.clone());
                }
            }
            OpResult {
                name: op.name().to_string(),
                count: log.samples.len(),
                errors: errors.len(),
                restart_window_errors: windowed.len(),
                latency: summarize(&log.samples),
                per_second: log.samples.len() as f64 / seconds,
                first_errors,
            }
        })
        .collect();
    let requests: usize = ops.iter().map(|o| o.count).sum();
    Ok(PhaseResult {
        name: phase.name.to_string(),
        sessions: phase.sessions,
        seconds,
        ops,
        session_errors,
        ok_after_restart,
        requests_per_second: requests as f64 / seconds,
        rss_before_kib: None,
        rss_after_kib: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Committed rows and pauses across the restart

/// A plain `/api` client (dev auth) with a generous timeout.
fn api_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .context("building an HTTP client")
}

/// `METHOD base+path` with an optional JSON body → (status, JSON or `null`).
async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    let mut req = client.request(method.clone(), &url);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.context("reading the answer")?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// What was committed before the restart.
#[derive(Debug, Clone, Default)]
struct Committed {
    integrations: Vec<String>,
    policies: Vec<String>,
    /// (executionId, gated petId)
    paused: Vec<(String, u64)>,
}

impl Committed {
    fn connection_paths(&self) -> Vec<String> {
        self.integrations
            .iter()
            .map(|slug| format!("/api/connections/org/{slug}/main"))
            .collect()
    }
}

/// Creates the integrations (petstore copies with a connection each), one `require_approval`
/// policy per integration on `getPet`, and the paused executions.
async fn commit_rows(base: &str, stand_in: &StandIn, opts: &SoakOptions) -> Result<Committed> {
    let client = api_client()?;
    let mut committed = Committed::default();
    let count = opts.integrations.max(1);
    for i in 0..count {
        let slug = format!("durable{i}");
        bench_catalog::add_petstore(base, stand_in, &slug)
            .await
            .with_context(|| format!("adding integration {slug}"))?;
        committed.integrations.push(slug.clone());
        let (status, policy) = call(
            &client,
            reqwest::Method::POST,
            format!("{base}/api/policies"),
            Some(
                &json!({"owner": "org", "pattern": format!("{slug}.org.main.pets.getPet"),
                         "action": "require_approval"}),
            ),
        )
        .await?;
        let id = policy["id"].as_str().map(str::to_owned);
        match (status, id) {
            (200, Some(id)) => committed.policies.push(id),
            _ => bail!("POST /api/policies: HTTP {status}: {policy}"),
        }
    }
    for j in 0..opts.pauses {
        let slug = &committed.integrations[j % count];
        let pet = GATED_PET_BASE + j as u64;
        let code = format!(
            "const r = await tools.{slug}.org.main.pets.getPet({{ petId: {pet} }}); return r.data"
        );
        let (status, answer) = call(
            &client,
            reqwest::Method::POST,
            format!("{base}/api/executions"),
            Some(&json!({ "code": code })),
        )
        .await?;
        let id = answer["structured"]["executionId"]
            .as_str()
            .map(str::to_owned);
        match (status, answer["status"].as_str(), id) {
            (200, Some("paused"), Some(id)) => committed.paused.push((id, pet)),
            _ => bail!("a gated execution did not pause: HTTP {status}: {answer}"),
        }
    }
    Ok(committed)
}

/// The committed rows that cannot be read back (empty when all are there).
async fn missing_rows(base: &str, committed: &Committed) -> Result<Vec<String>> {
    let client = api_client()?;
    let mut missing = Vec::new();
    let (status, list) = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/api/integrations"),
        None,
    )
    .await?;
    let listed = list.to_string();
    for slug in &committed.integrations {
        if status != 200 || !listed.contains(&format!("\"{slug}\"")) {
            missing.push(format!("integration {slug}"));
        }
    }
    for path in committed.connection_paths() {
        let (status, _) =
            call(&client, reqwest::Method::GET, format!("{base}{path}"), None).await?;
        if status != 200 {
            missing.push(format!("connection {path} (HTTP {status})"));
        }
    }
    let (status, list) = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/api/policies"),
        None,
    )
    .await?;
    let listed = list.to_string();
    for id in &committed.policies {
        if status != 200 || !listed.contains(&format!("\"{id}\"")) {
            missing.push(format!("policy {id}"));
        }
    }
    let (status, list) = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/api/executions?status=paused&limit=100"),
        None,
    )
    .await?;
    let listed = list.to_string();
    for (id, _) in &committed.paused {
        let (one, _) = call(
            &client,
            reqwest::Method::GET,
            format!("{base}/api/executions/{id}"),
            None,
        )
        .await?;
        if one != 200 || status != 200 || !listed.contains(&format!("\"{id}\"")) {
            missing.push(format!("paused execution {id} (GET: HTTP {one})"));
        }
    }
    Ok(missing)
}

/// Resumes every pause with `accept`: it must complete with the gated pet and reach the
/// stand-in exactly once; a second resume must not reach it again. Returns (ok, failures).
async fn resume_all(
    base: &str,
    stand_in: &StandIn,
    committed: &Committed,
) -> Result<(usize, Vec<String>)> {
    let client = api_client()?;
    let mut ok = 0;
    let mut failures = Vec::new();
    for (id, pet) in &committed.paused {
        let path = format!("/pets/{pet}");
        let before = stand_in.hits(&path);
        let url = format!("{base}/api/executions/{id}/resume");
        let body = json!({"action": "accept"});
        let (status, answer) =
            call(&client, reqwest::Method::POST, url.clone(), Some(&body)).await?;
        let completed = status == 200
            && answer["status"] == "completed"
            && answer["isError"] == false
            && answer["structured"]["result"]["id"].as_u64() == Some(*pet);
        let once = stand_in.hits(&path) - before;
        let _ = call(&client, reqwest::Method::POST, url, Some(&body)).await?;
        let twice = stand_in.hits(&path) - before;
        if completed && once == 1 && twice == 1 {
            ok += 1;
        } else {
            failures.push(format!(
                "{id}: HTTP {status}, upstream calls {once} (after a second resume {twice}): {}",
                snippet(&answer.to_string())
            ));
        }
    }
    Ok((ok, failures))
}

// ---------------------------------------------------------------------------------------------
// The run

/// RSS sampler state: the current workerd process group (0 while down) and its lifetime.
struct Sampler {
    pgid: AtomicI32,
    segment: std::sync::atomic::AtomicUsize,
    stop: AtomicBool,
    series: Mutex<Vec<RssSample>>,
}

fn rss_of(worker: &Option<LocalWorker>) -> Option<u64> {
    worker
        .as_ref()
        .and_then(LocalWorker::process_group)
        .and_then(workerd_rss_kib)
        .map(|(kib, _)| kib)
}

/// The soak's Worker: every session runs as the same dev principal, so the per-caller execution
/// limit (8 by default, `EXECUTE_MAX_CONCURRENT`) would refuse legitimate work once more sessions
/// than that execute at once; the soak measures throughput and memory, not that limit
/// (`tests/e2e/limits.rs` does).
fn worker_options(persist_to: PathBuf, opts: &SoakOptions) -> LocalOptions {
    let mut options = LocalOptions::new(persist_to);
    let sessions = opts.load_sessions.max(opts.soak_sessions).max(1);
    options.vars.push((
        "EXECUTE_MAX_CONCURRENT".into(),
        (sessions * 2).min(1000).to_string(),
    ));
    options
}

async fn warm_up(base: &str) -> Result<()> {
    let conn = Conn::new(Arc::from(base))?;
    for _ in 0..bench::GLOBAL_WARMUP {
        let _ = conn.get_expect("/api/nope", 404).await;
    }
    // One round of the mix, so the first timed requests do not pay for compiling the
    // petstore's tools or the sandbox.
    if let Some(conn) = open_session(Conn::with_timeout(Arc::from(base), REQUEST_TIMEOUT)?).await {
        for op in Op::ALL {
            once(&conn, op)
                .await
                .with_context(|| format!("warm-up {}", op.name()))?;
        }
        if let Some(id) = &conn.session {
            let _ = conn.delete_session(id).await;
        }
    }
    Ok(())
}

/// `provision soak`: builds if needed, starts a Worker on a free port with a temporary state
/// directory and the stand-in API, runs the load phase, then the soak phase with a restart,
/// prints the report and optionally writes JSON. Fails when the run has problems.
pub async fn run(
    root: &Path,
    opts: &SoakOptions,
    json_out: Option<&PathBuf>,
) -> Result<SoakReport> {
    let report = measure(root, opts, &|m| eprintln!("soak: {m}")).await?;
    print!("{}", render_report(&report));
    if let Some(path) = json_out {
        let text = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// Everything [`run`] does except printing.
pub async fn measure(
    root: &Path,
    opts: &SoakOptions,
    progress: &dyn Fn(&str),
) -> Result<SoakReport> {
    progress("building the Worker if needed (`sh scripts/build.sh`)");
    let build_root = root.to_path_buf();
    tokio::task::spawn_blocking(move || local::build_worker(&build_root))
        .await
        .context("build task panicked")??;
    let fixtures = root.join("../shared/fixtures/openapi");
    let stand_in = StandIn::start(&fixtures).await?;
    progress("starting `wrangler dev --local` on a free port");
    let worker =
        LocalWorker::start(root, worker_options(local::temp_state_dir("soak"), opts)).await?;
    let base = worker.base_url();
    let mut worker = Some(worker);
    progress(&format!(
        "Worker answers at {base}; adding the petstore (stand-in at {})",
        stand_in.base
    ));
    let outcome = async {
        bench_catalog::add_petstore(&base, &stand_in, "petstore").await?;
        warm_up(&base).await?;
        drive(root, opts, &stand_in, &mut worker, progress).await
    }
    .await;
    if let Some(worker) = worker {
        worker.stop().await;
    }
    outcome
}

async fn drive(
    root: &Path,
    opts: &SoakOptions,
    stand_in: &StandIn,
    worker: &mut Option<LocalWorker>,
    progress: &dyn Fn(&str),
) -> Result<SoakReport> {
    let (base, port) = match worker {
        Some(w) => (w.base_url(), w.port()),
        None => bail!("no Worker running"),
    };
    let mut report = SoakReport {
        options: opts.clone(),
        load: None,
        soak: None,
        rss_series: Vec::new(),
        trends: Vec::new(),
        isolate_trends: Vec::new(),
        restart: None,
        problems: Vec::new(),
    };

    if opts.load_sessions > 0 {
        let before = rss_of(worker);
        progress(&format!(
            "load: {} sessions for {} s",
            opts.load_sessions, opts.load_seconds
        ));
        let phase = start_phase(
            "load",
            &base,
            &opts.ops,
            opts.load_sessions,
            opts.load_seconds,
        )
        .await;
        let mut result = finish_phase(phase, None).await?;
        result.rss_before_kib = before;
        result.rss_after_kib = rss_of(worker);
        report.load = Some(result);
    }

    if opts.soak_sessions > 0 {
        let sampler = Arc::new(Sampler {
            pgid: AtomicI32::new(
                worker
                    .as_ref()
                    .and_then(LocalWorker::process_group)
                    .unwrap_or(0),
            ),
            segment: Default::default(),
            stop: AtomicBool::new(false),
            series: Mutex::new(Vec::new()),
        });
        let before = rss_of(worker);
        progress(&format!(
            "soak: {} sessions for {} s, RSS every {} s{}",
            opts.soak_sessions,
            opts.soak_seconds,
            opts.sample_seconds,
            if opts.restart {
                ", restart in the middle"
            } else {
                ""
            }
        ));
        let phase = start_phase(
            "soak",
            &base,
            &opts.ops,
            opts.soak_sessions,
            opts.soak_seconds,
        )
        .await;
        let t0 = phase.started;
        let sampling = {
            let sampler = sampler.clone();
            // The isolate to read is the user Worker named in wrangler.toml.
            let worker_name = crate::wrangler::WorkerSpec::load(root)
                .map(|w| w.name)
                .unwrap_or_else(|_| "executor".into());
            let every = Duration::from_secs(opts.sample_seconds.max(1));
            // Until the sessions are done (the restart check can outlast the soak's clock),
            // but bounded.
            let end = t0 + Duration::from_secs(opts.soak_seconds) + Duration::from_secs(300);
            tokio::spawn(async move {
                let mut next = t0;
                // The inspector port of the current workerd lifetime, found on first use.
                let mut inspector: Option<(usize, u16)> = None;
                while !sampler.stop.load(Ordering::Relaxed) && next <= end {
                    tokio::time::sleep_until(next.into()).await;
                    let pgid = sampler.pgid.load(Ordering::Relaxed);
                    let segment = sampler.segment.load(Ordering::Relaxed);
                    let each = if pgid > 0 {
                        workerd_processes(pgid)
                    } else {
                        Vec::new()
                    };
                    let t_s = t0.elapsed().as_secs_f64();
                    let isolate = if each.is_empty() {
                        None
                    } else {
                        if inspector.is_none_or(|(s, _)| s != segment) {
                            let pids: Vec<i32> = each.iter().map(|p| p.0).collect();
                            inspector = inspector::find_worker_inspector(&pids, &worker_name)
                                .await
                                .map(|port| (segment, port));
                        }
                        match inspector {
                            Some((_, port)) => {
                                inspector::isolate_memory(port, &worker_name).await.ok()
                            }
                            None => None,
                        }
                    };
                    let sample = RssSample {
                        t_s,
                        rss_kib: (!each.is_empty()).then(|| each.iter().map(|p| p.1).sum()),
                        segment,
                        per_process_kib: each.iter().map(|p| p.1).collect(),
                        isolate,
                    };
                    sampler
                        .series
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(sample);
                    next += every;
                }
            })
        };
        let mut window = None;
        if opts.restart {
            let at =
                Duration::from_secs_f64(opts.soak_seconds as f64 * opts.restart_at.clamp(0.0, 1.0));
            tokio::time::sleep_until((t0 + at).into()).await;
            progress("restart: committing integrations, connections, policies and pauses");
            let committed = commit_rows(&base, stand_in, opts).await?;
            let missing_before = missing_rows(&base, &committed).await?;
            if !missing_before.is_empty() {
                report.problems.push(format!(
                    "rows not readable before the restart: {missing_before:?}"
                ));
            }
            progress("restart: stopping the server's process group");
            let at_s = t0.elapsed().as_secs_f64();
            let stop = Instant::now();
            sampler.pgid.store(0, Ordering::Relaxed);
            let old = worker.take().context("no Worker running")?;
            let state = old.stop_keeping_state().await;
            progress("restart: starting again on the same port and state");
            let mut again = worker_options(state, opts);
            again.port = Some(port);
            let fresh = LocalWorker::start(root, again).await?;
            let ready = Instant::now();
            sampler.segment.store(1, Ordering::Relaxed);
            sampler
                .pgid
                .store(fresh.process_group().unwrap_or(0), Ordering::Relaxed);
            *worker = Some(fresh);
            window = Some(Window { stop, ready });
            progress(&format!(
                "restart: back after {:.1} s; checking rows and resuming pauses",
                (ready - stop).as_secs_f64()
            ));
            let missing = missing_rows(&base, &committed).await?;
            let (resumed_ok, resume_failures) = resume_all(&base, stand_in, &committed).await?;
            if !missing.is_empty() {
                report
                    .problems
                    .push(format!("lost across the restart: {missing:?}"));
            }
            if !resume_failures.is_empty() {
                report.problems.push(format!(
                    "pauses that did not resume once: {resume_failures:?}"
                ));
            }
            report.restart = Some(RestartResult {
                at_s,
                downtime_s: (ready - stop).as_secs_f64(),
                integrations: committed.integrations.clone(),
                connections: committed.connection_paths(),
                policies: committed.policies.clone(),
                paused: committed.paused.iter().map(|p| p.0.clone()).collect(),
                missing,
                resumed_ok,
                resume_failures,
            });
        }
        let mut result = finish_phase(phase, window).await?;
        sampler.stop.store(true, Ordering::Relaxed);
        let _ = sampling.await;
        result.rss_before_kib = before;
        result.rss_after_kib = rss_of(worker);
        report.rss_series =
            std::mem::take(&mut *sampler.series.lock().unwrap_or_else(|p| p.into_inner()));
        report.trends = trends(&report.rss_series);
        report.isolate_trends = isolate_trends(&report.rss_series);
        report.soak = Some(result);
    }

    for phase in [&report.load, &report.soak].into_iter().flatten() {
        if phase.errors() > 0 {
            report.problems.push(format!(
                "{}: {} failed requests",
                phase.name,
                phase.errors()
            ));
        }
    }
    // The verdict is on the Worker's own memory; workerd's RSS is reported beside it but
    // measures the local dev stack as much as us (see the module docs of `inspector`).
    for t in &report.isolate_trends {
        let (Some(s), Some(limit)) = (t.slope_mb_per_min, opts.max_growth_mb_per_min) else {
            continue;
        };
        if s > limit {
            report.problems.push(format!(
                "workerd lifetime {}: the Worker's heap + wasm memory grows {s:.2} MB/min over \
                 its second half (limit {limit})",
                t.segment
            ));
        }
    }
    if report.soak.is_some()
        && !report.rss_series.is_empty()
        && report.rss_series.iter().all(|s| s.isolate.is_none())
    {
        report
            .problems
            .push("the Worker isolate's memory could not be read over the inspector".into());
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Report

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn render_phase(out: &mut String, phase: &PhaseResult) {
    out.push_str(&format!(
        "{}: {} MCP sessions for {:.1} s: {:.1} req/s, {} errors, {} restart-window errors, \
         {} sessions failed to initialize\n\n",
        phase.name,
        phase.sessions,
        phase.seconds,
        phase.requests_per_second,
        phase.errors(),
        phase.restart_window_errors(),
        phase.session_errors
    ));
    let headers = [
        "operation",
        "count",
        "errors",
        "restart errs",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
    ];
    let f = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
    let rows: Vec<Vec<String>> = phase
        .ops
        .iter()
        .map(|o| {
            vec![
                o.name.clone(),
                o.count.to_string(),
                o.errors.to_string(),
                o.restart_window_errors.to_string(),
                f(o.latency.map(|l| l.p50_ms)),
                f(o.latency.map(|l| l.p95_ms)),
                f(o.latency.map(|l| l.p99_ms)),
                format!("{:.1}", o.per_second),
            ]
        })
        .collect();
    out.push_str(&render_table(&headers, &rows));
    out.push_str(&format!(
        "workerd RSS: before {}, after {}\n",
        mib(phase.rss_before_kib),
        mib(phase.rss_after_kib)
    ));
    for o in phase.ops.iter().filter(|o| !o.first_errors.is_empty()) {
        out.push_str(&format!("  {} errors:\n", o.name));
        for e in &o.first_errors {
            out.push_str(&format!("    - {e}\n"));
        }
    }
    out.push('\n');
}

/// The human-readable report.
pub fn render_report(report: &SoakReport) -> String {
    let mut out = String::new();
    if let Some(load) = &report.load {
        render_phase(&mut out, load);
    }
    if let Some(soak) = &report.soak {
        render_phase(&mut out, soak);
    }
    if !report.rss_series.is_empty() {
        out.push_str(
            "workerd RSS during the soak (t s: MiB total (wrangler's proxy + the Worker's \
             workerd); `down` while restarting):\n",
        );
        let cells: Vec<String> = report
            .rss_series
            .iter()
            .map(|s| match s.rss_kib {
                Some(k) => format!(
                    "{:.0}: {:.1} ({})",
                    s.t_s,
                    k as f64 / 1024.0,
                    s.per_process_kib
                        .iter()
                        .map(|k| format!("{:.0}", *k as f64 / 1024.0))
                        .collect::<Vec<_>>()
                        .join("+")
                ),
                None => format!("{:.0}: down", s.t_s),
            })
            .collect();
        for chunk in cells.chunks(5) {
            out.push_str(&format!("  {}\n", chunk.join(", ")));
        }
        let isolate: Vec<String> = report
            .rss_series
            .iter()
            .filter_map(|s| {
                let m = s.isolate?;
                Some(format!(
                    "{:.0}: {:.1}+{:.1}",
                    s.t_s,
                    m.heap_used as f64 / 1048576.0,
                    m.wasm as f64 / 1048576.0
                ))
            })
            .collect();
        if !isolate.is_empty() {
            out.push_str(
                "the Worker isolate's own memory (t s: MiB V8 heap after a forced GC + MiB wasm \
                 linear memory):\n",
            );
            for chunk in isolate.chunks(6) {
                out.push_str(&format!("  {}\n", chunk.join(", ")));
            }
        }
        for (what, trends) in [
            ("workerd RSS (whole local stack)", &report.trends),
            ("the Worker's heap + wasm", &report.isolate_trends),
        ] {
            for t in trends {
                let verdict = match t.slope_mb_per_min {
                    Some(s) if s <= FLAT_MB_PER_MIN => {
                        format!("{s:+.2} MB/min: no growth trend")
                    }
                    Some(s) => format!("{s:+.2} MB/min: growing"),
                    None => "too few samples for a trend".into(),
                };
                out.push_str(&format!(
                    "trend of {what}, workerd lifetime {} (linear fit of its second half, {} \
                     samples, {:.0}–{:.0} s): {verdict}\n",
                    t.segment, t.samples, t.from_s, t.to_s
                ));
            }
        }
        out.push('\n');
    }
    if let Some(r) = &report.restart {
        out.push_str(&format!(
            "restart at {:.0} s: server down for {:.1} s; committed before it: {} integrations, \
             {} connections, {} policies, {} paused executions; missing after it: {}; \
             resumed once: {}/{}; requests answered after it: {}\n",
            r.at_s,
            r.downtime_s,
            r.integrations.len(),
            r.connections.len(),
            r.policies.len(),
            r.paused.len(),
            r.missing.len(),
            r.resumed_ok,
            r.paused.len(),
            report.soak.as_ref().map_or(0, |s| s.ok_after_restart)
        ));
    }
    if report.problems.is_empty() {
        out.push_str("result: ok\n");
    } else {
        out.push_str("result: FAILED\n");
        for p in &report.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_comm_and_group() {
        assert_eq!(
            parse_stat("4242 (workerd) S 4200 4100 4100 0 -1 4194560 1 0"),
            Some(("workerd", 4100))
        );
        assert_eq!(parse_stat("7 (a (b) c) R 1 99 99 0"), Some(("a (b) c", 99)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            vm_rss_kib("Name:\tworkerd\nVmPeak:\t 1 kB\nVmRSS:\t  123456 kB\n"),
            Some(123_456)
        );
        assert_eq!(vm_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn own_process_is_found_by_group() {
        // This test process is no workerd; its group has none.
        let pgid = rustix::process::getpgrp().as_raw_pid();
        assert_eq!(workerd_rss_kib(pgid), None);
    }

    #[test]
    fn slopes_and_trends() {
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 5.0)).collect();
        assert_eq!(slope(&flat), Some(0.0));
        let rising: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        assert!((slope(&rising).expect("slope") - 2.0).abs() < 1e-9);
        assert_eq!(slope(&flat[..2]), None);
        // Two lifetimes: the first grows 1 MiB per 60 s sample, the second is flat; a down
        // sample in between is skipped.
        let mut series: Vec<RssSample> = (0..10)
            .map(|i| RssSample {
                t_s: i as f64 * 60.0,
                rss_kib: Some(100 * 1024 + i * 1024),
                segment: 0,
                per_process_kib: vec![],
                isolate: None,
            })
            .collect();
        series.push(RssSample {
            t_s: 600.0,
            rss_kib: None,
            segment: 0,
            per_process_kib: vec![],
            isolate: None,
        });
        series.extend((11..20).map(|i| RssSample {
            t_s: i as f64 * 60.0,
            rss_kib: Some(90 * 1024),
            segment: 1,
            per_process_kib: vec![],
            isolate: Some(IsolateMemory {
                heap_used: 3 << 20,
                wasm: 2 << 20,
            }),
        }));
        let t = trends(&series);
        assert_eq!(t.len(), 2);
        assert!(
            (t[0].slope_mb_per_min.expect("slope") - 1.0).abs() < 1e-9,
            "{t:?}"
        );
        assert_eq!(t[0].samples, 5);
        assert_eq!(t[1].slope_mb_per_min, Some(0.0));
        let i = isolate_trends(&series);
        assert_eq!(
            i[0].slope_mb_per_min, None,
            "no isolate readings before the restart"
        );
        assert_eq!(i[1].slope_mb_per_min, Some(0.0));
    }

    #[test]
    fn restart_window_covers_only_requests_it_cut() {
        let t = Instant::now();
        let at = |s: u64| t + Duration::from_secs(s);
        let w = Window {
            stop: at(10),
            ready: at(20),
        };
        let f = |a: u64, b: u64| Failure {
            started: at(a),
            ended: at(b),
            message: String::new(),
        };
        assert!(w.covers(&f(9, 11)), "in flight when stopped");
        assert!(w.covers(&f(15, 15)), "sent while down");
        assert!(!w.covers(&f(1, 2)), "before");
        assert!(!w.covers(&f(21, 22)), "after");
    }

    #[test]
    fn report_names_problems() {
        let report = SoakReport {
            options: SoakOptions::short(),
            load: Some(PhaseResult {
                name: "load".into(),
                sessions: 2,
                seconds: 1.0,
                ops: vec![OpResult {
                    name: Op::Floor.name().into(),
                    count: 3,
                    errors: 1,
                    restart_window_errors: 0,
                    latency: summarize(&[1.0, 2.0, 3.0]),
                    per_second: 3.0,
                    first_errors: vec!["GET /api/nope: HTTP 500".into()],
                }],
                session_errors: 0,
                ok_after_restart: 0,
                requests_per_second: 3.0,
                rss_before_kib: Some(2048),
                rss_after_kib: None,
            }),
            soak: None,
            rss_series: vec![],
            trends: vec![],
            isolate_trends: vec![],
            restart: None,
            problems: vec!["load: 1 failed requests".into()],
        };
        let text = render_report(&report);
        assert!(text.contains("before 2.0 MiB, after -"), "{text}");
        assert!(text.contains("    - GET /api/nope: HTTP 500"), "{text}");
        assert!(text.contains("result: FAILED"), "{text}");
    }
}
