//! MCP browser-mode approvals on real workerd (executor-behaviour.md §3.11, §6.5, §6.6): a
//! session opened with `?elicitation_mode=browser` gets an approval link instead of the
//! question; its `resume` blocks until the console's route records the decision in D1, then
//! answers the run's outcome. Decline, a `resume` nobody answers in time (the wait is shortened
//! with `MCP_BROWSER_APPROVAL_WAIT_SECONDS`), unknown ids, the open-approvals list and the
//! route's 4xx answers.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use executor_tests::upstream::{Recorded, Upstream};
use serde_json::{json, Value};

use crate::catalog::Api;
use crate::mcp::initialize_body;
use crate::support::{client, enabled, start, Answer};

const WAIT_SECONDS: u64 = 6;

async fn mcp(base: &str, query: &str, session: Option<&str>, body: &Value) -> Answer {
    let mut req = client()
        .post(format!("{base}/mcp{query}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(id) = session {
        req = req
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    Answer::from(req.send().await.expect("request sent")).await
}

async fn call(base: &str, session: &str, name: &str, arguments: Value) -> Value {
    let answer = mcp(
        base,
        "",
        Some(session),
        &json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
                "params":{"name":name,"arguments":arguments}}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_mode_waits_for_the_console_decision() {
    if !enabled("browser_mode_waits_for_the_console_decision") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let spec_url = upstream.serve_petstore().expect("the petstore fixture");
    let wait = WAIT_SECONDS.to_string();
    let worker = start(
        "browser-approvals",
        &[
            ("ALLOW_LOCAL_NETWORK", "true"),
            ("MCP_BROWSER_APPROVAL_WAIT_SECONDS", wait.as_str()),
        ],
    )
    .await;
    let base = worker.base_url();
    let logs = || worker.logs();
    let api = Api::new(base.clone());
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
                    "value":"browser-e2e-key"}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}", connection.text());
    let policy = api
        .post(
            "/api/policies",
            &json!({"owner":"user","pattern":"petstore.org.main.pets.getPet",
                    "action":"require_approval"}),
        )
        .await;
    assert_eq!(policy.status, 200, "{}", policy.text());

    // A browser-mode session.
    let init = mcp(
        &base,
        "?elicitation_mode=browser",
        None,
        &initialize_body(1, "2025-06-18"),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.text());
    let sid = init.header("mcp-session-id").expect("a session id");
    let listed = mcp(
        &base,
        "",
        Some(&sid),
        &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
    )
    .await;
    let tools = listed.json()["result"]["tools"].clone();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["execute", "resume"]);
    assert_eq!(tools[1]["inputSchema"]["required"], json!(["executionId"]));

    // execute pauses with the approval link.
    let mark = upstream.mark();
    let paused = call(
        &base,
        &sid,
        "execute",
        json!({"code":
        "return await tools.petstore.org.main.pets.getPet({ petId: 2 });"}),
    )
    .await;
    let s = &paused["structuredContent"];
    assert_eq!(
        s["status"],
        "user_approval_required",
        "{paused}\n{}",
        logs()
    );
    let id = s["executionId"].as_str().unwrap().to_owned();
    assert_eq!(
        s["approvalUrl"],
        format!("{base}/resume/{id}?mcp_session_id={sid}")
    );
    assert!(paused["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("User approval required."));
    assert!(upstream.requests_since(mark).is_empty());

    // The console sees it in the open-approvals list and on the session's route.
    let list = api.get("/api/executions?status=paused").await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json()["executions"][0]["executionId"], id.as_str());
    assert_eq!(list.json()["executions"][0]["mcpSessionId"], sid.as_str());
    let route = format!("/api/mcp-sessions/{sid}/executions/{id}");
    let shown = api.get(&route).await;
    assert_eq!(shown.status, 200, "{}", shown.text());
    assert_eq!(
        shown.json()["structured"]["interaction"]["args"],
        json!({"petId": 2})
    );
    assert_eq!(
        api.get(&format!("/api/mcp-sessions/nope/executions/{id}"))
            .await
            .status,
        404
    );
    let other = "ab".repeat(32);
    assert_eq!(
        api.get(&format!("/api/mcp-sessions/{other}/executions/{id}"))
            .await
            .status,
        404
    );
    let bad = api
        .post(&format!("{route}/resume"), &json!({"action": "maybe"}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());

    // resume blocks until the decision; then answers the completed run.
    let waiting = {
        let (base, sid, id) = (base.clone(), sid.clone(), id.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let result = call(&base, &sid, "resume", json!({"executionId": id})).await;
            (result, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished(), "resume must wait for the decision");
    let decided = api
        .post(&format!("{route}/resume"), &json!({"action": "accept"}))
        .await;
    assert_eq!(decided.status, 200, "{}\n{}", decided.text(), logs());
    let d = decided.json();
    assert_eq!(d["text"], "I've approved it");
    assert_eq!(
        d["structured"],
        json!({"status": "approved", "executionId": id})
    );
    assert_eq!(d["outcome"]["status"], "completed");
    let (result, took) = waiting.await.expect("the resume task");
    assert_eq!(
        result["structuredContent"]["status"], "completed",
        "{result}"
    );
    assert_eq!(result["structuredContent"]["result"]["data"]["id"], 2);
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    let calls: Vec<String> = upstream
        .requests_since(mark)
        .iter()
        .map(Recorded::line)
        .collect();
    assert_eq!(calls, ["GET /pets/2"], "the approved call ran once");
    // Spent: the link answers 404, a repeated resume answers the recorded outcome.
    assert_eq!(api.get(&route).await.status, 404);
    let again = call(&base, &sid, "resume", json!({"executionId": id})).await;
    assert_eq!(again["structuredContent"], result["structuredContent"]);

    // Decline: the blocked call rejects inside the script.
    let paused = call(
        &base,
        &sid,
        "execute",
        json!({"code":
        "return await tools.petstore.org.main.pets.getPet({ petId: 3 });"}),
    )
    .await;
    let id2 = paused["structuredContent"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = {
        let (base, sid, id2) = (base.clone(), sid.clone(), id2.clone());
        tokio::spawn(async move { call(&base, &sid, "resume", json!({"executionId": id2})).await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let declined = api
        .post(
            &format!("/api/mcp-sessions/{sid}/executions/{id2}/resume"),
            &json!({"action": "decline"}),
        )
        .await;
    assert_eq!(declined.status, 200, "{}", declined.text());
    assert_eq!(declined.json()["text"], "I've denied it");
    let result = waiting.await.expect("the resume task");
    assert_eq!(result["isError"], true, "{result}");
    assert!(result["structuredContent"]["error"]
        .as_str()
        .unwrap()
        .contains("declined by the user"));

    // Nobody decides: after the (shortened) wait, the link again.
    let paused = call(
        &base,
        &sid,
        "execute",
        json!({"code":
        "return await tools.petstore.org.main.pets.getPet({ petId: 4 });"}),
    )
    .await;
    let id3 = paused["structuredContent"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    let again = call(&base, &sid, "resume", json!({"executionId": id3})).await;
    assert_eq!(
        again["structuredContent"]["status"], "user_approval_required",
        "{again}"
    );
    assert_eq!(again["structuredContent"]["executionId"], id3.as_str());
    assert!(
        started.elapsed() >= Duration::from_secs(WAIT_SECONDS - 1),
        "{:?}",
        started.elapsed()
    );

    // Unknown ids.
    let missing = call(
        &base,
        &sid,
        "resume",
        json!({"executionId": "exec_00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_eq!(
        missing["structuredContent"]["status"], "execution_not_found",
        "{missing}"
    );
    assert!(missing["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("run the execute tool again"));
}
