//! The session object on the host: the GET stream, native elicitation end to end (against the
//! SQLite fake), request-id serialisation, batch rules and idle teardown.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;

use futures_util::future::{join, join3};
use futures_util::stream::{Stream, StreamExt};
use serde_json::{json, Value};

use super::{SessionMeta, SessionObject, META_KEY};
use crate::app::Services;
use crate::http::testing::{TestWorld, NOW_MS};
use crate::http::{Request, Response};
use crate::mcp::internal_headers as h;
use crate::mcp::live::tests::YieldTimer;
use crate::mcp::live::{LiveSession, RecordedAlarms, IDLE_TEARDOWN_MS};
use crate::store::{KeyValue, MemoryKeyValue};
use crate::time::FixedClock;

const SID: &str = "4366aacae484479ece94d769182d384828d0f7f73563a42581ff16ab695f7b7f";
/// A built-in tool whose annotation asks for approval: pauses without any upstream.
const CREATE_POLICY: &str = "return await tools.executor.coreTools.policies.create(\
    { owner: 'user', pattern: 'petstore.*.*.pets.deletePet', action: 'block' });";

struct Harness {
    world: TestWorld,
    storage: MemoryKeyValue,
    meta: RefCell<Option<SessionMeta>>,
    live: LiveSession,
    alarms: RecordedAlarms,
    timer: YieldTimer,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            world: TestWorld::new(),
            storage: MemoryKeyValue::default(),
            meta: RefCell::new(None),
            live: LiveSession::default(),
            alarms: RecordedAlarms::default(),
            timer: YieldTimer(2000),
        }
    }

    fn object_at<'a>(&'a self, clock: &'a FixedClock) -> SessionObject<'a> {
        SessionObject {
            storage: &self.storage,
            services: Services {
                clock,
                timer: &self.timer,
                ..self.world.services()
            },
            cached_meta: &self.meta,
            live: &self.live,
            alarms: &self.alarms,
        }
    }

    fn object(&self) -> SessionObject<'_> {
        self.object_at(&self.world.clock)
    }

    fn request(&self, method: &str) -> Request {
        Request::new(method, "http://127.0.0.1:8787/mcp")
            .with_header(h::ACCOUNT_ID, "dev")
            .with_header(h::ORGANIZATION_ID, &self.world.config.organization.id)
            .with_header(h::SESSION_ID, SID)
            .with_header("accept", "application/json, text/event-stream")
            .with_header("content-type", "application/json")
    }

    async fn initialize(&self, mode: &str, capabilities: Value) {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": capabilities,
            "clientInfo": {"name": "t", "version": "1"}}});
        let request = self
            .request("POST")
            .with_header(h::NEW_SESSION, "1")
            .with_header(h::ELICITATION_MODE, mode)
            .with_body(body.to_string());
        let response = self.object().handle(request).await;
        assert_eq!(response.status, 200);
    }

    async fn post(&self, body: Value) -> Response {
        self.object()
            .handle(self.request("POST").with_body(body.to_string()))
            .await
    }

    async fn open_stream(&self) -> impl Stream<Item = Vec<u8>> + use<> {
        let (response, stream) = self.object().handle_streaming(self.request("GET")).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        assert_eq!(response.header("cache-control"), Some("no-cache"));
        assert_eq!(response.header("mcp-session-id"), Some(SID));
        Box::pin(
            stream
                .unwrap()
                .frames(25_000, |_| std::future::pending::<()>()),
        )
    }

    async fn blocking_policies(&self) -> usize {
        let listed = self.world.call("GET", "/api/policies", None).await;
        listed
            .json_body()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["pattern"] == "petstore.*.*.pets.deletePet")
            .count()
    }
}

fn call(id: u64, name: &str, arguments: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": name, "arguments": arguments } })
}

/// Reads the next `event: message` frame as JSON.
async fn next_message(stream: &mut (impl Stream<Item = Vec<u8>> + Unpin)) -> Value {
    let frame = String::from_utf8(stream.next().await.unwrap()).unwrap();
    let data = frame.strip_prefix("event: message\ndata: ").unwrap();
    serde_json::from_str(data.trim()).unwrap()
}

#[tokio::test]
async fn native_accept_runs_the_call_and_execute_answers_the_result() {
    let t = Harness::new();
    t.initialize("native", json!({"elicitation": {}})).await;
    let tools = t
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    let names: Vec<Value> = tools.json_body().unwrap()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("execute")]);

    let mut stream = t.open_stream().await;
    let execute = t.post(call(2, "execute", json!({ "code": CREATE_POLICY })));
    let client = async {
        let asked = next_message(&mut stream).await;
        assert_eq!(asked["method"], "elicitation/create");
        let message = asked["params"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Approve executor.coreTools.policies.create?"),
            "{message}"
        );
        assert!(message.contains("deletePet"), "{message}");
        assert_eq!(
            asked["params"]["requestedSchema"],
            json!({"type": "object", "properties": {}})
        );
        // Nothing has run yet.
        assert_eq!(t.blocking_policies().await, 0);
        let answer = json!({"jsonrpc": "2.0", "id": asked["id"],
                            "result": {"action": "accept", "content": {}}});
        t.post(answer).await
    };
    let (done, answered) = join(execute, client).await;
    assert_eq!(answered.status, 202);
    assert!(answered.body.is_empty());
    assert_eq!(done.status, 200);
    let done = done.json_body().unwrap();
    assert_eq!(done["id"], 2);
    assert_eq!(
        done["result"]["structuredContent"]["status"], "completed",
        "{done}"
    );
    assert_eq!(done["result"]["structuredContent"]["result"]["ok"], true);
    assert_eq!(t.blocking_policies().await, 1);
}

#[tokio::test]
async fn native_decline_and_unanswered_questions_fail_the_call() {
    let t = Harness::new();
    t.initialize("native", json!({"elicitation": {}})).await;
    let mut stream = t.open_stream().await;
    let execute = t.post(call(2, "execute", json!({ "code": CREATE_POLICY })));
    let client = async {
        let asked = next_message(&mut stream).await;
        // A client error counts as cancel; here the user declines.
        t.post(json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}}))
            .await
    };
    let (done, _) = join(execute, client).await;
    let done = done.json_body().unwrap();
    assert_eq!(done["result"]["isError"], true, "{done}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("declined by the user"), "{text}");
    assert_eq!(t.blocking_policies().await, 0);

    // Nobody answers: the bounded wait ends in cancel.
    let execute = t.post(call(3, "execute", json!({ "code": CREATE_POLICY })));
    let client = async {
        let asked = next_message(&mut stream).await;
        assert_eq!(asked["method"], "elicitation/create");
    };
    let (done, ()) = join(execute, client).await;
    let done = done.json_body().unwrap();
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("cancelled by the user"), "{text}");
    assert_eq!(t.blocking_policies().await, 0);
}

#[tokio::test]
async fn native_falls_back_to_a_model_pause_when_the_client_cannot_be_asked() {
    // No elicitation capability.
    let t = Harness::new();
    t.initialize("native", json!({})).await;
    let _stream = t.open_stream().await;
    let paused = t
        .post(call(2, "execute", json!({ "code": CREATE_POLICY })))
        .await
        .json_body()
        .unwrap();
    let result = &paused["result"];
    assert_eq!(
        result["structuredContent"]["status"],
        "waiting_for_interaction"
    );
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("did not declare the elicitation capability"),
        "{text}"
    );
    // `resume` answers although native mode does not list it.
    let id = result["structuredContent"]["executionId"].as_str().unwrap();
    let done = t
        .post(call(
            3,
            "resume",
            json!({"executionId": id, "action": "accept"}),
        ))
        .await
        .json_body()
        .unwrap();
    assert_eq!(done["result"]["structuredContent"]["status"], "completed");

    // The capability, but no open stream.
    let t = Harness::new();
    t.initialize("native", json!({"elicitation": {}})).await;
    let paused = t
        .post(call(2, "execute", json!({ "code": CREATE_POLICY })))
        .await
        .json_body()
        .unwrap();
    let text = paused["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("no open GET event stream"), "{text}");
}

#[tokio::test]
async fn model_mode_is_unchanged() {
    let t = Harness::new();
    t.initialize("model", json!({"elicitation": {}})).await;
    let _stream = t.open_stream().await;
    let paused = t
        .post(call(2, "execute", json!({ "code": CREATE_POLICY })))
        .await
        .json_body()
        .unwrap();
    let text = paused["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Execution paused: "), "{text}");
    let tools = t
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await
        .json_body()
        .unwrap();
    assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn get_needs_event_stream_and_a_second_get_replaces_the_first() {
    let t = Harness::new();
    t.initialize("native", json!({})).await;
    let mut request = t.request("GET");
    request.headers.retain(|(name, _)| name != "accept");
    let response = t
        .object()
        .handle(request.with_header("accept", "application/json"))
        .await;
    assert_eq!(response.status, 406);
    assert_eq!(
        response.json_body().unwrap()["error"]["message"],
        "Not Acceptable: Client must accept text/event-stream"
    );
    let first = t.open_stream().await;
    let _second = t.open_stream().await;
    assert!(first.collect::<Vec<_>>().await.is_empty());
    assert!(t.live.stream_open());
}

#[tokio::test]
async fn duplicate_request_ids_wait_and_share_one_run() {
    let t = Harness::new();
    t.initialize("native", json!({"elicitation": {}})).await;
    let mut stream = t.open_stream().await;
    let first = t.post(call(5, "execute", json!({ "code": CREATE_POLICY })));
    let retry = t.post(call(5, "execute", json!({ "code": CREATE_POLICY })));
    let client = async {
        let asked = next_message(&mut stream).await;
        t.post(json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept"}}))
            .await
    };
    let (a, b, _) = join3(first, retry, client).await;
    let (a, b) = (a.json_body().unwrap(), b.json_body().unwrap());
    assert_eq!(
        a["result"]["structuredContent"]["status"], "completed",
        "{a}"
    );
    assert_eq!(a, b);
    // One question, one run.
    assert_eq!(t.blocking_policies().await, 1);
}

#[tokio::test]
async fn batches() {
    let t = Harness::new();
    t.initialize("model", json!({})).await;
    let init = json!({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let two = t.post(json!([init, init])).await;
    assert_eq!(two.status, 400);
    assert_eq!(
        two.json_body().unwrap()["error"]["message"],
        "Invalid Request: Only one initialization request is allowed"
    );
    let one = t
        .post(json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, init]))
        .await;
    assert_eq!(one.status, 400);
    // Replies in request order; notifications and responses produce none.
    let batch = t
        .post(json!([
            {"jsonrpc": "2.0", "id": "b", "method": "tools/list"},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": "x", "result": {}},
            {"jsonrpc": "2.0", "id": "a", "method": "ping"},
            {"jsonrpc": "2.0", "id": 3, "method": "nope"}
        ]))
        .await;
    assert_eq!(batch.status, 200);
    let ids: Vec<Value> = batch
        .json_body()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("b"), json!("a"), json!(3)]);
    let only_responses = t
        .post(json!([{"jsonrpc": "2.0", "id": "x", "result": {}}]))
        .await;
    assert_eq!(only_responses.status, 202);
}

#[tokio::test]
async fn idle_teardown_keeps_the_meta_and_the_pauses() {
    let t = Harness::new();
    t.initialize("model", json!({})).await;
    assert_eq!(*t.alarms.set.borrow(), vec![NOW_MS + IDLE_TEARDOWN_MS]);
    let paused = t
        .post(call(2, "execute", json!({ "code": CREATE_POLICY })))
        .await
        .json_body()
        .unwrap();
    let id = paused["result"]["structuredContent"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = t.open_stream().await;

    // Four idle minutes: nothing happens but a later check.
    let soon = FixedClock(NOW_MS + 4.0 * 60_000.0);
    t.object_at(&soon).alarm().await;
    assert!(t.live.stream_open());
    assert_eq!(
        t.alarms.set.borrow().last(),
        Some(&(NOW_MS + IDLE_TEARDOWN_MS))
    );

    // Six: the stream closes and memory is dropped, the meta stays.
    let later = FixedClock(NOW_MS + 6.0 * 60_000.0);
    t.object_at(&later).alarm().await;
    assert!(!t.live.stream_open());
    assert!(stream.collect::<Vec<_>>().await.is_empty());
    assert!(t.meta.borrow().is_none());
    assert!(t.storage.get(META_KEY).await.unwrap().is_some());

    // The session goes on transparently, and the pause (in D1) is still there.
    let done = t
        .object_at(&later)
        .handle(t.request("POST").with_body(
            call(3, "resume", json!({"executionId": id, "action": "accept"})).to_string(),
        ))
        .await
        .json_body()
        .unwrap();
    assert_eq!(
        done["result"]["structuredContent"]["status"], "completed",
        "{done}"
    );

    // Abandoned for the pause TTL: everything goes.
    let ttl = t.world.config.execution_pause_ttl_ms as f64;
    let gone = FixedClock(NOW_MS + 6.0 * 60_000.0 + ttl);
    t.object_at(&gone).alarm().await;
    assert!(t.storage.get(META_KEY).await.unwrap().is_none());
    let response = t
        .post(json!({"jsonrpc": "2.0", "id": 4, "method": "ping"}))
        .await;
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn resume_calls_queue_per_execution_id() {
    use crate::mcp::live::Turn;
    let t = Harness::new();
    t.initialize("model", json!({})).await;
    // Another request is resuming exec_x (a different JSON-RPC id): this one waits, bounded.
    let held = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call"});
    let Turn::Run(guard) = t.live.turn(&t.timer, "resume:exec_x".into(), &held).await else {
        panic!("free key")
    };
    let resume = call(
        1,
        "resume",
        json!({"executionId": "exec_x", "action": "accept"}),
    );
    let waited = t.post(resume.clone()).await.json_body().unwrap();
    assert_eq!(
        waited["error"]["code"],
        crate::mcp::jsonrpc::SERVER_ERROR,
        "{waited}"
    );
    drop(guard);
    let free = t.post(resume).await.json_body().unwrap();
    assert_eq!(
        free["result"]["structuredContent"]["status"],
        "execution_not_found"
    );
}
