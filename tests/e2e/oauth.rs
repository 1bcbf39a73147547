//! OAuth 2 on real workerd against a loopback authorization server with a protected API
//! (`executor_tests::oauth_server`; executor-behaviour.md §3.8): an OpenAPI integration whose
//! operation needs a bearer token, the authorization-code flow with PKCE driven through the
//! authorize redirect and our callback route, protected calls from `execute`, refresh before use
//! (concurrent calls ⇒ exactly one refresh; the rotated refresh token is what is stored and the
//! old one is dead), a revoked grant ⇒ `oauth_reauth_required` until the user signs in again,
//! client credentials, and probe + dynamic client registration for an MCP-style resource. No
//! token shows up in any answer, log line or in plaintext in the local state.

use std::time::{Duration, Instant};

use executor_tests::oauth_server::{OAuthServer, CODE_CLIENT, SERVICE_CLIENT};
use serde_json::{json, Value};

use crate::catalog::{assert_state_has_no_plaintext, contains, log_path, metric, Api};
use crate::support::{client, enabled, start_with, Answer};

const CALL: &str = "return await tools.vault.org.main.secrets.getSecret({});";

/// start → the authorization server's auto-approving redirect → our callback page.
async fn sign_in(api: &Api, start: &Value, logs: &dyn Fn() -> String) -> String {
    let started = api.post("/api/oauth/start", start).await;
    assert_eq!(started.status, 200, "{}\n{}", started.text(), logs());
    let started = started.json();
    assert_eq!(started["status"], "redirect", "{started}");
    let authorize = started["authorizationUrl"].as_str().unwrap_or_default();
    let redirect = Answer::from(client().get(authorize).send().await.expect("authorize")).await;
    assert_eq!(redirect.status, 302, "{}", redirect.text());
    let callback = redirect.header("location").unwrap_or_default();
    assert!(callback.contains("/api/oauth/callback?code="), "{callback}");
    let page = api
        .get(
            callback
                .split_once("/api/")
                .map(|(_, p)| format!("/api/{p}"))
                .unwrap_or_default()
                .as_str(),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    let html = page.text();
    assert!(html.contains("\"ok\":true"), "{html}\n{}", logs());
    html
}

fn p50(mut samples: Vec<u128>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn timed_calls(api: &Api, code: &str, n: usize, logs: &dyn Fn() -> String) -> Vec<u128> {
    let mut out = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        let run = api.execute(&format!("{code}\n// {i}"), logs).await;
        out.push(started.elapsed().as_millis());
        assert_eq!(run["structured"]["result"]["ok"], true, "{run}");
    }
    out
}

/// Sleeps until a token issued with `expires_in = 65` at `issued` is inside the 60 s skew.
async fn until_due(issued: Instant) {
    let due = issued + Duration::from_millis(5_500);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        tokio::time::sleep(wait).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_code_flow_refresh_rotation_reauth_client_credentials_and_dcr() {
    if !enabled("oauth_code_flow_refresh_rotation_reauth_client_credentials_and_dcr") {
        return;
    }
    let server = OAuthServer::start().await.expect("the OAuth server starts");
    let base = server.base_url();
    let log = log_path("oauth");
    let worker = start_with(
        "oauth",
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());

    let added = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "url", "url": server.openapi_url()}, "slug": "vault"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    let client = api
        .post(
            "/api/oauth/clients",
            &json!({"owner": "org", "slug": "vault-app", "grant": "authorization_code",
                    "authorizationUrl": format!("{base}/authorize"), "tokenUrl": format!("{base}/token"),
                    "clientId": CODE_CLIENT.0, "clientSecret": CODE_CLIENT.1}),
        )
        .await;
    assert_eq!(client.json(), json!({"client": "vault-app"}), "{}", logs());
    let start = json!({"client": "vault-app", "clientOwner": "org", "owner": "org", "name": "main",
                       "integration": "vault", "template": "oauth-vault"});

    // 1. Code flow through the callback; the first token is short-lived (65 s: due in 5 s).
    server.set_expires_in(65);
    sign_in(&api, &start, &logs).await;
    let issued = Instant::now();
    let connection = api.get("/api/connections/org/vault/main").await.json();
    assert_eq!(connection["oauthClient"], "vault-app", "{connection}");
    // The granted scope as the server reported it (the integration asks for `read` plus the
    // identity scopes its OAuth method adds).
    assert!(connection["oauthScope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .any(|s| s == "read"));
    assert!(connection["expiresAt"].as_i64().is_some());
    let items = api
        .get("/api/providers/encrypted/items")
        .await
        .json()
        .to_string();
    assert!(items.contains("oauth:org:vault:main:refresh"), "{items}");
    let run = api.execute(CALL, &logs).await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}\n{}", logs());
    assert_eq!(run["structured"]["result"]["data"], json!({"secret": 42}));
    assert_eq!(server.stats().refreshes, 0);

    // 2. Due: four concurrent calls ⇒ exactly one refresh, all with the new token.
    until_due(issued).await;
    let before = server.stats();
    let runs = futures_join4(&api, &logs).await;
    for run in &runs {
        assert_eq!(run["structured"]["result"]["ok"], true, "{run}\n{}", logs());
    }
    let after = server.stats();
    assert_eq!(
        after.refreshes, 1,
        "exactly one refresh for concurrent calls"
    );
    let new_tokens = &after.api_tokens[before.api_tokens.len()..];
    assert_eq!(new_tokens.len(), 4);
    assert!(new_tokens.iter().all(|t| *t == new_tokens[0]));
    assert_ne!(new_tokens[0], before.api_tokens[0]);
    // Rotation: the first refresh token is spent and refused by the server.
    assert_eq!(after.issued_refresh.len(), 2);
    assert_eq!(after.live_refresh, vec![after.issued_refresh[1].clone()]);
    let old = reqwest::Client::new()
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
            after.issued_refresh[0], CODE_CLIENT.0, CODE_CLIENT.1
        ))
        .send()
        .await
        .expect("token request");
    assert_eq!(old.status().as_u16(), 400);
    // The next refresh works, so the stored refresh token is the rotated one.
    let second = Instant::now();
    until_due(second).await;
    let run = api.execute(&format!("{CALL}\n"), &logs).await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}\n{}", logs());
    assert_eq!(server.stats().refreshes, 2);
    assert_eq!(
        server.stats().refused_refreshes,
        1,
        "only the test's own replay"
    );

    // 3. The grant is revoked: the due call answers oauth_reauth_required, and keeps doing so
    //    without asking the server again.
    let third = Instant::now();
    server.kill_refresh_tokens();
    until_due(third).await;
    let run = api.execute(&format!("{CALL}\n\n"), &logs).await;
    let result = &run["structured"]["result"];
    assert_eq!(result["ok"], false, "{run}");
    assert_eq!(result["error"]["code"], "oauth_reauth_required", "{run}");
    let token_requests = server.stats().token_requests;
    let run = api.execute(&format!("{CALL}\n\n\n"), &logs).await;
    assert_eq!(
        run["structured"]["result"]["error"]["code"],
        "oauth_reauth_required"
    );
    assert_eq!(server.stats().token_requests, token_requests);
    // Signing in again heals it (same client; nothing re-registered).
    server.set_expires_in(3600);
    sign_in(&api, &start, &logs).await;
    let run = api.execute(CALL, &logs).await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}");
    assert_eq!(server.stats().registrations, 0);

    // Numbers: a protected call with a fresh token, with a refresh every call, and the floors.
    let mut floor = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let me = api.get("/api/account/me").await;
        assert_eq!(me.status, 200);
        floor.push(started.elapsed().as_millis());
    }
    let mut execute_floor = Vec::new();
    for i in 0..15 {
        let started = Instant::now();
        api.execute(&format!("return {i};"), &logs).await;
        execute_floor.push(started.elapsed().as_millis());
    }
    let fresh = timed_calls(&api, CALL, 15, &logs).await;
    server.set_expires_in(30);
    sign_in(&api, &start, &logs).await;
    let refreshes = server.stats().refreshes;
    let refreshing = timed_calls(&api, CALL, 10, &logs).await;
    assert_eq!(server.stats().refreshes, refreshes + 10);
    metric("oauth.account_me_p50_ms", p50(floor));
    metric("oauth.execute_trivial_p50_ms", p50(execute_floor));
    metric("oauth.protected_call_p50_ms", p50(fresh));
    metric("oauth.protected_call_with_refresh_p50_ms", p50(refreshing));
    server.set_expires_in(3600);

    // 4. Client credentials: connected at once, no browser.
    let svc = api
        .post(
            "/api/oauth/clients",
            &json!({"owner": "org", "slug": "svc", "grant": "client_credentials",
                    "authorizationUrl": "", "tokenUrl": format!("{base}/token"),
                    "clientId": SERVICE_CLIENT.0, "clientSecret": SERVICE_CLIENT.1}),
        )
        .await;
    assert_eq!(svc.status, 200, "{}\n{}", svc.text(), logs());
    let started = api
        .post(
            "/api/oauth/start",
            &json!({"client": "svc", "clientOwner": "org", "owner": "org", "name": "service",
                    "integration": "vault", "template": "oauth-vault"}),
        )
        .await;
    assert_eq!(started.status, 200, "{}\n{}", started.text(), logs());
    assert_eq!(started.json()["status"], "connected");
    let run = api
        .execute(
            "return await tools.vault.org.service.secrets.getSecret({});",
            &logs,
        )
        .await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}");
    assert_eq!(server.stats().client_credentials, 1);

    // 5. Probe an MCP-style resource (401 challenge ⇒ RFC 9728 ⇒ RFC 8414), then DCR.
    let probed = api
        .post("/api/oauth/probe", &json!({"url": format!("{base}/mcp")}))
        .await;
    assert_eq!(probed.status, 200, "{}\n{}", probed.text(), logs());
    let probed = probed.json();
    assert_eq!(
        probed,
        json!({"authorizationUrl": format!("{base}/authorize"), "tokenUrl": format!("{base}/token"),
               "resource": format!("{base}/mcp"), "registrationEndpoint": format!("{base}/register"),
               "scopesSupported": ["read"],
               "tokenEndpointAuthMethodsSupported": ["client_secret_post", "none"]})
    );
    let registered = api
        .post(
            "/api/oauth/clients/register-dynamic",
            &json!({"owner": "user", "slug": "dyn", "registrationEndpoint": probed["registrationEndpoint"],
                    "authorizationUrl": probed["authorizationUrl"], "tokenUrl": probed["tokenUrl"],
                    "scopes": ["read"],
                    "tokenEndpointAuthMethodsSupported": probed["tokenEndpointAuthMethodsSupported"],
                    "originIntegration": "vault"}),
        )
        .await;
    assert_eq!(registered.status, 200, "{}\n{}", registered.text(), logs());
    assert_eq!(server.stats().registrations, 1);
    let clients = api.get("/api/oauth/clients").await.json();
    let dynamic = clients
        .as_array()
        .and_then(|a| a.iter().find(|c| c["slug"] == "dyn"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        dynamic["origin"],
        json!({"kind": "dynamic_client_registration", "integration": "vault"})
    );
    sign_in(
        &api,
        &json!({"client": "dyn", "clientOwner": "user", "owner": "user", "name": "mine",
                "integration": "vault", "template": "oauth-vault"}),
        &logs,
    )
    .await;
    let run = api
        .execute(
            "return await tools.vault.user.mine.secrets.getSecret({});",
            &logs,
        )
        .await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}");

    // No token or secret in any answer, log line, or plaintext state.
    let stats = server.stats();
    let mut secrets: Vec<String> = stats.issued_refresh.clone();
    secrets.extend(stats.api_tokens.iter().cloned());
    secrets.push(CODE_CLIENT.1.to_string());
    secrets.push(SERVICE_CLIENT.1.to_string());
    secrets.sort();
    secrets.dedup();
    for secret in &secrets {
        assert_state_has_no_plaintext(secret, worker.persist_to());
    }
    worker.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "the Worker logged a token");
        for answer in api.seen() {
            assert!(
                !contains(&answer, secret.as_bytes()),
                "an answer carried a token: {}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
}

/// Four protected calls at once (separate executions, so separate refresh attempts).
async fn futures_join4(api: &Api, logs: &dyn Fn() -> String) -> Vec<Value> {
    let codes: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|tag| format!("{CALL}\n// {tag}"))
        .collect();
    let (a, b, c, d) = tokio::join!(
        api.execute(&codes[0], logs),
        api.execute(&codes[1], logs),
        api.execute(&codes[2], logs),
        api.execute(&codes[3], logs),
    );
    vec![a, b, c, d]
}
