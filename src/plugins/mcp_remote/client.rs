//! A small MCP client for remote servers (executor-behaviour.md §8.3.1): JSON-RPC over
//! streamable HTTP (POST, answers as `application/json` or a `text/event-stream` that ends with
//! the response, `Mcp-Session-Id` / `MCP-Protocol-Version` headers) and over the legacy HTTP+SSE
//! transport (GET an event stream, its `endpoint` event names where to POST, answers arrive on
//! the stream). Every request goes through the SSRF guard. Messages are walked as
//! `serde_json::Value`, never decoded into typed structs.
//!
//! Streamable HTTP sessions outlive a call: [`Session`] is what the caller stores and hands back,
//! and [`McpError::SessionExpired`] says the server forgot it (HTTP 404 on a request that carried
//! it), so the caller initialises again. An SSE session lives only as long as its stream, so
//! [`sse_exchange`] opens one, initialises, runs its requests and closes it.

use serde_json::{json, Value};

use crate::net::http::{
    guarded_fetch, guarded_open, FetchError, HttpClient, OutboundRequest, OutboundResponse,
};

/// The protocol version we ask for; the server may answer an older one, which we then send.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// Largest answer read from one POST (bytes).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Pages of `tools/list` followed before giving up on a server that never stops paging.
pub const MAX_LIST_PAGES: usize = 50;

/// SSE chunks read while waiting for one answer before giving up.
const MAX_STREAM_READS: usize = 10_000;

/// Where and how to reach a server: the URL with its query parameters, the static and auth
/// headers, the time budget per exchange.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub timeout_ms: u64,
    pub allow_local_network: bool,
}

/// Which wire the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    StreamableHttp,
    Sse,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::StreamableHttp => "streamable-http",
            Transport::Sse => "sse",
        }
    }
}

/// A streamable-HTTP session: the server's id (absent for servers without sessions) and the
/// negotiated protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Option<String>,
    pub protocol: String,
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq)]
pub enum McpError {
    /// No answer at all (refused, timed out, blocked by the SSRF guard, too large).
    Fetch(FetchError),
    /// 401/403: credentials missing or refused. `bearer` when the challenge names Bearer.
    Auth { status: u16, bearer: bool },
    /// The server no longer knows the session we sent (HTTP 404 with a session id).
    SessionExpired,
    /// Another HTTP status.
    Http { status: u16 },
    /// The answer is not an MCP message (not JSON-RPC, no answer to our id, bad SSE).
    Protocol(String),
    /// A JSON-RPC error answer.
    Rpc { code: i64, message: String },
}

impl McpError {
    /// A short description without URLs' queries or any header value.
    pub fn describe(&self) -> String {
        match self {
            McpError::Fetch(e) => e.to_string(),
            McpError::Auth { status, .. } => {
                format!("the server refused the credentials (HTTP {status})")
            }
            McpError::SessionExpired => "the server ended the MCP session".into(),
            McpError::Http { status } => format!("the server answered HTTP {status}"),
            McpError::Protocol(m) => format!("not an MCP answer: {m}"),
            McpError::Rpc { code, message } => format!("JSON-RPC error {code}: {message}"),
        }
    }

    /// Whether trying the other transport could help (`auto`): not for auth or network
    /// failures, which the other transport would meet too.
    pub fn wrong_transport(&self) -> bool {
        matches!(self, McpError::Http { .. } | McpError::Protocol(_))
    }
}

fn request(endpoint: &Endpoint, method: &str, url: &str, body: Option<Vec<u8>>) -> OutboundRequest {
    let mut headers: Vec<(String, String)> = vec![(
        "user-agent".into(),
        crate::plugins::openapi::invoke::USER_AGENT.into(),
    )];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
        headers.push((
            "accept".into(),
            "application/json, text/event-stream".into(),
        ));
    } else {
        headers.push(("accept".into(), "text/event-stream".into()));
    }
    for (name, value) in &endpoint.headers {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.clone(), value.clone()));
    }
    OutboundRequest {
        method: method.into(),
        url: url.into(),
        headers,
        body,
        timeout_ms: endpoint.timeout_ms,
        max_body_bytes: MAX_MESSAGE_BYTES,
    }
}

/// The JSON-RPC `initialize` request.
pub fn initialize_message(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "executor-mcp", "version": "0.1.0"},
    }})
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Splits an SSE text into complete events `(event name, data)`; the rest (an unfinished event)
/// is left in `buffer`.
pub fn drain_events(buffer: &mut String) -> Vec<(String, String)> {
    let mut events = Vec::new();
    if buffer.contains('\r') {
        // Lines end in `\r\n`, `\n` or a lone `\r`; all become `\n`, so the buffer never
        // keeps a `\r` except one at the very end, which waits for the next chunk (it may be
        // the first half of a `\r\n`). That keeps the events independent of where chunks end.
        let mut text = buffer.replace("\r\n", "\n");
        let hold = text.ends_with('\r');
        if hold {
            text.pop();
        }
        text = text.replace('\r', "\n");
        if hold {
            text.push('\r');
        }
        *buffer = text;
    }
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end).collect();
        buffer.drain(..2);
        let mut name = String::from("message");
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            let line = line.trim_end_matches('\r');
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = value.to_owned(),
                "data" => data.push(value),
                _ => {}
            }
        }
        if !data.is_empty() {
            events.push((name, data.join("\n")));
        }
    }
    events
}

/// The answer to request `id` in one POST's body: a JSON-RPC message (single or batched), or an
/// event stream whose `message` events carry them (`content_type` lowercase). `None`: no answer
/// to `id` in it. Pure, so the fuzz target can drive it.
pub fn answer_in_body(content_type: &str, body: &[u8], id: u64) -> Option<Result<Value, McpError>> {
    let text = String::from_utf8_lossy(body);
    if content_type.starts_with("text/event-stream") {
        let mut buffer = text.into_owned();
        buffer.push_str("\n\n");
        drain_events(&mut buffer)
            .into_iter()
            .filter(|(name, _)| name == "message")
            .filter_map(|(_, data)| serde_json::from_str::<Value>(&data).ok())
            .find_map(|m| answer_in(m, id))
    } else {
        serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|m| answer_in(m, id))
    }
}

/// The answer to request `id` among JSON-RPC messages (single or batched).
fn answer_in(message: Value, id: u64) -> Option<Result<Value, McpError>> {
    match message {
        Value::Array(items) => items.into_iter().find_map(|m| answer_in(m, id)),
        Value::Object(mut object) => {
            if object.get("id").and_then(Value::as_u64) != Some(id) {
                return None;
            }
            if let Some(error) = object.get("error") {
                return Some(Err(McpError::Rpc {
                    code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .chars()
                        .take(500)
                        .collect(),
                }));
            }
            object.remove("result").map(Ok)
        }
        _ => None,
    }
}

fn auth_error(response: &OutboundResponse) -> McpError {
    let bearer = response
        .header("www-authenticate")
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer"));
    McpError::Auth {
        status: response.status,
        bearer,
    }
}

/// One streamable-HTTP POST; `Ok(None)` for an accepted notification.
async fn post(
    http: &dyn HttpClient,
    endpoint: &Endpoint,
    session: Option<&Session>,
    message: &Value,
    id: Option<u64>,
) -> Result<(Option<Value>, Option<String>), McpError> {
    let mut outbound = request(
        endpoint,
        "POST",
        &endpoint.url,
        Some(message.to_string().into_bytes()),
    );
    if let Some(session) = session {
        if let Some(sid) = &session.id {
            outbound
                .headers
                .push(("mcp-session-id".into(), sid.clone()));
        }
        outbound
            .headers
            .push(("mcp-protocol-version".into(), session.protocol.clone()));
    }
    let response = guarded_fetch(http, outbound, endpoint.allow_local_network)
        .await
        .map_err(McpError::Fetch)?;
    let carried_session = session.is_some_and(|s| s.id.is_some());
    match response.status {
        401 | 403 => return Err(auth_error(&response)),
        404 if carried_session => return Err(McpError::SessionExpired),
        // Some servers answer a forgotten session with 400 "no valid session".
        400 if carried_session
            && String::from_utf8_lossy(&response.body)
                .to_ascii_lowercase()
                .contains("session") =>
        {
            return Err(McpError::SessionExpired)
        }
        s if !(200..300).contains(&s) => return Err(McpError::Http { status: s }),
        _ => {}
    }
    let sid = response.header("mcp-session-id").map(str::to_owned);
    let Some(id) = id else {
        return Ok((None, sid));
    };
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match answer_in_body(&content_type, &response.body, id) {
        Some(answer) => answer.map(|v| (Some(v), sid)),
        None => Err(McpError::Protocol(format!(
            "no JSON-RPC answer to request {id} (HTTP {}, {})",
            response.status,
            if content_type.is_empty() {
                "no content type"
            } else {
                content_type.as_str()
            }
        ))),
    }
}

/// `initialize` + `notifications/initialized` over streamable HTTP: the new session and the
/// server's `initialize` result.
pub async fn initialize(
    http: &dyn HttpClient,
    endpoint: &Endpoint,
) -> Result<(Session, Value), McpError> {
    let (result, sid) = post(http, endpoint, None, &initialize_message(1), Some(1)).await?;
    let result = result.unwrap_or(Value::Null);
    let protocol = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(PROTOCOL_VERSION)
        .to_owned();
    let session = Session { id: sid, protocol };
    let initialized: Value = serde_json::from_str(INITIALIZED).unwrap_or(Value::Null);
    post(http, endpoint, Some(&session), &initialized, None).await?;
    Ok((session, result))
}

/// One request on an existing streamable-HTTP session.
pub async fn call(
    http: &dyn HttpClient,
    endpoint: &Endpoint,
    session: &Session,
    id: u64,
    method: &str,
    params: Value,
) -> Result<Value, McpError> {
    let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let (result, _) = post(http, endpoint, Some(session), &message, Some(id)).await?;
    Ok(result.unwrap_or(Value::Null))
}

/// Takes one `tools/list` page's tools into `tools`; the cursor of the next page, if any.
pub fn take_page(page: &mut Value, tools: &mut Vec<Value>) -> Option<String> {
    if let Some(Value::Array(items)) = page.get_mut("tools").map(Value::take) {
        tools.extend(items);
    }
    page.get("nextCursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

fn list_params(cursor: &Option<String>) -> Value {
    match cursor {
        Some(c) => json!({ "cursor": c }),
        None => json!({}),
    }
}

fn endless() -> McpError {
    McpError::Protocol(format!(
        "tools/list still paging after {MAX_LIST_PAGES} pages"
    ))
}

/// `tools/list` on a streamable-HTTP session, following `nextCursor` (at most
/// [`MAX_LIST_PAGES`] pages). Request ids start at `first_id`.
pub async fn list_tools(
    http: &dyn HttpClient,
    endpoint: &Endpoint,
    session: &Session,
    first_id: u64,
) -> Result<Vec<Value>, McpError> {
    let mut tools = Vec::new();
    let mut cursor = None;
    for n in 0..MAX_LIST_PAGES as u64 {
        let mut page = call(
            http,
            endpoint,
            session,
            first_id + n,
            "tools/list",
            list_params(&cursor),
        )
        .await?;
        cursor = take_page(&mut page, &mut tools);
        if cursor.is_none() {
            return Ok(tools);
        }
    }
    Err(endless())
}

/// One request to run over a legacy SSE session.
pub struct SseRequest {
    pub method: &'static str,
    pub params: Value,
}

/// Opens an SSE session, initialises it and runs `requests` in order (each waits for its answer
/// on the stream); answers the `initialize` result and each request's answer, then closes the
/// stream. `tools/list` requests are followed through their cursors.
pub async fn sse_exchange(
    http: &dyn HttpClient,
    endpoint: &Endpoint,
    requests: Vec<SseRequest>,
) -> Result<(Value, Vec<Result<Value, McpError>>), McpError> {
    let outbound = request(endpoint, "GET", &endpoint.url, None);
    let stream = guarded_open(http, outbound, endpoint.allow_local_network)
        .await
        .map_err(McpError::Fetch)?;
    match stream.status {
        401 | 403 => {
            let bearer = stream.headers.iter().any(|(n, v)| {
                n == "www-authenticate" && v.trim_start().to_ascii_lowercase().starts_with("bearer")
            });
            return Err(McpError::Auth {
                status: stream.status,
                bearer,
            });
        }
        s if !(200..300).contains(&s) => return Err(McpError::Http { status: s }),
        _ => {}
    }
    let is_sse = stream.headers.iter().any(|(n, v)| {
        n == "content-type" && v.to_ascii_lowercase().starts_with("text/event-stream")
    });
    if !is_sse {
        return Err(McpError::Protocol(
            "the GET did not open an event stream".into(),
        ));
    }
    let mut reader = SseReader {
        body: stream.body,
        events: SseEvents::default(),
    };
    let post_path = reader.next_event("endpoint").await?;
    let post_url = messages_url(&endpoint.url, &post_path)?;
    let send = |message: &Value| {
        let outbound = request(
            endpoint,
            "POST",
            &post_url,
            Some(message.to_string().into_bytes()),
        );
        async move {
            let response = guarded_fetch(http, outbound, endpoint.allow_local_network)
                .await
                .map_err(McpError::Fetch)?;
            match response.status {
                401 | 403 => Err(auth_error(&response)),
                s if (200..300).contains(&s) => Ok(()),
                s => Err(McpError::Http { status: s }),
            }
        }
    };
    send(&initialize_message(1)).await?;
    let init = reader.answer(1).await?;
    let initialized: Value = serde_json::from_str(INITIALIZED).unwrap_or(Value::Null);
    send(&initialized).await?;
    let mut id = 1u64;
    let mut answers = Vec::new();
    for req in requests {
        if req.method == "tools/list" {
            let mut listed = Err(endless());
            let mut tools = Vec::new();
            let mut cursor = None;
            for _ in 0..MAX_LIST_PAGES {
                id += 1;
                let message = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list",
                    "params": list_params(&cursor)});
                let page = match send(&message).await {
                    Ok(()) => reader.answer(id).await,
                    Err(e) => Err(e),
                };
                match page {
                    Ok(mut page) => {
                        cursor = take_page(&mut page, &mut tools);
                        if cursor.is_none() {
                            listed = Ok(json!({ "tools": std::mem::take(&mut tools) }));
                            break;
                        }
                    }
                    Err(e) => {
                        listed = Err(e);
                        break;
                    }
                }
            }
            answers.push(listed);
            continue;
        }
        id += 1;
        let message =
            json!({"jsonrpc": "2.0", "id": id, "method": req.method, "params": req.params});
        let answer = match send(&message).await {
            Ok(()) => reader.answer(id).await,
            Err(e) => Err(e),
        };
        answers.push(answer);
    }
    Ok((init, answers))
}

/// Where a legacy SSE session's messages go: the `endpoint` event's data resolved against the
/// stream's URL. It must stay on the stream's origin: an event stream must not be able to send
/// our credentials elsewhere.
pub fn messages_url(stream_url: &str, event_data: &str) -> Result<String, McpError> {
    let base = crate::net::parse_url(stream_url)
        .map_err(|_| McpError::Protocol("endpoint URL does not parse".into()))?;
    let post_url = base
        .join(event_data.trim())
        .map_err(|_| McpError::Protocol("the `endpoint` event is not a URL".into()))?;
    if post_url.origin() != base.origin() {
        return Err(McpError::Protocol(
            "the `endpoint` event names another origin".into(),
        ));
    }
    Ok(post_url.to_string())
}

/// The events of a stream read in chunks, without I/O: bytes in (split anywhere), complete events
/// out, in order.
#[derive(Default)]
pub struct SseEvents {
    buffer: String,
    /// The start of a UTF-8 character the chunk boundary cut (at most 3 bytes): decoded with the
    /// next chunk instead of becoming U+FFFD.
    partial: Vec<u8>,
    pending: Vec<(String, String)>,
}

/// How many bytes at the end of `bytes` start a UTF-8 sequence that is not complete yet.
fn incomplete_utf8_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead
        }
        let needs = match byte {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needs > back { back } else { 0 };
    }
    0
}

impl SseEvents {
    /// Takes one chunk; an error once the unfinished event outgrows [`MAX_MESSAGE_BYTES`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), McpError> {
        let mut bytes = bytes;
        let joined;
        if !self.partial.is_empty() {
            let mut partial = std::mem::take(&mut self.partial);
            partial.extend_from_slice(bytes);
            joined = partial;
            bytes = &joined;
        }
        let keep = incomplete_utf8_tail(bytes);
        let (complete, rest) = bytes.split_at(bytes.len() - keep);
        self.partial = rest.to_vec();
        self.buffer.push_str(&String::from_utf8_lossy(complete));
        if self.buffer.len() > MAX_MESSAGE_BYTES {
            return Err(McpError::Protocol("an SSE event is too large".into()));
        }
        let events = drain_events(&mut self.buffer);
        self.pending.extend(events);
        Ok(())
    }

    /// The stream ended: the bytes of a cut character still held become U+FFFD, as they would
    /// in the text read whole.
    pub fn close(&mut self) {
        let rest = std::mem::take(&mut self.partial);
        if !rest.is_empty() {
            self.buffer.push_str(&String::from_utf8_lossy(&rest));
            let events = drain_events(&mut self.buffer);
            self.pending.extend(events);
        }
    }

    /// The first complete event named `name` not yet taken (its data).
    pub fn take(&mut self, name: &str) -> Option<String> {
        let at = self.pending.iter().position(|(n, _)| n == name)?;
        Some(self.pending.remove(at).1)
    }

    /// Every complete event not yet taken, in order.
    pub fn take_all(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.pending)
    }
}

struct SseReader {
    body: Box<dyn crate::net::http::BodyStream>,
    events: SseEvents,
}

impl SseReader {
    async fn next_event(&mut self, name: &str) -> Result<String, McpError> {
        for _ in 0..MAX_STREAM_READS {
            if let Some(data) = self.events.take(name) {
                return Ok(data);
            }
            match self.body.next_chunk().await.map_err(McpError::Fetch)? {
                Some(bytes) => self.events.push(&bytes)?,
                None => {
                    return Err(McpError::Protocol(
                        "the event stream closed before the answer".into(),
                    ))
                }
            }
        }
        Err(McpError::Protocol("no answer on the event stream".into()))
    }

    async fn answer(&mut self, id: u64) -> Result<Value, McpError> {
        for _ in 0..MAX_STREAM_READS {
            let data = self.next_event("message").await?;
            if let Some(answer) = serde_json::from_str::<Value>(&data)
                .ok()
                .and_then(|m| answer_in(m, id))
            {
                return answer;
            }
        }
        Err(McpError::Protocol("no answer on the event stream".into()))
    }
}
