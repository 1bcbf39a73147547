//! Cloudflare Access on real workerd: the Worker fetches the JWKS this test serves on loopback
//! and verifies RS256 signatures with WebCrypto. Valid tokens pass; every broken one is a 401 in
//! the shape of the surface that was asked.

use executor_tests::jwt::{serve_jwks, TestKeys};
use serde_json::json;

use crate::support::{enabled, get, start};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_jwt_matrix() {
    if !enabled("access_jwt_matrix") {
        return;
    }
    let keys = TestKeys::new("kid-current");
    let jwks = serve_jwks(keys.jwks_json()).await;
    let team = jwks.base_url(); // http://127.0.0.1:PORT
    let issuer = team.replace("http://", "https://");
    let aud = "e2e-access-aud";
    let worker = start(
        "auth",
        &[
            ("ENABLE_DEV_AUTH", ""),
            ("ACCESS_TEAM_DOMAIN", &team),
            ("ACCESS_AUD", aud),
            ("ADMIN_EMAILS", "boss@example.com"),
        ],
    )
    .await;
    let me_url = format!("{}/api/account/me", worker.base_url());
    let me = |token: String| {
        let url = me_url.clone();
        async move { get(&url, &[("cf-access-jwt-assertion", token.as_str())]).await }
    };
    let header = json!({"alg": "RS256", "kid": "kid-current", "typ": "JWT"});
    let claims = |overrides: serde_json::Value| {
        let mut c = json!({
            "iss": issuer, "aud": [aud], "email": "person@example.com", "sub": "user-123",
            "name": "Person", "iat": now() - 10, "nbf": now() - 10, "exp": now() + 600, "type": "app"
        });
        if let (Some(c), Some(o)) = (c.as_object_mut(), overrides.as_object()) {
            for (k, v) in o {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    };

    // Valid identity token → 200 with the mapped principal.
    let ok = me(keys.sign(header.clone(), claims(json!({})))).await;
    assert_eq!(ok.status, 200, "{}\n{}", ok.text(), worker.logs());
    assert_eq!(ok.json()["user"]["id"], "user-123");
    assert_eq!(ok.json()["user"]["email"], "person@example.com");
    assert_eq!(ok.json()["user"]["name"], "Person");

    // A service token carries only common_name.
    let service = me(keys.sign(
        header.clone(),
        json!({"iss": issuer, "aud": [aud], "common_name": "df8a20db.access", "sub": "",
               "iat": now(), "nbf": now() - 5, "exp": now() + 600, "type": "app"}),
    ))
    .await;
    assert_eq!(service.status, 200, "{}", service.text());
    assert_eq!(service.json()["user"]["id"], "df8a20db.access");

    // The broken ones.
    let cases = [
        (
            "expired",
            keys.sign(header.clone(), claims(json!({"exp": now() - 5}))),
        ),
        (
            "not yet valid",
            keys.sign(header.clone(), claims(json!({"nbf": now() + 600}))),
        ),
        (
            "wrong aud",
            keys.sign(header.clone(), claims(json!({"aud": ["someone-else"]}))),
        ),
        (
            "wrong iss",
            keys.sign(
                header.clone(),
                claims(json!({"iss": "https://evil.cloudflareaccess.com"})),
            ),
        ),
        (
            "unknown kid",
            keys.sign(
                json!({"alg":"RS256","kid":"kid-unknown","typ":"JWT"}),
                claims(json!({})),
            ),
        ),
        (
            "bad signature",
            TestKeys::tamper_signature(&keys.sign(header.clone(), claims(json!({})))),
        ),
        ("alg none", TestKeys::alg_none_token(claims(json!({})))),
        (
            "other key",
            TestKeys::new("kid-current").sign(header.clone(), claims(json!({}))),
        ),
        ("garbage", "abc.def.ghi".to_string()),
    ];
    for (name, token) in cases {
        let answer = me(token).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.text());
        assert_eq!(
            answer.json(),
            json!({"_tag": "AccountUnauthorized"}),
            "{name}"
        );
    }
    let hits_after_matrix = jwks.hits();
    assert!(hits_after_matrix >= 1, "the Worker fetched the JWKS");
    assert!(
        hits_after_matrix <= 3,
        "keys are cached; an unknown kid refetches at most once per cooldown ({hits_after_matrix} fetches)"
    );

    // Missing header, per surface.
    let bare = get(&me_url, &[]).await;
    assert_eq!(bare.status, 401);
    let protected = get(&format!("{}/api/integrations", worker.base_url()), &[]).await;
    assert_eq!(
        (protected.status, protected.text().as_str()),
        (401, "Unauthorized")
    );
    let mcp = crate::mcp::post(
        &worker.base_url(),
        None,
        &crate::mcp::initialize_body(1, "2025-06-18"),
    )
    .await;
    assert_eq!(mcp.status, 401);
    assert_eq!(mcp.json()["error"]["code"], -32001);
    assert!(mcp
        .header("www-authenticate")
        .unwrap_or_default()
        .contains("/.well-known/oauth-protected-resource"));

    // Development-only routes do not exist behind Access.
    let dev_only = get(
        &format!("{}/api/dev/storage-contract", worker.base_url()),
        &[(
            "cf-access-jwt-assertion",
            &keys.sign(header.clone(), claims(json!({}))),
        )],
    )
    .await;
    assert_eq!(dev_only.status, 404);

    // With a valid token the protected API and MCP work, and sessions are bound to the caller.
    let token = keys.sign(header.clone(), claims(json!({})));
    let listed = get(
        &format!("{}/api/integrations", worker.base_url()),
        &[("cf-access-jwt-assertion", &token)],
    )
    .await;
    assert_eq!(listed.status, 200);
    let init = crate::mcp::post_with(
        &worker.base_url(),
        None,
        &crate::mcp::initialize_body(1, "2025-06-18"),
        &[("cf-access-jwt-assertion", &token)],
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.text());
    let session = init.header("mcp-session-id").expect("session id");
    let other = keys.sign(
        header.clone(),
        claims(json!({"sub": "someone-else", "email": "x@example.com"})),
    );
    let stolen = crate::mcp::post_with(
        &worker.base_url(),
        Some(&session),
        &json!({"jsonrpc":"2.0","id":2,"method":"ping"}),
        &[("cf-access-jwt-assertion", &other)],
    )
    .await;
    assert_eq!(stolen.status, 403, "{}", stolen.text());
    assert_eq!(stolen.json()["error"]["code"], -32003);

    worker.stop().await;
}
