//! `/mcp` speaking protocol 2026-07-28 on real workerd: no `initialize`, no session, answered by
//! the Worker itself; approvals as `input_required` round trips, driven by the official
//! TypeScript client v2 (`@modelcontextprotocol/client`); raw HTTP checks of `server/discover`
//! and the version errors; legacy clients still get a session; and the latency of a stateless
//! `execute` next to the session path (p50 over 200 sequential requests, printed as metrics).

use std::time::Instant;

use serde_json::{json, Value};

use crate::catalog::Api;
use crate::mcp::{initialize_body, post, post_with};
use crate::support::{client, enabled, root, start, Answer};

const V: &str = "2026-07-28";
const GATED: &str = "const r = await tools.executor.coreTools.connections.list({});\n\
                     return { ok: r.ok };";

fn body(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": V,
        "io.modelcontextprotocol/clientInfo": { "name": "e2e", "version": "0.1.0" },
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

async fn stateless(base: &str, body: &Value) -> Answer {
    let method = body["method"].as_str().unwrap_or("").to_owned();
    post_with(
        base,
        None,
        body,
        &[("mcp-protocol-version", V), ("mcp-method", &method)],
    )
    .await
}

fn run_client(base: &str, decision: &str) -> std::process::Output {
    let root = root();
    std::process::Command::new(root.join("node_modules/.bin/node"))
        .arg(root.join("tests/js/mcp-client-2026.mjs"))
        .arg(format!("{base}/mcp"))
        .arg(GATED)
        .arg(decision)
        .current_dir(&root)
        .output()
        .expect("node runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_client_v2_runs_statelessly_with_input_required_approvals() {
    if !enabled("the_typescript_client_v2_runs_statelessly_with_input_required_approvals") {
        return;
    }
    let worker = start("mcp-2026-client", &[]).await;
    let base = worker.base_url();
    let api = Api::new(base.clone());
    let policy = api
        .post(
            "/api/policies",
            &json!({"owner":"user","pattern":"executor.coreTools.connections.list",
                    "action":"require_approval"}),
        )
        .await;
    assert_eq!(policy.status, 200, "{}", policy.text());

    let output = tokio::task::spawn_blocking({
        let base = base.clone();
        move || run_client(&base, "accept")
    })
    .await
    .expect("joined");
    assert!(
        output.status.success(),
        "client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        worker.logs()
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("the client prints JSON");
    assert_eq!(report["protocolVersion"], V, "{report}");
    assert_eq!(report["serverVersion"]["name"], "executor");
    assert_eq!(report["toolNames"], json!(["execute", "resume"]));
    assert_eq!(
        report["answer"]["structuredContent"]["result"], 42,
        "{report}"
    );
    assert_eq!(
        report["gated"]["structuredContent"]["result"]["ok"], true,
        "{report}"
    );
    let asked = report["asked"].as_array().expect("asked");
    assert_eq!(asked.len(), 1, "{report}");
    assert!(asked[0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("coreTools.connections.list"));
    let exchanges = report["exchanges"].as_array().expect("exchanges");
    assert_eq!(exchanges[0]["method"], "server/discover", "{report}");
    assert!(!exchanges.iter().any(|e| e["method"] == "initialize"));
    for e in exchanges {
        assert!(
            e["sentSession"].is_null() && e["receivedSession"].is_null(),
            "{e}"
        );
        assert_eq!(e["status"], 200, "{e}");
    }
    // The approval took two tools/call round trips (input_required, then the answer).
    let calls = exchanges
        .iter()
        .filter(|e| e["sentMcpMethod"] == "tools/call")
        .count();
    assert_eq!(calls, 3, "{report}");

    // Declining makes the gated call fail inside the script.
    let declined = tokio::task::spawn_blocking({
        let base = base.clone();
        move || run_client(&base, "decline")
    })
    .await
    .expect("joined");
    assert!(declined.status.success());
    let report: Value = serde_json::from_slice(&declined.stdout).expect("JSON");
    assert_eq!(report["gated"]["isError"], true, "{report}");
    worker.stop().await;
}

fn p50(mut samples: Vec<u128>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2] as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_wire_rules_legacy_sessions_and_latency() {
    if !enabled("stateless_wire_rules_legacy_sessions_and_latency") {
        return;
    }
    let worker = start("mcp-2026-raw", &[]).await;
    let base = worker.base_url();

    // server/discover.
    let discover = stateless(&base, &body(1, "server/discover", json!({}))).await;
    assert_eq!(discover.status, 200, "{}", discover.text());
    assert!(discover.header("mcp-session-id").is_none());
    let result = &discover.json()["result"];
    assert_eq!(result["resultType"], "complete");
    assert!(result["supportedVersions"]
        .as_array()
        .expect("a list")
        .contains(&json!(V)));
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "executor"
    );

    // Version errors.
    let mut future = body(2, "tools/list", json!({}));
    future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2030-01-01");
    let unsupported = post_with(
        &base,
        None,
        &future,
        &[("mcp-protocol-version", "2030-01-01")],
    )
    .await;
    assert_eq!(unsupported.status, 400, "{}", unsupported.text());
    assert_eq!(unsupported.json()["error"]["code"], -32022);
    assert!(unsupported.json()["error"]["data"]["supported"]
        .as_array()
        .expect("a list")
        .contains(&json!(V)));
    let no_header = post(&base, None, &body(3, "tools/list", json!({}))).await;
    assert_eq!(no_header.status, 400, "{}", no_header.text());
    assert_eq!(no_header.json()["error"]["code"], -32020);
    let mismatch = post_with(
        &base,
        None,
        &body(4, "tools/list", json!({})),
        &[("mcp-protocol-version", V), ("mcp-method", "ping")],
    )
    .await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.json()["error"]["code"], -32020);
    let preflight = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/mcp"))
        .send()
        .await
        .expect("sent");
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(allowed.contains("mcp-method") && allowed.contains("mcp-name"));

    // Legacy clients keep their sessions, and their results never carry resultType.
    let init = post(&base, None, &initialize_body(1, "2025-06-18")).await;
    assert_eq!(init.status, 200, "{}", init.text());
    assert_eq!(init.json()["result"]["protocolVersion"], "2025-06-18");
    let session = init.header("mcp-session-id").expect("a session");
    let listed = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
    )
    .await;
    assert!(listed.json()["result"].get("resultType").is_none());
    // `initialize` naming 2026-07-28 still opens a session, at our newest handshake version.
    let init_new = post(&base, None, &initialize_body(1, V)).await;
    assert_eq!(init_new.status, 200, "{}", init_new.text());
    assert_eq!(init_new.json()["result"]["protocolVersion"], "2025-11-25");
    assert!(init_new.header("mcp-session-id").is_some());

    // Latency: 200 sequential requests per path, after a short warm-up.
    let execute = |id: u64| {
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
               "params":{"name":"execute","arguments":{"code":"return 1+1"}}})
    };
    let stateless_execute = |id: u64| {
        body(
            id,
            "tools/call",
            json!({"name":"execute","arguments":{"code":"return 1+1"}}),
        )
    };
    let api = Api::new(base.clone());
    const N: usize = 200;
    let (mut floor, mut ping, mut fresh, mut legacy) = (vec![], vec![], vec![], vec![]);
    for round in 0..(N + 10) {
        let id = round as u64 + 10;
        let t = Instant::now();
        let me = api.get("/api/account/me").await;
        let floor_us = t.elapsed().as_micros();
        assert_eq!(me.status, 200);

        let t = Instant::now();
        let p = stateless(&base, &body(id, "ping", json!({}))).await;
        let ping_us = t.elapsed().as_micros();
        assert_eq!(p.status, 200);

        let t = Instant::now();
        let s = stateless(&base, &stateless_execute(id)).await;
        let fresh_us = t.elapsed().as_micros();
        assert_eq!(
            s.json()["result"]["structuredContent"]["result"],
            2,
            "{}",
            s.text()
        );

        let t = Instant::now();
        let l = post(&base, Some(&session), &execute(id)).await;
        let legacy_us = t.elapsed().as_micros();
        assert_eq!(
            l.json()["result"]["structuredContent"]["result"],
            2,
            "{}",
            l.text()
        );

        if round >= 10 {
            floor.push(floor_us);
            ping.push(ping_us);
            fresh.push(fresh_us);
            legacy.push(legacy_us);
        }
    }
    eprintln!("metric mcp2026.p50_ms.api_account_me={:.2}", p50(floor));
    eprintln!("metric mcp2026.p50_ms.stateless_ping={:.2}", p50(ping));
    eprintln!("metric mcp2026.p50_ms.stateless_execute={:.2}", p50(fresh));
    eprintln!("metric mcp2026.p50_ms.session_execute={:.2}", p50(legacy));
    worker.stop().await;
}
