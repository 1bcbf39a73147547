//! Google Discovery bundles on real workerd (executor-behaviour.md §3.4.4, §8.4, §8.6): the
//! loopback stand-in serves a tasks-like Discovery document and the API it describes. Detection
//! of the document URL, add by URL and inline, a bearer-token connection on the `googleOAuth2`
//! method, then search → describe → a GET (repeated query parameter, `{+parent}` reserved
//! expansion) and an approval-gated POST from `execute`. The canary token must reach the API in
//! the `Authorization` header and appear in no answer, no log line and no stored state. Also
//! prints ingest time and the p50 of an `execute` with one Google call next to the p50 of
//! `GET /api/account/me` (the trivial-route floor).

use executor_tests::upstream::{Recorded, Upstream};
use serde_json::{json, Value};

use crate::catalog::{
    assert_canary_absent, assert_state_has_no_plaintext, canary, log_path, metric, Api,
};
use crate::support::{enabled, start_with};

fn api_calls(upstream: &Upstream, mark: usize) -> Vec<Recorded> {
    upstream
        .requests_since(mark)
        .into_iter()
        .filter(|r| r.path.starts_with("/tasks/v1/"))
        .collect()
}

fn p50(mut samples: Vec<u128>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2] as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_discovery_add_search_describe_get_and_gated_post() {
    if !enabled("google_discovery_add_search_describe_get_and_gated_post") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let doc_url = upstream.serve_discovery().expect("the fixture loads");
    let canary = canary();
    let log = log_path("google");
    let worker = start_with(
        "google",
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());

    // Detection: the URL serves a Discovery document ⇒ high.
    let detected = api
        .post("/api/integrations/detect", &json!({ "url": doc_url }))
        .await;
    assert_eq!(detected.status, 200, "{}\n{}", detected.text(), logs());
    let google: Vec<Value> = detected
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["kind"] == "google")
        .cloned()
        .collect();
    assert_eq!(
        google,
        [
            json!({"kind": "google", "confidence": "high", "endpoint": doc_url,
                 "name": "Tasks API", "slug": "tasks_api"})
        ]
    );

    // Add by URL (one fetch of the document), and inline (none).
    let mark = upstream.mark();
    let started = std::time::Instant::now();
    let added = api
        .post(
            "/api/google/bundles",
            &json!({"urls": [doc_url], "slug": "tasks", "name": "Tasks"}),
        )
        .await;
    metric("google.add_by_url_ms", started.elapsed().as_millis());
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    assert_eq!(added.json(), json!({"slug": "tasks", "toolCount": 7}));
    assert_eq!(upstream.requests_since(mark).len(), 1);
    let document = executor_tests::discovery::document(&format!("{}/", upstream.base_url()))
        .expect("the fixture loads");
    let mark = upstream.mark();
    let started = std::time::Instant::now();
    let inline = api
        .post(
            "/api/google/bundles",
            &json!({"documents": [document], "slug": "tasks_inline"}),
        )
        .await;
    metric("google.add_inline_ms", started.elapsed().as_millis());
    assert_eq!(inline.status, 200, "{}\n{}", inline.text(), logs());
    assert!(upstream.requests_since(mark).is_empty());
    let config = api
        .get("/api/google/integrations/tasks/config")
        .await
        .json();
    assert_eq!(config["googleDiscoveryUrls"], json!([doc_url]));
    assert_eq!(
        config["authenticationTemplate"][0]["slug"], "googleOAuth2",
        "{config}"
    );

    // A bearer-token connection on the OAuth method.
    let connection = api
        .post(
            "/api/connections",
            &json!({"owner": "org", "name": "main", "integration": "tasks",
                    "template": "googleOAuth2", "value": canary}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
    let tools = api.get("/api/tools").await.json();
    let names: Vec<&str> = tools
        .as_array()
        .expect("a list")
        .iter()
        .filter(|t| t["integration"] == "tasks")
        .map(|t| t["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "tasks.getStatus",
            "tasks.tasklists.insert",
            "tasks.tasklists.list",
            "tasks.tasks.comments.list",
            "tasks.tasks.delete",
            "tasks.tasks.insert",
            "tasks.tasks.list"
        ]
    );

    // search → describe → GETs, from one execution.
    let mark = upstream.mark();
    let run = api
        .execute(
            "const found = await tools.search({ query: 'comments on a task', limit: 3 });\n\
             const described = await tools.describe.tool({ path: 'tasks.org.main.tasks.tasks.insert' });\n\
             const lists = await tools.tasks.org.main.tasks.tasklists.list({ maxResults: 5 });\n\
             const tasks = await tools.tasks.org.main.tasks.tasks.list({ tasklist: 'L1', labels: ['home', 'urgent'] });\n\
             const comments = await tools.tasks.org.main.tasks.tasks.comments.list({ parent: 'lists/L1/tasks/t9' });\n\
             return { found, described, lists, tasks, comments };",
            &logs,
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}\n{}", logs());
    let result = &run["structured"]["result"];
    assert!(
        result["found"]
            .to_string()
            .contains("tasks.org.main.tasks.tasks.comments.list"),
        "{result}"
    );
    assert!(
        result["described"].to_string().contains("tasks_v1_Task"),
        "{result}"
    );
    assert_eq!(
        result["lists"]["data"],
        json!({"items": [{"id": "L1", "title": "Shopping"}]}),
        "{result}"
    );
    assert_eq!(result["tasks"]["data"], json!({"items": []}), "{result}");
    assert_eq!(
        result["comments"]["data"]["comments"][0]["name"], "lists/L1/tasks/t9/comments/c1",
        "{result}"
    );
    let calls = api_calls(&upstream, mark);
    let lines: Vec<String> = calls.iter().map(Recorded::line).collect();
    assert_eq!(
        lines,
        [
            "GET /tasks/v1/users/@me/lists?maxResults=5",
            "GET /tasks/v1/lists/L1/tasks?labels=home&labels=urgent",
            "GET /tasks/v1/lists/L1/tasks/t9/comments"
        ]
    );
    for call in &calls {
        assert_eq!(
            call.header("authorization"),
            Some(format!("Bearer {canary}").as_str())
        );
    }

    // The POST pauses (approval by default) and sends nothing until accepted.
    let mark = upstream.mark();
    let paused = api
        .execute(
            "return await tools.tasks.org.main.tasks.tasks.insert({ tasklist: 'L1', body: { title: 'bread', labels: ['shop'] } });",
            &logs,
        )
        .await;
    assert_eq!(paused["status"], "paused", "{paused}\n{}", logs());
    assert!(api_calls(&upstream, mark).is_empty());
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
    assert_eq!(
        resumed["structured"]["result"]["data"],
        json!({"title": "bread", "labels": ["shop"], "id": "t1", "list": "L1"}),
        "{resumed}"
    );
    let calls = api_calls(&upstream, mark);
    assert_eq!(calls.len(), 1, "the approved POST ran once");
    assert_eq!(
        calls[0].json(),
        Some(json!({"title": "bread", "labels": ["shop"]}))
    );

    // Upstream errors come back typed.
    let missing = api
        .execute(
            "return await tools.tasks.org.main.tasks.tasks.comments.list({ parent: 'nope' });",
            &logs,
        )
        .await;
    assert_eq!(
        missing["structured"]["result"]["error"]["code"], "upstream_http_error",
        "{missing}"
    );

    // Cost of one Google call from `execute` next to the trivial-route floor.
    let (mut floor, mut call) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        let t = std::time::Instant::now();
        let me = api.get("/api/account/me").await;
        floor.push(t.elapsed().as_micros());
        assert_eq!(me.status, 200);
        let t = std::time::Instant::now();
        let run = api
            .execute(
                "return await tools.tasks.org.main.tasks.getStatus();",
                &logs,
            )
            .await;
        call.push(t.elapsed().as_micros());
        assert_eq!(run["structured"]["result"]["data"], json!({"up": true}));
    }
    metric("google.p50_ms.api_account_me", format!("{:.2}", p50(floor)));
    metric(
        "google.p50_ms.execute_one_call",
        format!("{:.2}", p50(call)),
    );

    assert_state_has_no_plaintext(&canary, worker.persist_to());
    worker.stop().await;
    assert_canary_absent(&canary, &api, &log).await;
}
