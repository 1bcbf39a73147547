//! Host tests of the OAuth flows against a scripted authorization server: clients CRUD, the
//! PKCE code flow through start/complete and the callback, single-use and expiring state,
//! refresh before use (one refresh, rotation written back, peers waiting on the lease),
//! `invalid_grant` ⇒ `oauth_reauth_required`, client credentials, probe and DCR.

#![allow(clippy::unwrap_used)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::{json, Value};

use crate::catalog::testing::seed_openapi;
use crate::http::testing::{TestWorld, NOW_MS};
use crate::net::http::{OutboundRequest, OutboundResponse};
use crate::owner::{Owner, Partition};
use crate::providers::encrypted;
use crate::store::{Sql, Statement};

const AS: &str = "https://as.vault.test";

/// The scripted authorization server's state.
#[derive(Default)]
struct Server {
    /// S256 challenge of the pending authorization (from the authorize URL).
    challenge: RefCell<String>,
    valid_refresh: RefCell<Vec<String>>,
    refreshes: Cell<usize>,
    token_requests: Cell<usize>,
    issued: Cell<usize>,
    /// `expires_in` of the next tokens.
    expires_in: Cell<i64>,
    /// Answer every token request with a 503 (the server is down).
    down: Cell<bool>,
}

fn json_response(status: u16, body: Value) -> OutboundResponse {
    OutboundResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn form_of(request: &OutboundRequest) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(request.body.as_deref().unwrap_or_default())
        .into_owned()
        .collect()
}

impl Server {
    fn issue(&self, rotate: bool) -> Value {
        let n = self.issued.get() + 1;
        self.issued.set(n);
        let mut body = json!({"access_token": format!("at-{n}"), "token_type": "Bearer",
                              "expires_in": self.expires_in.get(), "scope": "read"});
        if rotate {
            let refresh = format!("rt-{n}");
            self.valid_refresh.borrow_mut().push(refresh.clone());
            body["refresh_token"] = Value::String(refresh);
        }
        body
    }

    fn token(&self, request: &OutboundRequest) -> OutboundResponse {
        self.token_requests.set(self.token_requests.get() + 1);
        if self.down.get() {
            return json_response(503, json!({"message": "maintenance"}));
        }
        let form = form_of(request);
        let client_ok = form.get("client_id").map(String::as_str) == Some("vault-client")
            && form.get("client_secret").map(String::as_str) == Some("vault-secret-canary");
        if !client_ok {
            return json_response(401, json!({"error": "invalid_client"}));
        }
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                if form.get("code").map(String::as_str) != Some("code-1")
                    || super::pkce::challenge(&verifier) != *self.challenge.borrow()
                {
                    return json_response(400, json!({"error": "invalid_grant"}));
                }
                json_response(200, self.issue(true))
            }
            Some("refresh_token") => {
                let token = form.get("refresh_token").cloned().unwrap_or_default();
                let mut valid = self.valid_refresh.borrow_mut();
                let Some(at) = valid.iter().position(|t| *t == token) else {
                    return json_response(400, json!({"error": "invalid_grant"}));
                };
                // Rotation: the presented refresh token dies.
                valid.remove(at);
                drop(valid);
                self.refreshes.set(self.refreshes.get() + 1);
                json_response(200, self.issue(true))
            }
            Some("client_credentials") => json_response(200, self.issue(false)),
            _ => json_response(400, json!({"error": "unsupported_grant_type"})),
        }
    }
}

const VAULT_SPEC: &str = r#"{"openapi":"3.0.3","info":{"title":"Vault","version":"1"},
 "servers":[{"url":"https://api.vault.test"}],
 "components":{"securitySchemes":{"vault":{"type":"oauth2","flows":{"authorizationCode":{
   "authorizationUrl":"https://as.vault.test/authorize","tokenUrl":"https://as.vault.test/token",
   "scopes":{"read":"Read secrets"}}}}}},
 "security":[{"vault":["read"]}],
 "paths":{"/secret":{"get":{"operationId":"getSecret","tags":["secrets"],
   "responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"type":"object"}}}}}}}}}"#;

/// A world with the `vault` integration, the scripted server and the org client `vault-app`.
async fn vault_world(grant: &str) -> (TestWorld, Rc<Server>) {
    let world = TestWorld::new();
    seed_openapi(&world, "vault", "Vault", VAULT_SPEC.into(), json!({})).await;
    let server = Rc::new(Server::default());
    server.expires_in.set(3600);
    let s = server.clone();
    world
        .http
        .on(move |r| (r.method == "POST" && r.url == format!("{AS}/token")).then(|| s.token(r)));
    world.http.on(|r| {
        (r.url == "https://api.vault.test/secret").then(|| {
            let auth = r
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            json_response(200, json!({"secret": 42, "authorization": auth}))
        })
    });
    let created = world
        .call(
            "POST",
            "/api/oauth/clients",
            Some(&json!({"owner": "org", "slug": "vault-app",
                "authorizationUrl": format!("{AS}/authorize"), "tokenUrl": format!("{AS}/token"),
                "grant": grant, "clientId": "vault-client", "clientSecret": "vault-secret-canary"})),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.json_body());
    assert_eq!(created.json_body().unwrap(), json!({"client": "vault-app"}));
    (world, server)
}

fn start_body() -> Value {
    json!({"client": "vault-app", "clientOwner": "org", "owner": "org", "name": "Main",
           "integration": "vault", "template": "oauth-vault"})
}

/// Runs start → (the user approves) → callback; answers the callback page.
async fn connect(world: &TestWorld, server: &Server) -> String {
    let started = world
        .call("POST", "/api/oauth/start", Some(&start_body()))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.json_body());
    let started = started.json_body().unwrap();
    assert_eq!(started["status"], "redirect");
    let url = url::Url::parse(started["authorizationUrl"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "vault-client");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], started["state"].as_str().unwrap());
    assert_eq!(
        q["redirect_uri"],
        "http://127.0.0.1:8787/api/oauth/callback"
    );
    assert!(q["scope"].split(' ').any(|s| s == "read"));
    *server.challenge.borrow_mut() = q["code_challenge"].clone();
    let state = q["state"].clone();
    let page = world
        .call(
            "GET",
            &format!("/api/oauth/callback?state={state}&code=code-1"),
            None,
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    String::from_utf8(page.body).unwrap()
}

async fn execute(world: &TestWorld, code: &str) -> Value {
    let r = world
        .call("POST", "/api/executions", Some(&json!({ "code": code })))
        .await;
    assert_eq!(r.status, 200);
    let structured = r.json_body().unwrap()["structured"].clone();
    assert_eq!(structured["status"], "completed", "{structured}");
    structured["result"].clone()
}

const CALL: &str = "return await tools.vault.org.main.secrets.getSecret({});";

async fn connection_row(world: &TestWorld) -> Value {
    let rows = world
        .sql
        .query(Statement::new(
            "SELECT expires_at, refresh_item_id, oauth_refresh_lease, oauth_reauth_required, \
             oauth_client, oauth_scope, item_ids FROM connection WHERE name = 'main'",
            vec![],
        ))
        .await
        .unwrap();
    Value::Object(rows[0].clone().into_iter().collect())
}

async fn stored_secret(world: &TestWorld, item: &str) -> Option<String> {
    encrypted::resolve(&world.sql, &world.keyring, world.tenant(), "", item)
        .await
        .unwrap()
        .map(|v| v.expose().to_string())
}

#[tokio::test]
async fn clients_crud_never_returns_the_secret() {
    let (world, _) = vault_world("authorization_code").await;
    let list = world.call("GET", "/api/oauth/clients", None).await;
    let list = list.json_body().unwrap();
    assert_eq!(
        list,
        json!([{"owner": "org", "slug": "vault-app", "grant": "authorization_code",
                "authorizationUrl": format!("{AS}/authorize"), "tokenUrl": format!("{AS}/token"),
                "resource": null, "clientId": "vault-client", "origin": {"kind": "manual"}}])
    );
    let items = world
        .call("GET", "/api/providers/encrypted/items", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(
        items,
        json!([{"id": "oauth-client:org:vault-app:secret", "name": "oauth-client:org:vault-app:secret"}])
    );
    let dump = world
        .sql
        .query(Statement::new("SELECT * FROM plugin_storage", vec![]))
        .await
        .unwrap();
    assert!(!format!("{dump:?}").contains("vault-secret-canary"));

    // Bad endpoints are refused with a reason; a wrong-typed secret is refused without echo.
    for (body, needle) in [
        (
            json!({"authorizationUrl": "http://as.example.com/a"}),
            "https",
        ),
        (
            json!({"authorizationUrl": format!("{AS}/.well-known/openid-configuration")}),
            "metadata",
        ),
        (json!({"authorizationUrl": format!("{AS}/token")}), "differ"),
    ] {
        let mut request = json!({"owner": "org", "slug": "bad", "tokenUrl": format!("{AS}/token"),
                                 "grant": "authorization_code", "clientId": "c"});
        request
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let r = world
            .call("POST", "/api/oauth/clients", Some(&request))
            .await;
        assert_eq!(r.status, 400);
        assert!(String::from_utf8_lossy(&r.body).contains(needle));
    }
    let r = world
        .call(
            "POST",
            "/api/oauth/clients",
            Some(
                &json!({"owner": "org", "slug": "x", "tokenUrl": format!("{AS}/token"),
                         "grant": "client_credentials", "clientId": "c", "clientSecret": 12345678}),
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(!String::from_utf8_lossy(&r.body).contains("12345678"));

    let removed = world
        .call(
            "DELETE",
            "/api/oauth/clients/vault-app",
            Some(&json!({"owner": "org"})),
        )
        .await;
    assert_eq!(removed.json_body().unwrap(), json!({"removed": true}));
    let list = world.call("GET", "/api/oauth/clients", None).await;
    assert_eq!(list.json_body().unwrap(), json!([]));
    let items = world
        .call("GET", "/api/providers/encrypted/items", None)
        .await;
    assert_eq!(items.json_body().unwrap(), json!([]));
    // Idempotent.
    let again = world
        .call(
            "DELETE",
            "/api/oauth/clients/vault-app",
            Some(&json!({"owner": "org"})),
        )
        .await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn code_flow_mints_a_connection_and_state_is_single_use() {
    let (world, server) = vault_world("authorization_code").await;
    let page = connect(&world, &server).await;
    assert!(page.contains("\"ok\":true"), "{page}");
    assert!(page.contains("executor:oauth-result"));
    assert!(!page.contains("at-1") && !page.contains("rt-1") && !page.contains("code-1"));

    let connection = world
        .call("GET", "/api/connections/org/vault/main", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(connection["oauthClient"], "vault-app");
    assert_eq!(connection["oauthClientOwner"], "org");
    assert_eq!(connection["oauthScope"], "read");
    assert_eq!(connection["expiresAt"], NOW_MS as i64 + 3_600_000);
    assert_eq!(
        stored_secret(&world, "oauth:org:vault:main").await.unwrap(),
        "at-1"
    );
    assert_eq!(
        stored_secret(&world, "oauth:org:vault:main:refresh")
            .await
            .unwrap(),
        "rt-1"
    );

    // The protected tool gets the bearer token.
    let result = execute(&world, CALL).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["data"]["authorization"], "Bearer at-1");

    // The state was used: a replay is not found (and makes no token request).
    let before = server.token_requests.get();
    let state = world
        .http
        .requests
        .borrow()
        .iter()
        .find(|r| r.url.ends_with("/token"))
        .map(|_| ())
        .is_some();
    assert!(state);
    let started = world
        .call("POST", "/api/oauth/start", Some(&start_body()))
        .await;
    let s = started.json_body().unwrap()["state"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = world
        .call("POST", "/api/oauth/cancel", Some(&json!({"state": s})))
        .await;
    assert_eq!(cancel.json_body().unwrap(), json!({"cancelled": true}));
    let replay = world
        .call(
            "POST",
            "/api/oauth/complete",
            Some(&json!({"state": s, "code": "code-1"})),
        )
        .await;
    assert_eq!(replay.status, 404);
    assert_eq!(
        replay.json_body().unwrap(),
        json!({"_tag": "OAuthSessionNotFoundError", "state": s})
    );
    assert_eq!(server.token_requests.get(), before);
}

#[tokio::test]
async fn a_state_completes_once_and_expires() {
    let (mut world, server) = vault_world("authorization_code").await;
    let started = world
        .call("POST", "/api/oauth/start", Some(&start_body()))
        .await;
    let started = started.json_body().unwrap();
    let url = url::Url::parse(started["authorizationUrl"].as_str().unwrap()).unwrap();
    let challenge = url
        .query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .unwrap()
        .1
        .to_string();
    *server.challenge.borrow_mut() = challenge;
    let state = started["state"].as_str().unwrap().to_string();
    let body = json!({"state": state, "code": "code-1"});
    let first = world.call("POST", "/api/oauth/complete", Some(&body)).await;
    assert_eq!(first.status, 200, "{:?}", first.json_body());
    let first = first.json_body().unwrap();
    assert_eq!(first["address"], "tools.vault.org.main");
    assert!(first.get("description").is_none());
    let second = world.call("POST", "/api/oauth/complete", Some(&body)).await;
    assert_eq!(second.status, 404);

    // A session older than 15 minutes is gone.
    let started = world
        .call("POST", "/api/oauth/start", Some(&start_body()))
        .await;
    let state = started.json_body().unwrap()["state"]
        .as_str()
        .unwrap()
        .to_string();
    world.clock = crate::time::FixedClock(NOW_MS + 15.0 * 60_000.0 + 1.0);
    let late = world
        .call(
            "POST",
            "/api/oauth/complete",
            Some(&json!({"state": state, "code": "code-1"})),
        )
        .await;
    assert_eq!(late.status, 404);
    // A wrong code is a complete error that asks for a restart.
    world.clock = crate::time::FixedClock(NOW_MS);
    let started = world
        .call("POST", "/api/oauth/start", Some(&start_body()))
        .await;
    let state = started.json_body().unwrap()["state"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = world
        .call(
            "POST",
            "/api/oauth/complete",
            Some(&json!({"state": state, "code": "wrong"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let bad = bad.json_body().unwrap();
    assert_eq!(bad["_tag"], "OAuthCompleteError");
    assert_eq!(bad["restartRequired"], true);
}

#[tokio::test]
async fn a_due_token_is_refreshed_once_and_the_rotated_token_stored() {
    let (world, server) = vault_world("authorization_code").await;
    // The first token expires within the 60 s skew: the next call must refresh.
    server.expires_in.set(30);
    connect(&world, &server).await;
    server.expires_in.set(3600);
    assert_eq!(server.refreshes.get(), 0);

    let result = execute(&world, CALL).await;
    assert_eq!(result["data"]["authorization"], "Bearer at-2", "{result}");
    assert_eq!(server.refreshes.get(), 1);
    let result = execute(&world, &format!("{CALL}\n")).await;
    assert_eq!(result["data"]["authorization"], "Bearer at-2");
    assert_eq!(
        server.refreshes.get(),
        1,
        "a fresh token is not refreshed again"
    );

    // Rotation: the new refresh token is stored, the old one is dead upstream.
    assert_eq!(
        stored_secret(&world, "oauth:org:vault:main").await.unwrap(),
        "at-2"
    );
    assert_eq!(
        stored_secret(&world, "oauth:org:vault:main:refresh")
            .await
            .unwrap(),
        "rt-2"
    );
    assert_eq!(*server.valid_refresh.borrow(), vec!["rt-2".to_string()]);
    let row = connection_row(&world).await;
    assert_eq!(row["expires_at"], NOW_MS as i64 + 3_600_000);
    assert_eq!(row["oauth_refresh_lease"], Value::Null);
}

#[tokio::test]
async fn a_dead_refresh_token_answers_oauth_reauth_required() {
    let (world, server) = vault_world("authorization_code").await;
    server.expires_in.set(30);
    connect(&world, &server).await;
    server.valid_refresh.borrow_mut().clear();
    let api_calls = || {
        world
            .http
            .requests
            .borrow()
            .iter()
            .filter(|r| r.url.contains("api.vault.test"))
            .count()
    };
    let result = execute(&world, CALL).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["error"]["code"], "oauth_reauth_required");
    assert_eq!(
        result["error"]["details"]["recovery"]["startOAuthTool"],
        "executor.coreTools.oauth.start"
    );
    assert_eq!(api_calls(), 0);
    assert_eq!(connection_row(&world).await["oauth_reauth_required"], 1);

    // Marked: later calls answer the same without asking the server again.
    let token_requests = server.token_requests.get();
    let result = execute(&world, &format!("{CALL}\n")).await;
    assert_eq!(result["error"]["code"], "oauth_reauth_required");
    assert_eq!(server.token_requests.get(), token_requests);

    // Signing in again re-mints the connection and clears the mark (no new client created).
    server.expires_in.set(3600);
    connect(&world, &server).await;
    assert_eq!(connection_row(&world).await["oauth_reauth_required"], 0);
    let result = execute(&world, &format!("{CALL}\n\n")).await;
    assert_eq!(result["ok"], true, "{result}");
    let clients = world.call("GET", "/api/oauth/clients", None).await;
    assert_eq!(clients.json_body().unwrap().as_array().unwrap().len(), 1);
}

/// A timer standing in for another isolate that holds the lease: on the first wait it finishes
/// "its" refresh (new token stored, lease released).
struct PeerFinishes<'a> {
    world: &'a TestWorld,
    waits: Cell<usize>,
}

#[async_trait::async_trait(?Send)]
impl crate::time::Timer for PeerFinishes<'_> {
    async fn sleep(&self, _ms: u64) {
        self.waits.set(self.waits.get() + 1);
        if self.waits.get() == 1 {
            let partition = Partition {
                tenant: self.world.tenant().into(),
                owner: Owner::Org,
                subject: String::new(),
            };
            let seal = encrypted::seal_statement(
                &self.world.keyring,
                &partition,
                "oauth:org:vault:main",
                &crate::crypto::SecretValue::new("peer-token"),
                1,
            )
            .unwrap();
            self.world
                .sql
                .batch(vec![
                    seal,
                    Statement::new(
                        "UPDATE connection SET oauth_refresh_lease = NULL, expires_at = ?1",
                        vec![crate::store::SqlValue::Integer(NOW_MS as i64 + 3_600_000)],
                    ),
                ])
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_refresh_in_progress_elsewhere_is_awaited_not_repeated() {
    let (world, server) = vault_world("authorization_code").await;
    server.expires_in.set(30);
    connect(&world, &server).await;
    // Another isolate claimed the lease a moment ago.
    world
        .exec(
            "UPDATE connection SET oauth_refresh_lease = ?1",
            vec![crate::store::SqlValue::Integer(NOW_MS as i64 + 20_000)],
        )
        .await;
    let token_requests = server.token_requests.get();
    let peer = PeerFinishes {
        world: &world,
        waits: Cell::new(0),
    };
    let mut services = world.services();
    services.timer = &peer;
    let partition = Partition {
        tenant: world.tenant().into(),
        owner: Owner::Org,
        subject: String::new(),
    };
    let token = super::refresh::fresh_token(services, &partition, "vault", "main")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.expose(), "peer-token");
    assert_eq!(peer.waits.get(), 1);
    assert_eq!(
        server.token_requests.get(),
        token_requests,
        "the loser never refreshes"
    );

    // The lease is a compare-and-swap: a second claimant of a held lease loses.
    world
        .exec(
            "UPDATE connection SET oauth_refresh_lease = ?1, expires_at = ?2",
            vec![
                crate::store::SqlValue::Integer(NOW_MS as i64 + 20_000),
                crate::store::SqlValue::Integer(NOW_MS as i64),
            ],
        )
        .await;
    let now = NOW_MS as i64;
    assert!(
        !super::store::claim_lease(&world.sql, &partition, "vault", "main", now + 30_000, now)
            .await
            .unwrap()
    );
    // An expired lease can be taken over; the first holder's write-back is then void.
    let later = now + 25_000;
    assert!(super::store::claim_lease(
        &world.sql,
        &partition,
        "vault",
        "main",
        later + 30_000,
        later
    )
    .await
    .unwrap());
    world
        .sql
        .batch(vec![
            super::store::guarded_secret(
                &partition,
                "vault",
                "main",
                now + 20_000,
                "oauth:org:vault:main",
                encrypted::sealed_data(&world.keyring, &crate::crypto::SecretValue::new("stale"))
                    .unwrap(),
                later,
            ),
            super::store::refreshed(
                &partition,
                "vault",
                "main",
                now + 20_000,
                Some(1),
                None,
                None,
                later,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        stored_secret(&world, "oauth:org:vault:main").await.unwrap(),
        "peer-token"
    );
    assert_eq!(connection_row(&world).await["expires_at"], now);
}

#[tokio::test]
async fn client_credentials_connect_at_once() {
    let (world, server) = vault_world("client_credentials").await;
    let started = world
        .call("POST", "/api/oauth/start", Some(&start_body()))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.json_body());
    let started = started.json_body().unwrap();
    assert_eq!(started["status"], "connected");
    assert_eq!(started["connection"]["address"], "tools.vault.org.main");
    assert_eq!(server.token_requests.get(), 1);
    let result = execute(&world, CALL).await;
    assert_eq!(result["data"]["authorization"], "Bearer at-1");

    // A user-owned app cannot back a workspace connection.
    let mut body = start_body();
    body["clientOwner"] = json!("user");
    let refused = world.call("POST", "/api/oauth/start", Some(&body)).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json_body().unwrap()["_tag"], "OAuthStartError");
}

#[tokio::test]
async fn the_callback_page_escapes_everything_and_carries_no_secret() {
    let world = TestWorld::new();
    let page = world
        .call(
            "GET",
            "/api/oauth/callback?state=%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E&error=%3Cb%3Eno%3C%2Fb%3E",
            None,
        )
        .await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("'nonce-"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("</script><script>"));
    assert!(!html.contains("<b>no</b>"));
    assert!(html.contains("\"ok\":false"));
    assert!(html.contains("Authentication failed"));

    let unknown = world
        .call("GET", "/api/oauth/callback?state=nope&code=x", None)
        .await;
    let html = String::from_utf8(unknown.body).unwrap();
    assert!(html.contains("OAuth session expired or not found"));
    // Behind Access like the rest of /api.
    let anonymous = world
        .send(None, "GET", "/api/oauth/callback?state=s&code=c", None)
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn probe_follows_protected_resource_metadata_to_the_authorization_server() {
    let world = TestWorld::new();
    world.http.on(|r| {
        (r.url == "https://mcp.example.test/mcp").then(|| OutboundResponse {
            status: 401,
            headers: vec![(
                "www-authenticate".into(),
                "Bearer realm=\"mcp\", resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource/mcp\"".into(),
            )],
            body: Vec::new(),
        })
    });
    world.http.serve(
        "https://mcp.example.test/.well-known/oauth-protected-resource/mcp",
        "application/json",
        json!({"resource": "https://mcp.example.test/mcp",
               "authorization_servers": ["https://auth.example.test/tenant"]})
        .to_string(),
    );
    world.http.serve(
        "https://auth.example.test/.well-known/oauth-authorization-server/tenant",
        "application/json",
        json!({"issuer": "https://auth.example.test/tenant",
               "authorization_endpoint": "https://auth.example.test/tenant/authorize",
               "token_endpoint": "https://auth.example.test/tenant/token",
               "registration_endpoint": "https://auth.example.test/tenant/register",
               "scopes_supported": ["mcp"],
               "token_endpoint_auth_methods_supported": ["none"]})
        .to_string(),
    );
    let probed = world
        .call(
            "POST",
            "/api/oauth/probe",
            Some(&json!({"url": "https://mcp.example.test/mcp"})),
        )
        .await;
    assert_eq!(probed.status, 200, "{:?}", probed.json_body());
    assert_eq!(
        probed.json_body().unwrap(),
        json!({"authorizationUrl": "https://auth.example.test/tenant/authorize",
               "tokenUrl": "https://auth.example.test/tenant/token",
               "resource": "https://mcp.example.test/mcp",
               "registrationEndpoint": "https://auth.example.test/tenant/register",
               "scopesSupported": ["mcp"],
               "tokenEndpointAuthMethodsSupported": ["none"]})
    );

    // OpenID discovery at an issuer without RFC 8414 metadata.
    world.http.serve(
        "https://oidc.example.test/.well-known/openid-configuration",
        "application/json",
        json!({"authorization_endpoint": "https://oidc.example.test/auth",
               "token_endpoint": "https://oidc.example.test/token"})
        .to_string(),
    );
    let probed = world
        .call(
            "POST",
            "/api/oauth/probe",
            Some(&json!({"url": "https://oidc.example.test"})),
        )
        .await;
    assert_eq!(
        probed.json_body().unwrap()["tokenUrl"],
        "https://oidc.example.test/token"
    );

    let nothing = world
        .call(
            "POST",
            "/api/oauth/probe",
            Some(&json!({"url": "https://nothing.example.test/x"})),
        )
        .await;
    assert_eq!(nothing.status, 400);
    assert_eq!(nothing.json_body().unwrap()["_tag"], "OAuthProbeError");
}

#[tokio::test]
async fn dynamic_registration_stores_a_client_without_returning_its_secret() {
    let world = TestWorld::new();
    world.http.on(|r| {
        (r.method == "POST" && r.url == "https://auth.example.test/register").then(|| {
            let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
            assert_eq!(
                body["redirect_uris"],
                json!(["http://127.0.0.1:8787/api/oauth/callback"])
            );
            assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
            assert_eq!(
                body["grant_types"],
                json!(["authorization_code", "refresh_token"])
            );
            assert_eq!(body["scope"], "mcp read");
            json_response(
                201,
                json!({"client_id": "dyn-1", "client_secret": "dyn-secret-canary"}),
            )
        })
    });
    let registered = world
        .call(
            "POST",
            "/api/oauth/clients/register-dynamic",
            Some(&json!({"owner": "org", "slug": "mcp-app",
                "registrationEndpoint": "https://auth.example.test/register",
                "authorizationUrl": "https://auth.example.test/authorize",
                "tokenUrl": "https://auth.example.test/token",
                "scopes": ["mcp", "read"],
                "tokenEndpointAuthMethodsSupported": ["client_secret_post"],
                "originIntegration": "notes"})),
        )
        .await;
    assert_eq!(registered.status, 200, "{:?}", registered.json_body());
    assert_eq!(
        registered.json_body().unwrap(),
        json!({"client": "mcp-app"})
    );
    let list = world.call("GET", "/api/oauth/clients", None).await;
    let list = list.json_body().unwrap();
    assert_eq!(list[0]["clientId"], "dyn-1");
    assert_eq!(
        list[0]["origin"],
        json!({"kind": "dynamic_client_registration", "integration": "notes"})
    );
    assert!(!list.to_string().contains("dyn-secret-canary"));
    assert_eq!(
        stored_secret(&world, "oauth-client:org:mcp-app:secret")
            .await
            .unwrap(),
        "dyn-secret-canary"
    );

    let refused = world
        .call(
            "POST",
            "/api/oauth/clients/register-dynamic",
            Some(&json!({"owner": "org", "slug": "x",
                "registrationEndpoint": "https://nothing.example.test/register",
                "authorizationUrl": "https://auth.example.test/authorize",
                "tokenUrl": "https://auth.example.test/token", "scopes": []})),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json_body().unwrap()["_tag"],
        "OAuthRegisterDynamicError"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_an_unexpired_token_and_reports_an_expired_one() {
    let (mut world, server) = vault_world("authorization_code").await;
    server.expires_in.set(30);
    connect(&world, &server).await;
    server.down.set(true);
    // Due (30 s left) but not expired: the call goes ahead with the current token.
    let result = execute(&world, CALL).await;
    assert_eq!(result["data"]["authorization"], "Bearer at-1", "{result}");
    let row = connection_row(&world).await;
    assert_eq!(
        row["oauth_refresh_lease"],
        Value::Null,
        "the lease is given back"
    );
    assert_eq!(row["oauth_reauth_required"], 0);
    // Expired: the call answers oauth_refresh_failed (not a re-auth: the grant may be fine).
    world.clock = crate::time::FixedClock(NOW_MS + 31_000.0);
    let result = execute(&world, &format!("{CALL}\n")).await;
    assert_eq!(result["error"]["code"], "oauth_refresh_failed", "{result}");
    // Back up: the next call refreshes with the same (unrotated) refresh token.
    server.down.set(false);
    let result = execute(&world, &format!("{CALL}\n\n")).await;
    assert_eq!(result["data"]["authorization"], "Bearer at-2", "{result}");
    assert_eq!(server.refreshes.get(), 1);
}
