//! The malformed-input corpus (first slice) against the real Worker: for the `/api` routes that
//! take a body or path parameters, and for `/mcp`, wrong JSON, wrong types, missing fields,
//! non-object bodies, invalid UTF-8, deep nesting, huge bodies, duplicate keys and bad path
//! parameters never produce a 5xx: every answer is a 4xx in the surface's typed shape (`/api`:
//! JSON with a `_tag`, or the empty 404 of an unknown resource; `/mcp`: a JSON-RPC error), and
//! the stored state (integrations, connections, policies, an integration's config, the tool
//! list) reads the same afterwards.
//!
//! Every route family of the router is covered (OpenAPI, GraphQL, Google Discovery, remote MCP
//! sources, OAuth including the callback page, connections and their refresh, policies,
//! executions and approvals, tools and audit queries), then `/mcp` in both protocol modes
//! ([`mcp`]) and the built-in tools called with malformed arguments from a script
//! ([`builtins`]). One Worker serves the whole corpus; the case count per family is printed.

mod builtins;
mod families;
mod mcp;

use serde_json::{json, Value};

use crate::support::{client, enabled, get, post_json, root, start, Answer};

/// Failures collected over the whole corpus, so that one run reports every failing case.
static FAILURES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Runs a check; a failing one is recorded (and the corpus goes on) instead of ending the test.
pub fn soft(check: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a check failed".into());
        FAILURES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
    }
}

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
        "/api/graphql/integrations/notes/config",
        "/api/google/integrations/tasks/config",
        "/api/mcp/servers/remote",
        "/api/oauth/clients",
        "/api/executions?status=paused",
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
fn specific_bodies(route: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = first_slice_bodies(route)
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    out.extend(families::bodies(route));
    out
}

fn first_slice_bodies(route: &str) -> Vec<(&'static str, Value)> {
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
    soft(|| typed_api_error(what, answer));
}

fn typed_api_error(what: &str, answer: &Answer) {
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

/// The state the corpus protects, added through the API: an OpenAPI integration with a
/// connection and a policy (first slice), a GraphQL integration, a Google Discovery bundle, a
/// remote MCP server, an OAuth client, a policy letting built-in tools run without approval, and
/// two pending OAuth sessions (for the callback's replay cases). Answers the policy id and the
/// two session states.
async fn seed(base: &str) -> (String, String, String) {
    let ok = |what: &str, answer: &Answer| {
        assert_eq!(answer.status, 200, "{what}: {}", answer.text());
    };
    let spec =
        std::fs::read_to_string(root().join("../shared/fixtures/openapi/petstore.openapi.json"))
            .expect("the petstore fixture (shared/ beside the repository)");
    let post = |path: &str, body: Value| {
        let url = format!("{base}{path}");
        async move { post_json(&url, &body).await }
    };
    let added = post(
        "/api/openapi/specs",
        json!({"slug": "petstore", "spec": {"kind": "blob", "value": spec}}),
    )
    .await;
    ok("openapi", &added);
    let connection = post(
        "/api/connections",
        json!({"owner": "org", "name": "main", "integration": "petstore",
                "template": "apikey-0", "value": "malformed-canary-5e2b"}),
    )
    .await;
    ok("connection", &connection);
    let policy = post(
        "/api/policies",
        json!({"owner": "org", "pattern": "petstore.*.*.pets.deletePet", "action": "block"}),
    )
    .await;
    ok("policy", &policy);
    let policy_id = policy.json()["id"]
        .as_str()
        .expect("a policy id")
        .to_string();
    let approve = post(
        "/api/policies",
        json!({"owner": "org", "pattern": "executor.*", "action": "approve"}),
    )
    .await;
    ok("built-ins approved", &approve);
    // Adding by endpoint makes no network call (the tools come with a connection).
    let graphql = post(
        "/api/graphql/integrations",
        json!({"endpoint": "https://graphql.invalid/graphql", "slug": "notes", "name": "Notes",
               "authenticationTemplate": [{"type": "apiKey",
                   "headers": {"Authorization": ["Bearer ", {"type": "variable", "name": "token"}]}}]}),
    )
    .await;
    ok("graphql", &graphql);
    let document = executor_tests::discovery::document("https://tasks.invalid/")
        .expect("the discovery fixture");
    let google = post(
        "/api/google/bundles",
        json!({"documents": [document], "slug": "tasks", "name": "Tasks"}),
    )
    .await;
    ok("google", &google);
    let mcp = post(
        "/api/mcp/servers",
        json!({"endpoint": "https://mcp.invalid/mcp", "name": "Remote", "slug": "remote"}),
    )
    .await;
    ok("mcp server", &mcp);
    // The token URL is loopback, which this Worker (no ALLOW_LOCAL_NETWORK) never fetches: a
    // code exchange fails fast and typed.
    let client = post(
        "/api/oauth/clients",
        json!({"owner": "org", "slug": "app", "grant": "authorization_code",
               "authorizationUrl": "https://auth.invalid/authorize",
               "tokenUrl": "http://127.0.0.1:9/token", "clientId": "corpus-client",
               "clientSecret": "malformed-canary-5e2b-secret"}),
    )
    .await;
    ok("oauth client", &client);
    let mut states = Vec::new();
    for name in ["denied", "exchanged"] {
        let started = post(
            "/api/oauth/start",
            json!({"client": "app", "clientOwner": "org", "owner": "org", "name": name,
                   "integration": "petstore", "template": "apikey-0"}),
        )
        .await;
        ok("oauth start", &started);
        states.push(
            started.json()["state"]
                .as_str()
                .expect("a state")
                .to_string(),
        );
    }
    let exchanged = states.pop().expect("two states");
    let denied = states.pop().expect("two states");
    (policy_id, denied, exchanged)
}

/// `GET /api/oauth/callback` always answers its HTML page (200), which must report a failure
/// for every malformed, unknown, denied or replayed callback. Answers the number of cases.
async fn callback_corpus(base: &str, denied: &str, exchanged: &str) -> usize {
    let long = "s".repeat(10_000);
    let cases: Vec<(&str, String)> = vec![
        ("no query", String::new()),
        ("empty state", "?state=&code=c".into()),
        ("no state", "?code=c".into()),
        ("no code", format!("?state={denied}x")),
        ("unknown state", "?state=0123456789abcdef&code=c".into()),
        ("state not UTF-8", "?state=%ff%fe&code=c".into()),
        ("state overlong", format!("?state={long}&code=c")),
        ("state an array", "?state[]=a&state[]=b&code=c".into()),
        ("duplicate states", "?state=a&state=b&code=c".into()),
        ("error with markup", "?state=x&error=%3Cscript%3Ealert(1)%3C/script%3E&error_description=%3Cimg%20src%3Dx%3E".into()),
        ("denied", format!("?state={denied}&error=access_denied")),
        ("replayed after denial", format!("?state={denied}&code=c")),
        ("code exchange refused", format!("?state={exchanged}&code=c")),
        ("replayed after an exchange", format!("?state={exchanged}&code=c")),
    ];
    for (what, query) in &cases {
        let answer = get(&format!("{base}/api/oauth/callback{query}"), &[]).await;
        soft(|| {
            assert_eq!(answer.status, 200, "callback {what}: {}", answer.text());
            assert!(
                answer
                    .header("content-type")
                    .is_some_and(|c| c.starts_with("text/html")),
                "callback {what}"
            );
            let page = answer.text();
            assert!(page.contains(r#""ok":false"#), "callback {what}: {page}");
            assert!(!page.contains("<script>alert"), "callback {what}: {page}");
        });
    }
    // The session is gone for the JSON route too.
    let replay = post_json(
        &format!("{base}/api/oauth/complete"),
        &json!({"state": exchanged, "code": "c"}),
    )
    .await;
    assert_typed_api_error("POST /api/oauth/complete replayed", &replay);
    cases.len() + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inputs_get_typed_errors_and_change_nothing() {
    if !enabled("malformed_inputs_get_typed_errors_and_change_nothing") {
        return;
    }
    let worker = start("malformed", &[]).await;
    let base = worker.base_url();
    let begun = std::time::Instant::now();
    let (policy_id, denied, exchanged) = seed(&base).await;
    let before = snapshot(&base).await;

    let sid = "0".repeat(64);
    let eid = "exec_00000000-0000-4000-8000-000000000000";
    let routes: Vec<(&str, &str, String)> = vec![
        ("POST /api/executions", "POST", "/api/executions".into()),
        (
            "POST /api/executions/{id}/resume",
            "POST",
            format!("/api/executions/{eid}/resume"),
        ),
        ("POST /api/connections", "POST", "/api/connections".into()),
        (
            "PATCH /api/connections/org/petstore/main",
            "PATCH",
            "/api/connections/org/petstore/main".into(),
        ),
        ("POST /api/policies", "POST", "/api/policies".into()),
        (
            "PATCH /api/policies/{id}",
            "PATCH",
            format!("/api/policies/{policy_id}"),
        ),
        (
            "PATCH /api/integrations/petstore",
            "PATCH",
            "/api/integrations/petstore".into(),
        ),
        (
            "POST /api/openapi/preview",
            "POST",
            "/api/openapi/preview".into(),
        ),
        (
            "POST /api/openapi/specs",
            "POST",
            "/api/openapi/specs".into(),
        ),
        (
            "POST /api/openapi/integrations/petstore/config",
            "POST",
            "/api/openapi/integrations/petstore/config".into(),
        ),
        (
            "POST /api/openapi/integrations/petstore/spec",
            "POST",
            "/api/openapi/integrations/petstore/spec".into(),
        ),
        (
            "POST /api/integrations/detect",
            "POST",
            "/api/integrations/detect".into(),
        ),
        (
            "POST /api/graphql/integrations",
            "POST",
            "/api/graphql/integrations".into(),
        ),
        (
            "POST /api/graphql/integrations/notes/config",
            "POST",
            "/api/graphql/integrations/notes/config".into(),
        ),
        (
            "POST /api/google/bundles",
            "POST",
            "/api/google/bundles".into(),
        ),
        (
            "POST /api/google/integrations/tasks/config",
            "POST",
            "/api/google/integrations/tasks/config".into(),
        ),
        (
            "POST /api/google/integrations/tasks/bundle",
            "POST",
            "/api/google/integrations/tasks/bundle".into(),
        ),
        ("POST /api/mcp/probe", "POST", "/api/mcp/probe".into()),
        ("POST /api/mcp/servers", "POST", "/api/mcp/servers".into()),
        (
            "POST /api/mcp/servers/remote/config",
            "POST",
            "/api/mcp/servers/remote/config".into(),
        ),
        (
            "POST /api/mcp/servers/remote/auth",
            "POST",
            "/api/mcp/servers/remote/auth".into(),
        ),
        (
            "POST /api/oauth/clients",
            "POST",
            "/api/oauth/clients".into(),
        ),
        (
            "POST /api/oauth/clients/register-dynamic",
            "POST",
            "/api/oauth/clients/register-dynamic".into(),
        ),
        (
            "DELETE /api/oauth/clients/app",
            "DELETE",
            "/api/oauth/clients/app".into(),
        ),
        ("POST /api/oauth/start", "POST", "/api/oauth/start".into()),
        (
            "POST /api/oauth/complete",
            "POST",
            "/api/oauth/complete".into(),
        ),
        ("POST /api/oauth/cancel", "POST", "/api/oauth/cancel".into()),
        ("POST /api/oauth/probe", "POST", "/api/oauth/probe".into()),
        (
            "POST /api/mcp-sessions/{sid}/executions/{eid}/resume",
            "POST",
            format!("/api/mcp-sessions/{sid}/executions/{eid}/resume"),
        ),
    ];

    let mut cases = 0;
    let mut tally: Vec<String> = Vec::new();
    for (route, method, path) in &routes {
        let url = format!("{base}{path}");
        let mut n = 0;
        for (name, body) in universal_bodies() {
            let answer = send(method, &url, Some(body)).await;
            if name == "deep object" && *method == "PATCH" {
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
            r#""description":"a","description":7,"endpoint":"x","endpoint":7,"#,
            r#""urls":["x"],"urls":7,"documents":[{}],"documents":7,"config":{},"config":7,"#,
            r#""state":"s","state":7,"client":"app","client":7,"slug":"a","slug":7,"#,
            r#""authenticationTemplate":[],"authenticationTemplate":7,"mode":"merge","mode":7}"#
        );
        let answer = send(method, &url, Some(dup.as_bytes().to_vec())).await;
        assert_typed_api_error(&format!("{route} with duplicate keys"), &answer);
        n += 1;
        cases += n;
        tally.push(format!("{route}: {n}"));
    }
    eprintln!("malformed: bodies done at {:?}", begun.elapsed());

    // Bad path parameters (lenient: a well-formed name of nothing may answer "nothing here").
    let long = "a".repeat(3000);
    let mut bad_paths: Vec<(&str, String, bool)> = vec![
        ("GET", "/api/integrations/%ff%fe".into(), false),
        ("GET", format!("/api/integrations/{long}"), false),
        ("PATCH", "/api/integrations/%00".into(), false),
        ("DELETE", "/api/integrations/%E2%80%AE".into(), true),
        ("GET", "/api/connections/root/petstore/main".into(), false),
        ("GET", "/api/connections/org/petstore/%ff".into(), false),
        ("DELETE", "/api/connections/org/nope/main".into(), true),
        (
            "POST",
            "/api/connections/org/petstore/nope/refresh".into(),
            false,
        ),
        ("PATCH", format!("/api/policies/{long}"), false),
        ("DELETE", "/api/policies/pol_%00".into(), true),
        ("GET", "/api/executions/exec_%ff".into(), false),
        ("GET", "/api/executions/not-an-id".into(), false),
        ("GET", format!("/api/executions/exec_{long}"), false),
        (
            "POST",
            "/api/executions/%2e%2e%2f%2e%2e/resume".into(),
            false,
        ),
        ("GET", "/api/openapi/integrations/%ff/config".into(), false),
        ("GET", format!("/api/openapi/integrations/{long}"), false),
        ("DELETE", "/api/openapi/integrations/nope".into(), true),
    ];
    let first_slice = bad_paths.len();
    bad_paths.extend(families::bad_paths());
    for (method, path, lenient) in &bad_paths {
        let body =
            (*method != "GET" && *method != "DELETE").then(|| b"{\"action\":\"accept\"}".to_vec());
        let answer = send(method, &format!("{base}{path}"), body).await;
        let shown: String = path.chars().take(80).collect();
        if *lenient && (200..300).contains(&answer.status) {
            // Deletes are idempotent (§3: an unknown slug or id answers success) and unknown
            // slugs read as null; the state comparison below proves nothing was removed.
        } else {
            assert_typed_api_error(&format!("{method} {shown}"), &answer);
        }
        cases += 1;
    }
    tally.push(format!(
        "bad path parameters: {first_slice} + {}",
        bad_paths.len() - first_slice
    ));

    let queries = families::bad_queries();
    for (what, path) in &queries {
        let answer = get(&format!("{base}{path}"), &[]).await;
        assert_typed_api_error(&format!("GET {what}"), &answer);
        cases += 1;
    }
    tally.push(format!("bad query strings: {}", queries.len()));

    let callbacks = callback_corpus(&base, &denied, &exchanged).await;
    cases += callbacks;
    tally.push(format!("OAuth callback and replay: {callbacks}"));
    eprintln!("malformed: /api done at {:?}", begun.elapsed());

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
    tally.push(format!("/mcp bodies without a session: {mcp_cases}"));
    let session = mcp::session_corpus(&base).await;
    cases += session;
    tally.push(format!(
        "/mcp session methods, params, tool arguments, headers: {session}"
    ));
    let stateless = mcp::stateless_corpus(&base).await;
    cases += stateless;
    tally.push(format!("/mcp stateless (2026-07-28): {stateless}"));
    eprintln!("malformed: /mcp done at {:?}", begun.elapsed());

    let (tools, calls) = builtins::corpus(&base).await;
    cases += calls;
    tally.push(format!(
        "built-in tools with malformed arguments: {calls} calls over {tools} tools"
    ));

    let after = snapshot(&base).await;
    for ((path, b), (_, a)) in before.iter().zip(after.iter()) {
        soft(|| assert_eq!(b, a, "malformed requests changed {path}"));
    }
    let failures = std::mem::take(&mut *FAILURES.lock().unwrap_or_else(|p| p.into_inner()));
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let logs = worker.logs();
    assert!(
        !logs.contains("malformed-canary-5e2b"),
        "a stored credential reached the log"
    );
    assert!(!logs.contains("panicked"), "a panic reached the log");
    println!(
        "malformed corpus: {cases} cases, no 5xx, state unchanged, in {:?}\n  {}",
        begun.elapsed(),
        tally.join("\n  ")
    );
    worker.stop().await;
}
