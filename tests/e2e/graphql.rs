//! GraphQL integrations on real workerd (executor-behaviour.md §3.4.2, §8.2, §8.6): detection by
//! introspection, add by endpoint (no network call), a connection whose first tool production
//! introspects the loopback endpoint with the connection's key, then search → describe → a query
//! and a mutation from `execute` — the mutation pausing for approval and running once after
//! `POST /api/executions/:id/resume` accepts. The endpoint records every request; the canary key
//! must reach it in the auth header and show up in no answer, no log line and no stored state.

use executor_tests::upstream::{Recorded, Upstream};
use serde_json::{json, Value};

use crate::catalog::{
    assert_canary_absent, assert_state_has_no_plaintext, canary, log_path, metric, Api,
};
use crate::support::{enabled, start_with};

fn graphql_calls(upstream: &Upstream, mark: usize) -> Vec<Recorded> {
    upstream
        .requests_since(mark)
        .into_iter()
        .filter(|r| r.path == "/graphql")
        .collect()
}

fn operation(request: &Recorded) -> String {
    let body = request.json().unwrap_or(Value::Null);
    body["query"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_add_search_describe_query_and_gated_mutation() {
    if !enabled("graphql_add_search_describe_query_and_gated_mutation") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let endpoint = format!("{}/graphql", upstream.base_url());
    let canary = canary();
    let log = log_path("graphql");
    let worker = start_with(
        "graphql",
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());
    let flow = std::time::Instant::now();

    // Detection: the endpoint answers introspection ⇒ high.
    let detected = api
        .post("/api/integrations/detect", &json!({ "url": endpoint }))
        .await;
    assert_eq!(detected.status, 200, "{}\n{}", detected.text(), logs());
    assert_eq!(
        detected.json(),
        json!([{"kind":"graphql","confidence":"high","endpoint":endpoint,
                "name":"127.0.0.1","slug":"127_0_0_1"}])
    );

    // Add by endpoint: no network call.
    let mark = upstream.mark();
    let added = api
        .post(
            "/api/graphql/integrations",
            &json!({"endpoint": endpoint, "slug": "notes", "name": "Notes",
                    "authenticationTemplate": [{"type": "apiKey",
                        "headers": {"Authorization": ["Bearer ", {"type": "variable", "name": "token"}]}}]}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    assert_eq!(added.json(), json!({"slug": "notes", "name": "Notes"}));
    assert!(upstream.requests_since(mark).is_empty());
    let config = api.get("/api/graphql/integrations/notes/config").await;
    assert_eq!(
        config.json(),
        json!({"endpoint": endpoint, "name": "Notes", "authenticationTemplate": [
            {"kind": "apikey", "slug": "header", "placements": [
                {"carrier": "header", "name": "Authorization", "prefix": "Bearer "}]}]})
    );

    // The connection's tool production introspects once, with the connection's key.
    let mark = upstream.mark();
    let connection = api
        .post(
            "/api/connections",
            &json!({"owner":"org","name":"main","integration":"notes","template":"header",
                    "value":canary,"identityLabel":"e2e key"}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
    let calls = graphql_calls(&upstream, mark);
    assert_eq!(
        calls.len(),
        1,
        "{:?}",
        calls.iter().map(Recorded::line).collect::<Vec<_>>()
    );
    assert!(operation(&calls[0]).contains("__schema"));
    assert_eq!(
        calls[0].header("authorization"),
        Some(format!("Bearer {canary}").as_str())
    );
    let tools = api.get("/api/tools").await.json();
    let names: Vec<&str> = tools
        .as_array()
        .expect("a list")
        .iter()
        .filter(|t| t["integration"] == "notes")
        .map(|t| t["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["mutation.addNote", "query.hello", "query.notes"]);

    // search → describe → query, from one execution.
    let mark = upstream.mark();
    let run = api
        .execute(
            "const found = await tools.search({ query: 'greet hello', limit: 3 });\n\
             const described = await tools.describe.tool({ path: 'notes.org.main.query.hello' });\n\
             const hello = await tools.notes.org.main.query.hello({ name: 'Ada' });\n\
             return { found, described, hello };",
            &logs,
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}\n{}", logs());
    let result = &run["structured"]["result"];
    assert!(
        result["found"]
            .to_string()
            .contains("notes.org.main.query.hello"),
        "{result}"
    );
    assert!(
        result["described"].to_string().contains("string"),
        "{result}"
    );
    assert_eq!(
        result["hello"],
        json!({"ok": true, "data": {"hello": "Hello, Ada!"}})
    );
    let calls = graphql_calls(&upstream, mark);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].json(),
        Some(
            json!({"query": "query Hello($name: String!) { hello(name: $name) }",
                    "variables": {"name": "Ada"}})
        )
    );
    assert_eq!(
        calls[0].header("authorization"),
        Some(format!("Bearer {canary}").as_str())
    );

    // The mutation pauses (approval by default) and sends nothing until accepted.
    let mark = upstream.mark();
    let paused = api
        .execute(
            "return await tools.notes.org.main.mutation.addNote({ text: 'remember' });",
            &logs,
        )
        .await;
    assert_eq!(paused["status"], "paused", "{paused}\n{}", logs());
    assert!(paused.to_string().contains("mutation addNote"), "{paused}");
    assert!(graphql_calls(&upstream, mark).is_empty());
    let id = paused["structured"]["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let resumed = api
        .post(
            &format!("/api/executions/{id}/resume"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}\n{}", resumed.text(), logs());
    let resumed = resumed.json();
    assert_eq!(resumed["status"], "completed", "{resumed}");
    assert_eq!(
        resumed["structured"]["result"],
        json!({"ok": true, "data": {"addNote": {"id": "n1", "text": "remember"}}})
    );
    let calls = graphql_calls(&upstream, mark);
    assert_eq!(calls.len(), 1, "the approved mutation ran once");
    assert_eq!(
        calls[0].json(),
        Some(
            json!({"query": "mutation AddNote($text: String!) { addNote(text: $text) { id text } }",
                    "variables": {"text": "remember"}})
        )
    );

    // The stored note comes back through a query with a generated selection set.
    let listed = api
        .execute("return await tools.notes.org.main.query.notes();", &logs)
        .await;
    assert_eq!(
        listed["structured"]["result"],
        json!({"ok": true, "data": {"notes": [{"id": "n1", "text": "remember"}]}}),
        "{listed}"
    );

    // An international endpoint: the wasm carries no IDNA tables (`net::parse_url`), so the
    // Worker's own `URL` punycodes the host; the default slug comes from that ASCII host.
    let added = api
        .post(
            "/api/graphql/integrations",
            &json!({"endpoint": "https://bücher.example/graphql", "name": "Books"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    assert_eq!(
        added.json(),
        json!({"slug": "xn_bcher_kva_example", "name": "Books"})
    );

    metric("graphql.flow_ms", flow.elapsed().as_millis());
    assert_state_has_no_plaintext(&canary, worker.persist_to());
    worker.stop().await;
    assert_canary_absent(&canary, &api, &log).await;
}
