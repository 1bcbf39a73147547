#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::client::{self, drain_events, Endpoint, McpError, SseRequest};
use super::store;
use crate::http::testing::TestWorld;
use crate::net::http::{
    BodyStream, FetchError, HttpClient, OutboundRequest, OutboundResponse, StreamingResponse,
};

const ENDPOINT: &str = "https://mcp.example.com/mcp";

fn body_of(request: &OutboundRequest) -> Value {
    serde_json::from_slice(request.body.as_deref().unwrap_or(b"null")).unwrap()
}

fn tools() -> Vec<Value> {
    vec![
        json!({"name": "read_note", "description": "Reads a note.",
               "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
               "annotations": {"readOnlyHint": true}}),
        json!({"name": "Delete Note", "title": "Delete a note",
               "inputSchema": {"type": "object"}, "annotations": {"destructiveHint": true}}),
        json!({"name": "fail_loudly", "inputSchema": {"type": "object"}}),
    ]
}

/// The state of a fake streamable-HTTP MCP server.
#[derive(Default)]
struct Server {
    sessions: Vec<String>,
    inits: usize,
    calls: usize,
    /// Answer JSON instead of SSE.
    json: bool,
    /// Refuse everything with 401 (Bearer challenge).
    locked: bool,
}

fn answer(server: &Server, session: Option<&str>, message: Value) -> OutboundResponse {
    let text = message.to_string();
    let (content_type, body) = if server.json {
        ("application/json", text)
    } else {
        (
            "text/event-stream",
            format!("event: message\r\ndata: {text}\r\n\r\n"),
        )
    };
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    if let Some(s) = session {
        headers.push(("mcp-session-id".into(), s.to_owned()));
    }
    OutboundResponse {
        status: 200,
        headers,
        body: body.into_bytes(),
    }
}

fn status(code: u16) -> OutboundResponse {
    OutboundResponse {
        status: code,
        headers: vec![("www-authenticate".into(), "Bearer realm=\"x\"".into())],
        body: b"{}".to_vec(),
    }
}

fn serve(world: &TestWorld) -> Rc<RefCell<Server>> {
    let state = Rc::new(RefCell::new(Server::default()));
    let shared = state.clone();
    world.http.on(move |request| {
        if !request.url.starts_with(ENDPOINT) {
            return None;
        }
        let mut server = shared.borrow_mut();
        if server.locked {
            return Some(status(401));
        }
        let message = body_of(request);
        let id = message.get("id").cloned();
        let method = message["method"].as_str().unwrap_or_default().to_owned();
        let header = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("mcp-session-id"))
            .map(|(_, v)| v.clone());
        if method == "initialize" {
            server.inits += 1;
            let sid = format!("session-{}", server.inits);
            server.sessions.push(sid.clone());
            let result = json!({"protocolVersion": "2025-03-26", "capabilities": {"tools": {}},
                "serverInfo": {"name": "notes"}, "instructions": "hi"});
            return Some(answer(
                &server,
                Some(&sid),
                json!({"jsonrpc": "2.0", "id": id, "result": result}),
            ));
        }
        match &header {
            Some(sid) if server.sessions.contains(sid) => {}
            _ => {
                return Some(OutboundResponse {
                    status: 404,
                    headers: vec![],
                    body: vec![],
                })
            }
        }
        let version = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("mcp-protocol-version"))
            .map(|(_, v)| v.as_str());
        assert_eq!(version, Some("2025-03-26"), "negotiated version sent");
        let result = match method.as_str() {
            "notifications/initialized" => {
                return Some(OutboundResponse {
                    status: 202,
                    headers: vec![],
                    body: vec![],
                })
            }
            "tools/list" => {
                let all = tools();
                match message["params"]["cursor"].as_str() {
                    None => json!({"tools": all[..2], "nextCursor": "page2"}),
                    Some("page2") => json!({"tools": all[2..]}),
                    Some(_) => {
                        return Some(answer(
                            &server,
                            None,
                            json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32602, "message": "bad cursor"}}),
                        ))
                    }
                }
            }
            "tools/call" => {
                server.calls += 1;
                let name = message["params"]["name"].as_str().unwrap_or_default();
                if name == "fail_loudly" {
                    json!({"isError": true, "content": [{"type": "text", "text": "it failed"}]})
                } else {
                    json!({"content": [{"type": "text",
                        "text": format!("{name} {}", message["params"]["arguments"])}]})
                }
            }
            _ => return Some(status(400)),
        };
        Some(answer(
            &server,
            None,
            json!({"jsonrpc": "2.0", "id": id, "result": result}),
        ))
    });
    state
}

async fn post(world: &TestWorld, path: &str, body: Value) -> (u16, Value) {
    let r = world.call("POST", path, Some(&body)).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

async fn execute(world: &TestWorld, code: &str) -> Value {
    let (status, body) = post(world, "/api/executions", json!({ "code": code })).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn add_and_connect(world: &TestWorld, extra: Value) {
    let mut body = json!({"name": "Notes", "endpoint": ENDPOINT});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, added) = post(world, "/api/mcp/servers", body).await;
    assert_eq!((status, added), (200, json!({"slug": "notes"})));
    let (status, created) = post(
        world,
        "/api/connections",
        json!({"owner": "org", "name": "main", "integration": "notes", "template": "none", "values": {}}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
}

#[test]
fn sse_events_split_across_chunks_and_line_endings() {
    let mut buffer = String::from(
        "event: endpoint\r\ndata: /messages?s=1\r\n\r\ndata: {\"a\":\ndata: 1}\n\nevent: mess",
    );
    let events = drain_events(&mut buffer);
    assert_eq!(
        events,
        vec![
            ("endpoint".to_owned(), "/messages?s=1".to_owned()),
            ("message".to_owned(), "{\"a\":\n1}".to_owned()),
        ]
    );
    assert_eq!(buffer, "event: mess");
}

/// A lone `\r` (an SSE line end) was read differently depending on where the chunks ended
/// (found by the `mcp_remote` fuzz target), and a character cut by a chunk boundary became
/// U+FFFDs (found while writing it).
#[test]
fn stream_events_do_not_depend_on_chunk_boundaries() {
    let text = "event: message\rdata: \u{fc}\u{20ac}\u{1f600}\r\r\
                event:endpoint\r\ndata:/m?s=1\r\n\r\ndata: x\r\r\n\n";
    let expected = vec![
        ("message".to_owned(), "\u{fc}\u{20ac}\u{1f600}".to_owned()),
        ("endpoint".to_owned(), "/m?s=1".to_owned()),
        ("message".to_owned(), "x".to_owned()),
    ];
    let mut whole = text.to_owned();
    assert_eq!(drain_events(&mut whole), expected);
    for width in 1..=7 {
        let mut events = client::SseEvents::default();
        let mut seen = Vec::new();
        for chunk in text.as_bytes().chunks(width) {
            events.push(chunk).unwrap();
            seen.extend(events.take_all());
        }
        assert_eq!(seen, expected, "chunks of {width} bytes");
    }
}

/// Found while writing the `mcp_remote` fuzz target: de-duplicating names rescanned every row
/// for every suffix tried, cubic in a list that repeats one name.
#[test]
fn many_tools_with_one_name_get_distinct_names_quickly() {
    let mut tools = vec![json!({"name": "same_3"})];
    tools.extend((0..20_000).map(|_| json!({"name": "same"})));
    let rows = store::derive(&tools);
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..5],
        ["same_3", "same", "same_2", "same_4", "same_5"]
    );
    assert_eq!(names.last(), Some(&"same_20001"));
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len());
}

#[test]
fn tool_names_annotations_and_results() {
    let rows = store::derive(&[
        json!({"name": "simple-echo"}),
        json!({"name": "Simple Echo", "annotations": {"destructiveHint": true}}),
        json!({"name": "!!!", "outputSchema": {"type": "object"}}),
    ]);
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["simple_echo", "simple_echo_2", "tool"]);
    assert_eq!(rows[0].1["annotations"]["requiresApproval"], json!(false));
    assert_eq!(rows[0].1["description"], json!("MCP tool: simple-echo"));
    assert_eq!(rows[1].1["annotations"]["requiresApproval"], json!(true));
    assert_eq!(
        rows[1].1["annotations"]["approvalDescription"],
        json!("Simple Echo")
    );
    assert_eq!(rows[1].1["binding"], json!({"toolName": "Simple Echo"}));
    assert_eq!(
        rows[2].1["outputSchema"]["required"],
        json!(["content", "structuredContent"])
    );
    let failed =
        store::call_result(json!({"isError": true, "content": [{"type": "text", "text": "no"}]}));
    assert_eq!(failed["error"]["code"], json!("mcp_tool_error"));
    assert_eq!(failed["error"]["message"], json!("no"));
    let ok = store::call_result(json!({"content": []}));
    assert_eq!(ok, json!({"ok": true, "data": {"content": []}}));
}

#[tokio::test]
async fn one_initialize_serves_many_calls_and_a_lost_session_is_renewed_once() {
    let world = TestWorld::new();
    let server = serve(&world);
    add_and_connect(&world, json!({"remoteTransport": "streamable-http"})).await;
    // Discovery initialised once and followed the cursor to the third tool.
    assert_eq!(server.borrow().inits, 1);
    let listed = world
        .call("GET", "/api/tools", None)
        .await
        .json_body()
        .unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["integration"] == "notes")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["delete_note", "fail_loudly", "read_note"]);

    for n in 0..5 {
        let out = execute(
            &world,
            &format!("return await tools.notes.org.main.read_note({{id: '{n}'}})"),
        )
        .await;
        assert_eq!(out["status"], "completed", "{out}");
        assert!(out["text"].as_str().unwrap().contains("read_note"), "{out}");
    }
    assert_eq!(
        server.borrow().inits,
        1,
        "the session is reused across requests"
    );
    assert_eq!(server.borrow().calls, 5);

    server.borrow_mut().sessions.clear();
    let out = execute(
        &world,
        "return await tools.notes.org.main.read_note({id: 'x'})",
    )
    .await;
    assert!(out["text"].as_str().unwrap().contains("read_note"), "{out}");
    assert_eq!(server.borrow().inits, 2, "exactly one re-initialise");
    let out = execute(
        &world,
        "return await tools.notes.org.main.read_note({id: 'y'})",
    )
    .await;
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(server.borrow().inits, 2);

    // isError ⇒ a typed failure; a destructive tool pauses.
    let out = execute(&world, "return await tools.notes.org.main.fail_loudly({})").await;
    assert!(
        out["text"].as_str().unwrap().contains("mcp_tool_error"),
        "{out}"
    );
    let out = execute(
        &world,
        "return await tools.notes.org.main.delete_note({id: '1'})",
    )
    .await;
    assert_eq!(out["status"], "paused", "{out}");
    assert_eq!(server.borrow().calls, 8);
}

#[tokio::test]
async fn json_answers_auto_transport_and_auth_failures() {
    let world = TestWorld::new();
    let server = serve(&world);
    server.borrow_mut().json = true;
    add_and_connect(&world, json!({})).await;
    let out = execute(
        &world,
        "return await tools.notes.org.main.read_note({id: 'j'})",
    )
    .await;
    assert_eq!(out["status"], "completed", "{out}");
    server.borrow_mut().locked = true;
    server.borrow_mut().sessions.clear();
    let out = execute(
        &world,
        "return await tools.notes.org.main.read_note({id: 'j'})",
    )
    .await;
    assert!(
        out["text"]
            .as_str()
            .unwrap()
            .contains("connection_rejected"),
        "{out}"
    );
    // Probe of a Bearer-challenged server.
    let (status, probed) = post(&world, "/api/mcp/probe", json!({"endpoint": ENDPOINT})).await;
    assert_eq!(status, 200);
    assert_eq!(probed["requiresAuthentication"], json!(true));
    assert_eq!(probed["requiresOAuth"], json!(true));
}

#[tokio::test]
async fn dead_endpoint_adds_and_tools_appear_on_refresh() {
    let world = TestWorld::new();
    add_and_connect(&world, json!({})).await;
    let listed = world
        .call("GET", "/api/tools", None)
        .await
        .json_body()
        .unwrap();
    assert!(!listed.to_string().contains("read_note"));
    let server = serve(&world);
    let (status, tools) = post(&world, "/api/connections/org/notes/main/refresh", json!({})).await;
    assert_eq!(status, 200, "{tools}");
    assert_eq!(tools.as_array().unwrap().len(), 3, "{tools}");
    assert_eq!(server.borrow().inits, 1);
    // Refreshing with the same list keeps the generation.
    let before = world
        .call("GET", "/api/mcp/servers/notes", None)
        .await
        .json_body()
        .unwrap();
    assert!(
        before["config"].get("generation").is_none(),
        "private keys hidden: {before}"
    );
    post(&world, "/api/connections/org/notes/main/refresh", json!({})).await;
    assert_eq!(server.borrow().inits, 1, "refresh reuses the session");
}

#[tokio::test]
async fn routes_add_get_config_auth_remove() {
    let world = TestWorld::new();
    let (status, _) = post(
        &world,
        "/api/mcp/servers",
        json!({"name": "x", "endpoint": "ftp://a"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, added) = post(
        &world,
        "/api/mcp/servers",
        json!({"name": "My Server", "endpoint": ENDPOINT, "auth": {"kind": "header", "headerName": "X-Key", "prefix": "Key "}}),
    )
    .await;
    assert_eq!((status, &added), (200, &json!({"slug": "my_server"})));
    let (status, _) = post(
        &world,
        "/api/mcp/servers",
        json!({"name": "My Server", "endpoint": ENDPOINT}),
    )
    .await;
    assert_eq!(status, 409);
    let got = world
        .call("GET", "/api/mcp/servers/my_server", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(got["kind"], "mcp");
    assert_eq!(got["config"]["remoteTransport"], "auto");
    assert_eq!(got["config"]["authenticationTemplate"][0]["slug"], "header");
    let listed = world
        .call("GET", "/api/integrations/my_server", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(listed["displayUrl"], ENDPOINT);
    let (status, auth) = post(
        &world,
        "/api/mcp/servers/my_server/auth",
        json!({"authenticationTemplate": [{"kind": "oauth2"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(auth["authenticationTemplate"].as_array().unwrap().len(), 2);
    // A `mode` that is not a string is refused, not read as "merge" (the corpus found it).
    for mode in [json!(1), json!(true), json!(["replace"]), json!("append")] {
        let (status, e) = post(
            &world,
            "/api/mcp/servers/my_server/auth",
            json!({"mode": mode, "authenticationTemplate": []}),
        )
        .await;
        assert_eq!(status, 400, "{mode}: {e}");
        assert!(e["_tag"].is_string(), "{e}");
    }
    let listed = world
        .call("GET", "/api/integrations/my_server", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(listed["authMethods"][1]["oauth"]["discoveryUrl"], ENDPOINT);
    let (status, config) = post(
        &world,
        "/api/mcp/servers/my_server/config",
        json!({"config": {"transport": "remote", "endpoint": "https://other.example.com/mcp", "remoteTransport": "sse"}}),
    )
    .await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["config"]["remoteTransport"], "sse");
    let removed = world
        .call("DELETE", "/api/mcp/servers/my_server", None)
        .await;
    assert_eq!(removed.status, 200);
    let got = world
        .call("GET", "/api/mcp/servers/my_server", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(got, Value::Null);
}

#[tokio::test]
async fn detection_by_handshake_and_by_name() {
    let world = TestWorld::new();
    serve(&world);
    let (_, found) = post(&world, "/api/integrations/detect", json!({"url": ENDPOINT})).await;
    let mcp: Vec<&Value> = found
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "mcp")
        .collect();
    assert_eq!(mcp[0]["confidence"], "high");
    assert_eq!(mcp[0]["slug"], "mcp_example_com");
    let (_, found) = post(
        &world,
        "/api/integrations/detect",
        json!({"url": "https://x.example.com/mcp/v1"}),
    )
    .await;
    let mcp: Vec<&Value> = found
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "mcp")
        .collect();
    assert_eq!(mcp[0]["confidence"], "low");
}

// --- Legacy SSE -------------------------------------------------------------------------------

/// A fake SSE server: the GET stream is a queue the POST handler fills.
#[derive(Default)]
struct SseServer {
    queue: Rc<RefCell<VecDeque<Vec<u8>>>>,
    inits: RefCell<usize>,
}

struct Queue(Rc<RefCell<VecDeque<Vec<u8>>>>);

#[async_trait(?Send)]
impl BodyStream for Queue {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, FetchError> {
        Ok(self.0.borrow_mut().pop_front())
    }
}

#[async_trait(?Send)]
impl HttpClient for SseServer {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        assert_eq!(
            request.url,
            "https://mcp.example.com/messages?sessionId=abc"
        );
        let message = body_of(&request);
        let id = message.get("id").cloned();
        let result = match message["method"].as_str().unwrap() {
            "initialize" => {
                *self.inits.borrow_mut() += 1;
                Some(json!({"protocolVersion": "2024-11-05", "serverInfo": {"name": "sse"}}))
            }
            "tools/list" if message["params"]["cursor"].is_null() => {
                Some(json!({"tools": [{"name": "a"}], "nextCursor": "2"}))
            }
            "tools/list" => Some(json!({"tools": [{"name": "b"}]})),
            "tools/call" => Some(json!({"content": [{"type": "text", "text": "called"}]})),
            _ => None,
        };
        if let Some(result) = result {
            // Split across chunks to exercise the reader.
            let text = format!(
                "event: message\ndata: {}\n\n",
                json!({"jsonrpc": "2.0", "id": id, "result": result})
            );
            let (a, b) = text.split_at(7);
            self.queue.borrow_mut().push_back(a.as_bytes().to_vec());
            self.queue.borrow_mut().push_back(b.as_bytes().to_vec());
        }
        Ok(OutboundResponse {
            status: 202,
            headers: vec![],
            body: b"Accepted".to_vec(),
        })
    }

    async fn open(&self, request: OutboundRequest) -> Result<StreamingResponse, FetchError> {
        assert_eq!(request.method, "GET");
        self.queue
            .borrow_mut()
            .push_back(b"event: endpoint\ndata: /messages?sessionId=abc\n\n".to_vec());
        Ok(StreamingResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Box::new(Queue(self.queue.clone())),
        })
    }
}

fn sse_endpoint() -> Endpoint {
    Endpoint {
        url: "https://mcp.example.com/sse".into(),
        headers: vec![],
        timeout_ms: 1000,
        allow_local_network: false,
    }
}

#[tokio::test]
async fn sse_lists_across_pages_and_calls_on_one_stream() {
    let server = SseServer::default();
    let (init, answers) = client::sse_exchange(
        &server,
        &sse_endpoint(),
        vec![
            SseRequest {
                method: "tools/list",
                params: json!({}),
            },
            SseRequest {
                method: "tools/call",
                params: json!({"name": "a", "arguments": {}}),
            },
        ],
    )
    .await
    .unwrap();
    assert_eq!(init["serverInfo"]["name"], "sse");
    assert_eq!(*server.inits.borrow(), 1);
    let listed = answers[0].as_ref().unwrap();
    assert_eq!(listed["tools"].as_array().unwrap().len(), 2);
    assert_eq!(answers[1].as_ref().unwrap()["content"][0]["text"], "called");
}

#[tokio::test]
async fn sse_refuses_a_cross_origin_endpoint_and_a_closed_stream() {
    struct Elsewhere;
    #[async_trait(?Send)]
    impl HttpClient for Elsewhere {
        async fn send(&self, _: OutboundRequest) -> Result<OutboundResponse, FetchError> {
            panic!("nothing may be posted")
        }
        async fn open(&self, _: OutboundRequest) -> Result<StreamingResponse, FetchError> {
            let queue = Rc::new(RefCell::new(VecDeque::from(vec![
                b"event: endpoint\ndata: https://evil.example.net/messages\n\n".to_vec(),
            ])));
            Ok(StreamingResponse {
                status: 200,
                headers: vec![("content-type".into(), "text/event-stream".into())],
                body: Box::new(Queue(queue)),
            })
        }
    }
    let error = client::sse_exchange(&Elsewhere, &sse_endpoint(), vec![])
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Protocol(_)), "{error:?}");
}
