//! The malformed-input corpus (first slice) against the real Worker: for the `/api` routes that
//! take a body or path parameters, and for `/mcp`, wrong JSON, wrong types, missing fields,
//! non-object bodies, invalid UTF-8, deep nesting, huge bodies, duplicate keys and bad path
//! parameters never produce a 5xx: every answer is a 4xx in the surface's typed shape (`/api`:
//! JSON with a `_tag`, or the empty 404 of an unknown resource; `/mcp`: a JSON-RPC error), and
//! the stored state (integrations, connections, policies, an integration's config, the tool
//! list) reads the same afterwards.

use serde_json::{json, Value};

use crate::support::{client, enabled, get, post_json, root, start, Answer};

async fn send(method: &str, url: &str, body: Option<Vec<u8>>) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut req = client().request(method, url);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    Answer::from(req.send().await.expect("request sent")).await
}

/// What the user can see of the stored state.
async fn snapshot(base: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for path in [
        "/api/integrations",
        "/api/connections",
        "/api/policies",
        "/api/openapi/integrations/petstore/config",
        "/api/tools",
    ] {
        let answer = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        out.push((path.to_string(), answer.json()));
    }
    out
}

fn deep_array(depth: usize) -> Vec<u8> {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s.into_bytes()
}

fn deep_object(depth: usize) -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str(r#"{"a":"#);
    }
    s.push('1');
    s.push_str(&"}".repeat(depth));
    s.into_bytes()
}

/// Bodies that are wrong for every route (not JSON, not an object, broken encodings, sizes).
fn universal_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("truncated", br#"{"owner":"org","#.to_vec()),
        ("not json", b"owner=org&name=main".to_vec()),
        ("trailing garbage", br#"{"code":"return 1"} x"#.to_vec()),
        ("array", b"[]".to_vec()),
        ("null", b"null".to_vec()),
        ("number", b"42".to_vec()),
        ("string", br#""return 1""#.to_vec()),
        ("invalid UTF-8 key", b"{\"\xff\xfe\":1}".to_vec()),
        ("invalid UTF-8 value", b"{\"code\":\"\xc3\x28\"}".to_vec()),
        // In every field a route keeps (an ignored field may legally carry one; RFC 8259 §8.2).
        (
            "lone surrogate escapes",
            br#"{"code":"\ud800","name":"\ud800","description":"\ud800","identityLabel":"\udfff","pattern":"\ud800","url":"\ud800","action":"\ud800","owner":"\ud800","spec":"\ud800","slug":"\ud800"}"#
                .to_vec(),
        ),
        ("NaN", br#"{"code":NaN}"#.to_vec()),
        ("deep array", deep_array(100_000)),
        ("deep object", deep_object(10_000)),
        // The same depth in every field a route keeps.
        ("deep object in kept fields", {
            let deep = String::from_utf8(deep_object(10_000)).expect("ASCII");
            let fields = ["code", "name", "description", "identityLabel", "pattern", "url", "action", "owner", "spec", "slug"];
            let members: Vec<String> = fields.iter().map(|f| format!("\"{f}\":{deep}")).collect();
            format!("{{{}}}", members.join(",")).into_bytes()
        }),
        (
            "huge unterminated string",
            format!(r#"{{"zzz":"{}"#, "x".repeat(4 * 1024 * 1024)).into_bytes(),
        ),
        (
            "huge array",
            format!("[{}1]", "1,".repeat(2 * 1024 * 1024)).into_bytes(),
        ),
        ("BOM then object", b"\xef\xbb\xbf{}".to_vec()),
    ]
}

/// Route-specific bodies: wrong types, missing fields, duplicate keys (every one invalid).
fn specific_bodies(route: &str) -> Vec<(&'static str, Value)> {
    match route {
        "POST /api/executions" => vec![
            ("missing code", json!({})),
            ("code a number", json!({"code": 42})),
            ("code an object", json!({"code": {"x": 1}})),
            ("code empty", json!({"code": "   "})),
        ],
        "POST /api/executions/{id}/resume" => vec![
            ("missing action", json!({})),
            ("unknown action", json!({"action": "approve-all"})),
            ("action a number", json!({"action": 1})),
        ],
        "POST /api/connections" => vec![
            ("missing fields", json!({})),
            (
                "missing integration",
                json!({"owner": "org", "name": "x", "template": "apikey-0", "value": "k"}),
            ),
            (
                "unknown owner",
                json!({"owner": "root", "name": "x", "integration": "petstore", "template": "apikey-0", "value": "k"}),
            ),
            (
                "owner a number",
                json!({"owner": 1, "name": "x", "integration": "petstore", "template": "apikey-0", "value": "k"}),
            ),
            (
                "name an array",
                json!({"owner": "org", "name": ["x"], "integration": "petstore", "template": "apikey-0", "value": "k"}),
            ),
            (
                "value an object",
                json!({"owner": "org", "name": "x", "integration": "petstore", "template": "apikey-0", "value": {"k": 1}}),
            ),
            (
                "unknown integration",
                json!({"owner": "org", "name": "x", "integration": "nope", "template": "apikey-0", "value": "k"}),
            ),
            (
                "two origins",
                json!({"owner": "org", "name": "x", "integration": "petstore", "template": "apikey-0", "value": "k", "values": {"token": "k"}}),
            ),
            (
                "no origin",
                json!({"owner": "org", "name": "x", "integration": "petstore", "template": "apikey-0"}),
            ),
        ],
        "PATCH /api/connections/org/petstore/main" => vec![
            // Only `description` and `identityLabel` are editable; other fields are ignored.
            ("identityLabel a number", json!({"identityLabel": 5})),
            ("description an array", json!({"description": [1]})),
            (
                "identityLabel an object",
                json!({"identityLabel": {"a": 1}}),
            ),
        ],
        "POST /api/policies" => vec![
            ("missing fields", json!({})),
            (
                "pattern a number",
                json!({"owner": "org", "pattern": 5, "action": "block"}),
            ),
            (
                "bad pattern",
                json!({"owner": "org", "pattern": "pet*", "action": "block"}),
            ),
            (
                "empty pattern",
                json!({"owner": "org", "pattern": "", "action": "block"}),
            ),
            (
                "unknown action",
                json!({"owner": "org", "pattern": "petstore.*", "action": "allow-all"}),
            ),
            (
                "unknown owner",
                json!({"owner": "root", "pattern": "petstore.*", "action": "block"}),
            ),
            (
                "overlong pattern",
                json!({"owner": "org", "pattern": format!("a.{}", "b".repeat(2000)), "action": "block"}),
            ),
        ],
        "PATCH /api/policies/{id}" => vec![
            ("action unknown", json!({"action": "nope"})),
            (
                "pattern invalid",
                json!({"pattern": "..", "action": "block"}),
            ),
            ("position a number", json!({"position": 7})),
        ],
        "PATCH /api/integrations/petstore" => vec![
            ("name a number", json!({"name": 5})),
            ("description an array", json!({"description": [1]})),
        ],
        "POST /api/openapi/preview" => vec![
            ("missing spec", json!({})),
            ("spec a number", json!({"spec": 5})),
            (
                "unknown kind",
                json!({"spec": {"kind": "file", "value": "/etc/passwd"}}),
            ),
            (
                "blob not a spec",
                json!({"spec": {"kind": "blob", "value": "hello: world"}}),
            ),
            (
                "blob invalid",
                json!({"spec": {"kind": "blob", "value": "{\"openapi\": "}}),
            ),
            (
                "url not a url",
                json!({"spec": {"kind": "url", "url": "not a url"}}),
            ),
            (
                "url file scheme",
                json!({"spec": {"kind": "url", "url": "file:///etc/passwd"}}),
            ),
            (
                "url metadata",
                json!({"spec": {"kind": "url", "url": "http://169.254.169.254/latest"}}),
            ),
        ],
        "POST /api/openapi/specs" => vec![
            ("missing spec", json!({"slug": "x2"})),
            (
                "bad slug",
                json!({"slug": "../x", "spec": {"kind": "blob", "value": "{}"}}),
            ),
            (
                "slug a number",
                json!({"slug": 5, "spec": {"kind": "blob", "value": "{}"}}),
            ),
            (
                "swagger 2",
                json!({"slug": "x3", "spec": {"kind": "blob", "value": "{\"swagger\":\"2.0\",\"paths\":{}}"}}),
            ),
            (
                "duplicate slug",
                json!({"slug": "petstore", "spec": {"kind": "blob", "value": "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"t\",\"version\":\"1\"},\"paths\":{}}"}}),
            ),
            (
                "yaml alias bomb",
                json!({"slug": "x4", "spec": {"kind": "blob", "value": "a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f]\n"}}),
            ),
        ],
        "POST /api/openapi/integrations/petstore/config" => vec![
            ("baseUrl a number", json!({"baseUrl": 5})),
            ("headers an array", json!({"headers": ["x"]})),
        ],
        "POST /api/openapi/integrations/petstore/spec" => vec![
            ("missing spec", json!({})),
            (
                "blob invalid",
                json!({"spec": {"kind": "blob", "value": "{"}}),
            ),
        ],
        "POST /api/integrations/detect" => vec![
            ("missing url", json!({})),
            ("url a number", json!({"url": 5})),
            (
                "url overlong",
                json!({"url": format!("https://example.com/{}", "a".repeat(5000))}),
            ),
        ],
        _ => Vec::new(),
    }
}

/// The typed-error rule of `/api`: never 5xx; 2xx is a failure for a malformed input; a 404 may
/// be empty (unknown resource), and so may the 400 of `POST /api/connections` without exactly
/// one credential origin (upstream's wire 21); any other 4xx is JSON with a `_tag`.
///
/// Not malformed, so not here: an unknown `template` or a name that normalises (`../etc` →
/// `etc`) on `POST /api/connections` are accepted upserts, as upstream does.
fn assert_typed_api_error(what: &str, answer: &Answer) {
    assert!(
        (400..500).contains(&answer.status),
        "{what}: expected a 4xx, got {}: {}",
        answer.status,
        answer.text().chars().take(300).collect::<String>()
    );
    if answer.body.is_empty()
        && (answer.status == 404
            || (answer.status == 400 && what.starts_with("POST /api/connections ")))
    {
        return;
    }
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
        panic!(
            "{what}: {} body is not JSON: {}",
            answer.status,
            answer.text().chars().take(300).collect::<String>()
        )
    });
    assert!(body["_tag"].is_string(), "{what}: no _tag in {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inputs_get_typed_errors_and_change_nothing() {
    if !enabled("malformed_inputs_get_typed_errors_and_change_nothing") {
        return;
    }
    let worker = start("malformed", &[]).await;
    let base = worker.base_url();

    // State to protect: an integration, a connection, a policy.
    let spec =
        std::fs::read_to_string(root().join("../shared/fixtures/openapi/petstore.openapi.json"))
            .expect("the petstore fixture (shared/ beside the repository)");
    let added = post_json(
        &format!("{base}/api/openapi/specs"),
        &json!({"slug": "petstore", "spec": {"kind": "blob", "value": spec}}),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let connection = post_json(
        &format!("{base}/api/connections"),
        &json!({"owner": "org", "name": "main", "integration": "petstore",
                "template": "apikey-0", "value": "malformed-canary-5e2b"}),
    )
    .await;
    assert_eq!(connection.status, 200, "{}", connection.text());
    let policy = post_json(
        &format!("{base}/api/policies"),
        &json!({"owner": "org", "pattern": "petstore.*.*.pets.deletePet", "action": "block"}),
    )
    .await;
    assert_eq!(policy.status, 200, "{}", policy.text());
    let policy_id = policy.json()["id"]
        .as_str()
        .expect("a policy id")
        .to_string();
    let before = snapshot(&base).await;

    let routes: Vec<(&str, String, String)> = vec![
        (
            "POST /api/executions",
            "POST".into(),
            "/api/executions".into(),
        ),
        (
            "POST /api/executions/{id}/resume",
            "POST".into(),
            "/api/executions/exec_00000000-0000-4000-8000-000000000000/resume".into(),
        ),
        (
            "POST /api/connections",
            "POST".into(),
            "/api/connections".into(),
        ),
        (
            "PATCH /api/connections/org/petstore/main",
            "PATCH".into(),
            "/api/connections/org/petstore/main".into(),
        ),
        ("POST /api/policies", "POST".into(), "/api/policies".into()),
        (
            "PATCH /api/policies/{id}",
            "PATCH".into(),
            format!("/api/policies/{policy_id}"),
        ),
        (
            "PATCH /api/integrations/petstore",
            "PATCH".into(),
            "/api/integrations/petstore".into(),
        ),
        (
            "POST /api/openapi/preview",
            "POST".into(),
            "/api/openapi/preview".into(),
        ),
        (
            "POST /api/openapi/specs",
            "POST".into(),
            "/api/openapi/specs".into(),
        ),
        (
            "POST /api/openapi/integrations/petstore/config",
            "POST".into(),
            "/api/openapi/integrations/petstore/config".into(),
        ),
        (
            "POST /api/openapi/integrations/petstore/spec",
            "POST".into(),
            "/api/openapi/integrations/petstore/spec".into(),
        ),
        (
            "POST /api/integrations/detect",
            "POST".into(),
            "/api/integrations/detect".into(),
        ),
    ];

    let mut cases = 0;
    let mut tally: Vec<String> = Vec::new();
    for (route, method, path) in &routes {
        let url = format!("{base}{path}");
        let mut n = 0;
        for (name, body) in universal_bodies() {
            let answer = send(method, &url, Some(body)).await;
            if name == "deep object" && method == "PATCH" {
                // `{"a":{"a":…}}` is a legal (ignored) member of an all-optional patch: the
                // parser must survive the depth, and the answer is the unchanged resource.
                assert!(
                    answer.status < 500,
                    "{route} with {name}: {}",
                    answer.status
                );
            } else {
                assert_typed_api_error(&format!("{route} with {name}"), &answer);
            }
            n += 1;
        }
        for (name, body) in specific_bodies(route) {
            let answer = send(method, &url, Some(serde_json::to_vec(&body).expect("JSON"))).await;
            assert_typed_api_error(&format!("{route} with {name}"), &answer);
            n += 1;
        }
        // Duplicate keys: the second value is invalid; whichever one the parser keeps, or if it
        // refuses duplicates, the answer is a typed 4xx.
        let dup = concat!(
            r#"{"owner":"org","owner":7,"code":"x","code":7,"action":"block","action":[],"#,
            r#""spec":{"kind":"blob"},"spec":7,"url":"x","url":7,"name":"a","name":7,"#,
            r#""pattern":"a","pattern":7,"identityLabel":"a","identityLabel":7,"#,
            r#""description":"a","description":7}"#
        );
        let answer = send(method, &url, Some(dup.as_bytes().to_vec())).await;
        assert_typed_api_error(&format!("{route} with duplicate keys"), &answer);
        n += 1;
        cases += n;
        tally.push(format!("{route}: {n}"));
    }

    // Bad path parameters.
    let long = "a".repeat(3000);
    let bad_paths: Vec<(&str, String)> = vec![
        ("GET", "/api/integrations/%ff%fe".into()),
        ("GET", format!("/api/integrations/{long}")),
        ("PATCH", "/api/integrations/%00".into()),
        ("DELETE", "/api/integrations/%E2%80%AE".into()),
        ("GET", "/api/connections/root/petstore/main".into()),
        ("GET", "/api/connections/org/petstore/%ff".into()),
        ("DELETE", "/api/connections/org/nope/main".into()),
        ("POST", "/api/connections/org/petstore/nope/refresh".into()),
        ("PATCH", format!("/api/policies/{long}")),
        ("DELETE", "/api/policies/pol_%00".into()),
        ("GET", "/api/executions/exec_%ff".into()),
        ("GET", "/api/executions/not-an-id".into()),
        ("GET", format!("/api/executions/exec_{long}")),
        ("POST", "/api/executions/%2e%2e%2f%2e%2e/resume".into()),
        ("GET", "/api/openapi/integrations/%ff/config".into()),
        ("GET", format!("/api/openapi/integrations/{long}")),
        ("DELETE", "/api/openapi/integrations/nope".into()),
    ];
    for (method, path) in &bad_paths {
        let body =
            (*method != "GET" && *method != "DELETE").then(|| b"{\"action\":\"accept\"}".to_vec());
        let answer = send(method, &format!("{base}{path}"), body).await;
        let shown: String = path.chars().take(80).collect();
        if *method == "DELETE" && (200..300).contains(&answer.status) {
            // Deletes are idempotent (§3: an unknown slug or id answers success); the state
            // comparison below proves nothing was removed.
        } else {
            assert_typed_api_error(&format!("{method} {shown}"), &answer);
        }
        cases += 1;
    }
    tally.push(format!("bad path parameters: {}", bad_paths.len()));

    // `/mcp` without a session: the transport answers JSON-RPC errors.
    let mut mcp_cases = 0;
    for (name, body) in universal_bodies() {
        let answer = client()
            .post(format!("{base}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .expect("request sent");
        let answer = Answer::from(answer).await;
        assert!(
            (400..500).contains(&answer.status),
            "/mcp with {name}: {} {}",
            answer.status,
            answer.text().chars().take(200).collect::<String>()
        );
        assert!(answer.json()["error"]["code"].is_i64(), "/mcp with {name}");
        mcp_cases += 1;
    }
    cases += mcp_cases;
    tally.push(format!("/mcp: {mcp_cases}"));

    let after = snapshot(&base).await;
    assert_eq!(before, after, "malformed requests changed the stored state");
    assert!(
        !worker.logs().contains("malformed-canary-5e2b"),
        "the stored credential reached the log"
    );
    println!(
        "malformed corpus: {cases} cases, no 5xx, state unchanged\n  {}",
        tally.join("\n  ")
    );
    worker.stop().await;
}
