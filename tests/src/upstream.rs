//! A loopback stand-in for the upstream APIs the Worker calls in the catalog tests: the tiny
//! petstore (`listPets`, `getPet`, `createPet`, `deletePet`, `getInventory`), OpenAPI documents
//! registered by the test, and a catch-all for the big APIs (GitHub, Cloudflare) that answers
//! any path below `/big/<name>/` with a canned JSON 200.
//!
//! Every request is recorded (method, path, query, headers, body) so tests can assert what the
//! Worker sent upstream — including that it sent nothing. The server speaks just enough
//! HTTP/1.1 for workerd's fetch and reqwest: `content-length` and chunked request bodies,
//! `content-length` responses, keep-alive until the client closes or asks to.
//!
//! Responses never echo request headers, so a credential the Worker injects cannot come back
//! through this server into the Worker's answers (the canary scan relies on that).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request head or body the server accepts (the big specs are only ever served).
const MAX_REQUEST: usize = 64 * 1024 * 1024;

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path without the query string, as sent (not percent-decoded).
    pub path: String,
    /// The raw query string without `?`, if there was one.
    pub query: Option<String>,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `METHOD /path?query`, for assertion messages.
    pub fn line(&self) -> String {
        match &self.query {
            Some(q) => format!("{} {}?{q}", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// path ⇒ (content type, body) served on GET.
    documents: BTreeMap<String, (String, Arc<Vec<u8>>)>,
    pets: Vec<Value>,
    next_id: u64,
    /// Notes of the GraphQL endpoint (`crate::graphql`).
    notes: Vec<Value>,
    /// Tasks of the Discovery-described API (`crate::discovery`).
    tasks: Vec<Value>,
}

/// The running stand-in; stops when dropped.
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Upstream {
    /// Binds 127.0.0.1 on a free port and starts serving (on the current tokio runtime).
    pub async fn start() -> std::io::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            pets: vec![
                json!({"id": 1, "name": "Rex", "tag": "dog"}),
                json!({"id": 2, "name": "Tom", "tag": "cat"}),
                json!({"id": 3, "name": "Kit", "tag": "bird"}),
            ],
            next_id: 4,
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    // A broken connection only ends that connection.
                    let _ = serve_connection(stream, state).await;
                });
            }
        });
        Ok(Upstream { addr, state, task })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves `body` with `content_type` on `GET <path>` (replacing an earlier document).
    pub fn serve_document(&self, path: &str, content_type: &str, body: Vec<u8>) {
        lock(&self.state)
            .documents
            .insert(path.to_string(), (content_type.to_string(), Arc::new(body)));
    }

    /// Serves the shared petstore fixture at `/openapi.json` with its server rewritten to this
    /// stand-in; returns the document's URL.
    pub fn serve_petstore(&self) -> std::io::Result<String> {
        let text = std::fs::read_to_string(fixture_path("petstore.openapi.json"))?;
        let text = rewrite_server(&text, "http://127.0.0.1:8901", &self.base_url());
        self.serve_document("/openapi.json", "application/json", text.into_bytes());
        Ok(format!("{}/openapi.json", self.base_url()))
    }

    /// The petstore spec text as served (servers rewritten), for inline (`blob`) adds.
    pub fn petstore_text(&self) -> std::io::Result<String> {
        let text = std::fs::read_to_string(fixture_path("petstore.openapi.json"))?;
        Ok(rewrite_server(
            &text,
            "http://127.0.0.1:8901",
            &self.base_url(),
        ))
    }

    /// Serves the tasks Discovery document (`crate::discovery`) at
    /// `/discovery/v1/apis/tasks/v1/rest`, its `rootUrl` pointing here; returns its URL.
    pub fn serve_discovery(&self) -> std::io::Result<String> {
        let doc = crate::discovery::document(&format!("{}/", self.base_url()))?;
        let path = "/discovery/v1/apis/tasks/v1/rest";
        self.serve_document(path, "application/json", doc.to_string().into_bytes());
        Ok(format!("{}{path}", self.base_url()))
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// How many requests have arrived; pass it to [`Upstream::requests_since`].
    pub fn mark(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// The requests that arrived after `mark`.
    pub fn requests_since(&self, mark: usize) -> Vec<Recorded> {
        lock(&self.state)
            .requests
            .get(mark..)
            .map(<[Recorded]>::to_vec)
            .unwrap_or_default()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `../shared/fixtures/openapi/<name>` beside the repository.
pub fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/openapi")
        .join(name)
}

/// `text` with every JSON string token exactly equal to `from` (quotes included) replaced by
/// `to`. Server URLs are whole string values, while the same URL inside prose is part of a
/// longer string and stays untouched.
pub fn rewrite_server(text: &str, from: &str, to: &str) -> String {
    text.replace(&format!("\"{from}\""), &format!("\"{to}\""))
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Arc<Vec<u8>>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: Arc::new(value.to_string().into_bytes()),
        }
    }
    fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: "",
            body: Arc::new(Vec::new()),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Unknown",
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let Some(request) = read_request(&mut reader).await? else {
            return Ok(());
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let reply = {
            let mut state = lock(&state);
            state.requests.push(request.clone());
            route(&mut state, &request)
        };
        let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
        if !reply.content_type.is_empty() {
            head.push_str(&format!("content-type: {}\r\n", reply.content_type));
        }
        if reply.status != 204 {
            head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        }
        head.push_str("server: executor-e2e-standin\r\n");
        if close {
            head.push_str("connection: close\r\n");
        }
        head.push_str("\r\n");
        write.write_all(head.as_bytes()).await?;
        if request.method != "HEAD" && reply.status != 204 {
            write.write_all(&reply.body).await?;
        }
        write.flush().await?;
        if close {
            return Ok(());
        }
    }
}

/// One request from the connection; `None` at a clean end of stream.
pub(crate) async fn read_request<R>(reader: &mut BufReader<R>) -> std::io::Result<Option<Recorded>>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    // Tolerate blank lines between requests (RFC 9112 §2.2).
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid("bad request line"));
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let method = method.to_string();
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        head_bytes += n;
        if n == 0 || head_bytes > MAX_REQUEST {
            return Err(invalid("truncated or oversized head"));
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            return Err(invalid("bad header line"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Recorded {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk"))?;
            if size == 0 {
                // Trailers, then the final blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if request.body.len() + size > MAX_REQUEST {
                return Err(invalid("body too large"));
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..]).await?;
            line.clear();
            reader.read_line(&mut line).await?;
        }
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| invalid("bad content-length"))?;
        if length > MAX_REQUEST {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        request.body = body;
    }
    Ok(Some(request))
}

fn not_found(message: &str) -> Reply {
    Reply::json(404, &json!({"code": 404, "message": message}))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_string())
    })
}

/// Whether `pet` has the id written as `id` in a path.
fn same_id(pet: &Value, id: &str) -> bool {
    id.parse::<u64>().ok().is_some_and(|id| pet["id"] == id)
}

fn route(state: &mut State, request: &Recorded) -> Reply {
    let method = request.method.as_str();
    let path = request.path.as_str();
    if matches!(method, "GET" | "HEAD") {
        if let Some((content_type, body)) = state.documents.get(path) {
            return Reply {
                status: 200,
                content_type: if content_type.contains("yaml") {
                    "application/yaml"
                } else {
                    "application/json"
                },
                body: body.clone(),
            };
        }
    }
    if let Some(rest) = path.strip_prefix("/big/") {
        let api = rest.split('/').next().unwrap_or("");
        return Reply::json(
            200,
            &json!({"standIn": api, "method": method, "path": path, "ok": true}),
        );
    }
    if let Some(rest) = path.strip_prefix("/tasks/v1/") {
        let authorization = request.header("authorization");
        let (status, body) =
            crate::discovery::answer(method, rest, authorization, &request.body, &mut state.tasks);
        return Reply::json(status, &body);
    }
    if (method, path) == ("POST", "/graphql") {
        let (status, body) = crate::graphql::answer(&request.body, &mut state.notes);
        return Reply::json(status, &body);
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["pets"]) => {
            let limit = query_param(request.query.as_deref(), "limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            let tag = query_param(request.query.as_deref(), "tag");
            let pets: Vec<Value> = state
                .pets
                .iter()
                .filter(|p| tag.as_deref().is_none_or(|t| p["tag"] == t))
                .take(limit)
                .cloned()
                .collect();
            Reply::json(200, &Value::Array(pets))
        }
        ("POST", ["pets"]) => {
            let Some(name) = request
                .json()
                .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_string))
            else {
                return Reply::json(400, &json!({"code": 400, "message": "a pet needs a name"}));
            };
            let mut pet = json!({"id": state.next_id, "name": name});
            if let Some(tag) = request.json().and_then(|b| b.get("tag").cloned()) {
                pet["tag"] = tag;
            }
            state.next_id += 1;
            state.pets.push(pet.clone());
            Reply::json(201, &pet)
        }
        ("GET", ["pets", id]) => state
            .pets
            .iter()
            .find(|p| same_id(p, id))
            .map(|p| Reply::json(200, p))
            .unwrap_or_else(|| not_found("pet not found")),
        ("DELETE", ["pets", id]) => {
            let before = state.pets.len();
            state.pets.retain(|p| !same_id(p, id));
            if state.pets.len() == before {
                not_found("pet not found")
            } else {
                Reply::empty(204)
            }
        }
        ("GET", ["store", "inventory"]) => {
            if request.header("x-api-key").is_none_or(str::is_empty) {
                return Reply::json(401, &json!({"code": 401, "message": "missing api key"}));
            }
            Reply::json(200, &json!({"available": 3, "sold": 1}))
        }
        (_, ["pets"] | ["pets", _] | ["store", "inventory"]) => {
            Reply::json(405, &json!({"code": 405, "message": "method not allowed"}))
        }
        _ => not_found("no such route"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn serves_the_petstore_and_records_requests() {
        let upstream = Upstream::start().await.unwrap();
        let base = upstream.base_url();
        let spec_url = upstream.serve_petstore().unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();

        let spec: Value = client
            .get(&spec_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(spec["servers"], json!([{"url": base}]));
        assert_eq!(spec["info"]["title"], "Tiny Petstore");

        let mark = upstream.mark();
        let list = client
            .get(format!("{base}/pets?limit=2"))
            .header("x-api-key", "k1")
            .send()
            .await
            .unwrap();
        assert_eq!(list.status().as_u16(), 200);
        assert_eq!(
            list.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let pets: Value = list.json().await.unwrap();
        assert_eq!(
            pets,
            json!([{"id": 1, "name": "Rex", "tag": "dog"}, {"id": 2, "name": "Tom", "tag": "cat"}])
        );

        // Same client: the connection is kept alive across requests.
        let one: Value = client
            .get(format!("{base}/pets/2"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(one["name"], "Tom");
        let missing = client.get(format!("{base}/pets/999")).send().await.unwrap();
        assert_eq!(missing.status().as_u16(), 404);
        assert_eq!(
            missing.json::<Value>().await.unwrap(),
            json!({"code": 404, "message": "pet not found"})
        );

        let created = client
            .post(format!("{base}/pets"))
            .header("content-type", "application/json")
            .body(r#"{"name":"Rex"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status().as_u16(), 201);
        assert_eq!(
            created.json::<Value>().await.unwrap(),
            json!({"id": 4, "name": "Rex"})
        );

        // A chunked body (unknown length) over a raw connection that asks to close.
        let mut raw = TcpStream::connect(("127.0.0.1", upstream.port()))
            .await
            .unwrap();
        raw.write_all(
            b"POST /pets HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
              5\r\n{\"nam\r\n16\r\ne\":\"Chunky\",\"tag\":\"x\"}\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = String::new();
        raw.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 201 Created\r\n"), "{answer}");
        assert!(answer.contains("connection: close\r\n"), "{answer}");

        let unauthorized = client
            .get(format!("{base}/store/inventory"))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorized.status().as_u16(), 401);
        let deleted = client
            .delete(format!("{base}/pets/3"))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status().as_u16(), 204);

        let big = client
            .get(format!("{base}/big/github/repos/o/r"))
            .send()
            .await
            .unwrap();
        assert_eq!(big.status().as_u16(), 200);
        assert_eq!(big.json::<Value>().await.unwrap()["standIn"], "github");

        let seen = upstream.requests_since(mark);
        let lines: Vec<String> = seen.iter().map(Recorded::line).collect();
        assert_eq!(
            lines,
            [
                "GET /pets?limit=2",
                "GET /pets/2",
                "GET /pets/999",
                "POST /pets",
                "POST /pets",
                "GET /store/inventory",
                "DELETE /pets/3",
                "GET /big/github/repos/o/r"
            ]
        );
        assert_eq!(seen[0].header("X-Api-Key"), Some("k1"));
        assert_eq!(seen[0].query.as_deref(), Some("limit=2"));
        assert_eq!(seen[3].json(), Some(json!({"name": "Rex"})));
        assert_eq!(seen[3].header("content-type"), Some("application/json"));
        assert_eq!(seen[4].json(), Some(json!({"name": "Chunky", "tag": "x"})));
        assert_eq!(upstream.requests().len(), mark + 8);
    }

    #[test]
    fn server_urls_are_rewritten_only_as_whole_strings() {
        let text = r#"{"servers":[{"url":"https://api.x.com"}],"info":{"description":"see https://api.x.com docs"}}"#;
        let out = rewrite_server(text, "https://api.x.com", "http://127.0.0.1:1/big/x");
        assert_eq!(
            out,
            r#"{"servers":[{"url":"http://127.0.0.1:1/big/x"}],"info":{"description":"see https://api.x.com docs"}}"#
        );
    }
}
