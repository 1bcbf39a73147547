//! Native MCP elicitation on real workerd (executor-behaviour.md §6.4, §6.6): the session's GET
//! event stream, `elicitation/create` answered by the official TypeScript SDK client, the
//! fallback for clients that cannot be asked, and duplicate request ids over raw HTTP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::mcp::{initialize_body, post};
use crate::support::{client, enabled, root, start};

const CREATE_POLICY: &str = "return await tools.executor.coreTools.policies.create(\
    { owner: 'user', pattern: 'raw.*', action: 'block' });";

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_elicitation_with_the_official_sdk_client() {
    if !enabled("native_elicitation_with_the_official_sdk_client") {
        return;
    }
    let worker = start("mcp-native-sdk", &[]).await;
    let root = root();
    let output = tokio::process::Command::new(root.join("node_modules/.bin/node"))
        .arg(root.join("tests/js/mcp-native.mjs"))
        .arg(worker.base_url())
        .current_dir(&root)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "SDK client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        worker.logs()
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("the client prints JSON");

    let accept = &report["accept"];
    assert_eq!(accept["toolNames"], json!(["execute"]));
    assert_eq!(
        accept["asked"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    let asked = &accept["asked"][0];
    assert!(asked["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("Approve executor.coreTools.policies.create?"));
    assert_eq!(
        asked["requestedSchema"],
        json!({"type": "object", "properties": {}})
    );
    assert_eq!(
        accept["result"]["structuredContent"]["status"], "completed",
        "{report}"
    );
    assert_eq!(accept["result"]["structuredContent"]["result"]["ok"], true);

    let decline = &report["decline"]["result"];
    assert_eq!(decline["isError"], true, "{report}");
    assert!(text(decline).contains("declined by the user"), "{report}");

    let fallback = &report["noCapability"]["result"];
    assert_eq!(
        fallback["structuredContent"]["status"],
        "waiting_for_interaction"
    );
    assert!(text(fallback).contains("did not declare the elicitation capability"));

    assert_eq!(
        report["model"]["result"]["structuredContent"]["status"],
        "completed"
    );

    // Only the accepted runs created their policies.
    let policies: Value = client()
        .get(format!("{}/api/policies", worker.base_url()))
        .send()
        .await
        .expect("policies")
        .json()
        .await
        .expect("JSON");
    let mut patterns: Vec<&str> = policies
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["pattern"].as_str())
        .collect();
    patterns.sort_unstable();
    assert_eq!(
        patterns,
        vec!["accepted.*", "accepted2.*", "model.*", "model2.*"]
    );

    eprintln!(
        "native latency (ms): accept total {:.0} / {:.0} (to the question {:.0}, after the answer \
         {:.0}); model execute+resume {:.0} / {:.0} (execute {:.0}, resume {:.0}); plain execute {}",
        accept["totalMs"].as_f64().unwrap_or(0.0),
        report["accept2"]["totalMs"].as_f64().unwrap_or(0.0),
        report["accept2"]["toAskMs"].as_f64().unwrap_or(0.0),
        report["accept2"]["afterAnswerMs"].as_f64().unwrap_or(0.0),
        report["model"]["totalMs"].as_f64().unwrap_or(0.0),
        report["model2"]["totalMs"].as_f64().unwrap_or(0.0),
        report["model2"]["executeMs"].as_f64().unwrap_or(0.0),
        report["model2"]["resumeMs"].as_f64().unwrap_or(0.0),
        report["plain"]["times"],
    );
    worker.stop().await;
}

/// Reads the stream until the next `event: message`, returning its data (pings are skipped).
async fn next_message(
    stream: &mut reqwest::Response,
    buffer: &mut String,
    wait: Duration,
) -> Option<Value> {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(data) = frame.strip_prefix("event: message\ndata: ") {
                return serde_json::from_str(data.trim()).ok();
            }
        }
        let chunk = tokio::time::timeout(wait, stream.chunk())
            .await
            .ok()?
            .ok()??;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_stream_over_raw_http_and_duplicate_request_ids() {
    if !enabled("native_stream_over_raw_http_and_duplicate_request_ids") {
        return;
    }
    let worker = start("mcp-native-raw", &[("MCP_ELICITATION_TIMEOUT_MS", "4000")]).await;
    let base = worker.base_url().to_string();
    let mut init = initialize_body(0, "2025-06-18");
    init["params"]["capabilities"] = json!({"elicitation": {}});
    let created = crate::support::client()
        .post(format!("{base}/mcp?elicitation_mode=native"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string())
        .send()
        .await
        .expect("initialize");
    assert_eq!(created.status(), 200);
    let sid = created.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let get = |accept: &'static str| {
        client()
            .get(format!("{base}/mcp"))
            .header("mcp-session-id", &sid)
            .header("accept", accept)
            .send()
    };

    let refused = get("application/json").await.expect("GET");
    assert_eq!(refused.status(), 406);
    let mut stream = get("text/event-stream").await.expect("GET");
    assert_eq!(stream.status(), 200);
    let head = stream.headers();
    assert_eq!(head["content-type"], "text/event-stream");
    assert_eq!(head["cache-control"], "no-cache");
    assert_eq!(head["mcp-session-id"], sid.as_str());
    assert_eq!(head["access-control-allow-origin"], "*");
    let mut buffer = String::new();

    // The same request id twice: the second waits for the first and gets its answer; one
    // question, one run.
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "execute", "arguments": {"code": CREATE_POLICY}}});
    let first = tokio::spawn({
        let (base, sid, call) = (base.clone(), sid.clone(), call.clone());
        async move { post(&base, Some(&sid), &call).await }
    });
    let asked = next_message(&mut stream, &mut buffer, Duration::from_secs(20))
        .await
        .expect("an elicitation/create on the stream");
    assert_eq!(asked["method"], "elicitation/create");
    let second = tokio::spawn({
        let (base, sid, call) = (base.clone(), sid.clone(), call.clone());
        async move { post(&base, Some(&sid), &call).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer =
        json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {}}});
    let answered = post(&base, Some(&sid), &answer).await;
    assert_eq!(answered.status, 202);
    let (first, second) = (first.await.expect("first"), second.await.expect("second"));
    assert_eq!(first.status, 200);
    let first = first.json();
    assert_eq!(
        first["result"]["structuredContent"]["status"], "completed",
        "{first}"
    );
    assert_eq!(second.json(), first);
    assert!(
        next_message(&mut stream, &mut buffer, Duration::from_millis(500))
            .await
            .is_none(),
        "a second question was sent"
    );

    // Nobody answers: after MCP_ELICITATION_TIMEOUT_MS the gated call is cancelled.
    let unanswered = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                            "params": {"name": "execute", "arguments": {"code": CREATE_POLICY}}});
    let done = post(&base, Some(&sid), &unanswered).await.json();
    assert!(
        text(&done["result"]).contains("cancelled by the user"),
        "{done}"
    );

    // A second GET replaces the first, which ends.
    let replacement = get("text/event-stream").await.expect("GET");
    assert_eq!(replacement.status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the replaced stream stays open");

    // The client loses its stream without telling us. Either the platform reports it (the
    // pause comes back with the model-mode fallback), or the question waits and is sent again
    // when the client opens a new stream.
    drop(replacement);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let gone = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "execute", "arguments": {"code": CREATE_POLICY}}});
    let pending = tokio::spawn({
        let (base, sid) = (base.clone(), sid.clone());
        async move { post(&base, Some(&sid), &gone).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut reconnected = get("text/event-stream").await.expect("GET");
    let mut buffer = String::new();
    let path = if pending.is_finished() {
        let done = pending.await.expect("POST").json();
        assert!(
            text(&done["result"]).contains("no open GET event stream"),
            "{done}"
        );
        "fallback"
    } else {
        let asked = next_message(&mut reconnected, &mut buffer, Duration::from_secs(5))
            .await
            .expect("the question again on the new stream");
        assert_eq!(asked["method"], "elicitation/create");
        let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}});
        assert_eq!(post(&base, Some(&sid), &answer).await.status, 202);
        let done = pending.await.expect("POST").json();
        assert!(
            text(&done["result"]).contains("declined by the user"),
            "{done}"
        );
        "asked again on the new stream"
    };
    eprintln!("a lost stream: {path}");
    drop(reconnected);

    let policies: Value = client()
        .get(format!("{base}/api/policies"))
        .send()
        .await
        .expect("policies")
        .json()
        .await
        .expect("JSON");
    let raw = policies
        .as_array()
        .expect("a list")
        .iter()
        .filter(|p| p["pattern"] == "raw.*")
        .count();
    assert_eq!(raw, 1);
    worker.stop().await;
}
