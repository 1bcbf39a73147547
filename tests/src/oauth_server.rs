//! A loopback OAuth 2 authorization server with a protected API, for the e2e suite.
//!
//! - `GET /.well-known/oauth-authorization-server` (RFC 8414 metadata, with a registration
//!   endpoint); `GET /.well-known/oauth-protected-resource/mcp` (RFC 9728) and `/mcp`, which
//!   answers 401 with `WWW-Authenticate: Bearer resource_metadata="…"` like an MCP server;
//! - `GET /authorize`: auto-approves — checks the client and PKCE parameters, then redirects
//!   (302) to `redirect_uri?code=…&state=…`;
//! - `POST /token`: `authorization_code` (code, redirect URI and the S256 verifier checked),
//!   `refresh_token` (rotation: the presented token dies, a new one is issued), and
//!   `client_credentials`; clients authenticate with `client_secret_post` (or none for public
//!   DCR clients); errors are RFC 6749 `{"error": …}` bodies;
//! - `POST /register`: RFC 7591 dynamic registration;
//! - `GET /openapi.json`: an OpenAPI document whose `GET /api/secret` needs
//!   `Authorization: Bearer <live access token>` (else 401).
//!
//! Tests steer it directly (same process): [`OAuthServer::set_expires_in`] for the lifetime of
//! the next tokens, [`OAuthServer::kill_refresh_tokens`], and read counters with
//! [`OAuthServer::stats`]. It never echoes request headers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::upstream::{read_request, Recorded};

/// Pre-registered confidential clients: (id, secret).
pub const CODE_CLIENT: (&str, &str) = ("vault-client", "vault-secret");
pub const SERVICE_CLIENT: (&str, &str) = ("svc-client", "svc-secret");

struct Client {
    secret: Option<String>,
    redirect_uris: Vec<String>,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
}

/// Counters and token sets the tests look at.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub token_requests: usize,
    pub code_exchanges: usize,
    pub refreshes: usize,
    pub client_credentials: usize,
    pub registrations: usize,
    /// Refresh-token requests refused with `invalid_grant`.
    pub refused_refreshes: usize,
    /// Every refresh token ever issued, in order.
    pub issued_refresh: Vec<String>,
    /// The refresh tokens still accepted.
    pub live_refresh: Vec<String>,
    /// `GET /api/secret` answered 200 / 401.
    pub api_ok: usize,
    pub api_unauthorized: usize,
    /// The bearer token of each successful API call.
    pub api_tokens: Vec<String>,
}

struct State {
    base: String,
    clients: BTreeMap<String, Client>,
    codes: BTreeMap<String, Grant>,
    /// access token ⇒ expiry (epoch seconds).
    access: BTreeMap<String, u64>,
    expires_in: u64,
    next: u64,
    stats: Stats,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The running server; stops when dropped.
pub struct OAuthServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl OAuthServer {
    /// Binds 127.0.0.1 on a free port and serves (on the current tokio runtime).
    pub async fn start() -> std::io::Result<OAuthServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut clients = BTreeMap::new();
        for (id, secret) in [CODE_CLIENT, SERVICE_CLIENT] {
            clients.insert(
                id.to_string(),
                Client {
                    secret: Some(secret.to_string()),
                    redirect_uris: Vec::new(),
                },
            );
        }
        let state = Arc::new(Mutex::new(State {
            base: format!("http://{addr}"),
            clients,
            codes: BTreeMap::new(),
            access: BTreeMap::new(),
            expires_in: 3600,
            next: 0,
            stats: Stats::default(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(OAuthServer { addr, state, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lifetime (seconds) of the tokens issued from now on.
    pub fn set_expires_in(&self, seconds: u64) {
        lock(&self.state).expires_in = seconds;
    }

    /// Every refresh token stops working (the user revoked the grant).
    pub fn kill_refresh_tokens(&self) {
        lock(&self.state).stats.live_refresh.clear();
    }

    pub fn stats(&self) -> Stats {
        lock(&self.state).stats.clone()
    }

    /// The protected API's OpenAPI document (served at `/openapi.json`).
    pub fn openapi_url(&self) -> String {
        format!("{}/openapi.json", self.base_url())
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn json_reply(status: u16, value: Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: value.to_string().into_bytes(),
    }
}

fn oauth_error(error: &str) -> Reply {
    json_reply(400, json!({ "error": error }))
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let Some(request) = read_request(&mut reader).await? else {
            return Ok(());
        };
        let reply = route(&mut lock(&state), &request);
        let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", reply.body.len()));
        write.write_all(head.as_bytes()).await?;
        write.write_all(&reply.body).await?;
        write.flush().await?;
    }
}

/// `application/x-www-form-urlencoded` pairs.
fn params(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn route(state: &mut State, request: &Recorded) -> Reply {
    let base = state.base.clone();
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/.well-known/oauth-authorization-server") => json_reply(
            200,
            json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "registration_endpoint": format!("{base}/register"),
                "scopes_supported": ["read"],
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            }),
        ),
        ("GET", "/.well-known/oauth-protected-resource/mcp") => json_reply(
            200,
            json!({"resource": format!("{base}/mcp"), "authorization_servers": [base]}),
        ),
        (_, "/mcp") => Reply {
            status: 401,
            headers: vec![
                (
                    "www-authenticate",
                    format!(
                        "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
                    ),
                ),
                ("content-type", "application/json".into()),
            ],
            body: b"{\"error\":\"unauthorized\"}".to_vec(),
        },
        ("GET", "/openapi.json") => json_reply(200, openapi(&base)),
        ("GET", "/authorize") => authorize(state, request),
        ("POST", "/token") => token(state, request),
        ("POST", "/register") => register(state, request),
        ("GET", "/api/secret") => {
            let token = request
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default()
                .to_string();
            let live = state
                .access
                .get(&token)
                .is_some_and(|exp| *exp > now_secs());
            if live {
                state.stats.api_ok += 1;
                state.stats.api_tokens.push(token);
                json_reply(200, json!({"secret": 42}))
            } else {
                state.stats.api_unauthorized += 1;
                json_reply(401, json!({"error": "invalid_token"}))
            }
        }
        _ => json_reply(404, json!({"error": "not found"})),
    }
}

fn authorize(state: &mut State, request: &Recorded) -> Reply {
    let q = params(request.query.as_deref().unwrap_or_default());
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let Some(client) = state.clients.get(&get("client_id")) else {
        return oauth_error("unauthorized_client");
    };
    let redirect = get("redirect_uri");
    if !client.redirect_uris.is_empty() && !client.redirect_uris.contains(&redirect) {
        return oauth_error("invalid_request");
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
        || get("state").is_empty()
    {
        return oauth_error("invalid_request");
    }
    state.next += 1;
    let code = format!("code-{}", state.next);
    state.codes.insert(
        code.clone(),
        Grant {
            client_id: get("client_id"),
            redirect_uri: redirect.clone(),
            challenge: get("code_challenge"),
            scope: get("scope"),
        },
    );
    let sep = if redirect.contains('?') { '&' } else { '?' };
    Reply {
        status: 302,
        headers: vec![(
            "location",
            format!(
                "{redirect}{sep}code={}&state={}",
                encode(&code),
                encode(&get("state"))
            ),
        )],
        body: Vec::new(),
    }
}

fn issue(state: &mut State, scope: &str, with_refresh: bool) -> Value {
    state.next += 1;
    let n = state.next;
    let access = format!("at-{n}-{:08x}", rand::random::<u32>());
    state
        .access
        .insert(access.clone(), now_secs() + state.expires_in);
    let mut body = json!({"access_token": access, "token_type": "Bearer",
                          "expires_in": state.expires_in, "scope": scope});
    if with_refresh {
        let refresh = format!("rt-{n}-{:08x}", rand::random::<u32>());
        state.stats.issued_refresh.push(refresh.clone());
        state.stats.live_refresh.push(refresh.clone());
        body["refresh_token"] = Value::String(refresh);
    }
    body
}

fn token(state: &mut State, request: &Recorded) -> Reply {
    state.stats.token_requests += 1;
    let form = params(&String::from_utf8_lossy(&request.body));
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let Some(client) = state.clients.get(&client_id) else {
        return json_reply(401, json!({"error": "invalid_client"}));
    };
    if client
        .secret
        .as_deref()
        .is_some_and(|s| s != get("client_secret"))
    {
        return json_reply(401, json!({"error": "invalid_client"}));
    }
    match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(grant) = state.codes.remove(&get("code")) else {
                return oauth_error("invalid_grant");
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
            if grant.client_id != client_id
                || grant.redirect_uri != get("redirect_uri")
                || grant.challenge != challenge
            {
                return oauth_error("invalid_grant");
            }
            state.stats.code_exchanges += 1;
            let scope = if grant.scope.is_empty() {
                "read".into()
            } else {
                grant.scope
            };
            json_reply(200, issue(state, &scope, true))
        }
        "refresh_token" => {
            let presented = get("refresh_token");
            let Some(at) = state
                .stats
                .live_refresh
                .iter()
                .position(|t| *t == presented)
            else {
                state.stats.refused_refreshes += 1;
                return oauth_error("invalid_grant");
            };
            // Rotation: the presented refresh token is spent.
            state.stats.live_refresh.remove(at);
            state.stats.refreshes += 1;
            json_reply(200, issue(state, "read", true))
        }
        "client_credentials" => {
            state.stats.client_credentials += 1;
            json_reply(200, issue(state, "read", false))
        }
        _ => oauth_error("unsupported_grant_type"),
    }
}

fn register(state: &mut State, request: &Recorded) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return json_reply(400, json!({"error": "invalid_client_metadata"}));
    };
    let redirect_uris: Vec<String> = body["redirect_uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if redirect_uris.is_empty() {
        return json_reply(400, json!({"error": "invalid_redirect_uri"}));
    }
    state.stats.registrations += 1;
    state.next += 1;
    let id = format!("dyn-{}", state.next);
    let secret = (body["token_endpoint_auth_method"] != "none")
        .then(|| format!("dyn-secret-{:08x}", rand::random::<u32>()));
    state.clients.insert(
        id.clone(),
        Client {
            secret: secret.clone(),
            redirect_uris: redirect_uris.clone(),
        },
    );
    let mut answer = json!({"client_id": id, "redirect_uris": redirect_uris,
                            "token_endpoint_auth_method": body["token_endpoint_auth_method"]});
    if let Some(secret) = secret {
        answer["client_secret"] = Value::String(secret);
    }
    json_reply(201, answer)
}

/// The protected API: one operation behind OAuth 2 (authorization code).
fn openapi(base: &str) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Vault", "version": "1"},
        "servers": [{"url": base}],
        "components": {"securitySchemes": {"vault": {"type": "oauth2", "flows": {
            "authorizationCode": {
                "authorizationUrl": format!("{base}/authorize"),
                "tokenUrl": format!("{base}/token"),
                "scopes": {"read": "Read the secret"}
            }
        }}}},
        "security": [{"vault": ["read"]}],
        "paths": {"/api/secret": {"get": {
            "operationId": "getSecret",
            "tags": ["secrets"],
            "summary": "Read the secret number.",
            "responses": {"200": {"description": "the secret",
                "content": {"application/json": {"schema": {"type": "object",
                    "properties": {"secret": {"type": "integer"}}}}}}}
        }}}
    })
}
