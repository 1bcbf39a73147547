//! Fuzz target bodies: one function per parser that sees untrusted bytes, each taking arbitrary
//! bytes and returning normally (a panic is the bug). Two drivers share them: the `cargo fuzz`
//! targets in `fuzz/` (nightly, opt-in, `scripts/fuzz`) and the stable smoke test below, which
//! replays the seed corpus plus deterministic mutations on every `cargo test`.
//!
//! Compiled only for tests and with the `fuzzing` feature, so none of it reaches the Worker's wasm.
//!
use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::app::{LazyKeyring, Services};
use crate::auth::{check_claims, parse_jwt, principal_from_claims};
use crate::config::{AuthMode, Config};
use crate::http::{Request, Response};
use crate::mcp::internal_headers as h;
use crate::mcp::session::SessionObject;
use crate::net::http::{
    BodyStream, FetchError, HttpClient, NoNetwork, OutboundRequest, OutboundResponse,
    StreamingResponse,
};
use crate::store::{MemoryBlobs, MemoryKeyValue, Row, Sql, Statement, StoreError};
use crate::time::{FixedClock, NoWaitTimer};

/// One fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of the `fuzz/fuzz_targets/*.rs` files).
pub const TARGETS: &[(&str, Target)] = &[
    ("mcp_session", mcp_session),
    ("openapi_spec", openapi_spec),
    ("openapi_yaml", openapi_yaml),
    ("sandbox_preprocess", sandbox_preprocess),
    ("access_jwt", access_jwt),
    ("policy_pattern", policy_pattern),
    ("ssrf_url", ssrf_url),
    ("graphql_introspection", graphql_introspection),
    ("google_discovery", google_discovery),
    ("mcp_remote", mcp_remote),
    ("oauth_response", oauth_response),
];

/// Polls a future to completion with a no-op waker. Everything the targets await is an
/// in-memory fake that is ready at once, so a bounded number of polls suffices; a future that
/// is still pending after that is abandoned rather than treated as a failure.
fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

/// SQL that fails every statement: the MCP target exercises the envelope and dispatch, not the
/// catalog, and a storage failure must still come back as a typed answer.
struct FailingSql;

#[async_trait(?Send)]
impl Sql for FailingSql {
    async fn query(&self, _: Statement) -> Result<Vec<Row>, StoreError> {
        Err(StoreError::new("query", "fuzzing: no database"))
    }
    async fn execute(&self, _: Statement) -> Result<u64, StoreError> {
        Err(StoreError::new("execute", "fuzzing: no database"))
    }
    async fn batch(&self, _: Vec<Statement>) -> Result<(), StoreError> {
        Err(StoreError::new("batch", "fuzzing: no database"))
    }
}

fn fuzz_config() -> Config {
    Config::from_env(|name| match name {
        "EXECUTOR_SECRET_KEY" => Some("fuzzing-secret-key-0123456789".into()),
        "ENABLE_DEV_AUTH" => Some("true".into()),
        // Agent code reached through `tools/call execute` must not stall the run.
        "EXECUTE_TIMEOUT_MS" => Some("100".into()),
        "EXECUTE_MEMORY_MB" => Some("8".into()),
        _ => None,
    })
    .expect("the fuzzing configuration is valid")
}

const ACCOUNT: &str = "fuzz-account";

/// The MCP session object (transport rules, JSON-RPC envelope, dispatch) on arbitrary bodies.
/// The first byte picks the headers: bit 0 initialize first (a fresh session), bit 1 a wrong
/// Accept, bit 2 a wrong Content-Type, bit 3 a protocol-version header, bit 4 another caller,
/// bit 5 the method (POST or DELETE/GET). The rest is the body, sent as the post.
pub fn mcp_session(data: &[u8]) {
    for response in mcp_session_responses(data) {
        check_mcp_response(response.as_ref());
    }
}

/// The answers of [`mcp_session`]'s requests, in order (`None`: the future did not finish).
fn mcp_session_responses(data: &[u8]) -> Vec<Option<Response>> {
    let mut answers = Vec::new();
    let Some((&flags, body)) = data.split_first() else {
        return answers;
    };
    let config = fuzz_config();
    let (sql, blobs, clock, keyring, timer) = (
        FailingSql,
        MemoryBlobs::default(),
        FixedClock(1_700_000_000_000.0),
        LazyKeyring::new(config.secret_key.clone()),
        NoWaitTimer,
    );
    let services = Services {
        config: &config,
        sql: &sql,
        blobs: &blobs,
        clock: &clock,
        keyring: &keyring,
        http: &NoNetwork,
        timer: &timer,
    };
    let storage = MemoryKeyValue::default();
    let cached = RefCell::new(None);
    let live = crate::mcp::live::LiveSession::default();
    let alarms = crate::mcp::live::RecordedAlarms::default();
    let session = SessionObject {
        storage: &storage,
        services,
        cached_meta: &cached,
        live: &live,
        alarms: &alarms,
    };
    let session_id = "a".repeat(64);
    let request = |new: bool, body: Vec<u8>, flags: u8| {
        let method = match (flags >> 5) & 3 {
            0 | 1 => "POST",
            2 => "DELETE",
            _ => "GET",
        };
        let mut r = Request::new(method, "https://executor.example/mcp");
        let accept = if flags & 2 != 0 {
            "text/html"
        } else {
            "application/json, text/event-stream"
        };
        let content_type = if flags & 4 != 0 {
            "text/plain"
        } else {
            "application/json"
        };
        let account = if flags & 16 != 0 { "intruder" } else { ACCOUNT };
        let mut headers = vec![
            ("accept", accept),
            ("content-type", content_type),
            (h::ACCOUNT_ID, account),
            (h::ORGANIZATION_ID, "default"),
            (h::EMAIL, "fuzz@example.com"),
            (h::SESSION_ID, session_id.as_str()),
        ];
        if flags & 8 != 0 {
            headers.push(("mcp-protocol-version", "2025-06-18"));
        }
        if new {
            headers.push((h::NEW_SESSION, "1"));
        }
        r.headers = headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r.body = body;
        r
    };
    if flags & 1 != 0 {
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}});
        let init = serde_json::to_vec(&init).unwrap_or_default();
        answers.push(block_on(session.handle(request(true, init, 0))));
    }
    // The body as an `initialize` of a new session, then as a post to the (maybe) live one.
    answers.push(block_on(session.handle(request(
        flags & 1 == 0,
        body.to_vec(),
        flags,
    ))));
    answers.push(block_on(session.handle(request(
        false,
        body.to_vec(),
        flags,
    ))));

    // The Worker-side Origin rule on the same bytes as a header value.
    if let Ok(origin) = std::str::from_utf8(body) {
        let mut r = Request::new("POST", "https://executor.example/mcp");
        r.headers.push(("origin".into(), origin.to_string()));
        let _ = crate::mcp::envelope::origin_allowed(&r, Some("https://executor.example"));
    }
    answers
}

/// What every `/mcp` answer must be: never a 5xx for input, and a JSON body whenever there is
/// one (the transport never answers HTML or an empty 200 with garbage).
fn check_mcp_response(response: Option<&Response>) {
    let Some(response) = response else { return };
    assert!(
        response.status < 500,
        "/mcp answered {} for client input",
        response.status
    );
    if !response.body.is_empty() {
        assert!(
            serde_json::from_slice::<Value>(&response.body).is_ok(),
            "/mcp body is not JSON"
        );
    }
}

/// OpenAPI ingest (JSON and YAML through `parse`), then everything the add/preview routes derive
/// from an accepted document.
pub fn openapi_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    derive_from(crate::plugins::openapi::parse(text.to_string()));
}

/// The YAML path on its own: anything that does not start like JSON is read as YAML first.
pub fn openapi_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(json) = crate::plugins::openapi::yaml_to_json_for_fuzzing(text) {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(&json).is_ok(),
            "YAML conversion produced invalid JSON"
        );
    }
    // A leading newline keeps `parse` from taking a `{`-document down the JSON path.
    derive_from(crate::plugins::openapi::parse(format!("\n{text}")));
}

fn derive_from(
    parsed: Result<crate::plugins::openapi::OpenApiDocument, crate::plugins::openapi::OpenApiError>,
) {
    use crate::plugins::openapi as oa;
    let Ok(doc) = parsed else { return };
    let _ = oa::preview(&doc);
    let _ = oa::info(&doc);
    let _ = oa::plan_tools(&doc);
    let _ = oa::derive_auth_templates(&doc);
    let mut tools = 0usize;
    oa::derive_tools(&doc, |tool| {
        tools += 1;
        let _ = serde_json::to_string(&tool);
    });
    let defs = oa::defs_blob(&doc);
    assert!(
        serde_json::from_str::<Value>(&defs).is_ok(),
        "the defs blob is not JSON"
    );
}

/// The code preprocessing of `execute`: candidates are never empty and every one is a complete
/// async arrow function around the input.
pub fn sandbox_preprocess(data: &[u8]) {
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    let candidates = crate::sandbox::preprocess_candidates_for_fuzzing(code);
    assert!(!candidates.is_empty());
    for (source, _) in candidates {
        assert!(source.starts_with("(async () =>"), "{source:?}");
        assert!(
            source.ends_with("))") || source.ends_with("})"),
            "{source:?}"
        );
    }
}

/// Access JWT header and claims: parse (RS256 only), the claim checks and the claims → principal
/// mapping. Errors never carry the token.
pub fn access_jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match parse_jwt(token) {
        Err(error) => {
            // The only attacker-chosen text an error may carry is a clipped `alg`.
            if let crate::auth::AuthError::UnsupportedAlgorithm(alg) = &error {
                assert!(alg.chars().count() <= 33, "an unclipped alg in an error");
            }
            // The fixed wordings have no `.`, so a dotted token of this length cannot be in one.
            if token.trim().len() >= 40 && token.contains('.') {
                assert!(
                    !error.to_string().contains(token.trim()),
                    "an auth error echoes the token"
                );
            }
        }
        Ok(parts) => {
            assert_eq!(parts.header.alg, crate::auth::jwt::RS256);
            let config = jwt_config();
            if let AuthMode::Access(access) = &config.auth {
                let _ = check_claims(&parts.claims, access, 1_700_000_000);
            }
            let _ = principal_from_claims(&parts.claims, &config);
            // Any claims object maps to a principal, also one assembled from the raw bytes.
            let mut claims = Map::new();
            claims.insert("email".into(), Value::String(token.into()));
            let _ = principal_from_claims(&claims, &config);
        }
    }
}

fn jwt_config() -> Config {
    Config::from_env(|name| match name {
        "EXECUTOR_SECRET_KEY" => Some("fuzzing-secret-key-0123456789".into()),
        "ACCESS_TEAM_DOMAIN" => Some("team.cloudflareaccess.com".into()),
        "ACCESS_AUD" => Some("aud-tag".into()),
        "ADMIN_EMAILS" => Some("boss@example.com".into()),
        _ => None,
    })
    .expect("the fuzzing configuration is valid")
}

/// Policy patterns: `<pattern>\n<target>`. Normalising is idempotent and a stored pattern always
/// validates; matching never panics, valid pattern or not.
pub fn policy_pattern(data: &[u8]) {
    use crate::policies::pattern::{matches, normalize, target_id, validate};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, target) = text.split_once('\n').unwrap_or((text, "a.org.main.get"));
    let target = target_id(target);
    if let Ok(stored) = normalize(pattern) {
        assert!(validate(&stored).is_ok());
        if !stored.starts_with(crate::policies::pattern::TOOLS_PREFIX) {
            assert_eq!(normalize(&stored).as_deref(), Ok(stored.as_str()));
        }
        let _ = matches(&stored, target);
        if stored == "*" {
            assert!(matches(&stored, target));
        }
    }
    if !pattern.is_empty() {
        let _ = matches(pattern, target);
    }
}

/// The SSRF guard on arbitrary URLs: an accepted URL is http(s) and never names a blocked IP
/// literal; redirects resolved against a public base obey the same rule.
pub fn ssrf_url(data: &[u8]) {
    use crate::net::ssrf::{check_url, display_url, is_blocked_ip, redirect_target};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let accepted = |url: &url::Url| {
        assert!(matches!(url.scheme(), "http" | "https"));
        match url.host() {
            Some(url::Host::Ipv4(ip)) => assert!(!is_blocked_ip(ip.into()), "{url}"),
            Some(url::Host::Ipv6(ip)) => assert!(!is_blocked_ip(ip.into()), "{url}"),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                assert!(
                    name != "localhost" && !name.ends_with(".localhost"),
                    "{url}"
                );
            }
            None => panic!("accepted a URL without a host"),
        }
    };
    if let Ok(url) = check_url(text, false) {
        accepted(&url);
    }
    let _ = check_url(text, true);
    let _ = display_url(text);
    if let Ok(base) = url::Url::parse("https://api.example.com/v1/") {
        if let Ok(next) = redirect_target(&base, text, false) {
            accepted(&next);
        }
    }
}

/// GraphQL introspection ingest: `parse_introspection` then `derive`, as `graphql::store`
/// does with a server's answer. Errors are typed; the tools are bounded (count, `$defs` per
/// tool), uniquely named (they key unique storage rows), and every row serialises.
pub fn graphql_introspection(data: &[u8]) {
    use crate::plugins::graphql::schema::{MAX_DEFS_PER_TOOL, MAX_TOOLS};
    use crate::plugins::graphql::{derive, invoke, parse_introspection, SchemaError};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = match parse_introspection(text) {
        Ok(schema) => schema,
        Err(error) => {
            assert!(matches!(
                error,
                SchemaError::Introspection(_) | SchemaError::Extraction(_)
            ));
            assert!(!error.message().is_empty());
            return;
        }
    };
    let derived = derive(&schema);
    assert!(derived.tools.len() <= MAX_TOOLS);
    let mut names = std::collections::BTreeSet::new();
    for tool in &derived.tools {
        assert!(
            names.insert(tool.name.as_str()),
            "two tools named {}",
            tool.name
        );
        let kind = tool.binding.kind.as_str();
        assert!(matches!(kind, "query" | "mutation"), "{kind}");
        assert_eq!(tool.name, format!("{kind}.{}", tool.binding.field));
        // Mutations always need approval; queries never ask.
        assert_eq!(tool.annotations.is_some(), kind == "mutation");
        assert!(tool.binding.document.starts_with(kind));
        assert!(tool.defs.len() <= MAX_DEFS_PER_TOOL);
        for def in &tool.defs {
            assert!(derived.defs.contains_key(def), "{def} is not a $def");
        }
        if let Some(input) = &tool.input_schema {
            assert_eq!(input["type"], "object");
        }
        // The operation row as stored, and the variables of a call with every declared argument.
        let row = json!({"binding": tool.binding, "description": tool.description,
            "inputSchema": tool.input_schema, "annotations": tool.annotations, "defs": tool.defs});
        assert!(serde_json::from_str::<Value>(&row.to_string()).is_ok());
        let args: Map<String, Value> = tool
            .binding
            .args
            .iter()
            .map(|a| (a.clone(), Value::Null))
            .collect();
        let variables = invoke::variables(&tool.binding, &args);
        assert!(variables.keys().all(|k| tool.binding.args.contains(k)));
    }
    for def in derived.defs.values() {
        assert!(def.is_object());
    }
}

/// Google Discovery ⇒ OpenAPI, then the OpenAPI ingest on the converted text, as
/// `google::store` does for a bundle. A JSON array is a bundle of documents (up to one past the
/// limit), anything else one document; short inputs are also tried as bundle URLs. A converted
/// document always re-parses as OpenAPI, and stays within the method and parameter bounds.
pub fn google_discovery(data: &[u8]) {
    use crate::plugins::google::discovery::{
        convert, is_discovery, normalise_url, MAX_DOCUMENTS, MAX_METHODS, MAX_PARAMETERS,
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() <= 512 {
        if let Ok(url) = normalise_url(text) {
            let parsed = crate::net::parse_url(&url).ok();
            let parsed = parsed
                .as_ref()
                .map(|u| (u.scheme(), u.fragment(), u.username()));
            assert!(
                matches!(parsed, Some(("http" | "https", None, ""))),
                "{url}"
            );
            assert_eq!(
                normalise_url(&url).ok(),
                Some(url.clone()),
                "not idempotent"
            );
        }
    }
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let docs = match value {
        Value::Array(items) => items.into_iter().take(MAX_DOCUMENTS + 1).collect(),
        doc => {
            let _ = is_discovery(&doc);
            vec![doc]
        }
    };
    let Ok(converted) = convert(docs) else {
        return;
    };
    assert!(converted.method_count <= MAX_METHODS);
    let mut sorted = converted.scopes.clone();
    sorted.dedup();
    assert_eq!(sorted, converted.scopes, "scopes are sorted and unique");
    assert!(converted.scopes.windows(2).all(|w| w[0] < w[1]));
    let openapi: Value = match serde_json::from_str(&converted.text) {
        Ok(v) => v,
        Err(e) => panic!("the converted document is not JSON: {e}"),
    };
    let parameters: usize = openapi["paths"]
        .as_object()
        .map(|paths| {
            paths
                .values()
                .filter_map(Value::as_object)
                .flat_map(|item| item.values())
                .filter_map(|op| op["parameters"].as_array().map(Vec::len))
                .sum()
        })
        .unwrap_or(0);
    assert!(parameters <= MAX_PARAMETERS);
    let parsed = crate::plugins::openapi::parse(converted.text);
    if let Err(e) = &parsed {
        panic!("the converted document does not re-parse as OpenAPI: {e}");
    }
    derive_from(parsed);
}

/// An upstream server played by the fuzz input: each request gets the next scripted answer
/// (then `fallback`); an opened stream yields the scripted chunks.
struct ScriptedUpstream {
    answers: RefCell<std::collections::VecDeque<OutboundResponse>>,
    fallback: u16,
    stream: RefCell<Option<Vec<Vec<u8>>>>,
}

impl ScriptedUpstream {
    /// Answers from `data` split at `0xFF` bytes (never part of UTF-8 text): each piece's first
    /// byte picks status and headers (`b % 8`, so ASCII `0`–`7` name them in seeds), the rest
    /// is the body.
    fn from_script(data: &[u8], fallback: u16) -> ScriptedUpstream {
        let answers = data
            .split(|b| *b == 0xFF)
            .filter_map(|piece| piece.split_first())
            .take(64)
            .map(|(&pick, body)| {
                let json = ("content-type".to_owned(), "application/json".to_owned());
                let (status, headers) = match pick % 8 {
                    0 => (200, vec![json]),
                    1 => (
                        200,
                        vec![(
                            "content-type".into(),
                            "application/x-www-form-urlencoded".into(),
                        )],
                    ),
                    2 => (
                        200,
                        vec![("content-type".into(), "text/event-stream".into())],
                    ),
                    3 => (202, vec![]),
                    4 => (400, vec![json]),
                    5 => (
                        401,
                        vec![(
                            "www-authenticate".into(),
                            String::from_utf8_lossy(body).into_owned(),
                        )],
                    ),
                    6 => (404, vec![]),
                    _ => (
                        302,
                        vec![(
                            "location".into(),
                            String::from_utf8_lossy(body).into_owned(),
                        )],
                    ),
                };
                OutboundResponse {
                    status,
                    headers,
                    body: body.to_vec(),
                }
            })
            .collect();
        ScriptedUpstream {
            answers: RefCell::new(answers),
            fallback,
            stream: RefCell::new(None),
        }
    }
}

#[async_trait(?Send)]
impl HttpClient for ScriptedUpstream {
    async fn send(&self, _: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        Ok(self
            .answers
            .borrow_mut()
            .pop_front()
            .unwrap_or(OutboundResponse {
                status: self.fallback,
                headers: Vec::new(),
                body: Vec::new(),
            }))
    }

    async fn open(&self, request: OutboundRequest) -> Result<StreamingResponse, FetchError> {
        let Some(chunks) = self.stream.borrow_mut().take() else {
            return NoNetwork.open(request).await;
        };
        Ok(StreamingResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Box::new(Chunks(chunks.into())),
        })
    }
}

struct Chunks(std::collections::VecDeque<Vec<u8>>);

#[async_trait(?Send)]
impl BodyStream for Chunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, FetchError> {
        Ok(self.0.pop_front())
    }
}

/// Runs `f` with services whose network is `http` (storage fails, the clock is fixed).
fn with_services<R>(http: &dyn HttpClient, f: impl FnOnce(Services<'_>) -> R) -> R {
    let config = fuzz_config();
    let (sql, blobs, clock, keyring, timer) = (
        FailingSql,
        MemoryBlobs::default(),
        FixedClock(1_700_000_000_000.0),
        LazyKeyring::new(config.secret_key.clone()),
        NoWaitTimer,
    );
    f(Services {
        config: &config,
        sql: &sql,
        blobs: &blobs,
        clock: &clock,
        keyring: &keyring,
        http,
        timer: &timer,
    })
}

/// Splits `body` into chunks whose sizes the seed picks (1 byte up to 128 at a time).
fn chunked(body: &[u8], seed: u8) -> Vec<Vec<u8>> {
    let mut mutator = Mutator::new(u64::from(seed) * 0x9e37_79b9 + body.len() as u64);
    let widest = 1usize << (seed & 7);
    let mut chunks = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let size = (1 + mutator.below(widest)).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        chunks.push(chunk.to_vec());
        rest = tail;
    }
    chunks
}

/// What the remote-MCP client reads from an untrusted server. The first byte picks how the body
/// is cut into stream chunks; the rest is the server's bytes, read as: a POST's JSON-RPC answer
/// (JSON and event stream), an event stream fed in those chunks (the same events as read whole;
/// `endpoint` events never leave the stream's origin), a whole legacy SSE session on that
/// stream, and a `tools/list` result turned into tool rows (unique catalog names, one per named
/// tool, each row with its binding and approval flag).
pub fn mcp_remote(data: &[u8]) {
    use crate::plugins::mcp_remote::client::{
        answer_in_body, drain_events, messages_url, sse_exchange, take_page, Endpoint, McpError,
        SseEvents, SseRequest,
    };
    use crate::plugins::mcp_remote::store;
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let check = |answer: &Result<Value, McpError>| {
        if let Err(McpError::Rpc { message, .. }) = answer {
            assert!(message.chars().count() <= 500);
        }
    };
    for content_type in ["application/json", "text/event-stream"] {
        if let Some(answer) = answer_in_body(content_type, body, 1) {
            check(&answer);
            if let Ok(result) = answer {
                let _ = store::call_result(result);
            }
        }
    }

    // Event-stream framing: chunk boundaries must not change the events.
    let mut whole = String::from_utf8_lossy(body).into_owned();
    let expected = drain_events(&mut whole);
    let mut events = SseEvents::default();
    let mut seen = Vec::new();
    for chunk in chunked(body, seed) {
        if events.push(&chunk).is_err() {
            return;
        }
        seen.extend(events.take_all());
    }
    events.close();
    seen.extend(events.take_all());
    assert_eq!(seen, expected, "chunking changed the events of {body:?}");
    let stream_url = "https://mcp.example.com/sse?key=1";
    for (name, data) in &expected {
        if name == "endpoint" {
            if let Ok(url) = messages_url(stream_url, data) {
                let url = crate::net::parse_url(&url).ok();
                assert_eq!(
                    url.map(|u| u.origin().ascii_serialization()),
                    Some("https://mcp.example.com".to_owned())
                );
            }
        }
    }

    // A whole legacy session on this stream (every POST accepted).
    let upstream = ScriptedUpstream::from_script(&[], 202);
    *upstream.stream.borrow_mut() = Some(chunked(body, seed));
    let endpoint = Endpoint {
        url: stream_url.into(),
        headers: vec![("authorization".into(), "Bearer fuzz-token".into())],
        timeout_ms: 1_000,
        allow_local_network: false,
    };
    let requests = vec![SseRequest {
        method: "tools/list",
        params: json!({}),
    }];
    if let Some(Ok((_, answers))) = block_on(sse_exchange(&upstream, &endpoint, requests)) {
        answers.iter().for_each(check);
    }

    // A `tools/list` result ⇒ tool rows.
    let Ok(mut page) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let mut tools = Vec::new();
    let _ = take_page(&mut page, &mut tools);
    let named: Vec<&str> = tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    let rows = store::derive(&tools);
    assert_eq!(rows.len(), named.len());
    let mut names = std::collections::BTreeSet::new();
    for ((name, row), original) in rows.iter().zip(&named) {
        assert!(names.insert(name.as_str()), "two tools named {name}");
        assert!(!name.is_empty());
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert_eq!(row["binding"]["toolName"], json!(original));
        assert!(row["annotations"]["requiresApproval"].is_boolean());
        assert!(row["inputSchema"].is_object());
    }
}

/// What our OAuth code reads from authorization servers, each against a server scripted by the
/// input ([`ScriptedUpstream`]): the token endpoint's answer (JSON or form; errors typed and
/// clipped, expiry never overflows), discovery (protected-resource and authorization-server
/// metadata, the `WWW-Authenticate` challenge) and a dynamic client registration answer (its
/// client secret never shows in what we answer).
pub fn oauth_response(data: &[u8]) {
    use crate::oauth::token::{exchange, TokenError};
    use crate::oauth::{clients, probe, OAuthError};

    let upstream = ScriptedUpstream::from_script(data, 404);
    let params = [
        ("grant_type", "authorization_code"),
        ("code", "fuzz-code"),
        ("client_id", "fuzz-client"),
    ];
    let token = with_services(&upstream, |services| {
        block_on(exchange(services, "https://as.example.com/token", &params))
    });
    match token {
        Some(Ok(tokens)) => {
            assert!(!tokens.access_token.expose().is_empty());
            let now = 1_700_000_000_000i64;
            if let Some(at) = tokens.expires_at(now) {
                assert_eq!(at >= now, tokens.expires_in.is_some_and(|s| s >= 0));
            }
        }
        Some(Err(TokenError::Grant { error, description })) => {
            for text in std::iter::once(&error).chain(description.as_ref()) {
                assert!(text.chars().count() <= 200);
                assert!(!text.chars().any(char::is_control));
            }
        }
        _ => {}
    }

    let upstream = ScriptedUpstream::from_script(data, 404);
    let probed = with_services(&upstream, |services| {
        block_on(probe::probe(services, "https://mcp.example.com/mcp"))
    });
    match probed {
        Some(Ok(found)) => {
            assert!(found["authorizationUrl"].is_string());
            assert!(found["tokenUrl"].is_string());
        }
        Some(Err(error)) => assert!(matches!(error, OAuthError::Probe(_)), "{error:?}"),
        None => {}
    }

    let upstream = ScriptedUpstream::from_script(data, 404);
    let config = fuzz_config();
    let mut claims = Map::new();
    claims.insert("email".into(), json!("fuzz@example.com"));
    let principal = principal_from_claims(&claims, &config);
    let request = match clients::RegisterDynamic::parse(
        &json!({
            "owner": "org", "slug": "fuzz", "registrationEndpoint": "https://as.example.com/register",
            "authorizationUrl": "https://as.example.com/authorize",
            "tokenUrl": "https://as.example.com/token", "scopes": ["a", "b"]
        })
        .to_string(),
    ) {
        Ok(r) => r,
        Err(e) => panic!("the registration request is valid: {e}"),
    };
    let registered = with_services(&upstream, |services| {
        block_on(clients::register_dynamic(
            services,
            &principal,
            request,
            "https://executor.example/api/oauth/callback",
        ))
    });
    // A secret the server sent back (with a 2xx) must not surface in our answer or error.
    let secret = data
        .split(|b| *b == 0xFF)
        .next()
        .filter(|first| first.first().is_some_and(|pick| pick % 8 <= 3))
        .and_then(|first| serde_json::from_slice::<Value>(first.get(1..)?).ok())
        .and_then(|v| v.get("client_secret")?.as_str().map(str::to_owned))
        .filter(|s| s.len() >= 16);
    match registered {
        Some(Ok(answer)) => assert_eq!(answer, json!({"client": "fuzz"})),
        Some(Err(error)) => {
            assert!(
                matches!(
                    error,
                    OAuthError::RegisterDynamic(_) | OAuthError::Internal(_)
                ),
                "{error:?}"
            );
            if let Some(secret) = secret {
                assert!(!format!("{error:?}").contains(&secret));
            }
        }
        None => {}
    }
}

/// Seeds for each target: the shared fixtures and wire examples where they exist (read from
/// `../shared/` beside the repository, small slices only), plus hand-written cases.
pub fn seeds(target: &str, shared: &std::path::Path) -> Vec<Vec<u8>> {
    let read = |relative: &str| std::fs::read(shared.join(relative)).ok();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let text = |s: &str| s.as_bytes().to_vec();
    match target {
        "mcp_session" => {
            for body in [
                r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
                r#"{"jsonrpc":"2.0","id":"x","method":"tools/list"}"#,
                r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute","arguments":{"code":"return 1"}}}"#,
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"resume","arguments":{"executionId":"exec_1","action":"accept"}}}"#,
                r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}}"#,
                r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#,
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                r#"{"jsonrpc":"1.0","id":null,"method":"ping"}"#,
                "[]",
                "{",
                "null",
            ] {
                for flags in [0u8, 1, 3, 9, 17, 65] {
                    let mut seed = vec![flags];
                    seed.extend_from_slice(body.as_bytes());
                    out.push(seed);
                }
            }
        }
        "openapi_spec" | "openapi_yaml" => {
            if let Some(petstore) = read("fixtures/openapi/petstore.openapi.json") {
                if target == "openapi_yaml" {
                    if let Ok(value) = serde_json::from_slice::<Value>(&petstore) {
                        out.push(to_yaml(&value, 0).into_bytes());
                    }
                }
                out.push(petstore);
            }
            out.push(text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n      operationId: getA\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n      responses: {'200': {description: ok}}\n"));
            out.push(text(r##"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}},"responses":{"200":{"description":"ok"}}}}},"components":{"schemas":{"A":{"type":"object","properties":{"b":{"$ref":"#/components/schemas/A"}}}},"securitySchemes":{"k":{"type":"apiKey","in":"header","name":"X-Key"}}}}"##));
            out.push(text("swagger: '2.0'\npaths: {}\n"));
            out.push(text("a: &x [1, *x]\n"));
        }
        "sandbox_preprocess" => {
            for code in [
                "return 6 * 7",
                "1 + 1",
                "async () => 5",
                "function main() { return 1 }",
                "export default async () => 1",
                "export default function () { return 2 }",
                "```js\nreturn 1\n```",
                "```\nconst a = 1;\nreturn a;\n```\ntrailing",
                "```return 1```",
                "const {items} = await tools.search({query: \"pets\"}); return items",
                "// comment only",
                "x; // trailing",
            ] {
                out.push(text(code));
            }
        }
        "access_jwt" => {
            out.push(text("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL3RlYW0uY2xvdWRmbGFyZWFjY2Vzcy5jb20iLCJhdWQiOlsiYXVkLXRhZyJdLCJlbWFpbCI6ImFAYi5jIiwiZXhwIjoxODAwMDAwMDAwfQ.c2ln"));
            out.push(text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."));
            out.push(text("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"));
            out.push(text("abc.def.ghi"));
            out.push(text("a.b"));
            out.push(text(""));
        }
        "policy_pattern" => {
            for case in [
                "*\npetstore.org.main.getPet",
                "tools.*\nx",
                "petstore.*\npetstore.org.main.pets.getPet",
                "petstore.*.main.*\npetstore.org.main.pets.getPet",
                "pet*\npetstore",
                "a..b\na.b",
                "*.x\nx",
                "executor.coreTools.policies.list\nexecutor.coreTools.policies.list",
                "tools.tools.x\ntools.tools.x",
            ] {
                out.push(text(case));
            }
        }
        "ssrf_url" => {
            for url in [
                "https://api.example.com/v1",
                "http://127.0.0.1:8787/",
                "http://169.254.169.254/latest/meta-data",
                "http://[::ffff:127.0.0.1]/",
                "http://2130706433/",
                "http://0x7f.1/",
                "http://0177.0.0.1/",
                "http://metadata.google.internal./",
                "http://foo.localhost/",
                "http://user:pass@example.com/?token=x#f",
                "//evil.internal/redirect",
                "file:///etc/passwd",
            ] {
                out.push(text(url));
            }
        }
        "graphql_introspection" => {
            let small = crate::plugins::graphql::fixture::small();
            out.push(small.to_string().into_bytes());
            out.push(small["data"].to_string().into_bytes());
            out.push(
                crate::plugins::graphql::fixture::large(12, 6, 8)
                    .to_string()
                    .into_bytes(),
            );
            out.push(text(r#"{"data":{"__schema":{"queryType":{"name":"Q"},"types":[{"kind":"OBJECT","name":"Q","fields":[{"name":"a","args":[],"type":{"kind":"NON_NULL","ofType":{"kind":"LIST","ofType":{"kind":"OBJECT","name":"Q"}}}},{"name":"a","args":[],"type":{"kind":"SCALAR","name":"Int"}}]}]}}}"#));
            out.push(text(
                r#"{"data":null,"errors":[{"message":"introspection is disabled"}]}"#,
            ));
            out.push(text(r#"{"__schema":{"types":[]}}"#));
        }
        "google_discovery" => {
            let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            if let Ok(tasks) =
                std::fs::read(manifest.join("tests/fixtures/discovery/tasks.v1.json"))
            {
                let mut bundle = b"[".to_vec();
                bundle.extend_from_slice(&tasks);
                bundle.push(b',');
                bundle.extend_from_slice(&tasks);
                bundle.push(b']');
                out.push(tasks);
                out.push(bundle);
            }
            out.push(text(r#"{"kind":"discovery#restDescription","discoveryVersion":"v1","name":"x","version":"v1","rootUrl":"https://x.googleapis.com/","servicePath":"x/v1/","parameters":{"alt":{"type":"string","location":"query","default":"json"}},"auth":{"oauth2":{"scopes":{"https://www.googleapis.com/auth/x":{"description":"X"}}}},"schemas":{"A":{"id":"A","type":"object","properties":{"n":{"type":"integer","format":"int64","required":true},"b":{"$ref":"A"}}}},"resources":{"things":{"methods":{"get":{"id":"x.things.get","path":"things/{+name}","httpMethod":"GET","parameters":{"name":{"type":"string","location":"path","required":true}},"parameterOrder":["name","name"],"response":{"$ref":"A"},"scopes":["https://www.googleapis.com/auth/x"]}}}}}"#));
            for url in [
                "https://www.googleapis.com/discovery/v1/apis/tasks/v1/rest",
                "https://sheets.googleapis.com/$discovery/rest?version=v4",
                "https://docs-json.googleapis.com/$discovery/rest?version=v1",
                "http://127.0.0.1:9/discovery.json",
                "https://user:pw@www.googleapis.com/x#f",
            ] {
                out.push(text(url));
            }
        }
        "mcp_remote" => {
            let tools = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","description":"Echo","inputSchema":{"type":"object"}},{"name":"Echo!","annotations":{"destructiveHint":true,"title":"Wipe"},"outputSchema":{"type":"object"}},{"name":"echo_2"},{"title":"nameless"}],"nextCursor":"c2"}}"#;
            let session = "event: endpoint\ndata: /messages?sessionId=1\n\n: keep-alive\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"héllo wörld\"}]}}\n\n";
            for (seed, body) in [
                (0u8, tools),
                (
                    3,
                    r#"{"tools":[{"name":"a"},{"name":"a"},{"name":"a_2"},{"name":"a"}]}"#,
                ),
                (
                    7,
                    r#"[{"jsonrpc":"2.0","method":"notifications/progress"},{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no such method"}}]"#,
                ),
                (1, session),
                (2, &session.replace('\n', "\r\n")),
                (
                    5,
                    "event: endpoint\ndata: https://elsewhere.example/steal\n\n",
                ),
                (
                    6,
                    "data: {\"jsonrpc\":\"2.0\",\"id\":1,\n data: \"result\":{}}\n\n",
                ),
                (
                    4,
                    "event: message\r\ndata: ü€😀\r\n\r\nevent:endpoint\rdata:/m\r\r",
                ),
            ] {
                let mut input = vec![seed];
                input.extend_from_slice(body.as_bytes());
                out.push(input);
            }
        }
        "oauth_response" => {
            let script = |pieces: &[&str]| {
                pieces
                    .iter()
                    .map(|p| p.as_bytes().to_vec())
                    .collect::<Vec<_>>()
                    .join(&0xFFu8)
            };
            for pieces in [
                &[
                    r#"0{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":"a b"}"#,
                ][..],
                &["1access_token=at-2&expires_in=60&scope=a"],
                &[r#"4{"error":"invalid_grant","error_description":"The code has expired"}"#],
                &[r#"0{"access_token":"at-3","expires_in":"99999999999999999999"}"#],
                &[r#"0{"access_token":"at-4","expires_in":1e300}"#],
                &[r#"0{"client_id":"dyn-client","client_secret":"dyn-secret-0123456789abcdef"}"#],
                &[
                    r#"5Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#,
                    r#"0{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com/tenant"],"scopes_supported":["read"]}"#,
                    r#"0{"issuer":"https://as.example.com/tenant","authorization_endpoint":"https://as.example.com/authorize","token_endpoint":"https://as.example.com/token","registration_endpoint":"https://as.example.com/register","token_endpoint_auth_methods_supported":["none"]}"#,
                ],
                &[
                    "6",
                    "6",
                    r#"0{"authorization_servers":[]}"#,
                    "6",
                    r#"0{"token_endpoint":7}"#,
                ],
                &[
                    "7https://as.example.com/elsewhere",
                    "7http://169.254.169.254/latest",
                ],
            ] {
                out.push(script(pieces));
            }
        }
        _ => {}
    }
    // Recorded request bodies are good JSON seeds for every JSON-shaped target.
    if matches!(target, "mcp_session" | "openapi_spec") {
        if let Ok(dir) = std::fs::read_dir(shared.join("reference/wire-examples")) {
            let mut names: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            names.sort();
            for path in names.into_iter().take(40) {
                let Some(value) = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                else {
                    continue;
                };
                if let Some(body) = value.pointer("/request/body") {
                    let mut seed = if target == "mcp_session" {
                        vec![1u8]
                    } else {
                        Vec::new()
                    };
                    seed.extend(serde_json::to_vec(body).unwrap_or_default());
                    out.push(seed);
                }
            }
        }
    }
    out
}

/// A small block-style YAML rendering of a JSON value (seeds for the YAML target).
fn to_yaml(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| match v {
                Value::Object(m) if !m.is_empty() => {
                    format!("{pad}{}:\n{}", json!(k), to_yaml(v, indent + 2))
                }
                Value::Array(a) if !a.is_empty() => {
                    format!("{pad}{}:\n{}", json!(k), to_yaml(v, indent + 2))
                }
                _ => format!("{pad}{}: {}\n", json!(k), v),
            })
            .collect(),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|v| format!("{pad}- {}\n", v)).collect()
        }
        other => format!("{pad}{other}\n"),
    }
}

/// A deterministic mutator (xorshift): byte flips, inserts of interesting tokens, deletions,
/// duplication of slices and splices with another seed. Not coverage-guided; it only makes the
/// stable smoke run reach a little beyond the seeds.
pub struct Mutator(u64);

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        const TOKENS: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            ".",
            "*",
            "\n",
            "\\u0000",
            "null",
            "true",
            "-1e999",
            "$ref",
            "#/",
            "&a",
            "*a",
            "!!",
            "---",
            "```",
            "export default ",
            "tools.",
            "..",
            "\u{feff}",
            "\u{fffd}",
            "0x7f",
            "[::ffff:",
            "@",
            "%00",
            "eyJ",
            "/*",
            "`${",
        ];
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(6) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 => {
                    let token = TOKENS[self.below(TOKENS.len())].as_bytes();
                    out.splice(at..at, token.iter().copied());
                }
                2 if !out.is_empty() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    let start = at.min(end);
                    out.drain(start..end);
                }
                3 if !out.is_empty() && out.len() < 64 * 1024 => {
                    let start = self.below(out.len());
                    let end = (start + 1 + self.below(64)).min(out.len());
                    let slice = out[start..end].to_vec();
                    out.splice(at..at, slice);
                }
                4 if !other.is_empty() => {
                    let start = self.below(other.len());
                    let end = (start + 1 + self.below(256)).min(other.len());
                    out.splice(at..at, other[start..end].iter().copied());
                }
                _ => {
                    let byte = self.next() as u8;
                    out.insert(at, byte);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Mutations per target in the stable smoke run (the long runs are `scripts/fuzz`).
    const MUTATIONS: usize = 20_000;

    /// The stable smoke run: every seed, then deterministic mutations, through every target.
    /// Inputs are capped so the slowest target (OpenAPI on the petstore seed) stays a few seconds.
    #[test]
    fn fuzz_targets_survive_seeds_and_mutations() {
        let shared = crate::test_support::shared("");
        let mut report = Vec::new();
        for (name, target) in TARGETS {
            let seeds = seeds(name, &shared);
            assert!(!seeds.is_empty(), "{name} has seeds");
            let started = std::time::Instant::now();
            for seed in &seeds {
                target(seed);
            }
            let mut mutator = Mutator::new(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
            // The targets that run whole sessions or pipelines per input get fewer, so that the
            // whole smoke run stays within a few seconds of a debug build.
            let mutations = match *name {
                "google_discovery" | "oauth_response" => MUTATIONS / 10,
                "graphql_introspection" | "mcp_remote" => MUTATIONS / 4,
                "mcp_session" => MUTATIONS / 3,
                _ => MUTATIONS,
            };
            for i in 0..mutations {
                let base = &seeds[i % seeds.len()];
                let other = &seeds[mutator.below(seeds.len())];
                let mut input = mutator.mutate(base, other);
                input.truncate(128 * 1024);
                target(&input);
            }
            report.push(format!(
                "{name}: {} seeds + {mutations} mutations in {} ms",
                seeds.len(),
                started.elapsed().as_millis()
            ));
        }
        println!("fuzz smoke:\n  {}", report.join("\n  "));
    }

    /// Writes the seed corpus to `$FUZZ_SEED_DIR/<target>/` for `scripts/fuzz` (ignored in the
    /// normal run: it writes files).
    #[test]
    #[ignore = "run by scripts/fuzz"]
    fn write_seed_corpus() {
        let Some(dir) = std::env::var_os("FUZZ_SEED_DIR") else {
            panic!("set FUZZ_SEED_DIR");
        };
        let shared = crate::test_support::shared("");
        for (name, _) in TARGETS {
            let target_dir = std::path::Path::new(&dir).join(name);
            std::fs::create_dir_all(&target_dir).unwrap();
            for (i, seed) in seeds(name, &shared).iter().enumerate() {
                std::fs::write(target_dir.join(format!("seed-{i:03}")), seed).unwrap();
            }
        }
    }

    #[test]
    fn mcp_target_answers_a_ping_after_initialize() {
        // The target drives a real session: a ping after initialize is a 200 with a result.
        let config = fuzz_config();
        assert_eq!(config.execute_timeout_ms, 100);
        let mut data = vec![1u8];
        data.extend_from_slice(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
        let answers = mcp_session_responses(&data);
        let body = |i: usize| {
            let r = answers[i].as_ref().unwrap();
            (r.status, serde_json::from_slice::<Value>(&r.body).unwrap())
        };
        assert_eq!(body(0).0, 200);
        assert_eq!(body(0).1["result"]["protocolVersion"], "2025-06-18");
        // With bit 0 set the body goes to the live session twice; both pings are answered.
        assert_eq!(body(1), (200, json!({"jsonrpc":"2.0","id":1,"result":{}})));
        assert_eq!(body(2), body(1));
        // Without it, the body is first an `initialize` of a new session: a ping is refused.
        let answers = mcp_session_responses(
            &data[..]
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 0 { 0 } else { *b })
                .collect::<Vec<u8>>(),
        );
        assert_eq!(answers[0].as_ref().unwrap().status, 400);
        // `execute` runs agent code through the real sandbox (storage fails, the run does not).
        let mut data = vec![1u8];
        data.extend_from_slice(
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute","arguments":{"code":"return 6 * 7"}}}"#,
        );
        let answers = mcp_session_responses(&data);
        let (status, reply) = {
            let r = answers[2].as_ref().unwrap();
            (r.status, serde_json::from_slice::<Value>(&r.body).unwrap())
        };
        assert_eq!(status, 200, "{reply}");
        assert!(reply.to_string().contains("42"), "{reply}");
    }
}
