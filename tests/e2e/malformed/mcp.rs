//! The `/mcp` part of the corpus: every method a session or a stateless (2026-07-28) request can
//! name, with malformed ids, versions, params and tool arguments, unknown methods,
//! notifications, client responses, batches and bad transport headers. The rule is the
//! surface's: never a 5xx; every JSON body is JSON-RPC 2.0 (an `error` with an integer `code`
//! and a `message`, or a `result`); a `result` of a malformed `tools/call` is a tool error
//! (`isError: true`); notifications and client responses are `202` with no body.

use serde_json::{json, Value};

use crate::support::{client, Answer};

const STATELESS: &str = "2026-07-28";

type Headers = Vec<(String, String)>;

/// What a case may answer besides a JSON-RPC error.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Expect {
    /// Only a JSON-RPC error.
    Error,
    /// A JSON-RPC error, or a tool error result (`isError: true`).
    ToolError,
    /// `202` with no body (a notification or a client response).
    Accepted,
    /// Any well-formed JSON-RPC answer (the input is odd but legal, e.g. ignored params).
    Any,
}

pub async fn send(base: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut req = client()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Answer::from(req.body(body).send().await.expect("request sent")).await
}

/// The JSON-RPC messages of an answer: a JSON body, or the `data:` lines of an event stream.
fn messages(what: &str, answer: &Answer) -> Vec<Value> {
    let text = answer.text();
    let is_sse = answer
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let parsed: Vec<Value> = if is_sse {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| {
                serde_json::from_str(d.trim())
                    .unwrap_or_else(|_| panic!("{what}: event data is not JSON: {d}"))
            })
            .collect()
    } else {
        vec![serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
            panic!(
                "{what}: {} body is not JSON: {}",
                answer.status,
                text.chars().take(300).collect::<String>()
            )
        })]
    };
    parsed
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(items) => items,
            other => vec![other],
        })
        .collect()
}

pub fn check(what: &str, answer: &Answer, expect: Expect) {
    super::soft(|| check_now(what, answer, expect));
}

fn check_now(what: &str, answer: &Answer, expect: Expect) {
    assert!(
        answer.status < 500,
        "{what}: got {}: {}",
        answer.status,
        answer.text().chars().take(300).collect::<String>()
    );
    if expect == Expect::Accepted {
        assert_eq!(
            (answer.status, answer.body.len()),
            (202, 0),
            "{what}: {}",
            answer.text()
        );
        return;
    }
    if answer.body.is_empty() {
        assert!(
            answer.status == 202 && expect == Expect::Any,
            "{what}: {} with an empty body",
            answer.status
        );
        return;
    }
    let messages = messages(what, answer);
    assert!(
        !messages.is_empty(),
        "{what}: no message in {}",
        answer.text()
    );
    for m in &messages {
        assert_eq!(m["jsonrpc"], "2.0", "{what}: {m}");
        if let Some(error) = m.get("error") {
            assert!(error["code"].is_i64(), "{what}: {m}");
            assert!(error["message"].is_string(), "{what}: {m}");
            assert!(m.get("result").is_none(), "{what}: {m}");
            assert!(
                (400..500).contains(&answer.status) || answer.status == 200,
                "{what}: {}",
                answer.status
            );
            continue;
        }
        let result = m.get("result").unwrap_or_else(|| panic!("{what}: {m}"));
        match expect {
            Expect::Error => panic!("{what}: expected a JSON-RPC error, got {m}"),
            Expect::ToolError => {
                assert_eq!(result["isError"], true, "{what}: {m}");
                assert!(result["content"][0]["text"].is_string(), "{what}: {m}");
            }
            _ => {}
        }
    }
}

fn rpc(id: Value, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn call(id: u64, name: Value, arguments: Value) -> Value {
    rpc(
        json!(id),
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

/// Malformed `tools/call`s of the built-in MCP tools (`execute`, `resume`) and of names that do
/// not exist, shared by the session and the stateless surfaces.
fn tool_calls() -> Vec<(&'static str, Value, Expect)> {
    let e = Expect::ToolError;
    let unknown_exec = "exec_00000000-0000-4000-8000-000000000000";
    vec![
        (
            "tools/call without params",
            json!({"jsonrpc": "2.0", "id": 30, "method": "tools/call"}),
            e,
        ),
        (
            "tools/call params null",
            rpc(json!(31), "tools/call", Value::Null),
            e,
        ),
        (
            "tools/call params an array",
            rpc(json!(32), "tools/call", json!(["execute"])),
            e,
        ),
        (
            "tools/call without a name",
            rpc(json!(33), "tools/call", json!({"arguments": {}})),
            e,
        ),
        ("tools/call name a number", call(34, json!(7), json!({})), e),
        (
            "tools/call name an object",
            call(35, json!({"n": "execute"}), json!({})),
            e,
        ),
        (
            "tools/call unknown tool",
            call(36, json!("shell"), json!({"cmd": "ls"})),
            e,
        ),
        ("tools/call empty name", call(37, json!(""), json!({})), e),
        (
            "tools/call arguments a string",
            call(38, json!("execute"), json!("return 1")),
            e,
        ),
        (
            "tools/call arguments an array",
            call(39, json!("execute"), json!(["return 1"])),
            e,
        ),
        (
            "execute without code",
            call(40, json!("execute"), json!({})),
            e,
        ),
        (
            "execute code null",
            call(41, json!("execute"), json!({"code": null})),
            e,
        ),
        (
            "execute code a number",
            call(42, json!("execute"), json!({"code": 42})),
            e,
        ),
        (
            "execute code negative",
            call(43, json!("execute"), json!({"code": -1e308})),
            e,
        ),
        (
            "execute code an array",
            call(44, json!("execute"), json!({"code": ["return 1"]})),
            e,
        ),
        (
            "execute code an object",
            call(45, json!("execute"), json!({"code": {"src": "return 1"}})),
            e,
        ),
        (
            "execute code empty",
            call(46, json!("execute"), json!({"code": ""})),
            e,
        ),
        (
            "execute code blank",
            call(47, json!("execute"), json!({"code": " \n\t "})),
            e,
        ),
        (
            "execute code a syntax error",
            call(48, json!("execute"), json!({"code": "return ((("})),
            e,
        ),
        (
            "execute code deep",
            call(
                49,
                json!("execute"),
                json!({"code": format!("return {}1{}", "[".repeat(20_000), "]".repeat(20_000))}),
            ),
            e,
        ),
        (
            "resume without arguments",
            call(50, json!("resume"), json!({})),
            e,
        ),
        (
            "resume executionId a number",
            call(
                51,
                json!("resume"),
                json!({"executionId": 5, "action": "accept"}),
            ),
            e,
        ),
        (
            "resume executionId unknown",
            call(
                52,
                json!("resume"),
                json!({"executionId": unknown_exec, "action": "accept"}),
            ),
            e,
        ),
        (
            "resume executionId malformed",
            call(
                53,
                json!("resume"),
                json!({"executionId": "../../etc", "action": "accept"}),
            ),
            e,
        ),
        (
            "resume executionId overlong",
            call(
                54,
                json!("resume"),
                json!({"executionId": "e".repeat(100_000), "action": "accept"}),
            ),
            e,
        ),
        (
            "resume action unknown",
            call(
                55,
                json!("resume"),
                json!({"executionId": unknown_exec, "action": "approve"}),
            ),
            e,
        ),
        (
            "resume action a number",
            call(
                56,
                json!("resume"),
                json!({"executionId": unknown_exec, "action": 1}),
            ),
            e,
        ),
        (
            "resume content an object",
            call(
                57,
                json!("resume"),
                json!({"executionId": unknown_exec, "action": "accept", "content": {"a": 1}}),
            ),
            e,
        ),
        (
            "resume content not JSON",
            call(
                58,
                json!("resume"),
                json!({"executionId": unknown_exec, "action": "decline", "content": "{"}),
            ),
            e,
        ),
    ]
}

/// Envelope-level malformations (ids, versions, methods, shapes) that follow a session header or
/// the stateless `_meta`; `meta` is added to `params` when given.
fn envelopes() -> Vec<(&'static str, Value, Expect)> {
    let er = Expect::Error;
    vec![
        ("unknown method", rpc(json!(1), "tools/run", json!({})), er),
        (
            "resources/list",
            rpc(json!(2), "resources/list", json!({})),
            er,
        ),
        (
            "resources/read",
            rpc(
                json!(3),
                "resources/read",
                json!({"uri": "file:///etc/passwd"}),
            ),
            er,
        ),
        (
            "resources/templates/list",
            rpc(json!(4), "resources/templates/list", json!({})),
            er,
        ),
        ("prompts/list", rpc(json!(5), "prompts/list", json!({})), er),
        (
            "prompts/get",
            rpc(json!(6), "prompts/get", json!({"name": "x"})),
            er,
        ),
        (
            "logging/setLevel",
            rpc(json!(7), "logging/setLevel", json!({"level": "debug"})),
            er,
        ),
        (
            "completion/complete",
            rpc(json!(8), "completion/complete", json!({})),
            er,
        ),
        (
            "method a number",
            json!({"jsonrpc": "2.0", "id": 9, "method": 5}),
            er,
        ),
        ("method empty", rpc(json!(10), "", json!({})), er),
        (
            "jsonrpc 1.0",
            json!({"jsonrpc": "1.0", "id": 11, "method": "tools/list"}),
            er,
        ),
        (
            "jsonrpc missing",
            json!({"id": 12, "method": "tools/list"}),
            er,
        ),
        (
            "jsonrpc a number",
            json!({"jsonrpc": 2, "id": 13, "method": "tools/list"}),
            er,
        ),
        (
            "id an object",
            rpc(json!({"a": 1}), "tools/list", json!({})),
            er,
        ),
        ("id an array", rpc(json!([1]), "tools/list", json!({})), er),
        ("id a bool", rpc(json!(true), "tools/list", json!({})), er),
        ("id null", rpc(Value::Null, "tools/list", json!({})), er),
        ("id negative", rpc(json!(-1), "tools/run", json!({})), er),
        (
            "id past u64",
            rpc(
                json!(18446744073709551616u128 as f64),
                "tools/run",
                json!({}),
            ),
            er,
        ),
        (
            "id oversized string",
            rpc(json!("i".repeat(100_000)), "tools/run", json!({})),
            er,
        ),
        (
            "tools/list params an array",
            rpc(json!(14), "tools/list", json!([1, 2])),
            Expect::Any,
        ),
        (
            "tools/list cursor a number",
            rpc(json!(15), "tools/list", json!({"cursor": 5})),
            Expect::Any,
        ),
        (
            "ping params a string",
            rpc(json!(16), "ping", json!("x")),
            Expect::Any,
        ),
    ]
}

fn with_meta(mut message: Value) -> Value {
    if let Some(object) = message.as_object_mut() {
        let params = object.entry("params").or_insert_with(|| json!({}));
        if let Some(p) = params.as_object_mut() {
            p.insert(
                "_meta".into(),
                json!({
                    "io.modelcontextprotocol/protocolVersion": STATELESS,
                    "io.modelcontextprotocol/clientInfo": {"name": "corpus", "version": "0"},
                    "io.modelcontextprotocol/clientCapabilities": {},
                }),
            );
        }
    }
    message
}

/// Runs the session-mode corpus; answers the number of cases.
pub async fn session_corpus(base: &str) -> usize {
    let mut n = 0;
    let session_headers = |sid: &str| -> Vec<(String, String)> {
        vec![
            ("mcp-session-id".into(), sid.into()),
            ("mcp-protocol-version".into(), "2025-06-18".into()),
        ]
    };
    let as_refs = |h: &[(String, String)]| -> Vec<(String, String)> { h.to_vec() };
    let post = |headers: Vec<(String, String)>, body: Vec<u8>| async move {
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        send(base, &refs, body).await
    };

    // 1. Malformed `initialize` requests (no session yet). A legal one with an odd field may
    //    open a session (`Any`); none may fail with a 5xx.
    let init = |params: Value| json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params});
    let good = json!({"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "corpus", "version": "0"}});
    let mut variants: Vec<(&str, Value, Expect)> = vec![
        (
            "initialize without params",
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"}),
            Expect::Any,
        ),
        ("initialize params an array", init(json!([1])), Expect::Any),
        (
            "initialize protocolVersion a number",
            init(
                json!({"protocolVersion": 2025, "capabilities": {}, "clientInfo": {"name": "c", "version": "0"}}),
            ),
            Expect::Any,
        ),
        (
            "initialize unknown protocolVersion",
            init(
                json!({"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "c", "version": "0"}}),
            ),
            Expect::Any,
        ),
        (
            "initialize clientInfo a string",
            init(json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": "c"})),
            Expect::Any,
        ),
        (
            "initialize capabilities an array",
            init(
                json!({"protocolVersion": "2025-06-18", "capabilities": [], "clientInfo": {"name": "c", "version": "0"}}),
            ),
            Expect::Any,
        ),
        (
            "initialize as a notification",
            json!({"jsonrpc": "2.0", "method": "initialize", "params": good.clone()}),
            Expect::Any,
        ),
        (
            "initialize id an object",
            json!({"jsonrpc": "2.0", "id": {}, "method": "initialize", "params": good.clone()}),
            Expect::Any,
        ),
        (
            "initialize jsonrpc 1.0",
            json!({"jsonrpc": "1.0", "id": 1, "method": "initialize", "params": good.clone()}),
            Expect::Any,
        ),
        (
            "initialize twice in a batch",
            json!([init(good.clone()), init(good.clone())]),
            Expect::Any,
        ),
        (
            "tools/list without a session",
            rpc(json!(2), "tools/list", json!({})),
            Expect::Error,
        ),
        (
            "tools/call without a session",
            call(3, json!("execute"), json!({"code": "return 1"})),
            Expect::Error,
        ),
    ];
    for (what, body, expect) in variants.drain(..) {
        let answer = post(Vec::new(), body.to_string().into_bytes()).await;
        check(&format!("/mcp {what}"), &answer, expect);
        n += 1;
    }

    // A real session for everything else.
    let opened = post(Vec::new(), init(good.clone()).to_string().into_bytes()).await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    let sid = opened.header("mcp-session-id").expect("a session id");
    let headers = session_headers(&sid);
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let answer = post(as_refs(&headers), note.to_string().into_bytes()).await;
    check("/mcp notifications/initialized", &answer, Expect::Accepted);

    let mut cases: Vec<(&str, Value, Expect)> = tool_calls();
    cases.extend(envelopes());
    cases.extend(vec![
        ("initialize again", init(good.clone()), Expect::Error),
        ("notification of an unknown method", json!({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {"x": 1}}), Expect::Accepted),
        ("notifications/cancelled with bad params", json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {}, "reason": 5}}), Expect::Accepted),
        ("notifications/initialized again", note.clone(), Expect::Accepted),
        ("notification with params an array", json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": [1]}), Expect::Accepted),
        ("response to nothing", json!({"jsonrpc": "2.0", "id": 999, "result": {"action": "accept"}}), Expect::Accepted),
        ("error response to nothing", json!({"jsonrpc": "2.0", "id": "x", "error": {"code": "bad"}}), Expect::Accepted),
        ("empty batch", json!([]), Expect::Any),
        ("batch of numbers", json!([1, 2, 3]), Expect::Any),
        ("batch mixing good and bad", json!([rpc(json!(70), "ping", json!({})), rpc(json!({}), "tools/list", json!({})), 5, call(71, json!("nope"), json!({}))]), Expect::Any),
        ("batch of notifications", json!([note.clone(), {"jsonrpc": "2.0", "method": "notifications/x"}]), Expect::Any),
        ("batch of 500 unknown methods", Value::Array((0..500).map(|i| rpc(json!(1000 + i), "nope", json!({}))).collect()), Expect::Any),
        ("nested batch", json!([[rpc(json!(72), "ping", json!({}))]]), Expect::Any),
    ]);
    for (what, body, expect) in cases {
        let answer = post(as_refs(&headers), body.to_string().into_bytes()).await;
        check(&format!("/mcp session {what}"), &answer, expect);
        n += 1;
    }

    // Transport headers: unknown, malformed and oversized session ids, a wrong protocol
    // version, no JSON in `accept`, a body that is not declared JSON.
    let ping = rpc(json!(80), "ping", json!({})).to_string().into_bytes();
    let header_cases: Vec<(&str, Vec<(String, String)>)> = vec![
        ("unknown session id", session_headers(&"0".repeat(64))),
        ("session id not hex", session_headers(&"z".repeat(64))),
        ("session id short", session_headers("abc")),
        ("session id oversized", session_headers(&"a".repeat(8000))),
        ("session id uppercase", session_headers(&sid.to_uppercase())),
        (
            "protocol version unknown",
            vec![
                ("mcp-session-id".into(), sid.clone()),
                ("mcp-protocol-version".into(), "1.0".into()),
            ],
        ),
        (
            "protocol version the stateless one on a session",
            vec![
                ("mcp-session-id".into(), sid.clone()),
                ("mcp-protocol-version".into(), STATELESS.into()),
            ],
        ),
    ];
    for (what, h) in header_cases {
        let answer = post(h, ping.clone()).await;
        check(&format!("/mcp header {what}"), &answer, Expect::Error);
        n += 1;
    }
    for (what, accept, content_type) in [
        ("accept text/html", "text/html", "application/json"),
        (
            "content-type text/plain",
            "application/json, text/event-stream",
            "text/plain",
        ),
        (
            "content-type form",
            "application/json, text/event-stream",
            "application/x-www-form-urlencoded",
        ),
    ] {
        let req = client()
            .post(format!("{base}/mcp"))
            .header("content-type", content_type)
            .header("accept", accept)
            .header("mcp-session-id", sid.as_str())
            .header("mcp-protocol-version", "2025-06-18")
            .body(ping.clone());
        let answer = Answer::from(req.send().await.expect("request sent")).await;
        check(&format!("/mcp header {what}"), &answer, Expect::Error);
        n += 1;
    }
    for (what, method, session) in [
        ("GET with an unknown session", "GET", "0".repeat(64)),
        ("DELETE with an unknown session", "DELETE", "0".repeat(64)),
        (
            "DELETE with a malformed session",
            "DELETE",
            "%%%".to_string(),
        ),
        ("PUT", "PUT", sid.clone()),
        ("PATCH", "PATCH", sid.clone()),
    ] {
        let req = client()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{base}/mcp"),
            )
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session.as_str());
        let answer = Answer::from(req.send().await.expect("request sent")).await;
        assert!(answer.status < 500, "/mcp {what}: {}", answer.status);
        if !answer.body.is_empty() {
            check(&format!("/mcp {what}"), &answer, Expect::Error);
        }
        n += 1;
    }
    // The session survived all of it.
    let answer = post(
        as_refs(&headers),
        call(90, json!("execute"), json!({"code": "return 6 * 7"}))
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        messages("session still works", &answer)[0]["result"]["structuredContent"]["result"],
        42
    );
    n
}

/// Runs the stateless (2026-07-28) corpus; answers the number of cases.
pub async fn stateless_corpus(base: &str) -> usize {
    let mut n = 0;
    let headers_for = |method: &str| -> Vec<(String, String)> {
        vec![
            ("mcp-protocol-version".into(), STATELESS.into()),
            ("mcp-method".into(), method.into()),
        ]
    };
    let post = |headers: Vec<(String, String)>, body: Vec<u8>| async move {
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        send(base, &refs, body).await
    };
    let mut cases: Vec<(&str, Value, Expect)> = tool_calls();
    cases.extend(envelopes());
    cases.push((
        "server/discover params an array",
        rpc(json!(20), "server/discover", json!([])),
        Expect::Any,
    ));
    cases.push((
        "initialize",
        rpc(json!(21), "initialize", json!({})),
        Expect::Any,
    ));
    cases.push((
        "requestState forged",
        rpc(
            json!(22),
            "tools/call",
            json!({"name": "execute", "arguments": {}, "requestState": "forged"}),
        ),
        Expect::Error,
    ));
    cases.push((
        "requestState a number",
        rpc(
            json!(23),
            "tools/call",
            json!({"name": "execute", "requestState": 5}),
        ),
        Expect::Error,
    ));
    for (what, body, expect) in cases {
        let method = body["method"].as_str().unwrap_or("").to_string();
        let answer = post(
            headers_for(&method),
            with_meta(body).to_string().into_bytes(),
        )
        .await;
        // Params that are not an object cannot carry `_meta`: those are errors too.
        check(&format!("/mcp stateless {what}"), &answer, expect);
        n += 1;
    }
    // Version and routing header mismatches.
    let list = with_meta(rpc(json!(24), "tools/list", json!({})));
    let mismatches: Vec<(&str, Headers, Value)> = vec![
        ("no version header", vec![], list.clone()),
        (
            "header version differs",
            vec![("mcp-protocol-version".into(), "2025-06-18".into())],
            list.clone(),
        ),
        (
            "method header differs",
            vec![
                ("mcp-protocol-version".into(), STATELESS.into()),
                ("mcp-method".into(), "tools/call".into()),
            ],
            list.clone(),
        ),
        (
            "name header differs",
            vec![
                ("mcp-protocol-version".into(), STATELESS.into()),
                ("mcp-name".into(), "resume".into()),
            ],
            with_meta(call(25, json!("execute"), json!({"code": "return 1"}))),
        ),
        (
            "name header not encodable",
            vec![
                ("mcp-protocol-version".into(), STATELESS.into()),
                ("mcp-name".into(), "=?base64?%%%?=".into()),
            ],
            with_meta(call(26, json!("execute"), json!({"code": "return 1"}))),
        ),
        (
            "meta version unknown",
            vec![("mcp-protocol-version".into(), "2099-01-01".into())],
            {
                let mut b = list.clone();
                b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] =
                    json!("2099-01-01");
                b
            },
        ),
        (
            "meta capabilities missing",
            vec![("mcp-protocol-version".into(), STATELESS.into())],
            {
                let mut b = list.clone();
                b["params"]["_meta"]
                    .as_object_mut()
                    .map(|m| m.remove("io.modelcontextprotocol/clientCapabilities"));
                b
            },
        ),
        (
            "meta version a number",
            vec![("mcp-protocol-version".into(), STATELESS.into())],
            {
                let mut b = list.clone();
                b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!(2026);
                b
            },
        ),
        (
            "meta an array",
            vec![("mcp-protocol-version".into(), STATELESS.into())],
            {
                let mut b = list.clone();
                b["params"]["_meta"] = json!([]);
                b
            },
        ),
    ];
    for (what, headers, body) in mismatches {
        let answer = post(headers, body.to_string().into_bytes()).await;
        check(&format!("/mcp stateless {what}"), &answer, Expect::Error);
        n += 1;
    }
    n
}
