//! `/mcp` on real workerd: the session lifecycle in the Durable Object, the envelope rules, and
//! the official TypeScript SDK client.

use serde_json::{json, Value};

use crate::support::{client, enabled, root, start, Answer};

pub fn initialize_body(id: u64, version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{
        "protocolVersion":version,"capabilities":{},"clientInfo":{"name":"e2e","version":"0.1.0"}}})
}

/// POSTs a JSON-RPC body to `/mcp` with the headers a streamable-HTTP client sends.
pub async fn post(base: &str, session: Option<&str>, body: &Value) -> Answer {
    post_with(base, session, body, &[]).await
}

pub async fn post_with(
    base: &str,
    session: Option<&str>,
    body: &Value,
    extra: &[(&str, &str)],
) -> Answer {
    // A fresh client per call: every request is a new connection.
    let mut req = client()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(id) = session {
        req = req
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    Answer::from(req.send().await.expect("request sent")).await
}

async fn delete(base: &str, session: &str) -> Answer {
    let req = client()
        .delete(format!("{base}/mcp"))
        .header("mcp-session-id", session);
    Answer::from(req.send().await.expect("request sent")).await
}

fn assert_jsonrpc_error(answer: &Answer, status: u16, code: i64) {
    assert_eq!(answer.status, status, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["id"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_execute_and_envelope_rules() {
    if !enabled("session_lifecycle_execute_and_envelope_rules") {
        return;
    }
    let worker = start("mcp", &[]).await;
    let base = worker.base_url();

    let init = post(&base, None, &initialize_body(1, "2025-06-18")).await;
    assert_eq!(init.status, 200, "{}\n{}", init.text(), worker.logs());
    let session = init.header("mcp-session-id").expect("a session id");
    assert_eq!(session.len(), 64);
    assert!(session
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(
        init.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        init.json(),
        json!({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18",
            "capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"executor","version":"1.0.0"}}})
    );

    let notified = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await;
    assert_eq!((notified.status, notified.body.len()), (202, 0));

    let ping = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":2,"method":"ping"}),
    )
    .await;
    assert_eq!(ping.json(), json!({"jsonrpc":"2.0","id":2,"result":{}}));

    let list = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
    )
    .await;
    let tools = list.json()["result"]["tools"].clone();
    assert_eq!(tools[0]["name"], "execute", "{tools}");

    let call = json!({"jsonrpc":"2.0","id":4,"method":"tools/call",
        "params":{"name":"execute","arguments":{"code":"return 6 * 7"}}});
    let answer = post(&base, Some(&session), &call).await;
    assert_eq!(answer.status, 200, "{}", worker.logs());
    let result = answer.json()["result"].clone();
    assert_eq!(result["content"], json!([{"type":"text","text":"42"}]));
    assert_eq!(result["structuredContent"]["result"], 42);
    assert!(result.get("isError").is_none());

    // The same session id keeps working on a brand-new connection (post() uses a new client).
    let again = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
        "params":{"name":"execute","arguments":{"code":"1 + 1"}}}),
    )
    .await;
    assert_eq!(again.json()["result"]["structuredContent"]["result"], 2);

    // Method-level problems are JSON-RPC errors or tool results, never 500s.
    let unknown = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":6,"method":"resources/list"}),
    )
    .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.json()["error"]["code"], -32601);
    let no_tool = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
        "params":{"name":"nope","arguments":{}}}),
    )
    .await;
    assert_eq!(no_tool.json()["result"]["isError"], true);
    let batch = post(
        &base,
        Some(&session),
        &json!([
            {"jsonrpc":"2.0","id":8,"method":"ping"},
            {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}},
            {"jsonrpc":"2.0","id":9,"method":"tools/list"}
        ]),
    )
    .await;
    let replies = batch.json();
    assert_eq!(replies.as_array().map(Vec::len), Some(2), "{replies}");
    assert_eq!(replies[0]["id"], 8);
    let parse = post_with(&base, Some(&session), &json!("not-an-object"), &[]).await;
    assert_eq!(parse.status, 400);
    let wrong_accept = client()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .header("mcp-session-id", &session)
        .body(json!({"jsonrpc":"2.0","id":10,"method":"ping"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_accept.status().as_u16(), 406);

    // DELETE ends the session; the id is then unknown; a second DELETE is a no-op.
    let ended = delete(&base, &session).await;
    assert_eq!(ended.status, 200);
    let gone = post(
        &base,
        Some(&session),
        &json!({"jsonrpc":"2.0","id":11,"method":"ping"}),
    )
    .await;
    assert_jsonrpc_error(&gone, 404, -32001);
    assert_eq!(delete(&base, &session).await.status, 204);

    // Ids the namespace never minted, or malformed ones: JSON-RPC 404, never a 500.
    let zeros = "0".repeat(64);
    assert_jsonrpc_error(
        &post(
            &base,
            Some(&zeros),
            &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await,
        404,
        -32001,
    );
    assert_jsonrpc_error(
        &post(
            &base,
            Some("deadbeef"),
            &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await,
        404,
        -32001,
    );

    // Only initialize creates sessions.
    let stray = post(
        &base,
        None,
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    )
    .await;
    assert_jsonrpc_error(&stray, 400, -32600);

    // Envelope rules: preflight, methods, Origin.
    let preflight = client()
        .request(reqwest::Method::OPTIONS, format!("{base}/mcp"))
        .send()
        .await
        .expect("sent");
    assert_eq!(preflight.status().as_u16(), 204);
    let put = client()
        .put(format!("{base}/mcp"))
        .send()
        .await
        .expect("sent");
    assert_eq!(put.status().as_u16(), 405);
    let evil = post_with(
        &base,
        None,
        &initialize_body(1, "2025-06-18"),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_jsonrpc_error(&evil, 403, -32003);
    let get_without_session = client()
        .get(format!("{base}/mcp"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("sent");
    assert_eq!(get_without_session.status().as_u16(), 400);

    // Version negotiation: every supported version is echoed; unknown ones get our latest.
    for version in [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        "2099-01-01",
    ] {
        let init = post(&base, None, &initialize_body(1, version)).await;
        let expected = if version == "2099-01-01" {
            "2025-11-25"
        } else {
            version
        };
        assert_eq!(init.json()["result"]["protocolVersion"], expected);
        if let Some(id) = init.header("mcp-session-id") {
            delete(&base, &id).await;
        }
    }

    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_typescript_sdk_client_works() {
    if !enabled("the_official_typescript_sdk_client_works") {
        return;
    }
    let worker = start("mcp-sdk", &[]).await;
    let root = root();
    let node = root.join("node_modules/.bin/node");
    let output = tokio::process::Command::new(&node)
        .arg(root.join("tests/js/mcp-client.mjs"))
        .arg(format!("{}/mcp", worker.base_url()))
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
    assert_eq!(report["serverVersion"]["name"], "executor");
    assert_eq!(report["toolNames"], json!(["execute", "resume"]));
    assert_eq!(report["answer"]["structuredContent"]["result"], 42);
    assert_eq!(report["failing"]["isError"], true);
    assert!(report["failing"]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .contains("boom"));
    worker.stop().await;
}
