//! `/api` under dev auth on real workerd: account routes, error conventions, D1 reads, REST
//! execute (with the deadline), and configuration errors at first request.

use serde_json::json;

use crate::support::{enabled, get, post_json, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_routes_and_error_conventions_under_dev_auth() {
    if !enabled("account_routes_and_error_conventions_under_dev_auth") {
        return;
    }
    let worker = start("api-dev", &[]).await;
    let base = worker.base_url();

    let me = get(&format!("{base}/api/account/me"), &[]).await;
    assert_eq!(me.status, 200, "{}", worker.logs());
    assert_eq!(
        me.json(),
        json!({"user":{"id":"dev","email":"dev@local","name":"Dev","avatarUrl":null},
               "organization":{"id":"default","name":"Default","slug":"default"}})
    );

    assert_eq!(
        get(&format!("{base}/api/account/api-keys"), &[])
            .await
            .json(),
        json!({"apiKeys": []})
    );
    assert_eq!(
        get(&format!("{base}/api/account/members"), &[])
            .await
            .json(),
        json!({"members": []})
    );
    assert_eq!(
        get(&format!("{base}/api/account/roles"), &[]).await.json(),
        json!({"roles": []})
    );
    let managed = post_json(
        &format!("{base}/api/account/api-keys"),
        &json!({"name": "x"}),
    )
    .await;
    assert_eq!(managed.status, 500);
    assert_eq!(managed.json()["_tag"], "AccountError");

    // Unknown /api routes: 404 with an empty body.
    let nope = get(&format!("{base}/api/nope"), &[]).await;
    assert_eq!((nope.status, nope.body.len()), (404, 0));
    let scopes = get(&format!("{base}/api/scopes"), &[]).await;
    assert_eq!(scopes.status, 404);

    // D1 is reachable through the real binding: the catalog lists the built-in integration.
    let list = get(&format!("{base}/api/integrations"), &[]).await;
    assert_eq!(list.status, 200, "{}", worker.logs());
    assert_eq!(list.json()[0]["slug"], "executor");

    let missing = get(&format!("{base}/api/integrations/nope"), &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({"_tag":"IntegrationNotFoundError","slug":"nope"})
    );
    assert_eq!(
        get(&format!("{base}/api/integrations/executor"), &[])
            .await
            .json()["kind"],
        "built-in"
    );
    let removed = crate::support::client()
        .delete(format!("{base}/api/integrations/nope"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        removed.json::<serde_json::Value>().await.ok(),
        Some(json!({"removed": true}))
    );

    // Connections and providers answer through the real D1 binding.
    assert_eq!(
        get(&format!("{base}/api/connections"), &[]).await.json(),
        json!([])
    );
    assert_eq!(
        get(&format!("{base}/api/providers"), &[]).await.json(),
        json!(["encrypted"])
    );
    assert_eq!(
        get(&format!("{base}/api/providers/encrypted/items"), &[])
            .await
            .json(),
        json!([])
    );
    let orphan = post_json(
        &format!("{base}/api/connections"),
        &json!({"owner":"org","name":"main","integration":"nope","template":"apikey-0","value":"x"}),
    )
    .await;
    assert_eq!(orphan.status, 404, "{}", orphan.text());
    assert_eq!(
        orphan.json(),
        json!({"_tag":"IntegrationNotFoundError","slug":"nope"})
    );
    let two_origins = post_json(
        &format!("{base}/api/connections"),
        &json!({"owner":"org","name":"main","integration":"nope","template":"t","value":"x","values":{"a":"b"}}),
    )
    .await;
    assert_eq!(two_origins.status, 400);

    // The storage adapters meet the same contract on real D1 and R2 as the host fakes do.
    let contract = get(&format!("{base}/api/dev/storage-contract"), &[]).await;
    assert_eq!(contract.status, 200, "{}", worker.logs());
    assert_eq!(contract.json()["ok"], true, "{}", contract.json());

    // The console is served by the assets layer, with the SPA fallback.
    let page = get(&format!("{base}/approvals/anything"), &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>Executor</title>"));

    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_execute_envelopes_and_the_deadline() {
    if !enabled("rest_execute_envelopes_and_the_deadline") {
        return;
    }
    let worker = start("api-exec", &[("EXECUTE_TIMEOUT_MS", "1000")]).await;
    let url = format!("{}/api/executions", worker.base_url());

    let ok = post_json(&url, &json!({"code": "export default 6 * 7"})).await;
    assert_eq!(ok.status, 200, "{}", worker.logs());
    assert_eq!(
        ok.json(),
        json!({"status":"completed","text":"42","structured":{"status":"completed","result":42,"logs":[]},"isError":false})
    );

    let logged = post_json(
        &url,
        &json!({"code": "console.log('hi', {a: 1}); return 'done'"}),
    )
    .await;
    let body = logged.json();
    assert_eq!(body["structured"]["logs"], json!(["[log] hi {\"a\":1}"]));
    assert!(body["text"].as_str().unwrap_or("").starts_with("done"));

    let syntax = post_json(&url, &json!({"code": "return (("})).await;
    assert_eq!(syntax.status, 200);
    let body = syntax.json();
    assert_eq!(body["isError"], true);
    assert_eq!(body["structured"]["status"], "error");
    assert!(body["text"].as_str().unwrap_or("").starts_with("Error: "));

    let no_fetch = post_json(
        &url,
        &json!({"code": "return await fetch('https://example.com')"}),
    )
    .await;
    assert_eq!(no_fetch.json()["isError"], true);

    let started = std::time::Instant::now();
    let endless = post_json(&url, &json!({"code": "while (true) {}"})).await;
    let elapsed = started.elapsed();
    assert_eq!(endless.status, 200, "{}", worker.logs());
    let body = endless.json();
    assert_eq!(body["isError"], true);
    assert!(
        body["structured"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("timed out"),
        "{body}"
    );
    assert!(
        elapsed.as_secs_f64() < 10.0,
        "the deadline stopped the loop ({elapsed:?})"
    );

    // The isolate survives the runaway script.
    let after = post_json(&url, &json!({"code": "return 1 + 1"})).await;
    assert_eq!(after.json()["structured"]["result"], 2);

    // Request-schema violations are typed 400s, not 500s.
    let empty = post_json(&url, &json!({"code": "   "})).await;
    assert_eq!(empty.status, 400);
    let missing = post_json(&url, &json!({"nope": 1})).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["_tag"], "HttpApiSchemaError");

    let paused = get(
        &format!("{}/api/executions/exec_unknown", worker.base_url()),
        &[],
    )
    .await;
    assert_eq!(paused.status, 404);
    assert_eq!(
        paused.json(),
        json!({"_tag":"ExecutionNotFoundError","executionId":"exec_unknown"})
    );

    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_are_clear_at_first_request() {
    if !enabled("configuration_errors_are_clear_at_first_request") {
        return;
    }
    // Dev auth together with an Access AUD, and a too-short key: refuse to serve, name both.
    let worker = start(
        "api-config",
        &[("ACCESS_AUD", "some-aud"), ("EXECUTOR_SECRET_KEY", "short")],
    )
    .await;
    let me = get(&format!("{}/api/account/me", worker.base_url()), &[]).await;
    assert_eq!(me.status, 500);
    let body = me.json();
    assert_eq!(body["_tag"], "ConfigurationError");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains("EXECUTOR_SECRET_KEY is too short"),
        "{message}"
    );
    assert!(message.contains("refusing to serve"), "{message}");
    assert!(!message.contains("short\""), "values are never echoed");

    let mcp = crate::mcp::post(
        &worker.base_url(),
        None,
        &crate::mcp::initialize_body(1, "2025-06-18"),
    )
    .await;
    assert_eq!(mcp.status, 500);
    assert_eq!(mcp.json()["error"]["code"], -32603);
    worker.stop().await;
}
