//! An offline fake of the Cloudflare API v4 on 127.0.0.1, for `provision --api-base`.
//!
//! State lives in memory; every request is recorded (the API token replaced by a marker),
//! checked against the OpenAPI document ([`crate::spec`]) and against the fake's own
//! contract (auth, multipart metadata, bindings, migrations, asset tokens, policy and zone
//! references, the script existing before domain/subdomain calls). Violations are answered
//! with HTTP 400 and kept in [`FakeState::violations`]. Invariants of a private deployment
//! are watched too: a custom domain must never be attached while no Access application
//! covers its hostname, nor an application removed while the hostname is still attached.
//! Faults can be injected at the N-th call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::multipart;
use crate::spec;

pub const TOKEN: &str = "test-api-token-0123456789abcdef";
pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
pub const TEAM: &str = "acme.cloudflareaccess.com";
pub const ZONE: &str = "example.com";
pub const ZONE_ID: &str = "feedfacefeedfacefeedfacefeedface";
/// Largest page the fake returns, whatever is asked, so clients must page.
pub const PAGE_CAP: usize = 2;

/// How an injected fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 400, code 9999, nothing applied.
    Reject,
    /// The request is applied, then answered with HTTP 500 (a lost response).
    CommitThenFail,
    /// HTTP 429 with `Retry-After: 0`, nothing applied.
    RateLimit,
    /// HTTP 503, nothing applied.
    Unavailable,
    /// HTTP 400 "policy … not found" (Access propagation), nothing applied.
    PolicyNotFound,
}

#[derive(Debug, Clone)]
pub struct Fault {
    /// 1-based index of the call to fail.
    pub at: Option<usize>,
    /// Or: the first call whose `METHOD path` contains this text.
    pub matching: Option<String>,
    pub kind: FaultKind,
    pub fired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    ApiToken,
    UploadJwt,
    Other(String),
}

#[derive(Debug, Clone)]
pub struct PartRec {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size: usize,
    pub json: Option<Value>,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Call {
    pub n: usize,
    pub method: String,
    /// Below `/client/v4`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub auth: Auth,
    pub json: Option<Value>,
    pub parts: Option<Vec<PartRec>>,
    pub status: u16,
}

impl Call {
    pub fn is_mutation(&self) -> bool {
        self.method != "GET"
    }

    /// `POST /accounts/…/d1/database`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn metadata(&self) -> Option<&Value> {
        self.parts
            .as_ref()?
            .iter()
            .find(|p| p.name == "metadata")?
            .json
            .as_ref()
    }
}

#[derive(Debug, Clone)]
pub struct D1 {
    pub uuid: String,
    pub name: String,
    pub applied: Vec<String>,
    pub queries: usize,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub metadata: Value,
    pub modules: Vec<(String, String, usize)>,
    pub etag: String,
    pub migration_tag: Option<String>,
    pub secrets: BTreeMap<String, String>,
    pub subdomain: bool,
    pub previews: bool,
    pub uploads: usize,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub id: String,
    pub hostname: String,
    pub service: String,
    pub zone_id: String,
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub aud: String,
    pub domain: String,
    pub name: String,
    pub kind: String,
    pub policies: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub decision: String,
    pub include: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub secret: String,
}

/// Everything the fake knows.
#[derive(Debug)]
pub struct FakeState {
    pub accounts: Vec<(String, String)>,
    pub zones: Vec<(String, String, String)>,
    pub org_domain: Option<String>,
    pub d1: Vec<D1>,
    pub r2: Vec<String>,
    pub scripts: BTreeMap<String, Script>,
    pub known_hashes: HashSet<String>,
    /// Upload JWT → (script, hashes still wanted).
    pub sessions: HashMap<String, (String, HashSet<String>)>,
    /// Completion JWT → script.
    pub completions: HashMap<String, String>,
    pub domains: Vec<Domain>,
    /// Hostnames with DNS records not managed by Workers (custom-domain code 100117).
    pub external_dns: HashSet<String>,
    pub apps: Vec<App>,
    pub policies: Vec<Policy>,
    pub tokens: Vec<Token>,
    pub calls: Vec<Call>,
    pub violations: Vec<String>,
    pub faults: Vec<Fault>,
    counter: u64,
    seed: u64,
}

impl FakeState {
    fn new(seed: u64) -> Self {
        Self {
            accounts: vec![(ACCOUNT.to_string(), "Acme".to_string())],
            zones: vec![
                (ZONE_ID.into(), ZONE.into(), "active".into()),
                (
                    "0000000000000000000000000000beef".into(),
                    "other.org".into(),
                    "active".into(),
                ),
            ],
            org_domain: Some(TEAM.to_string()),
            d1: Vec::new(),
            r2: Vec::new(),
            scripts: BTreeMap::new(),
            known_hashes: HashSet::new(),
            sessions: HashMap::new(),
            completions: HashMap::new(),
            domains: Vec::new(),
            external_dns: HashSet::new(),
            apps: Vec::new(),
            policies: Vec::new(),
            tokens: Vec::new(),
            calls: Vec::new(),
            violations: Vec::new(),
            faults: Vec::new(),
            counter: 0,
            seed,
        }
    }

    /// A fresh hex id of `len` characters.
    fn hex(&mut self, len: usize) -> String {
        self.counter += 1;
        let mut out = String::new();
        let mut round = 0u64;
        while out.len() < len {
            let digest = Sha256::digest(format!("{}:{}:{round}", self.seed, self.counter));
            out.extend(digest.iter().map(|b| format!("{b:02x}")));
            round += 1;
        }
        out.truncate(len);
        out
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// Every secret the fake has handed out (for leak checks).
    pub fn issued_secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.tokens.iter().map(|t| t.secret.clone()).collect();
        for s in self.scripts.values() {
            out.extend(s.secrets.values().cloned());
        }
        out.extend(self.sessions.keys().cloned());
        out.extend(self.completions.keys().cloned());
        out
    }

    /// Calls that changed something (anything but GET).
    pub fn mutations(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| c.is_mutation())
            .map(Call::line)
            .collect()
    }

    fn app_covers(&self, host: &str) -> bool {
        self.apps.iter().any(|a| a.domain == host)
    }
}

type Reply = (StatusCode, Value, Vec<(&'static str, String)>);

fn ok(result: Value) -> Reply {
    (
        StatusCode::OK,
        json!({ "success": true, "errors": [], "messages": [], "result": result }),
        Vec::new(),
    )
}

fn err(status: u16, code: i64, message: &str) -> Reply {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        json!({ "success": false, "errors": [{ "code": code, "message": message }], "messages": [], "result": null }),
        Vec::new(),
    )
}

fn q<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn paged(items: Vec<Value>, query: &[(String, String)]) -> Reply {
    let per_page = q(query, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, PAGE_CAP);
    let page = q(query, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let pages = total.div_ceil(per_page).max(1);
    let (status, mut body, headers) = ok(Value::Array(slice.clone()));
    body["result_info"] = json!({
        "page": page, "per_page": per_page, "count": slice.len(),
        "total_count": total, "total_pages": pages,
    });
    (status, body, headers)
}

fn app_json(a: &App, policies: &[Policy]) -> Value {
    json!({
        "id": a.id, "aud": a.aud, "domain": a.domain, "name": a.name, "type": a.kind,
        "session_duration": "24h",
        "policies": a.policies.iter().enumerate().map(|(i, id)| {
            let p = policies.iter().find(|p| &p.id == id);
            json!({ "id": id, "precedence": i + 1,
                    "decision": p.map(|p| p.decision.clone()), "name": p.map(|p| p.name.clone()) })
        }).collect::<Vec<_>>(),
    })
}

fn policy_json(p: &Policy) -> Value {
    json!({ "id": p.id, "name": p.name, "decision": p.decision, "include": p.include,
            "exclude": [], "require": [], "reusable": true })
}

fn token_json(t: &Token) -> Value {
    json!({ "id": t.id, "name": t.name, "client_id": t.client_id, "duration": "8760h",
            "expires_at": "2027-01-01T00:00:00Z" })
}

fn script_json(name: &str, s: &Script) -> Value {
    json!({ "id": name, "etag": s.etag, "migration_tag": s.migration_tag,
            "has_assets": s.metadata.get("assets").is_some(), "modified_on": "2026-01-01T00:00:00Z" })
}

fn domain_json(d: &Domain) -> Value {
    json!({ "id": d.id, "hostname": d.hostname, "service": d.service, "zone_id": d.zone_id,
            "zone_name": ZONE, "environment": "production", "cert_id": "c" })
}

/// A running fake.
pub struct FakeApi {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let seed = u64::from(addr.port()) * 7919 + u64::from(std::process::id());
        let state = Arc::new(Mutex::new(FakeState::new(seed)));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApi { addr, state, task }
    }

    /// `http://127.0.0.1:PORT/client/v4`.
    pub fn base(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn fail_at(&self, n: usize, kind: FaultKind) {
        self.inject(Fault {
            at: Some(n),
            matching: None,
            kind,
            fired: false,
        });
    }

    pub fn fail_first(&self, matching: &str, kind: FaultKind) {
        self.inject(Fault {
            at: None,
            matching: Some(matching.to_string()),
            kind,
            fired: false,
        });
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }
}

async fn handle(shared: Arc<Mutex<FakeState>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let full_path = uri.path().to_string();
    let query: Vec<(String, String)> = uri
        .query()
        .map(|qs| {
            qs.split('&')
                .filter(|s| !s.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let auth = match headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        None => Auth::None,
        Some(t) if t == TOKEN => Auth::ApiToken,
        Some(t) => Auth::Other(t.to_string()),
    };

    let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
    let n = st.calls.len() + 1;
    let Some(path) = full_path.strip_prefix("/client/v4") else {
        return respond(err(404, 7000, "No route for that URI"));
    };
    let path = path.to_string();

    // Parse the body.
    let mut json_body = None;
    let mut parts = None;
    let mut problems: Vec<String> = Vec::new();
    let essence = content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_string());
    match essence.as_deref() {
        Some("application/json") => match serde_json::from_slice::<Value>(&body) {
            Ok(v) => json_body = Some(v),
            Err(e) => problems.push(format!("invalid JSON body: {e}")),
        },
        Some("multipart/form-data") => {
            match content_type
                .as_deref()
                .and_then(multipart::boundary)
                .ok_or_else(|| "multipart without boundary".to_string())
                .and_then(|b| multipart::parse(&body, &b))
            {
                Ok(p) => parts = Some(p),
                Err(e) => problems.push(format!("malformed multipart body: {e}")),
            }
        }
        Some(other) if !body.is_empty() => {
            problems.push(format!("unexpected content type {other}"))
        }
        _ => {}
    }
    let part_recs: Option<Vec<PartRec>> = parts.as_ref().map(|ps: &Vec<multipart::Part>| {
        ps.iter()
            .map(|p| PartRec {
                name: p.name.clone(),
                filename: p.filename.clone(),
                content_type: p.content_type.clone(),
                size: p.body.len(),
                json: (p.name == "metadata")
                    .then(|| serde_json::from_slice(&p.body).ok())
                    .flatten(),
            })
            .collect()
    });

    // The OpenAPI check.
    let spec_parts: Option<Vec<(String, Option<Value>)>> = part_recs.as_ref().map(|ps| {
        ps.iter()
            .map(|p| (p.name.clone(), p.json.clone()))
            .collect()
    });
    problems.extend(spec::check(&spec::Request {
        method: &method,
        path: &path,
        query: &query,
        content_type: content_type.as_deref(),
        json: json_body.as_ref(),
        parts: spec_parts.as_deref(),
    }));

    // Auth: the API token everywhere except the assets upload, which takes an upload JWT.
    let is_asset_upload = path.ends_with("/workers/assets/upload");
    let recorded_auth = match (&auth, is_asset_upload) {
        (Auth::Other(t), true) if st.sessions.contains_key(t) => Auth::UploadJwt,
        (a, _) => a.clone(),
    };
    if is_asset_upload {
        if recorded_auth == Auth::ApiToken {
            problems.push("the API token was sent to the assets upload endpoint".into());
        } else if recorded_auth != Auth::UploadJwt {
            problems.push("assets upload without a valid upload JWT".into());
        }
    } else if recorded_auth != Auth::ApiToken {
        st.calls.push(Call {
            n,
            method,
            path,
            query,
            auth: recorded_auth,
            json: json_body,
            parts: part_recs,
            status: 403,
        });
        return respond(err(403, 10000, "Authentication error"));
    }

    let mut call = Call {
        n,
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        auth: recorded_auth,
        json: json_body.clone(),
        parts: part_recs,
        status: 0,
    };
    if !problems.is_empty() {
        let text = problems.join("; ");
        st.violations.push(format!("#{n} {method} {path}: {text}"));
        call.status = 400;
        st.calls.push(call);
        return respond(err(
            400,
            9998,
            &format!("request rejected by the fake: {text}"),
        ));
    }

    // Fault injection.
    let line = format!("{method} {path}");
    let mut fault = None;
    for f in st.faults.iter_mut().filter(|f| !f.fired) {
        let hit = f.at == Some(n)
            || f.matching
                .as_deref()
                .is_some_and(|m| f.at.is_none() && line.contains(m));
        if hit {
            f.fired = true;
            fault = Some(f.kind);
            break;
        }
    }
    let before_fault = match fault {
        Some(FaultKind::Reject) => Some(err(400, 9999, "injected failure")),
        Some(FaultKind::RateLimit) => {
            let (s, b, mut h) = err(
                429,
                971,
                "Please wait and consider throttling your request speed",
            );
            h.push(("retry-after", "0".to_string()));
            Some((s, b, h))
        }
        Some(FaultKind::Unavailable) => Some(err(503, 9997, "service unavailable (injected)")),
        Some(FaultKind::PolicyNotFound) => Some(err(
            400,
            12130,
            "access.api.error.invalid_request: policy 7c0e not found",
        )),
        _ => None,
    };
    if let Some(reply) = before_fault {
        call.status = reply.0.as_u16();
        st.calls.push(call);
        return respond(reply);
    }

    let reply = route(
        &mut st,
        &method,
        &path,
        &query,
        json_body.as_ref(),
        parts.as_deref(),
        &auth,
    );
    let reply = if fault == Some(FaultKind::CommitThenFail) {
        err(500, 9996, "internal error after commit (injected)")
    } else {
        reply
    };
    call.status = reply.0.as_u16();
    st.calls.push(call);
    respond(reply)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond((status, body, headers): Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    resp.body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn violation(st: &mut FakeState, text: String) -> Reply {
    st.violations.push(text.clone());
    err(400, 9998, &text)
}

#[allow(clippy::too_many_lines)]
fn route(
    st: &mut FakeState,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    parts: Option<&[multipart::Part]>,
    auth: &Auth,
) -> Reply {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let empty = json!({});
    let body = body.unwrap_or(&empty);
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if let ["accounts", acct, ..] = segs.as_slice() {
        if *acct != ACCOUNT {
            return err(403, 9109, "Unauthorized to access requested resource");
        }
    }
    match (method, segs.as_slice()) {
        ("GET", ["user", "tokens", "verify"]) | ("GET", ["accounts", _, "tokens", "verify"]) => {
            ok(json!({ "id": "tok1", "status": "active" }))
        }
        ("GET", ["accounts"]) => {
            let items = st
                .accounts
                .iter()
                .map(|(id, name)| json!({ "id": id, "name": name, "type": "standard" }))
                .collect();
            paged(items, query)
        }
        ("GET", ["zones"]) => {
            let name = q(query, "name").unwrap_or_default();
            let items = st
                .zones
                .iter()
                .filter(|(_, n, _)| name.is_empty() || n == name)
                .map(|(id, n, status)| json!({ "id": id, "name": n, "status": status, "account": { "id": ACCOUNT } }))
                .collect();
            paged(items, query)
        }
        ("GET", ["accounts", _, "access", "organizations"]) => match &st.org_domain {
            Some(d) => ok(json!({ "auth_domain": d, "name": "Acme" })),
            None => err(
                404,
                12130,
                "access.api.error.not_found: organization not found",
            ),
        },
        // ---- D1
        ("GET", ["accounts", _, "d1", "database"]) => {
            let name = q(query, "name").unwrap_or_default();
            let items = st
                .d1
                .iter()
                .filter(|d| d.name.contains(name))
                .map(|d| json!({ "uuid": d.uuid, "name": d.name, "version": "production", "created_at": "2026-01-01T00:00:00Z" }))
                .collect();
            paged(items, query)
        }
        ("POST", ["accounts", _, "d1", "database"]) => {
            let name = s(body, "name");
            if st.d1.iter().any(|d| d.name == name) {
                return err(400, 7502, "A database with that name already exists");
            }
            let uuid = st.uuid();
            st.d1.push(D1 {
                uuid: uuid.clone(),
                name: name.clone(),
                applied: Vec::new(),
                queries: 0,
            });
            ok(json!({ "uuid": uuid, "name": name, "created_at": "2026-01-01T00:00:00Z" }))
        }
        ("GET", ["accounts", _, "d1", "database", id]) => {
            match st.d1.iter().find(|d| d.uuid == *id) {
                Some(d) => ok(
                    json!({ "uuid": d.uuid, "name": d.name, "num_tables": d.applied.len(), "file_size": 4096 }),
                ),
                None => err(404, 7404, "The database could not be found"),
            }
        }
        ("DELETE", ["accounts", _, "d1", "database", id]) => {
            let before = st.d1.len();
            st.d1.retain(|d| d.uuid != *id);
            if st.d1.len() == before {
                err(404, 7404, "The database could not be found")
            } else {
                ok(Value::Null)
            }
        }
        ("POST", ["accounts", _, "d1", "database", id, "query"]) => {
            let Some(db) = st.d1.iter_mut().find(|d| d.uuid == *id) else {
                return err(404, 7404, "The database could not be found");
            };
            db.queries += 1;
            let sql = s(body, "sql");
            if sql.contains("BEGIN TRANSACTION") || sql.contains("SAVEPOINT") {
                return err(400, 7500, "D1 does not support transactions in queries");
            }
            let mut results = vec![
                json!({ "results": [], "success": true, "meta": { "changes": 0, "duration": 0.1 } }),
            ];
            if sql.contains("SELECT name FROM d1_migrations") {
                let rows: Vec<Value> = db.applied.iter().map(|n| json!({ "name": n })).collect();
                results.push(json!({ "results": rows, "success": true, "meta": { "changes": 0, "duration": 0.1 } }));
            }
            if let Some(start) = sql.find("INSERT INTO d1_migrations (name) VALUES ('") {
                let rest = &sql[start + "INSERT INTO d1_migrations (name) VALUES ('".len()..];
                if let Some(end) = rest.find("')") {
                    let name = rest[..end].replace("''", "'");
                    if db.applied.contains(&name) {
                        return err(400, 7500, "UNIQUE constraint failed: d1_migrations.name");
                    }
                    db.applied.push(name);
                }
            }
            ok(Value::Array(results))
        }
        // ---- R2
        ("GET", ["accounts", _, "r2", "buckets", name]) => {
            if st.r2.iter().any(|b| b == name) {
                ok(
                    json!({ "name": name, "creation_date": "2026-01-01T00:00:00Z", "location": "WNAM" }),
                )
            } else {
                err(404, 10006, "The specified bucket does not exist.")
            }
        }
        ("POST", ["accounts", _, "r2", "buckets"]) => {
            let name = s(body, "name");
            if st.r2.contains(&name) {
                return err(
                    409,
                    10004,
                    "The bucket you tried to create already exists, and you own it.",
                );
            }
            st.r2.push(name.clone());
            ok(json!({ "name": name, "creation_date": "2026-01-01T00:00:00Z", "location": "WNAM" }))
        }
        ("DELETE", ["accounts", _, "r2", "buckets", name]) => {
            let before = st.r2.len();
            st.r2.retain(|b| b != name);
            if st.r2.len() == before {
                err(404, 10006, "The specified bucket does not exist.")
            } else {
                ok(Value::Null)
            }
        }
        // ---- Workers
        ("GET", ["accounts", _, "workers", "scripts"]) => {
            let items: Vec<Value> = st.scripts.iter().map(|(n, s)| script_json(n, s)).collect();
            ok(Value::Array(items))
        }
        ("PUT", ["accounts", _, "workers", "scripts", name]) => {
            upload_script(st, name, query, parts.unwrap_or_default())
        }
        ("DELETE", ["accounts", _, "workers", "scripts", name]) => {
            if !st.scripts.contains_key(*name) {
                return err(404, 10007, "This Worker does not exist on your account.");
            }
            if st.domains.iter().any(|d| d.service == *name) {
                return violation(
                    st,
                    format!("Worker `{name}` deleted while a custom domain still routes to it"),
                );
            }
            st.scripts.remove(*name);
            ok(Value::Null)
        }
        ("GET", ["accounts", _, "workers", "scripts", name, "secrets"]) => {
            match st.scripts.get(*name) {
                Some(sc) => ok(Value::Array(
                    sc.secrets
                        .keys()
                        .map(|k| json!({ "name": k, "type": "secret_text" }))
                        .collect(),
                )),
                None => err(404, 10007, "This Worker does not exist on your account."),
            }
        }
        ("POST", ["accounts", _, "workers", "scripts", name, "assets-upload-session"]) => {
            let Some(manifest) = body.get("manifest").and_then(Value::as_object) else {
                return violation(st, "assets session without a manifest".into());
            };
            let mut wanted = HashSet::new();
            for (key, entry) in manifest {
                let hash = s(entry, "hash");
                if !key.starts_with('/')
                    || hash.len() != 32
                    || !hash.chars().all(|c| c.is_ascii_hexdigit())
                {
                    return violation(st, format!("bad manifest entry `{key}`"));
                }
                if !st.known_hashes.contains(&hash) {
                    wanted.insert(hash);
                }
            }
            let jwt = format!("upload-{}", st.hex(40));
            if wanted.is_empty() {
                let done = format!("complete-{}", st.hex(40));
                st.completions.insert(done.clone(), name.to_string());
                return ok(json!({ "jwt": done, "buckets": [] }));
            }
            let mut list: Vec<String> = wanted.iter().cloned().collect();
            list.sort();
            let buckets: Vec<Vec<String>> = list.chunks(2).map(<[String]>::to_vec).collect();
            st.sessions.insert(jwt.clone(), (name.to_string(), wanted));
            ok(json!({ "jwt": jwt, "buckets": buckets }))
        }
        ("POST", ["accounts", _, "workers", "assets", "upload"]) => {
            let Auth::Other(jwt) = auth else {
                return violation(st, "assets upload without the upload JWT".into());
            };
            if q(query, "base64") != Some("true") {
                return violation(st, "assets upload without base64=true".into());
            }
            let Some((script, mut wanted)) = st.sessions.get(jwt).cloned() else {
                return err(401, 10001, "invalid upload token");
            };
            for p in parts.unwrap_or_default() {
                let bytes = match base64::engine::general_purpose::STANDARD.decode(&p.body) {
                    Ok(b) => b,
                    Err(_) => {
                        return violation(st, format!("asset part `{}` is not base64", p.name))
                    }
                };
                let _ = bytes;
                if !wanted.remove(&p.name) {
                    return violation(st, format!("asset part `{}` was not requested", p.name));
                }
                if p.content_type.is_none() {
                    return violation(st, format!("asset part `{}` has no content type", p.name));
                }
                st.known_hashes.insert(p.name.clone());
            }
            if wanted.is_empty() {
                st.sessions.remove(jwt);
                let done = format!("complete-{}", st.hex(40));
                st.completions.insert(done.clone(), script);
                // Keep the upload token known, so later uses are recognised as such.
                st.sessions
                    .insert(jwt.clone(), (String::new(), HashSet::new()));
                (
                    StatusCode::CREATED,
                    json!({ "success": true, "errors": [], "messages": [], "result": { "jwt": done } }),
                    Vec::new(),
                )
            } else {
                st.sessions.insert(jwt.clone(), (script, wanted));
                (
                    StatusCode::ACCEPTED,
                    json!({ "success": true, "errors": [], "messages": [], "result": { "jwt": null } }),
                    Vec::new(),
                )
            }
        }
        ("GET", ["accounts", _, "workers", "scripts", name, "subdomain"]) => {
            match st.scripts.get(*name) {
                Some(sc) => ok(json!({ "enabled": sc.subdomain, "previews_enabled": sc.previews })),
                None => violation(st, format!("subdomain read before Worker `{name}` exists")),
            }
        }
        ("POST", ["accounts", _, "workers", "scripts", name, "subdomain"]) => {
            let enabled = body.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            let previews = body
                .get("previews_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(enabled);
            match st.scripts.get_mut(*name) {
                Some(sc) => {
                    sc.subdomain = enabled;
                    sc.previews = previews;
                    ok(json!({ "enabled": enabled, "previews_enabled": previews }))
                }
                None => violation(st, format!("subdomain set before Worker `{name}` exists")),
            }
        }
        ("GET", ["accounts", _, "workers", "domains"]) => {
            let host = q(query, "hostname");
            let items = st
                .domains
                .iter()
                .filter(|d| host.is_none_or(|h| d.hostname == h))
                .map(domain_json)
                .collect();
            ok(Value::Array(items))
        }
        ("PUT", ["accounts", _, "workers", "domains"]) => {
            let host = s(body, "hostname");
            let service = s(body, "service");
            let zone_id = s(body, "zone_id");
            let Some((_, zone_name, _)) =
                st.zones.iter().find(|(id, _, _)| *id == zone_id).cloned()
            else {
                return violation(st, format!("custom domain with unknown zone `{zone_id}`"));
            };
            if host != zone_name && !host.ends_with(&format!(".{zone_name}")) {
                return violation(st, format!("`{host}` is not in zone `{zone_name}`"));
            }
            if !st.scripts.contains_key(&service) {
                return violation(
                    st,
                    format!("custom domain before Worker `{service}` exists"),
                );
            }
            if !st.app_covers(&host) {
                st.violations.push(format!(
                    "`{host}` attached while no Access application protects it"
                ));
            }
            if st.external_dns.contains(&host) {
                return err(
                    409,
                    100117,
                    "Hostname already has externally managed DNS records",
                );
            }
            let overriding = body
                .get("override_existing_origin")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let Some(existing) = st.domains.iter().find(|d| d.hostname == host) {
                if existing.service != service && !overriding {
                    return err(409, 100116, "Hostname already in use by another Worker");
                }
            }
            st.domains.retain(|d| d.hostname != host);
            let id = st.hex(32);
            let d = Domain {
                id,
                hostname: host,
                service,
                zone_id,
            };
            let out = domain_json(&d);
            st.domains.push(d);
            ok(out)
        }
        ("DELETE", ["accounts", _, "workers", "domains", id]) => {
            let before = st.domains.len();
            st.domains.retain(|d| d.id != *id);
            if st.domains.len() == before {
                err(404, 100114, "Domain not found")
            } else {
                ok(Value::Null)
            }
        }
        // ---- Access service tokens
        ("GET", ["accounts", _, "access", "service_tokens"]) => {
            let name = q(query, "name");
            let items = st
                .tokens
                .iter()
                .filter(|t| name.is_none_or(|n| t.name == n))
                .map(token_json)
                .collect();
            paged(items, query)
        }
        ("POST", ["accounts", _, "access", "service_tokens"]) => {
            let id = st.uuid();
            let client_id = format!("{}.access", st.hex(32));
            let secret = st.hex(64);
            let t = Token {
                id,
                name: s(body, "name"),
                client_id,
                secret: secret.clone(),
            };
            let mut out = token_json(&t);
            out["client_secret"] = json!(secret);
            st.tokens.push(t);
            ok(out)
        }
        ("GET", ["accounts", _, "access", "service_tokens", id]) => {
            match st.tokens.iter().find(|t| t.id == *id) {
                Some(t) => ok(token_json(t)),
                None => err(404, 12130, "access.api.error.not_found"),
            }
        }
        ("POST", ["accounts", _, "access", "service_tokens", id, "rotate"]) => {
            let secret = st.hex(64);
            match st.tokens.iter_mut().find(|t| t.id == *id) {
                Some(t) => {
                    t.secret = secret.clone();
                    let mut out = token_json(t);
                    out["client_secret"] = json!(secret);
                    ok(out)
                }
                None => err(404, 12130, "access.api.error.not_found"),
            }
        }
        ("DELETE", ["accounts", _, "access", "service_tokens", id]) => {
            if st.policies.iter().any(|p| {
                p.include
                    .iter()
                    .any(|r| r["service_token"]["token_id"] == *id)
            }) {
                return err(
                    400,
                    12130,
                    "access.api.error.conflict: service token is used by a policy",
                );
            }
            let before = st.tokens.len();
            st.tokens.retain(|t| t.id != *id);
            if st.tokens.len() == before {
                err(404, 12130, "access.api.error.not_found")
            } else {
                ok(json!({ "id": id }))
            }
        }
        // ---- Access policies
        ("GET", ["accounts", _, "access", "policies"]) => {
            let items = st.policies.iter().map(policy_json).collect();
            paged(items, query)
        }
        ("POST", ["accounts", _, "access", "policies"])
        | ("PUT", ["accounts", _, "access", "policies", _]) => {
            let include = body
                .get("include")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if include.is_empty() {
                return violation(st, "policy without include rules".into());
            }
            for rule in &include {
                let Some(obj) = rule.as_object().filter(|o| o.len() == 1) else {
                    return violation(st, format!("policy rule {rule} must have exactly one kind"));
                };
                if let Some(t) = obj.get("service_token") {
                    let id = s(t, "token_id");
                    if !st.tokens.iter().any(|x| x.id == id) {
                        return err(
                            400,
                            12130,
                            &format!(
                                "access.api.error.invalid_request: service token {id} not found"
                            ),
                        );
                    }
                }
                if let Some(e) = obj.get("email") {
                    if !s(e, "email").contains('@') {
                        return violation(st, format!("email rule {rule} has no address"));
                    }
                }
            }
            let fields = (s(body, "name"), s(body, "decision"));
            if method == "POST" {
                let id = st.uuid();
                let p = Policy {
                    id,
                    name: fields.0,
                    decision: fields.1,
                    include,
                };
                let out = policy_json(&p);
                st.policies.push(p);
                ok(out)
            } else {
                let id = segs[4].to_string();
                match st.policies.iter_mut().find(|p| p.id == id) {
                    Some(p) => {
                        p.name = fields.0;
                        p.decision = fields.1;
                        p.include = include;
                        ok(policy_json(p))
                    }
                    None => err(404, 12130, "access.api.error.not_found"),
                }
            }
        }
        ("GET", ["accounts", _, "access", "policies", id]) => {
            match st.policies.iter().find(|p| p.id == *id) {
                Some(p) => ok(policy_json(p)),
                None => err(404, 12130, "access.api.error.not_found"),
            }
        }
        ("DELETE", ["accounts", _, "access", "policies", id]) => {
            if st.apps.iter().any(|a| a.policies.iter().any(|p| p == id)) {
                return err(
                    400,
                    12130,
                    "access.api.error.conflict: policy is used by an application",
                );
            }
            let before = st.policies.len();
            st.policies.retain(|p| p.id != *id);
            if st.policies.len() == before {
                err(404, 12130, "access.api.error.not_found")
            } else {
                ok(json!({ "id": id }))
            }
        }
        // ---- Access applications
        ("GET", ["accounts", _, "access", "apps"]) => {
            let domain = q(query, "domain");
            let items = st
                .apps
                .iter()
                .filter(|a| domain.is_none_or(|d| a.domain == d))
                .map(|a| app_json(a, &st.policies))
                .collect();
            paged(items, query)
        }
        ("POST", ["accounts", _, "access", "apps"])
        | ("PUT", ["accounts", _, "access", "apps", _]) => {
            let ids: Vec<String> = body
                .get("policies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    p.get("id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| p.as_str().unwrap_or_default().to_string())
                })
                .collect();
            if let Some(missing) = ids
                .iter()
                .find(|id| !st.policies.iter().any(|p| &p.id == *id))
            {
                return err(
                    400,
                    12130,
                    &format!("access.api.error.invalid_request: policy {missing} not found"),
                );
            }
            let (domain, name, kind) = (s(body, "domain"), s(body, "name"), s(body, "type"));
            if method == "POST" {
                if st.apps.iter().any(|a| a.domain == domain) {
                    return err(
                        400,
                        12130,
                        "access.api.error.conflict: an application with this domain already exists",
                    );
                }
                let app = App {
                    id: st.uuid(),
                    aud: st.hex(64),
                    domain,
                    name,
                    kind,
                    policies: ids,
                };
                let out = app_json(&app, &st.policies);
                st.apps.push(app);
                ok(out)
            } else {
                let id = segs[4].to_string();
                let policies = st.policies.clone();
                match st.apps.iter_mut().find(|a| a.id == id) {
                    Some(a) => {
                        a.domain = domain;
                        a.name = name;
                        a.kind = kind;
                        a.policies = ids;
                        ok(app_json(a, &policies))
                    }
                    None => err(404, 12130, "access.api.error.not_found"),
                }
            }
        }
        ("GET", ["accounts", _, "access", "apps", id]) => {
            match st.apps.iter().find(|a| a.id == *id) {
                Some(a) => ok(app_json(a, &st.policies)),
                None => err(404, 12130, "access.api.error.not_found"),
            }
        }
        ("DELETE", ["accounts", _, "access", "apps", id]) => {
            let Some(app) = st.apps.iter().find(|a| a.id == *id).cloned() else {
                return err(404, 12130, "access.api.error.not_found");
            };
            if st.domains.iter().any(|d| d.hostname == app.domain) {
                st.violations.push(format!(
                    "Access application for `{}` removed while the hostname is still attached",
                    app.domain
                ));
            }
            st.apps.retain(|a| a.id != *id);
            ok(json!({ "id": id }))
        }
        _ => violation(st, format!("the fake does not implement {method} {path}")),
    }
}

fn upload_script(
    st: &mut FakeState,
    name: &str,
    query: &[(String, String)],
    parts: &[multipart::Part],
) -> Reply {
    let Some(meta_part) = parts.iter().find(|p| p.name == "metadata") else {
        return violation(st, "script upload without metadata".into());
    };
    let Ok(meta) = serde_json::from_slice::<Value>(&meta_part.body) else {
        return violation(st, "script metadata is not JSON".into());
    };
    let main = meta["main_module"].as_str().unwrap_or_default().to_string();
    if !parts.iter().any(|p| p.name == main) {
        return violation(st, format!("main_module `{main}` is not an uploaded part"));
    }
    let mut modules = Vec::new();
    for p in parts.iter().filter(|p| p.name != "metadata") {
        let ct = p.content_type.clone().unwrap_or_default();
        let expected = if p.name.ends_with(".wasm") {
            "application/wasm"
        } else if p.name.ends_with(".js") || p.name.ends_with(".mjs") {
            "application/javascript+module"
        } else {
            "application/source-map"
        };
        if ct != expected {
            return violation(
                st,
                format!(
                    "module `{}` has content type `{ct}`, not `{expected}`",
                    p.name
                ),
            );
        }
        if p.filename.as_deref() != Some(p.name.as_str()) {
            return violation(
                st,
                format!("module `{}` has file name {:?}", p.name, p.filename),
            );
        }
        modules.push((p.name.clone(), ct, p.body.len()));
    }
    let previous = st.scripts.get(name).cloned();
    // Durable Object migrations.
    let remote_tag = previous.as_ref().and_then(|p| p.migration_tag.clone());
    let mut new_tag = remote_tag.clone();
    let mut do_classes: Vec<String> = Vec::new();
    if let Some(m) = meta.get("migrations") {
        let old = m.get("old_tag").and_then(Value::as_str).map(str::to_string);
        if old != remote_tag {
            return err(
                400,
                10079,
                "migration old_tag does not match the script's current tag",
            );
        }
        new_tag = m.get("new_tag").and_then(Value::as_str).map(str::to_string);
        for step in m
            .get("steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            do_classes.extend(
                step["new_sqlite_classes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            );
        }
    }
    let mut secrets = BTreeMap::new();
    for b in meta["bindings"].as_array().into_iter().flatten() {
        let bname = b["name"].as_str().unwrap_or_default().to_string();
        match b["type"].as_str().unwrap_or_default() {
            "durable_object_namespace" => {
                let class = b["class_name"].as_str().unwrap_or_default().to_string();
                if remote_tag.is_none() && !do_classes.contains(&class) {
                    return err(
                        400,
                        10074,
                        &format!("Durable Object class `{class}` has no migration"),
                    );
                }
            }
            "d1" => {
                let id = b["database_id"].as_str().unwrap_or_default();
                if !st.d1.iter().any(|d| d.uuid == id) {
                    return err(
                        400,
                        10021,
                        &format!("D1 binding `{bname}` references unknown database `{id}`"),
                    );
                }
            }
            "r2_bucket" => {
                let bucket = b["bucket_name"].as_str().unwrap_or_default().to_string();
                if !st.r2.contains(&bucket) {
                    return err(
                        400,
                        10021,
                        &format!("R2 binding `{bname}` references unknown bucket `{bucket}`"),
                    );
                }
            }
            "secret_text" => {
                secrets.insert(bname, b["text"].as_str().unwrap_or_default().to_string());
            }
            "inherit" => {
                if q(query, "bindings_inherit") != Some("strict") {
                    return violation(st, "inherit binding without bindings_inherit=strict".into());
                }
                match previous.as_ref().and_then(|p| p.secrets.get(&bname)) {
                    Some(v) => {
                        secrets.insert(bname, v.clone());
                    }
                    None => {
                        return err(
                            400,
                            10021,
                            &format!("binding `{bname}` cannot be inherited"),
                        )
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(assets) = meta.get("assets") {
        let jwt = assets["jwt"].as_str().unwrap_or_default();
        match st.completions.get(jwt) {
            Some(script) if script == name => {}
            _ => {
                return violation(
                    st,
                    "assets.jwt is not a completion token of this Worker".into(),
                )
            }
        }
    }
    let etag = st.hex(32);
    let uploads = previous.as_ref().map_or(0, |p| p.uploads) + 1;
    let script = Script {
        metadata: meta,
        modules,
        etag,
        migration_tag: new_tag,
        secrets,
        // New scripts start on workers.dev, as on an account with a workers.dev subdomain.
        subdomain: previous.as_ref().is_none_or(|p| p.subdomain),
        previews: previous.as_ref().is_none_or(|p| p.previews),
        uploads,
    };
    let out = script_json(name, &script);
    st.scripts.insert(name.to_string(), script);
    ok(out)
}
