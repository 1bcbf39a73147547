//! `provision bench`: latency and throughput of the local Worker, per scenario, plus the size
//! of the built Worker. Everything talks to 127.0.0.1 only and is bounded in time and count.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::bench_catalog::{self, Seeded, StandIn};
use crate::local::{self, LocalOptions, LocalWorker};

/// MCP protocol version the bench negotiates.
pub const MCP_PROTOCOL_VERSION: &str = "2025-06-18";
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Untimed requests before each sequential run (the first request pays for the isolate).
pub const WARMUP: usize = 3;
/// Untimed floor and `/api/account/me` request pairs before the first scenario.
pub const GLOBAL_WARMUP: usize = 25;
/// A sequential run is abandoned when its first this-many requests all fail.
const GIVE_UP_AFTER: usize = 10;
/// Upper bound of requests per concurrent task.
const MAX_REQUESTS_PER_TASK: usize = 100_000;
/// Failure messages kept per scenario.
const KEPT_ERRORS: usize = 5;

/// Knobs of a bench run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Sequential requests per scenario.
    pub requests: usize,
    /// Concurrent tasks per scenario.
    pub concurrency: usize,
    /// Length of each concurrent run.
    pub seconds: u64,
}

/// The measured scenarios, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Floor,
    AccountMe,
    McpInitialize,
    McpToolsList,
    McpExecute,
    ApiExecution,
    /// One `tools.search` over the GitHub catalog (1,223 tools) inside an execution.
    CatalogSearch,
    /// Ten searches in one execution (the index is loaded once per run).
    CatalogSearchTen,
    /// One `tools.describe.tool` of a GitHub tool.
    CatalogDescribe,
    /// One real tool call: petstore `getPet` against the loopback stand-in.
    PetstoreCall,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Floor,
        Scenario::AccountMe,
        Scenario::McpInitialize,
        Scenario::McpToolsList,
        Scenario::McpExecute,
        Scenario::ApiExecution,
    ];
    /// Scenarios that need the catalog seeded (`bench_catalog::seed`).
    pub const CATALOG: [Scenario; 4] = [
        Scenario::CatalogSearch,
        Scenario::CatalogSearchTen,
        Scenario::CatalogDescribe,
        Scenario::PetstoreCall,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Floor => "floor: GET /api/nope",
            Scenario::AccountMe => "GET /api/account/me",
            Scenario::McpInitialize => "MCP initialize",
            Scenario::McpToolsList => "MCP tools/list",
            Scenario::McpExecute => "MCP tools/call execute",
            Scenario::ApiExecution => "POST /api/executions",
            Scenario::CatalogSearch => "execute: 1 search (GitHub)",
            Scenario::CatalogSearchTen => "execute: 10 searches (GitHub)",
            Scenario::CatalogDescribe => "execute: describe (GitHub)",
            Scenario::PetstoreCall => "execute: petstore getPet",
        }
    }

    fn needs_session(self) -> bool {
        matches!(self, Scenario::McpToolsList | Scenario::McpExecute)
    }
}

/// Latency percentiles of the successful requests, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Nearest-rank percentile of ascending `sorted` (`p` in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Percentiles of `samples_ms`; `None` when empty.
pub fn summarize(samples_ms: &[f64]) -> Option<Latency> {
    if samples_ms.is_empty() {
        return None;
    }
    let mut sorted = samples_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Latency {
        count: sorted.len(),
        p50_ms: percentile(&sorted, 50.0),
        p95_ms: percentile(&sorted, 95.0),
        p99_ms: percentile(&sorted, 99.0),
    })
}

/// The concurrent part of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub tasks: usize,
    pub seconds: f64,
    pub requests: usize,
    pub requests_per_second: f64,
    pub latency: Option<Latency>,
}

/// One scenario's results.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub sequential: Option<Latency>,
    pub sequential_failures: usize,
    pub concurrent: Option<Throughput>,
    pub concurrent_failures: usize,
    /// p50 minus the floor scenario's p50 (sequential), in ms.
    pub overhead_over_floor_ms: Option<f64>,
    /// The first few failure messages.
    pub errors: Vec<String>,
}

/// Raw and gzip -9 sizes of the built Worker.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    pub wasm_bytes: u64,
    pub wasm_gzip_bytes: u64,
    pub js_bytes: u64,
    pub js_gzip_bytes: u64,
}

/// Everything `provision bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub requests: usize,
    pub concurrency: usize,
    pub seconds: u64,
    pub warmup_requests: usize,
    pub scenarios: Vec<ScenarioResult>,
    pub sizes: Option<Sizes>,
    /// Catalog seeding timings; `None` when the catalog part was skipped or failed.
    pub catalog: Option<Seeded>,
    /// Why the catalog part did not run, if it did not.
    pub catalog_error: Option<String>,
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).context("gzip")?;
    Ok(enc.finish().context("gzip")?.len() as u64)
}

/// Sizes of `build/index_bg.wasm` and `build/index.js`.
pub fn build_sizes(root: &Path) -> Result<Sizes> {
    let read = |p: &str| {
        let path = root.join(p);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let wasm = read("build/index_bg.wasm")?;
    let js = read("build/index.js")?;
    Ok(Sizes {
        wasm_bytes: wasm.len() as u64,
        wasm_gzip_bytes: gzip_len(&wasm)?,
        js_bytes: js.len() as u64,
        js_gzip_bytes: gzip_len(&js)?,
    })
}

/// One client (own connection pool, so its own keep-alive connection) and its MCP session.
/// Shared with `provision soak` (crate::soak).
pub(crate) struct Conn {
    client: reqwest::Client,
    base: Arc<str>,
    pub(crate) session: Option<String>,
}

pub(crate) fn mcp_body(id: u64, method: &str, params: Option<Value>) -> Value {
    let mut body = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if let Some(params) = params {
        body["params"] = params;
    }
    body
}

fn initialize_body() -> Value {
    mcp_body(
        1,
        "initialize",
        Some(json!({
            "protocolVersion": MCP_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "provision-bench", "version": env!("CARGO_PKG_VERSION")}
        })),
    )
}

/// The JSON-RPC message in an MCP answer: a JSON body, or the first `data:` event of an SSE
/// body that carries a result or an error.
pub fn parse_mcp_body(content_type: &str, body: &str) -> Result<Value> {
    if content_type.starts_with("text/event-stream") {
        for event in body.split("\n\n") {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(&data.join("\n")).context("SSE data is not JSON")?;
            if value.get("result").is_some() || value.get("error").is_some() {
                return Ok(value);
            }
        }
        anyhow::bail!("no JSON-RPC answer in the event stream");
    }
    serde_json::from_str(body).context("body is not JSON")
}

/// Checks a JSON-RPC answer: `result` present, no `error`, and no tool-level `isError`.
pub fn check_rpc(value: &Value) -> Result<()> {
    if let Some(err) = value.get("error") {
        anyhow::bail!("JSON-RPC error: {err}");
    }
    let result = value.get("result").context("answer has no `result`")?;
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        anyhow::bail!("tool error: {result}");
    }
    Ok(())
}

pub(crate) fn snippet(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

impl Conn {
    pub(crate) fn new(base: Arc<str>) -> Result<Self> {
        Self::with_timeout(base, REQUEST_TIMEOUT)
    }

    /// A client whose requests give up after `timeout`.
    pub(crate) fn with_timeout(base: Arc<str>, timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .context("building an HTTP client")?;
        Ok(Self {
            client,
            base,
            session: None,
        })
    }

    fn mcp_post(&self, body: &Value, session: Option<&str>) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .post(format!("{}/mcp", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(id) = session {
            req = req
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", MCP_PROTOCOL_VERSION);
        }
        req
    }

    /// `initialize` → the session id.
    pub(crate) async fn initialize(&self) -> Result<String> {
        let resp = self
            .mcp_post(&initialize_body(), None)
            .send()
            .await
            .context("POST /mcp initialize")?;
        let status = resp.status();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let ctype = content_type(&resp);
        let body = resp.text().await.context("reading the initialize answer")?;
        if status != reqwest::StatusCode::OK {
            anyhow::bail!("initialize: HTTP {status}: {}", snippet(&body));
        }
        check_rpc(&parse_mcp_body(&ctype, &body)?).context("initialize")?;
        session.context("initialize: no `mcp-session-id` header")
    }

    pub(crate) async fn initialized(&self, session: &str) -> Result<()> {
        let body = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let resp = self
            .mcp_post(&body, Some(session))
            .send()
            .await
            .context("POST /mcp notifications/initialized")?;
        let status = resp.status();
        let _ = resp.bytes().await;
        if status != reqwest::StatusCode::ACCEPTED {
            anyhow::bail!("notifications/initialized: HTTP {status} (expected 202)");
        }
        Ok(())
    }

    pub(crate) async fn delete_session(&self, session: &str) -> Result<()> {
        let resp = self
            .client
            .delete(format!("{}/mcp", self.base))
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", MCP_PROTOCOL_VERSION)
            .send()
            .await
            .context("DELETE /mcp")?;
        let status = resp.status();
        let _ = resp.bytes().await;
        if !status.is_success() {
            anyhow::bail!("DELETE /mcp: HTTP {status}");
        }
        Ok(())
    }

    async fn prepare(&mut self, scenario: Scenario) -> Result<()> {
        if scenario.needs_session() && self.session.is_none() {
            let session = self.initialize().await?;
            self.initialized(&session).await?;
            self.session = Some(session);
        }
        Ok(())
    }

    async fn finish(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = self.delete_session(&session).await;
        }
    }

    /// One timed request of `scenario`, validated; returns its latency.
    async fn once(&mut self, scenario: Scenario) -> Result<Duration> {
        match scenario {
            Scenario::Floor => self.get_expect("/api/nope", 404).await,
            Scenario::AccountMe => self.get_expect("/api/account/me", 200).await,
            Scenario::McpInitialize => {
                let started = Instant::now();
                let session = self.initialize().await?;
                let took = started.elapsed();
                self.delete_session(&session).await?;
                Ok(took)
            }
            Scenario::McpToolsList => {
                self.rpc(&mcp_body(2, "tools/list", None), |result| {
                    result
                        .get("tools")
                        .and_then(Value::as_array)
                        .map(|_| ())
                        .context("tools/list result has no `tools` array")
                })
                .await
            }
            Scenario::McpExecute => {
                let body = mcp_body(
                    3,
                    "tools/call",
                    Some(json!({"name": "execute", "arguments": {"code": "return 1 + 1"}})),
                );
                self.rpc(&body, |_| Ok(())).await
            }
            Scenario::ApiExecution => self.execution("return 1 + 1").await,
            Scenario::CatalogSearch => self.execution(bench_catalog::SEARCH_CODE).await,
            Scenario::CatalogSearchTen => self.execution(bench_catalog::SEARCH_TEN_CODE).await,
            Scenario::CatalogDescribe => self.execution(&bench_catalog::describe_code()).await,
            Scenario::PetstoreCall => self.execution(bench_catalog::PETSTORE_CALL_CODE).await,
        }
    }

    /// `POST /api/executions` with `code`; fails unless the run completed without error.
    pub(crate) async fn execution(&self, code: &str) -> Result<Duration> {
        let started = Instant::now();
        let resp = self
            .client
            .post(format!("{}/api/executions", self.base))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({ "code": code }))?)
            .send()
            .await
            .context("POST /api/executions")?;
        let status = resp.status();
        let body = resp.text().await.context("reading the answer")?;
        let took = started.elapsed();
        if !status.is_success() {
            anyhow::bail!("POST /api/executions: HTTP {status}: {}", snippet(&body));
        }
        let envelope: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if envelope.get("isError") != Some(&Value::Bool(false)) {
            anyhow::bail!("execution failed: {}", snippet(&body));
        }
        Ok(took)
    }

    pub(crate) async fn get_expect(&self, path: &str, expected: u16) -> Result<Duration> {
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        let body = resp.text().await.context("reading the answer")?;
        let took = started.elapsed();
        if status.as_u16() != expected {
            anyhow::bail!(
                "GET {path}: HTTP {status} (expected {expected}): {}",
                snippet(&body)
            );
        }
        Ok(took)
    }

    pub(crate) async fn rpc(
        &self,
        body: &Value,
        check: impl Fn(&Value) -> Result<()>,
    ) -> Result<Duration> {
        let session = self.session.as_deref().context("no MCP session")?;
        let started = Instant::now();
        let resp = self
            .mcp_post(body, Some(session))
            .send()
            .await
            .context("POST /mcp")?;
        let status = resp.status();
        let ctype = content_type(&resp);
        let text = resp.text().await.context("reading the answer")?;
        let took = started.elapsed();
        if status != reqwest::StatusCode::OK {
            anyhow::bail!("POST /mcp: HTTP {status}: {}", snippet(&text));
        }
        let value = parse_mcp_body(&ctype, &text)?;
        check_rpc(&value)?;
        if let Some(result) = value.get("result") {
            check(result)?;
        }
        Ok(took)
    }
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Default)]
struct Tally {
    samples: Vec<f64>,
    failures: usize,
    errors: Vec<String>,
}

impl Tally {
    fn record(&mut self, outcome: Result<Duration>) {
        match outcome {
            Ok(d) => self.samples.push(ms(d)),
            Err(e) => self.fail(e),
        }
    }
    fn fail(&mut self, e: anyhow::Error) {
        self.failures += 1;
        if self.errors.len() < KEPT_ERRORS {
            let msg = format!("{e:#}");
            if !self.errors.contains(&msg) {
                self.errors.push(msg);
            }
        }
    }
}

async fn sequential(base: Arc<str>, scenario: Scenario, requests: usize) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut conn = Conn::new(base)?;
    if let Err(e) = conn.prepare(scenario).await {
        tally.fail(e);
        return Ok(tally);
    }
    for _ in 0..WARMUP {
        let _ = conn.once(scenario).await;
    }
    for i in 0..requests {
        let outcome = conn.once(scenario).await;
        tally.record(outcome);
        if i + 1 == GIVE_UP_AFTER && tally.samples.is_empty() {
            break;
        }
    }
    conn.finish().await;
    Ok(tally)
}

async fn concurrent(
    base: Arc<str>,
    scenario: Scenario,
    tasks: usize,
    seconds: u64,
) -> Result<(Tally, f64)> {
    let tasks = tasks.max(1);
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let base = base.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let conn = Conn::new(base);
            let mut conn = match conn {
                Ok(mut c) => match c.prepare(scenario).await {
                    Ok(()) => Some(c),
                    Err(e) => {
                        tally.fail(e);
                        None
                    }
                },
                Err(e) => {
                    tally.fail(e);
                    None
                }
            };
            barrier.wait().await;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            if let Some(conn) = conn.as_mut() {
                let mut n = 0;
                while Instant::now() < deadline && n < MAX_REQUESTS_PER_TASK {
                    let outcome = conn.once(scenario).await;
                    tally.record(outcome);
                    n += 1;
                    if n == GIVE_UP_AFTER && tally.samples.is_empty() {
                        break;
                    }
                }
                conn.finish().await;
            }
            tally
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut total = Tally::default();
    for handle in handles {
        let tally = handle.await.context("bench task panicked")?;
        total.samples.extend(tally.samples);
        total.failures += tally.failures;
        for e in tally.errors {
            if total.errors.len() < KEPT_ERRORS && !total.errors.contains(&e) {
                total.errors.push(e);
            }
        }
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// Runs every scenario against a Worker at `base` (e.g. `http://127.0.0.1:8787`).
/// `progress` gets one line per phase.
pub async fn run_scenarios(
    base: &str,
    opts: &BenchOptions,
    progress: &dyn Fn(&str),
) -> Result<Vec<ScenarioResult>> {
    run_scenario_list(base, opts, progress, &Scenario::ALL, None).await
}

/// Runs `scenarios` (the first must be [`Scenario::Floor`] unless `floor_p50` is given).
pub async fn run_scenario_list(
    base: &str,
    opts: &BenchOptions,
    progress: &dyn Fn(&str),
    scenarios: &[Scenario],
    floor_p50: Option<f64>,
) -> Result<Vec<ScenarioResult>> {
    let base: Arc<str> = Arc::from(base.trim_end_matches('/'));
    // Warm wrangler's proxy and the isolate before anything is timed, so the floor (measured
    // first) is not the coldest scenario.
    let mut warm = Conn::new(base.clone())?;
    for _ in 0..GLOBAL_WARMUP {
        let _ = warm.once(Scenario::Floor).await;
        let _ = warm.once(Scenario::AccountMe).await;
    }
    drop(warm);
    let mut results: Vec<ScenarioResult> = Vec::new();
    for &scenario in scenarios {
        progress(&format!(
            "{} … {} sequential requests",
            scenario.name(),
            opts.requests
        ));
        let seq = sequential(base.clone(), scenario, opts.requests).await?;
        progress(&format!(
            "{} … {} tasks for {} s",
            scenario.name(),
            opts.concurrency,
            opts.seconds
        ));
        let (conc, elapsed) =
            concurrent(base.clone(), scenario, opts.concurrency, opts.seconds).await?;
        let mut errors = seq.errors;
        for e in conc.errors {
            if errors.len() < KEPT_ERRORS && !errors.contains(&e) {
                errors.push(e);
            }
        }
        let sequential = summarize(&seq.samples);
        let floor_p50 = floor_p50.or_else(|| {
            results
                .first()
                .and_then(|floor| floor.sequential)
                .map(|l| l.p50_ms)
        });
        let overhead_over_floor_ms = match (scenario, sequential, floor_p50) {
            (Scenario::Floor, _, _) => None,
            (_, Some(l), Some(floor)) => Some(l.p50_ms - floor),
            _ => None,
        };
        let secs = elapsed.max(f64::EPSILON);
        results.push(ScenarioResult {
            name: scenario.name().to_string(),
            sequential,
            sequential_failures: seq.failures,
            concurrent: Some(Throughput {
                tasks: opts.concurrency,
                seconds: elapsed,
                requests: conc.samples.len(),
                requests_per_second: conc.samples.len() as f64 / secs,
                latency: summarize(&conc.samples),
            }),
            concurrent_failures: conc.failures,
            overhead_over_floor_ms,
            errors,
        });
    }
    Ok(results)
}

/// A text table: first column left-aligned, the others right-aligned.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate().take(cols) {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if i == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(&mut headers.iter().copied());
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&mut rule.iter().map(String::as_str)));
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

fn opt_ms(v: Option<f64>) -> String {
    v.map(f1).unwrap_or_else(|| "-".into())
}

fn kib(bytes: u64) -> String {
    format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
}

/// The human-readable report.
pub fn render_report(report: &Report) -> String {
    let headers = [
        "scenario",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "over floor",
        "req/s",
        "conc p50",
        "conc p95",
        "failures",
    ];
    let rows: Vec<Vec<String>> = report
        .scenarios
        .iter()
        .map(|s| {
            let conc = s.concurrent.as_ref();
            let conc_lat = conc.and_then(|c| c.latency);
            vec![
                s.name.clone(),
                opt_ms(s.sequential.map(|l| l.p50_ms)),
                opt_ms(s.sequential.map(|l| l.p95_ms)),
                opt_ms(s.sequential.map(|l| l.p99_ms)),
                s.overhead_over_floor_ms
                    .map(|v| format!("{v:+.1}"))
                    .unwrap_or_else(|| "-".into()),
                opt_ms(conc.map(|c| c.requests_per_second)),
                opt_ms(conc_lat.map(|l| l.p50_ms)),
                opt_ms(conc_lat.map(|l| l.p95_ms)),
                (s.sequential_failures + s.concurrent_failures).to_string(),
            ]
        })
        .collect();
    let mut out = format!(
        "sequential: {} requests on one keep-alive connection (after {} warm-up requests); \
         concurrent: {} clients for {} s; overhead = p50 minus the floor's p50\n\n",
        report.requests, report.warmup_requests, report.concurrency, report.seconds
    );
    out.push_str(&render_table(&headers, &rows));
    let failing: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|s| !s.errors.is_empty())
        .collect();
    if !failing.is_empty() {
        out.push_str("\nfailures:\n");
        for s in failing {
            out.push_str(&format!(
                "  {}: {} sequential, {} concurrent\n",
                s.name, s.sequential_failures, s.concurrent_failures
            ));
            for e in &s.errors {
                out.push_str(&format!("    - {e}\n"));
            }
        }
    }
    if let Some(seeded) = &report.catalog {
        out.push_str(&format!(
            "\ncatalog ingest through the Worker: petstore by URL {:.0} ms; GitHub REST inline \
             ({} tools) {:.0} ms\n",
            seeded.petstore_ingest_ms, seeded.github_tool_count, seeded.github_ingest_ms
        ));
    }
    if let Some(e) = &report.catalog_error {
        out.push_str(&format!("\ncatalog scenarios skipped: {e}\n"));
    }
    if let Some(sizes) = &report.sizes {
        out.push_str(&format!(
            "\nbuild/index_bg.wasm  {} raw, {} gzip -9\nbuild/index.js       {} raw, {} gzip -9\n",
            kib(sizes.wasm_bytes),
            kib(sizes.wasm_gzip_bytes),
            kib(sizes.js_bytes),
            kib(sizes.js_gzip_bytes)
        ));
    }
    out
}

/// Seeds the catalog (stand-in petstore by URL, GitHub inline) and runs the catalog scenarios.
async fn run_catalog(
    base: &str,
    root: &Path,
    opts: &BenchOptions,
    progress: &dyn Fn(&str),
    floor_p50: Option<f64>,
) -> Result<(Seeded, Vec<ScenarioResult>)> {
    let fixtures = root.join("../shared/fixtures/openapi");
    let stand_in = StandIn::start(&fixtures).await?;
    progress("seeding the catalog: petstore by URL, GitHub REST (13 MB) inline");
    let seeded = bench_catalog::seed(base, &fixtures, &stand_in).await?;
    progress(&format!(
        "seeded: petstore {:.0} ms, GitHub {} tools in {:.0} ms",
        seeded.petstore_ingest_ms, seeded.github_tool_count, seeded.github_ingest_ms
    ));
    let results = run_scenario_list(base, opts, progress, &Scenario::CATALOG, floor_p50).await?;
    Ok((seeded, results))
}

/// `provision bench`: builds if needed, starts a Worker on a free port with a temporary
/// state directory, measures, stops it, prints the report and optionally writes JSON.
pub async fn run(root: &Path, opts: &BenchOptions, json_out: Option<&PathBuf>) -> Result<Report> {
    let progress = |msg: &str| eprintln!("bench: {msg}");
    progress("building the Worker if needed (`sh scripts/build.sh`)");
    let build_root = root.to_path_buf();
    tokio::task::spawn_blocking(move || local::build_worker(&build_root))
        .await
        .context("build task panicked")??;
    let sizes = build_sizes(root)?;
    progress("starting `wrangler dev --local` on a free port");
    let started = Instant::now();
    let worker =
        LocalWorker::start(root, LocalOptions::new(local::temp_state_dir("bench"))).await?;
    progress(&format!(
        "Worker answers at {} after {:.1} s",
        worker.base_url(),
        started.elapsed().as_secs_f64()
    ));
    let scenarios = run_scenarios(&worker.base_url(), opts, &progress).await;
    let mut scenarios = match scenarios {
        Ok(s) => s,
        Err(e) => {
            worker.stop().await;
            return Err(e);
        }
    };
    let floor_p50 = scenarios
        .first()
        .and_then(|s| s.sequential)
        .map(|l| l.p50_ms);
    let catalog = run_catalog(&worker.base_url(), root, opts, &progress, floor_p50).await;
    worker.stop().await;
    let (catalog, catalog_error) = match catalog {
        Ok((seeded, results)) => {
            scenarios.extend(results);
            (Some(seeded), None)
        }
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let report = Report {
        requests: opts.requests,
        concurrency: opts.concurrency,
        seconds: opts.seconds,
        warmup_requests: WARMUP,
        scenarios,
        sizes: Some(sizes),
        catalog,
        catalog_error,
    };
    print!("{}", render_report(&report));
    if let Some(path) = json_out {
        let text = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        progress(&format!("wrote {}", path.display()));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
        let s = summarize(&[3.0, 1.0, 2.0, 4.0]).expect("stats");
        assert_eq!((s.count, s.p50_ms, s.p95_ms, s.p99_ms), (4, 2.0, 4.0, 4.0));
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn table_aligns_columns() {
        let table = render_table(
            &["scenario", "p50 ms"],
            &[
                vec!["floor".into(), "1.5".into()],
                vec!["MCP initialize".into(), "12.25".into()],
            ],
        );
        assert_eq!(
            table,
            "scenario        p50 ms\n--------------  ------\nfloor              1.5\nMCP initialize   12.25\n"
        );
    }

    #[test]
    fn sse_and_json_answers() {
        let v = parse_mcp_body(
            "text/event-stream",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
        )
        .expect("sse");
        assert!(check_rpc(&v).is_ok());
        let v = parse_mcp_body(
            "application/json",
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1}}"#,
        )
        .expect("json");
        assert!(check_rpc(&v).is_err());
        let v = serde_json::json!({"result": {"isError": true, "content": []}});
        assert!(check_rpc(&v).is_err());
    }

    #[test]
    fn report_renders_overhead_and_failures() {
        let lat = |p50| Latency {
            count: 10,
            p50_ms: p50,
            p95_ms: p50 + 1.0,
            p99_ms: p50 + 2.0,
        };
        let report = Report {
            requests: 10,
            concurrency: 2,
            seconds: 1,
            warmup_requests: WARMUP,
            scenarios: vec![
                ScenarioResult {
                    name: "floor: GET /api/nope".into(),
                    sequential: Some(lat(1.0)),
                    sequential_failures: 0,
                    concurrent: None,
                    concurrent_failures: 0,
                    overhead_over_floor_ms: None,
                    errors: vec![],
                },
                ScenarioResult {
                    name: "GET /api/account/me".into(),
                    sequential: Some(lat(3.5)),
                    sequential_failures: 1,
                    concurrent: None,
                    concurrent_failures: 0,
                    overhead_over_floor_ms: Some(2.5),
                    errors: vec!["GET /api/account/me: HTTP 401".into()],
                },
            ],
            catalog: None,
            catalog_error: None,
            sizes: Some(Sizes {
                wasm_bytes: 2048,
                wasm_gzip_bytes: 1024,
                js_bytes: 10,
                js_gzip_bytes: 30,
            }),
        };
        let text = render_report(&report);
        assert!(text.contains("+2.5"), "{text}");
        assert!(
            text.contains("    - GET /api/account/me: HTTP 401"),
            "{text}"
        );
        assert!(
            text.contains("2048 B (2.0 KiB) raw, 1024 B (1.0 KiB) gzip -9"),
            "{text}"
        );
    }

    /// A tiny keep-alive HTTP/1.1 server that mimics the Worker's routes.
    async fn fake_worker() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut next_session = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                next_session += 1000;
                let mut session_seq = next_session;
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut head = String::new();
                        let mut content_length = 0usize;
                        let mut has_session = false;
                        loop {
                            let mut line = String::new();
                            match stream.read_line(&mut line).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                            if line == "\r\n" {
                                break;
                            }
                            let lower = line.to_ascii_lowercase();
                            if let Some(v) = lower.strip_prefix("content-length:") {
                                content_length = v.trim().parse().unwrap_or(0);
                            }
                            if lower.starts_with("mcp-session-id:") {
                                has_session = true;
                            }
                            if head.is_empty() {
                                head = line;
                            }
                        }
                        let mut body = vec![0u8; content_length];
                        if stream.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let body = String::from_utf8_lossy(&body).to_string();
                        let mut parts = head.split_whitespace();
                        let method = parts.next().unwrap_or("").to_string();
                        let path = parts.next().unwrap_or("").to_string();
                        let mut extra = String::new();
                        let (status, text) = match (method.as_str(), path.as_str()) {
                            ("GET", "/api/account/me") => ("200 OK", r#"{"id":"dev"}"#.to_string()),
                            ("POST", "/api/executions") => ("200 OK", r#"{"status":"completed","text":"2","structured":{"result":2},"isError":false}"#.to_string()),
                            ("DELETE", "/mcp") if has_session => ("204 No Content", String::new()),
                            ("POST", "/mcp") if body.contains("\"initialize\"") => {
                                session_seq += 1;
                                extra = format!("mcp-session-id: s{session_seq}\r\n");
                                ("200 OK", r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"}}"#.to_string())
                            }
                            ("POST", "/mcp") if body.contains("notifications/initialized") && has_session => ("202 Accepted", String::new()),
                            ("POST", "/mcp") if body.contains("tools/list") && has_session => ("200 OK", r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"execute"}]}}"#.to_string()),
                            ("POST", "/mcp") if body.contains("tools/call") && has_session => {
                                extra = "content-type: text/event-stream\r\n".to_string();
                                ("200 OK", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"2\"}]}}\n\n".to_string())
                            }
                            _ => ("404 Not Found", r#"{"error":"not found"}"#.to_string()),
                        };
                        let ctype = if extra.contains("content-type") {
                            ""
                        } else {
                            "content-type: application/json\r\n"
                        };
                        let resp = format!(
                            "HTTP/1.1 {status}\r\n{ctype}{extra}content-length: {}\r\n\r\n{text}",
                            text.len()
                        );
                        if stream.get_mut().write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scenarios_against_a_fake_worker() {
        let base = fake_worker().await;
        let opts = BenchOptions {
            requests: 20,
            concurrency: 3,
            seconds: 1,
        };
        let results = run_scenarios(&base, &opts, &|_| {})
            .await
            .expect("bench run");
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[0], "floor: GET /api/nope");
        assert_eq!(names.len(), 6);
        for r in &results {
            assert_eq!(r.sequential_failures + r.concurrent_failures, 0, "{r:?}");
            assert_eq!(r.sequential.map(|l| l.count), Some(20), "{r:?}");
            let conc = r.concurrent.as_ref().expect("concurrent");
            assert!(conc.requests > 0 && conc.requests_per_second > 0.0, "{r:?}");
            assert!(conc.seconds < 5.0, "{r:?}");
        }
        assert!(results[1].overhead_over_floor_ms.is_some());
        assert!(results[0].overhead_over_floor_ms.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_counted_and_bounded() {
        // Nothing listens on this port once the listener is dropped.
        let port = crate::local::free_port().expect("port");
        let opts = BenchOptions {
            requests: 1000,
            concurrency: 2,
            seconds: 1,
        };
        let results = run_scenarios(&format!("http://127.0.0.1:{port}"), &opts, &|_| {})
            .await
            .expect("bench run");
        for r in &results {
            assert!(r.sequential.is_none());
            assert!(
                r.sequential_failures > 0 && r.sequential_failures <= GIVE_UP_AFTER,
                "{r:?}"
            );
            assert!(!r.errors.is_empty());
        }
    }
}
