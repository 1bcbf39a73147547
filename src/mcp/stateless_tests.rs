//! Wire shapes of the session-less revision, checked against rmcp's own model types, and the
//! approval round trip against the durable executions store.

#![allow(clippy::unwrap_used)]

use rmcp::model::{
    CallToolResult, DiscoverResult, InputRequiredResult, ListToolsResult, ServerResult,
};
use serde_json::{json, Value};

use super::*;
use crate::http::testing::{TestWorld, TEST_USER_HEADER};

const V: &str = STATELESS_PROTOCOL_VERSION;
/// A built-in tool that asks for approval by default (it writes a policy).
const GATED: &str = "return await tools.executor.coreTools.policies.create(\
                     { owner: 'user', pattern: 'demo.*', action: 'block' });";

fn meta(capabilities: Value) -> Value {
    json!({
        META_PROTOCOL_VERSION: V,
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" },
        META_CLIENT_CAPABILITIES: capabilities,
    })
}

fn body(id: u64, method: &str, mut params: Value, capabilities: Value) -> Value {
    params["_meta"] = meta(capabilities);
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

fn request(body: &Value, headers: &[(&str, &str)]) -> Request {
    let mut r = Request::new("POST", "http://127.0.0.1:8787/mcp")
        .with_header(TEST_USER_HEADER, "dev")
        .with_header("content-type", "application/json")
        .with_header("accept", "application/json, text/event-stream")
        .with_body(body.to_string());
    for (k, v) in headers {
        r = r.with_header(k, v);
    }
    r
}

/// POSTs through the router (envelope → stateless) with the standard headers.
async fn post(world: &TestWorld, body: &Value) -> (u16, Value) {
    let method = body["method"].as_str().unwrap_or("").to_owned();
    let r = request(
        body,
        &[("mcp-protocol-version", V), ("mcp-method", &method)],
    );
    let response = world.send_request(r).await;
    (response.status, response.json_body().unwrap_or(Value::Null))
}

fn as_server_result(result: &Value) -> ServerResult {
    serde_json::from_value(result.clone()).unwrap()
}

#[test]
fn discover_and_tools_list_are_rmcp_shapes() {
    let discover: DiscoverResult = serde_json::from_value(discover_result()).unwrap();
    assert!(discover.result_type.is_complete());
    let versions: Vec<String> = discover
        .supported_versions
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert!(versions.contains(&"2026-07-28".to_owned()));
    assert!(versions.contains(&"2025-06-18".to_owned()));
    assert_eq!(discover.server_info().unwrap().name, "executor");
    assert!(discover.capabilities.tools.is_some());

    let list: ListToolsResult = serde_json::from_value(tools_list_result()).unwrap();
    let names: Vec<&str> = list.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["execute", "resume"]);
    assert_eq!(tools_list_result()["ttlMs"], 0);
    assert_eq!(tools_list_result()["cacheScope"], "private");
    assert!(tools_list_result()["tools"][0].get("execution").is_none());
}

#[test]
fn only_session_less_requests_are_routed_here() {
    let plain = |b: &Value| Request::new("POST", "http://h/mcp").with_body(b.to_string());
    let discover = json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}});
    assert!(wants_stateless(&plain(&discover)));
    let list = body(1, "tools/list", json!({}), json!({}));
    assert!(wants_stateless(&plain(&list)));
    let bare = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    assert!(!wants_stateless(&plain(&bare)));
    assert!(wants_stateless(
        &plain(&bare).with_header("mcp-protocol-version", V)
    ));
    assert!(!wants_stateless(
        &plain(&bare).with_header("mcp-protocol-version", "2025-06-18")
    ));
    // `initialize` keeps the session handshake, whatever version it names (it negotiates down).
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":V}});
    assert!(!wants_stateless(
        &plain(&init).with_header("mcp-protocol-version", V)
    ));
}

#[tokio::test]
async fn version_and_header_checks_are_typed_errors() {
    let world = TestWorld::new();
    let list = body(7, "tools/list", json!({}), json!({}));
    let send = |headers: Vec<(&'static str, String)>, b: Value| {
        let world = &world;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = world.send_request(request(&b, &h)).await;
            (r.status, r.json_body().unwrap())
        }
    };
    // Header missing while _meta names the version.
    let (status, e) = send(vec![], list.clone()).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (400, json!(-32020)),
        "{e}"
    );
    assert_eq!(e["id"], 7);
    // Header and _meta disagree.
    let (status, e) = send(
        vec![("mcp-protocol-version", "2030-01-01".into())],
        list.clone(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (400, json!(-32020)),
        "{e}"
    );
    // A version we do not speak: -32022 with the supported list.
    let mut future = list.clone();
    future["params"]["_meta"][META_PROTOCOL_VERSION] = json!("2030-01-01");
    let (status, e) = send(vec![("mcp-protocol-version", "2030-01-01".into())], future).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (400, json!(-32022)),
        "{e}"
    );
    assert_eq!(e["error"]["data"]["requested"], "2030-01-01");
    assert!(e["error"]["data"]["supported"]
        .as_array()
        .unwrap()
        .contains(&json!(V)));
    // The header says 2026-07-28 but _meta is missing.
    let bare = json!({"jsonrpc":"2.0","id":8,"method":"tools/list","params":{}});
    let (status, e) = send(vec![("mcp-protocol-version", V.into())], bare).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (400, json!(-32602)),
        "{e}"
    );
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains(META_CLIENT_CAPABILITIES));
    // Routing headers must match the body.
    let (status, e) = send(
        vec![
            ("mcp-protocol-version", V.into()),
            ("mcp-method", "tools/call".into()),
        ],
        list.clone(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (400, json!(-32020)),
        "{e}"
    );
    let call = body(
        9,
        "tools/call",
        json!({"name":"execute","arguments":{"code":"1+1"}}),
        json!({}),
    );
    let (status, e) = send(
        vec![
            ("mcp-protocol-version", V.into()),
            ("mcp-name", "resume".into()),
        ],
        call.clone(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (400, json!(-32020)),
        "{e}"
    );
    // Base64-wrapped names decode (`execute`).
    let (status, ok) = send(
        vec![
            ("mcp-protocol-version", V.into()),
            ("mcp-method", "tools/call".into()),
            ("mcp-name", "=?base64?ZXhlY3V0ZQ==?=".into()),
        ],
        call,
    )
    .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["result"]["structuredContent"]["result"], 2);
    // Unknown methods: -32601 as a 404.
    let (status, e) = send(
        vec![("mcp-protocol-version", V.into())],
        body(10, "resources/list", json!({}), json!({})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (404, json!(-32601)),
        "{e}"
    );
    // Notifications: 202.
    let note = json!({"jsonrpc":"2.0","method":"notifications/cancelled",
                      "params":{"_meta": meta(json!({})), "requestId": 1}});
    let r = world
        .send_request(request(&note, &[("mcp-protocol-version", V)]))
        .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn discover_ping_list_and_execute_without_a_session() {
    let world = TestWorld::new();
    let (status, d) = post(&world, &body(1, "server/discover", json!({}), json!({}))).await;
    assert_eq!(status, 200, "{d}");
    assert!(matches!(
        as_server_result(&d["result"]),
        ServerResult::DiscoverResult(_)
    ));
    let (_, p) = post(&world, &body(2, "ping", json!({}), json!({}))).await;
    assert_eq!(p["result"], json!({"resultType":"complete"}));
    let (_, l) = post(&world, &body(3, "tools/list", json!({}), json!({}))).await;
    assert!(matches!(
        as_server_result(&l["result"]),
        ServerResult::ListToolsResult(_)
    ));

    let (status, x) = post(
        &world,
        &body(
            4,
            "tools/call",
            json!({"name":"execute","arguments":{"code":"return 1+1"}}),
            json!({}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{x}");
    assert_eq!(x["result"]["resultType"], "complete");
    let typed: CallToolResult = serde_json::from_value(x["result"].clone()).unwrap();
    assert_eq!(typed.structured_content.unwrap()["result"], 2);
    assert!(matches!(
        as_server_result(&x["result"]),
        ServerResult::CallToolResult(_)
    ));
    // No session was minted (the test router has none to give).
    let (_, e) = post(
        &world,
        &body(
            5,
            "tools/call",
            json!({"name":"execute","arguments":{"code":"  "}}),
            json!({}),
        ),
    )
    .await;
    assert_eq!(e["result"]["isError"], true);
}

#[tokio::test]
async fn approvals_are_input_required_round_trips() {
    let world = TestWorld::new();
    let call = |id: u64, extra: Value| {
        let mut params = json!({"name":"execute","arguments":{"code":GATED}});
        if let (Value::Object(p), Value::Object(e)) = (&mut params, extra) {
            p.extend(e);
        }
        body(id, "tools/call", params, json!({ "elicitation": {} }))
    };
    let (status, first) = post(&world, &call(1, json!({}))).await;
    assert_eq!(status, 200, "{first}");
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{result}");
    let typed: InputRequiredResult = serde_json::from_value(result.clone()).unwrap();
    assert!(typed.request_state.is_some());
    assert!(matches!(
        as_server_result(result),
        ServerResult::InputRequiredResult(_)
    ));
    let asked = &result["inputRequests"][APPROVAL_INPUT_KEY];
    assert_eq!(asked["method"], "elicitation/create");
    assert!(
        asked["params"]["message"]
            .as_str()
            .unwrap()
            .contains("coreTools.policies.create"),
        "{asked}"
    );
    let state = result["requestState"].as_str().unwrap().to_owned();

    // Repeating without an answer asks again (same state).
    let (_, again) = post(&world, &call(2, json!({ "requestState": state }))).await;
    assert_eq!(again["result"]["requestState"], json!(state), "{again}");

    // A forged state is refused before anything runs.
    let forged = format!("{}x", &state[..state.len() - 1]);
    let (status, bad) = post(
        &world,
        &call(
            3,
            json!({ "requestState": forged,
                          "inputResponses": { APPROVAL_INPUT_KEY: { "action": "accept" } } }),
        ),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["code"].clone()),
        (200, json!(-32602)),
        "{bad}"
    );

    // Accept: the run finishes; a replay gets the recorded outcome.
    let follow = call(
        4,
        json!({ "requestState": state,
                 "inputResponses": { APPROVAL_INPUT_KEY: { "action": "accept", "content": {} } } }),
    );
    let (_, done) = post(&world, &follow).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert_eq!(
        done["result"]["structuredContent"]["result"]["ok"], true,
        "{done}"
    );
    let (_, replay) = post(&world, &follow).await;
    assert_eq!(replay["result"], done["result"]);
    let policies = world
        .call("GET", "/api/policies", None)
        .await
        .json_body()
        .unwrap();
    let created = policies
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["pattern"] == "demo.*")
        .count();
    assert_eq!(created, 1);

    // Decline: the gated call fails inside the script.
    let (_, second) = post(&world, &call(5, json!({}))).await;
    let state = second["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, declined) = post(
        &world,
        &call(
            6,
            json!({ "requestState": state,
                          "inputResponses": { APPROVAL_INPUT_KEY: { "action": "decline" } } }),
        ),
    )
    .await;
    assert_eq!(declined["result"]["resultType"], "complete");
    assert_eq!(declined["result"]["isError"], true, "{declined}");

    // Another principal cannot use the state.
    let mut r = request(
        &call(
            7,
            json!({ "requestState": state,
                          "inputResponses": { APPROVAL_INPUT_KEY: { "action": "accept" } } }),
        ),
        &[("mcp-protocol-version", V)],
    );
    r.headers.retain(|(k, _)| k != TEST_USER_HEADER);
    let r = r.with_header(TEST_USER_HEADER, "mallory");
    let other = world.send_request(r).await.json_body().unwrap();
    assert_eq!(other["error"]["code"], -32602, "{other}");
}

#[tokio::test]
async fn clients_without_elicitation_get_the_model_side_pause() {
    let world = TestWorld::new();
    let params = json!({"name":"execute","arguments":{"code":GATED}});
    let (_, paused) = post(&world, &body(1, "tools/call", params, json!({}))).await;
    assert_eq!(paused["result"]["resultType"], "complete");
    assert_eq!(
        paused["result"]["structuredContent"]["status"],
        "waiting_for_interaction"
    );
}

#[test]
fn request_state_is_bound_to_the_principal_and_id() {
    let world = TestWorld::new();
    let alice = crate::auth::dev_principal(&world.config);
    let mut bob = alice.clone();
    bob.account_id = "bob".into();
    let state = request_state::seal(world.services(), &alice, "exec_1");
    assert_eq!(
        request_state::open(world.services(), &alice, &state).as_deref(),
        Some("exec_1")
    );
    assert_eq!(request_state::open(world.services(), &bob, &state), None);
    let swapped = state.replace("exec_1", "exec_2");
    assert_eq!(
        request_state::open(world.services(), &alice, &swapped),
        None
    );
    assert_eq!(
        request_state::open(world.services(), &alice, "exec_1"),
        None
    );
}

#[tokio::test]
async fn legacy_initialize_still_goes_to_a_session() {
    // The test router cannot mint sessions, so reaching the session path shows as its 500.
    let world = TestWorld::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":V,"capabilities":{},"clientInfo":{"name":"c","version":"1"}}});
    let r = world.send_request(request(&init, &[])).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json_body().unwrap()["error"]["code"], -32603);
}

#[tokio::test]
async fn a_non_string_method_is_an_invalid_request_not_a_response() {
    let world = TestWorld::new();
    for method in [json!(5), json!(null), json!({"m": "ping"})] {
        let message = json!({"jsonrpc": "2.0", "id": 1, "method": method});
        let r = world
            .send_request(request(&message, &[("mcp-protocol-version", V)]))
            .await;
        assert_eq!(r.status, 400, "{message}");
        assert_eq!(
            r.json_body().unwrap()["error"]["code"],
            json!(-32600),
            "{message}"
        );
    }
    // A client response (no `method` member) is still accepted without an answer.
    let response = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
    let r = world
        .send_request(request(&response, &[("mcp-protocol-version", V)]))
        .await;
    assert_eq!(r.status, 202);
}
