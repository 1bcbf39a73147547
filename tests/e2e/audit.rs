//! The audit log on real workerd (issue #4 item 6): against the loopback petstore stand-in, with
//! a connection holding a random canary key, a run makes an allowed call, a blocked one and an
//! upstream error; two runs pause for approval, one is accepted and one declined through
//! `POST /api/executions/:id/resume`. `GET /api/audit` must list exactly those calls with
//! their decisions, outcomes, HTTP statuses and durations, page and filter them, and its raw
//! answers must never contain the canary (nor must any answer, log line or stored file).
//!
//! It also measures what recording costs: the p50 of `POST /api/executions` with one tool call,
//! with the log on and with `AUDIT_MAX_ROWS=0` (log off), on two Workers side by side.

use executor_tests::upstream::Upstream;
use serde_json::{json, Value};

use crate::catalog::{
    assert_canary_absent, assert_state_has_no_plaintext, canary, contains, log_path, Api,
};
use crate::support::{enabled, start_on};

/// Prints `metric audit.<name>=<value>` to stderr (greppable in every run's log).
fn metric(name: &str, value: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "metric audit.{name}={value}");
}

fn paused_id(body: &Value) -> String {
    assert_eq!(body["status"], "paused", "{body}");
    body["structured"]["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `GET /api/audit?<query>`: status and JSON, after checking the raw body for the canary.
async fn audit(api: &Api, canary: &str, query: &str) -> (u16, Value) {
    let answer = api.get(&format!("/api/audit?{query}")).await;
    assert!(
        !contains(&answer.body, canary.as_bytes()),
        "an audit answer holds the canary: {}",
        answer.text()
    );
    (answer.status, answer.json())
}

async fn rows(api: &Api, canary: &str, query: &str) -> Vec<Value> {
    let (status, body) = audit(api, canary, query).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// `(tool, decision, outcome, httpStatus)` per row, newest first.
fn summary(rows: &[Value]) -> Vec<(String, String, String, Value)> {
    rows.iter()
        .map(|r| {
            (
                r["address"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("tools.petstore.org.main.")
                    .to_owned(),
                r["decision"].as_str().unwrap_or_default().to_owned(),
                r["outcome"].as_str().unwrap_or_default().to_owned(),
                r["httpStatus"].clone(),
            )
        })
        .collect()
}

fn row(
    tool: &str,
    decision: &str,
    outcome: &str,
    status: Value,
) -> (String, String, String, Value) {
    (tool.into(), decision.into(), outcome.into(), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_records_decisions_without_secrets() {
    if !enabled("audit_log_records_decisions_without_secrets") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let spec_url = upstream.serve_petstore().expect("the petstore fixture");
    let canary = canary();
    let log_on = log_path("audit-on");
    let log_off = log_path("audit-off");
    let worker = start_on(
        provision::local::temp_state_dir("audit"),
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log_on.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());

    connect(&api, &spec_url, &canary, &logs).await;
    for (pattern, action) in [
        ("petstore.org.main.pets.deletePet", "block"),
        ("petstore.org.main.pets.getPet", "require_approval"),
    ] {
        let policy = api
            .post(
                "/api/policies",
                &json!({"owner":"org","pattern":pattern,"action":action}),
            )
            .await;
        assert_eq!(policy.status, 200, "{}", policy.text());
    }
    assert_eq!(rows(&api, &canary, "").await, Vec::<Value>::new());

    // Allowed calls and a blocked one.
    let done = api
        .execute(
            "const list = await tools.petstore.org.main.pets.listPets({ limit: 1 });\n\
             const inv = await tools.petstore.org.main.store.getInventory({});\n\
             const del = await tools.petstore.org.main.pets.deletePet({ petId: 1 });\n\
             return [list.ok, inv.ok, del.error.code];",
            &logs,
        )
        .await;
    assert_eq!(
        done["structured"]["result"],
        json!([true, true, "tool_blocked"]),
        "{done}"
    );

    // Approval, accepted.
    let paused = api
        .execute(
            "await tools.petstore.org.main.pets.listPets({ limit: 2 });\n\
             return (await tools.petstore.org.main.pets.getPet({ petId: 2 })).data;",
            &logs,
        )
        .await;
    let accepted = paused_id(&paused);
    let mark = upstream.mark();
    let resumed = api
        .post(
            &format!("/api/executions/{accepted}/resume"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}\n{}", resumed.text(), logs());
    assert_eq!(resumed.json()["status"], "completed");
    assert_eq!(
        upstream
            .requests_since(mark)
            .iter()
            .map(|r| r.line())
            .collect::<Vec<_>>(),
        vec!["GET /pets/2"],
        "the replay called nothing again"
    );

    // Approval, declined (a 404 pet, so an accepted one would have shown a 404).
    let declined = paused_id(
        &api.execute(
            "return await tools.petstore.org.main.pets.getPet({ petId: 999 });",
            &logs,
        )
        .await,
    );
    let refused = api
        .post(
            &format!("/api/executions/{declined}/resume"),
            &json!({"action": "decline"}),
        )
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text());
    assert_eq!(refused.json()["isError"], true);

    // An allowed call whose arguments do not fit (refused before any request).
    api.execute(
        "return await tools.petstore.org.main.pets.listPets({ limit: 'x' });",
        &logs,
    )
    .await;

    let all = rows(&api, &canary, "").await;
    assert_eq!(
        summary(&all),
        vec![
            row(
                "pets.listPets",
                "allowed",
                "invalid_tool_arguments",
                Value::Null
            ),
            row("pets.getPet", "declined", "not_run", Value::Null),
            row("pets.getPet", "approval_required", "pending", Value::Null),
            row("pets.getPet", "approved", "ok", json!(200)),
            row("pets.getPet", "approval_required", "pending", Value::Null),
            row("pets.listPets", "allowed", "ok", json!(200)),
            row("pets.deletePet", "blocked", "tool_blocked", Value::Null),
            row("store.getInventory", "allowed", "ok", json!(200)),
            row("pets.listPets", "allowed", "ok", json!(200)),
        ],
        "{all:#?}"
    );
    for r in &all {
        assert!(r["durationMs"].as_i64().is_some_and(|d| d >= 0), "{r}");
        assert!(
            r["time"].as_i64().is_some_and(|t| t > 1_700_000_000_000),
            "{r}"
        );
        assert_eq!(r["principal"]["subject"], "dev", "{r}");
        assert_eq!(r["integration"], "petstore", "{r}");
        assert_eq!(r["connection"], "org.main", "{r}");
    }
    assert_eq!(all[1]["executionId"], json!(declined));
    assert_eq!(all[3]["executionId"], json!(accepted));
    assert_eq!(all[4]["executionId"], json!(accepted));
    assert_eq!(all[5]["executionId"], json!(accepted));
    assert_eq!(all[6]["executionId"], Value::Null);
    // Time spent in upstream calls, in sum (workerd moves its clock across I/O).
    metric(
        "upstream_call_ms_total",
        all.iter()
            .filter(|r| r["httpStatus"] == 200)
            .map(|r| r["durationMs"].as_i64().unwrap_or(0))
            .sum::<i64>(),
    );

    // Paging: three at a time, each row once, in order.
    let mut paged = Vec::new();
    let mut query = "limit=3".to_owned();
    for _ in 0..10 {
        let (status, page) = audit(&api, &canary, &query).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // Filters.
    let count = |rows: Vec<Value>| rows.len();
    assert_eq!(count(rows(&api, &canary, "decision=blocked").await), 1);
    assert_eq!(count(rows(&api, &canary, "decision=approved").await), 1);
    assert_eq!(count(rows(&api, &canary, "decision=declined").await), 1);
    assert_eq!(count(rows(&api, &canary, "outcome=ok").await), 4);
    assert_eq!(
        count(rows(&api, &canary, "address=tools.petstore.org.main.pets.get").await),
        4
    );
    assert_eq!(count(rows(&api, &canary, "integration=petstore").await), 9);
    assert_eq!(count(rows(&api, &canary, "integration=other").await), 0);
    assert_eq!(count(rows(&api, &canary, "principal=dev").await), 9);
    let newest = all[0]["time"].as_i64().unwrap_or_default();
    assert_eq!(
        count(rows(&api, &canary, &format!("from={}", newest + 1)).await),
        0
    );
    assert_eq!(
        count(rows(&api, &canary, &format!("to={newest}&from=2020-01-01")).await),
        all.iter()
            .filter(|r| r["time"].as_i64() < Some(newest))
            .count()
    );
    let (status, bad) = audit(&api, &canary, "decision=maybe").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["_tag"], "InvalidAuditFilterError");
    assert_eq!(bad["field"], "decision");

    // The console's Audit page in Chromium (skipped when there is no browser).
    browser_check(&worker.base_url(), &canary, &logs).await;

    // Cost: one tool call per execution, with the log on (this Worker) and off (a second
    // Worker set up the same way with `AUDIT_MAX_ROWS=0`), requests alternating between the two
    // so that load on the machine hits both alike.
    let worker_off = start_on(
        provision::local::temp_state_dir("audit-off"),
        &[("ALLOW_LOCAL_NETWORK", "true"), ("AUDIT_MAX_ROWS", "0")],
        Some(log_off.clone()),
    )
    .await;
    let logs_off = || worker_off.logs();
    let api_off = Api::new(worker_off.base_url());
    connect(&api_off, &spec_url, &canary, &logs_off).await;
    let code = "return (await tools.petstore.org.main.pets.listPets({ limit: 1 })).ok;";
    let rows_before = rows(&api, &canary, "limit=200").await.len();
    let (on, off) = latency_pair(&api, &api_off, code, 40, &logs).await;
    assert_eq!(
        rows(&api, &canary, "limit=200").await.len(),
        rows_before + 43,
        "one row per audited execution"
    );
    assert_eq!(
        rows(&api_off, &canary, "").await,
        Vec::<Value>::new(),
        "AUDIT_MAX_ROWS=0 records nothing"
    );
    let (p50_on, p90_on) = (percentile(&on, 50), percentile(&on, 90));
    let (p50_off, p90_off) = (percentile(&off, 50), percentile(&off, 90));
    metric("execute_one_call_p50_ms_on", format!("{p50_on:.1}"));
    metric("execute_one_call_p90_ms_on", format!("{p90_on:.1}"));
    metric("execute_one_call_p50_ms_off", format!("{p50_off:.1}"));
    metric("execute_one_call_p90_ms_off", format!("{p90_off:.1}"));
    metric(
        "execute_one_call_p50_delta_ms",
        format!("{:.1}", p50_on - p50_off),
    );

    assert_state_has_no_plaintext(&canary, worker.persist_to());
    assert_state_has_no_plaintext(&canary, worker_off.persist_to());
    worker.stop().await;
    worker_off.stop().await;
    assert_canary_absent(&canary, &api, &log_on).await;
    assert_canary_absent(&canary, &api_off, &log_off).await;
}

/// Adds the petstore from `spec_url` and an org connection `main` holding `canary`.
async fn connect(api: &Api, spec_url: &str, canary: &str, logs: &dyn Fn() -> String) {
    let added = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "url", "url": spec_url}, "slug": "petstore"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    let connection = api
        .post(
            "/api/connections",
            &json!({"owner":"org","name":"main","integration":"petstore","template":"apikey-0",
                    "value":canary}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
}

/// Milliseconds of `n` executions of `code` on each of `a` and `b`, alternating (after three
/// warm-up runs each), sorted.
async fn latency_pair(
    a: &Api,
    b: &Api,
    code: &str,
    n: usize,
    logs: &dyn Fn() -> String,
) -> (Vec<f64>, Vec<f64>) {
    let mut samples = (Vec::with_capacity(n), Vec::with_capacity(n));
    for round in 0..n + 3 {
        // Alternate which goes first, too.
        let order: [(&Api, bool); 2] = if round % 2 == 0 {
            [(a, true), (b, false)]
        } else {
            [(b, false), (a, true)]
        };
        for (api, is_a) in order {
            let start = std::time::Instant::now();
            let body = api.execute(code, logs).await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(body["structured"]["result"], true, "{body}");
            if round >= 3 {
                if is_a {
                    samples.0.push(ms);
                } else {
                    samples.1.push(ms);
                }
            }
        }
    }
    samples.0.sort_by(f64::total_cmp);
    samples.1.sort_by(f64::total_cmp);
    samples
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Runs `tests/js/audit.mjs` (the Audit page in headless Chromium) against `base`.
async fn browser_check(base: &str, canary: &str, logs: &dyn Fn() -> String) {
    let has_chromium = std::process::Command::new("sh")
        .args(["-c", "command -v chromium || command -v chromium-browser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_chromium {
        eprintln!(
            "SKIPPED the Audit page in Chromium: no chromium (provision setup --with-browser)"
        );
        return;
    }
    let root = crate::support::root();
    let shots = std::env::temp_dir().join(format!(
        "executor-audit-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let run = tokio::process::Command::new(root.join("node_modules/.bin/node"))
        .arg(root.join("tests/js/audit.mjs"))
        .arg(base)
        .arg(&shots)
        .arg(canary)
        .current_dir(&root)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the Audit page script finished within 2 minutes")
        .expect("node runs (npm ci installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report from audit.mjs:\n{stderr}\n{stdout}"));
    assert_eq!(
        report["ok"],
        true,
        "the Audit page: {}\n{stderr}\n{}",
        report["error"].as_str().unwrap_or("?"),
        logs()
    );
    eprintln!(
        "audit page: {} rows, {} blocked, error shown as {:?}; screenshots in {}",
        report["rows"],
        report["blockedRows"],
        report["errorText"].as_str().unwrap_or(""),
        shots.display()
    );
}
