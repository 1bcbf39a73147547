//! The Origin matrix on `/mcp` (DNS-rebinding defence): through the real router, a browser
//! Origin that is not this deployment's (or the pinned `VITE_PUBLIC_SITE_URL`, or loopback page
//! → loopback Worker) gets `403` JSON-RPC `-32003` before authentication or any session work,
//! on every method that does something; requests without Origin and allowed ones go through.
//! The same origins against `/api` writes (CSRF): refused ones get `403 ForbiddenOriginError`.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::app::{AccessIdentity, App, LazyKeyring, Services, SessionRouteError, SessionRouter};
use crate::auth::JwksCache;
use crate::config::Config;
use crate::http::{router, Request, Response};
use crate::store::sqlite::SqliteStore;
use crate::store::MemoryBlobs;
use crate::time::{FixedClock, NoWaitTimer};

struct OpenSessions;

#[async_trait(?Send)]
impl SessionRouter for OpenSessions {
    fn new_session_id(&self) -> Result<String, SessionRouteError> {
        Ok("c".repeat(64))
    }
    async fn forward(&self, _: &str, _: Request) -> Result<Response, SessionRouteError> {
        Ok(Response::json(200, &json!({"forwarded": true})))
    }
}

async fn send(config: &Config, request: Request) -> Response {
    let (sql, blobs, clock) = (
        SqliteStore::migrated().unwrap(),
        MemoryBlobs::default(),
        FixedClock(1_795_000_000_000.0),
    );
    let keyring = LazyKeyring::new(config.secret_key.clone());
    let cache = JwksCache::new();
    let identity = AccessIdentity {
        config,
        cache: &cache,
        keys: &NoKeys,
        clock: &clock,
    };
    let app = App {
        services: Services {
            config,
            sql: &sql,
            blobs: &blobs,
            clock: &clock,
            keyring: &keyring,
            http: &crate::net::http::NoNetwork,
            timer: &NoWaitTimer,
        },
        identity: &identity,
        sessions: &OpenSessions,
    };
    router::handle(&app, request).await
}

/// Dev auth never asks for keys.
struct NoKeys;

#[async_trait(?Send)]
impl crate::auth::KeySource for NoKeys {
    async fn fetch_jwks(&self, _: &str) -> Result<crate::auth::Jwks, String> {
        Err("no keys in this test".into())
    }
    async fn verify_rs256(&self, _: &crate::auth::Jwk, _: &[u8], _: &[u8]) -> Result<bool, String> {
        Ok(false)
    }
}

fn mcp_request(method: &str, worker: &str, origin: Option<&str>) -> Request {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"o","version":"1"}}});
    let mut r = Request::new(method, &format!("{worker}/mcp"))
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream");
    if method == "POST" {
        r = r.with_body(serde_json::to_vec(&init).unwrap());
    } else {
        r = r.with_header("mcp-session-id", &"c".repeat(64));
    }
    match origin {
        Some(o) => r.with_header("origin", o),
        None => r,
    }
}

#[tokio::test]
async fn mcp_origin_matrix() {
    let pinned = Config::from_env(|name| match name {
        "EXECUTOR_SECRET_KEY" => Some("test-secret-key-0123456789".into()),
        "ENABLE_DEV_AUTH" => Some("true".into()),
        "VITE_PUBLIC_SITE_URL" => Some("https://console.example.org".into()),
        _ => None,
    })
    .unwrap();
    let public = "https://executor.example.com";
    let local = "http://127.0.0.1:8787";
    // (worker origin, Origin header, allowed)
    let cases: &[(&str, Option<&str>, bool)] = &[
        (public, None, true),
        (public, Some("https://executor.example.com"), true),
        (public, Some("https://executor.example.com/"), true),
        (public, Some("https://console.example.org"), true),
        (public, Some("https://evil.example"), false),
        (public, Some("null"), false),
        (public, Some(""), false),
        (public, Some("http://executor.example.com"), false),
        (public, Some("https://executor.example.com:8443"), false),
        (public, Some("https://executor.example.com.evil.com"), false),
        (
            public,
            Some("https://evil.com/https://executor.example.com"),
            false,
        ),
        (public, Some("https://executor.example.com@evil.com"), false),
        (public, Some("https://sub.executor.example.com"), false),
        (public, Some("HTTPS://EXECUTOR.EXAMPLE.COM"), false),
        (public, Some("https://console.example.org.evil.com"), false),
        (public, Some("http://localhost:5173"), false),
        (public, Some("http://127.0.0.1:8787"), false),
        (public, Some("file://"), false),
        (local, None, true),
        (local, Some("http://127.0.0.1:8787"), true),
        (local, Some("http://localhost:5173"), true),
        (local, Some("http://[::1]:3000"), true),
        (local, Some("http://127.9.9.9:1"), true),
        (local, Some("https://evil.example"), false),
        (local, Some("http://localhost.evil.com:5173"), false),
        (local, Some("http://127.0.0.1.evil.com"), false),
        (local, Some("http://0.0.0.0:5173"), false),
        (local, Some("http://192.168.1.10:5173"), false),
        (local, Some("null"), false),
    ];
    let mut checked = 0;
    // The same origins against the `/api` writes (cross-site request forgery): refused origins
    // get `403 ForbiddenOriginError` before anything runs; reads are never refused.
    for (worker, origin, allowed) in cases {
        for (method, path) in [
            ("POST", "/api/policies"),
            ("PATCH", "/api/policies/pol_x"),
            ("DELETE", "/api/policies/pol_x"),
            ("GET", "/api/policies"),
        ] {
            let mut r = Request::new(method, &format!("{worker}{path}"));
            if method != "GET" && method != "DELETE" {
                r = r
                    .with_header("content-type", "application/json")
                    .with_body(br#"{"owner":"org","pattern":"a.*","action":"block"}"#.to_vec());
            }
            if let Some(o) = origin {
                r = r.with_header("origin", o);
            }
            let response = send(&pinned, r).await;
            let what = format!("{method} {worker}{path} with Origin {origin:?}");
            if *allowed || method == "GET" {
                assert_ne!(response.status, 403, "{what}");
            } else {
                assert_eq!(response.status, 403, "{what}");
                let body: Value = serde_json::from_slice(&response.body).unwrap();
                assert_eq!(body["_tag"], "ForbiddenOriginError", "{what}");
            }
            checked += 1;
        }
    }
    let api_checked = checked;
    for (worker, origin, allowed) in cases {
        for method in ["POST", "GET", "DELETE"] {
            let response = send(&pinned, mcp_request(method, worker, *origin)).await;
            let what = format!("{method} {worker}/mcp with Origin {origin:?}");
            if *allowed {
                assert_ne!(response.status, 403, "{what}");
                if method == "POST" {
                    assert_eq!(response.status, 200, "{what}");
                }
            } else {
                assert_eq!(response.status, 403, "{what}");
                let body: Value = serde_json::from_slice(&response.body).unwrap();
                assert_eq!(body["error"]["code"], -32003, "{what}");
            }
            checked += 1;
        }
    }
    // A preflight carries no state and is answered the same for any Origin.
    let preflight = send(
        &pinned,
        Request::new("OPTIONS", &format!("{public}/mcp"))
            .with_header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(preflight.status, 204);
    checked += 1;
    println!(
        "security matrix: Origin on /mcp: {} origins × 3 methods + 1 preflight = {} requests; \
         on /api: {api_checked} requests",
        cases.len(),
        checked - api_checked
    );
}
