//! The limits that protect the Worker, on real workerd (SECURITY.md "Limits"): request bodies
//! over the cap are a typed 413 whether declared by `Content-Length` or streamed chunked, and
//! write nothing; an execution's tool calls past `EXECUTE_MAX_TOOL_CALLS` get a typed ToolResult;
//! the wall-clock deadline ends an endless loop; a caller's second execution while one is
//! waiting on a tool is refused (`EXECUTE_MAX_CONCURRENT=1`) and the deadline ends the waiting
//! run even though its tool call never answers; and `/api` writes from another
//! origin, or with a non-JSON body, are refused while same-origin ones work. Separately, the
//! concurrency limit is counted across isolates through D1 lease rows
//! ([`concurrent_executions_are_counted_across_isolates`]).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{client, enabled, get, post_json, start, Answer};

const TIMEOUT_MS: u64 = 3000;

/// What the user can see of the stored state.
async fn snapshot(base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in ["/api/integrations", "/api/policies", "/api/connections"] {
        let answer = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        out.push(answer.json());
    }
    out
}

async fn send(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut req = client().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Answer::from(req.body(body).send().await.expect("request sent")).await
}

/// POSTs `total` bytes with `Transfer-Encoding: chunked` (no `Content-Length`) over a raw
/// connection and returns the status line and body of the answer. The Worker may answer and
/// close before everything was sent; that is not an error here.
async fn post_chunked(base: &str, path: &str, total: usize) -> (String, String) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// The end of a log, for failure messages.
fn tail(log: &str) -> String {
    let start = log.len().saturating_sub(3000);
    log.get(start..).unwrap_or(log).to_owned()
}

async fn execute(base: &str, code: &str) -> Answer {
    post_json(&format!("{base}/api/executions"), &json!({ "code": code })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_enforced_with_typed_errors() {
    if !enabled("limits_are_enforced_with_typed_errors") {
        return;
    }
    let timeout = TIMEOUT_MS.to_string();
    let worker = start(
        "limits",
        &[
            ("ALLOW_LOCAL_NETWORK", "true"),
            ("EXECUTE_TIMEOUT_MS", timeout.as_str()),
            ("EXECUTE_MAX_TOOL_CALLS", "5"),
            ("EXECUTE_MAX_CONCURRENT", "1"),
        ],
    )
    .await;
    let base = worker.base_url();
    let begun = Instant::now();
    let before = snapshot(&base).await;

    // 1. Bodies over the cap: declared, and streamed without a length. A valid policy padded
    //    with whitespace, so that only the size is wrong.
    let mut policy =
        serde_json::to_vec(&json!({"owner": "org", "pattern": "big.*", "action": "block"}))
            .expect("JSON");
    policy.resize(3 * 1024 * 1024, b' ');
    let declared = send(
        &format!("{base}/api/policies"),
        &[("content-type", "application/json")],
        policy,
    )
    .await;
    assert_eq!(declared.status, 413, "{}", declared.text());
    let body = declared.json();
    assert_eq!(body["_tag"], "RequestTooLargeError");
    assert_eq!(body["limitBytes"], 2 * 1024 * 1024);

    eprintln!(
        "limits e2e: {:?} 'let (status, body) = post_chun'",
        begun.elapsed()
    );
    let (status, body) = post_chunked(&base, "/api/policies", 3 * 1024 * 1024).await;
    assert!(
        status.contains(" 413 "),
        "chunked /api: {status} {}",
        tail(&body)
    );
    assert!(body.contains("RequestTooLargeError"), "{body}");

    let mcp = send(
        &format!("{base}/mcp"),
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        vec![b' '; 5 * 1024 * 1024],
    )
    .await;
    assert_eq!(mcp.status, 413, "{}", mcp.text());
    assert_eq!(mcp.json()["error"]["code"], -32600);
    eprintln!(
        "limits e2e: {:?} 'let (status, body) = post_chun'",
        begun.elapsed()
    );
    let (status, body) = post_chunked(&base, "/mcp", 5 * 1024 * 1024).await;
    assert!(
        status.contains(" 413 "),
        "chunked /mcp: {status} {}",
        tail(&body)
    );
    assert!(body.contains("-32600"), "{body}");

    eprintln!(
        "limits e2e: {:?} '// 2. Cross-site writes'",
        begun.elapsed()
    );
    // 2. Cross-site writes: another Origin, or a body that is not declared JSON.
    let policy = json!({"owner": "org", "pattern": "csrf.*", "action": "block"}).to_string();
    let evil = send(
        &format!("{base}/api/policies"),
        &[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        policy.clone().into_bytes(),
    )
    .await;
    assert_eq!(evil.status, 403, "{}", evil.text());
    assert_eq!(evil.json()["_tag"], "ForbiddenOriginError");
    let form = send(
        &format!("{base}/api/policies"),
        &[("content-type", "text/plain"), ("origin", base.as_str())],
        policy.clone().into_bytes(),
    )
    .await;
    assert_eq!(form.status, 415, "{}", form.text());
    assert_eq!(form.json()["_tag"], "UnsupportedMediaTypeError");

    assert_eq!(
        snapshot(&base).await,
        before,
        "a refused request wrote something"
    );

    // The console's own requests (same origin, JSON) work.
    let same = send(
        &format!("{base}/api/policies"),
        &[
            ("content-type", "application/json"),
            ("origin", base.as_str()),
        ],
        policy.into_bytes(),
    )
    .await;
    assert_eq!(same.status, 200, "{}", same.text());

    eprintln!("limits e2e: {:?} '// 3. Tool calls past'", begun.elapsed());
    // 3. Tool calls past EXECUTE_MAX_TOOL_CALLS=5.
    let answer = execute(
        &base,
        "const codes = []; for (let i = 0; i < 7; i++) { const r = await tools.search({ query: 'x' }); \
         codes.push(r && r.ok === false ? r.error.code : 'ok'); } return codes;",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(
        body["structured"]["result"],
        json!([
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "tool_call_limit_exceeded",
            "tool_call_limit_exceeded"
        ]),
        "{body}"
    );

    eprintln!("limits e2e: {:?} '// 4. The wall-clock'", begun.elapsed());
    // 4. The wall-clock deadline.
    let started = Instant::now();
    let answer = execute(&base, "while (true) {}").await;
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["isError"], true, "{body}");
    assert!(
        body["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("timed out after {TIMEOUT_MS} ms")),
        "{body}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");

    eprintln!(
        "limits e2e: {:?} '// 5. Concurrent executions'",
        begun.elapsed()
    );
    // 5. Concurrent executions: the first waits on a spec fetch that a loopback listener
    //    accepts and holds; meanwhile the same caller's second execution is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("address").port();
    let (accepted_tx, accepted_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let (connection, _) = listener.accept().await.expect("accept");
        let _ = accepted_tx.send(());
        let _ = release_rx.await;
        drop(connection);
    });
    let first_base = base.clone();
    let first = tokio::spawn(async move {
        execute(
            &first_base,
            &format!(
                "return await tools.executor.openapi.previewSpec({{ spec: 'http://127.0.0.1:{port}/spec.json' }});"
            ),
        )
        .await
    });
    tokio::time::timeout(Duration::from_secs(10), accepted_rx)
        .await
        .expect("the first execution reached the listener")
        .expect("accepted");
    eprintln!(
        "limits e2e: {:?} first execution is waiting on the listener",
        begun.elapsed()
    );
    let second = tokio::time::timeout(Duration::from_secs(20), execute(&base, "return 1"))
        .await
        .unwrap_or_else(|_| panic!("the second execution hung; log: {}", tail(&worker.logs())));
    eprintln!(
        "limits e2e: {:?} second answered {}",
        begun.elapsed(),
        second.status
    );
    assert_eq!(second.status, 429, "{}", second.text());
    let body = second.json();
    assert_eq!(body["_tag"], "ExecutionLimitError");
    assert_eq!(body["limit"], 1);
    // The deadline holds while the tool call hangs: the first run ends at EXECUTE_TIMEOUT_MS,
    // not when the fetch gives up, and gives its slot back.
    let first = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .unwrap_or_else(|_| panic!("the first execution hung; log: {}", tail(&worker.logs())))
        .expect("the first execution");
    eprintln!(
        "limits e2e: {:?} first answered {}",
        begun.elapsed(),
        first.status
    );
    assert_eq!(first.status, 200, "{}", first.text());
    let body = first.json();
    assert_eq!(body["isError"], true, "{body}");
    assert!(
        body["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("timed out after {TIMEOUT_MS} ms")),
        "{body}"
    );
    let _ = release_tx.send(());
    holder.abort();
    // The slot was given back.
    let third = execute(&base, "return 1").await;
    assert_eq!(third.status, 200, "{}", third.text());
    assert_eq!(third.json()["structured"]["result"], 1);

    println!("limits e2e: {:?} after start", begun.elapsed());
    assert!(
        !worker.logs().contains("panicked"),
        "a panic reached the log"
    );
    worker.stop().await;
}

/// `POST /api/executions` as the Access identity of `token`.
async fn execute_as(base: &str, token: &str, code: &str) -> Answer {
    let req = client()
        .post(format!("{base}/api/executions"))
        .header("content-type", "application/json")
        .header("cf-access-jwt-assertion", token)
        .body(json!({ "code": code }).to_string());
    Answer::from(req.send().await.expect("request sent")).await
}

/// Runs `sql` against the Worker's local D1 (as another isolate's writes would land) and
/// returns the rows of its last statement.
async fn d1(worker: &provision::local::LocalWorker, sql: &str) -> Vec<Value> {
    let out = provision::local::d1_execute_local(&crate::support::root(), worker.persist_to(), sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:#}"));
    let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    parsed
        .as_array()
        .and_then(|all| all.last())
        .and_then(|last| last["results"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// `EXECUTE_MAX_CONCURRENT` counts a caller's executions across isolates through D1
/// `execution_lease` rows: two of alice's runs held on a loopback listener fill her limit of 2
/// (a third is a typed 429) while bob runs; once they end she runs again; lease rows written
/// straight into D1, as other isolates would, count against her although nothing runs here;
/// and expired ones (an isolate that died) do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_executions_are_counted_across_isolates() {
    if !enabled("concurrent_executions_are_counted_across_isolates") {
        return;
    }
    let keys = executor_tests::jwt::TestKeys::new("kid-limits");
    let jwks = executor_tests::jwt::serve_jwks(keys.jwks_json()).await;
    let aud = "e2e-limits-aud";
    let team = jwks.team_domain();
    let worker = start(
        "limits-leases",
        &[
            ("ENABLE_DEV_AUTH", ""),
            ("ACCESS_TEAM_DOMAIN", team.as_str()),
            ("ACCESS_AUD", aud),
            ("ALLOW_LOCAL_NETWORK", "true"),
            ("EXECUTE_TIMEOUT_MS", "30000"),
            ("EXECUTE_MAX_CONCURRENT", "2"),
        ],
    )
    .await;
    let base = worker.base_url();
    let alice = keys.token(&jwks.issuer(), aud, "alice@example.com", 3600);
    let bob = keys.token(&jwks.issuer(), aud, "bob@example.com", 3600);
    let alice_subject = executor_tests::jwt::subject_for("alice@example.com");
    let begun = Instant::now();

    // 1. Two of alice's runs wait on spec fetches that a loopback listener accepts and holds.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("address").port();
    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::channel::<()>(2);
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..2 {
            let (connection, _) = listener.accept().await.expect("accept");
            held.push(connection);
            let _ = accepted_tx.send(()).await;
        }
        let _ = release_rx.await;
        drop(held);
    });
    let slow = format!(
        "return await tools.executor.openapi.previewSpec({{ spec: 'http://127.0.0.1:{port}/spec.json' }});"
    );
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (base, token, code) = (base.clone(), alice.clone(), slow.clone());
            tokio::spawn(async move { execute_as(&base, &token, &code).await })
        })
        .collect();
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(20), accepted_rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "alice's runs did not reach the listener: {}",
                    tail(&worker.logs())
                )
            })
            .expect("accepted");
    }
    eprintln!("leases e2e: {:?} two runs held", begun.elapsed());
    let rows = d1(
        &worker,
        "SELECT tenant, subject, expires_at FROM execution_lease ORDER BY id",
    )
    .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| r["subject"] == alice_subject.as_str()),
        "{rows:?}"
    );
    let tenant = rows[0]["tenant"].as_str().expect("a tenant").to_owned();

    // 2. A third is refused with the typed error; bob is not affected.
    let third = execute_as(&base, &alice, "return 3").await;
    assert_eq!(third.status, 429, "{}", third.text());
    assert_eq!(third.json()["_tag"], "ExecutionLimitError");
    assert_eq!(third.json()["limit"], 2);
    let other = execute_as(&base, &bob, "return 'bob'").await;
    assert_eq!(other.status, 200, "{}", other.text());
    assert_eq!(other.json()["structured"]["result"], "bob");

    // 3. They end (the listener lets go); the leases are given back and she runs again.
    let _ = release_tx.send(());
    for run in runs {
        let answer = tokio::time::timeout(Duration::from_secs(40), run)
            .await
            .unwrap_or_else(|_| panic!("a held run hung: {}", tail(&worker.logs())))
            .expect("the run");
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    holder.abort();
    assert_eq!(
        d1(&worker, "SELECT id FROM execution_lease").await,
        Vec::<Value>::new()
    );
    let again = execute_as(&base, &alice, "return 4").await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["structured"]["result"], 4);
    eprintln!("leases e2e: {:?} released", begun.elapsed());

    // 4. Leases of other isolates (written straight into D1) count: nothing runs here, yet
    //    alice is at her limit. Bob still is not.
    let far = 4_000_000_000_000_i64;
    d1(
        &worker,
        &format!(
            "INSERT INTO execution_lease (id, tenant, subject, expires_at) VALUES \
             ('elsewhere-1', '{tenant}', '{alice_subject}', {far}), \
             ('elsewhere-2', '{tenant}', '{alice_subject}', {far})"
        ),
    )
    .await;
    let refused = execute_as(&base, &alice, "return 5").await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(refused.json()["_tag"], "ExecutionLimitError");
    let other = execute_as(&base, &bob, "return 6").await;
    assert_eq!(other.status, 200, "{}", other.text());

    // 5. The same rows, expired (their isolate died long ago): they no longer count, and the
    //    release after her run cleans them up.
    d1(&worker, "UPDATE execution_lease SET expires_at = 1").await;
    let after = execute_as(&base, &alice, "return 7").await;
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(after.json()["structured"]["result"], 7);
    assert_eq!(
        d1(&worker, "SELECT id FROM execution_lease").await,
        Vec::<Value>::new()
    );
    eprintln!("leases e2e: {:?} done", begun.elapsed());

    assert!(
        !worker.logs().contains("panicked"),
        "a panic reached the log"
    );
    worker.stop().await;
}

/// The execution memory cap on real workerd (`EXECUTE_MEMORY_MB`, SECURITY.md "Limits"), set to
/// 16 MiB: at the 64 MiB default a script piling up small strings reaches the 30 s wall-clock
/// deadline first on a loaded CI machine (filling 16 MiB that way already takes ~8 s of
/// garbage-collector work), which is a typed error too but not this one. Scripts that allocate past it end with the documented error envelope
/// (`200`, `isError: true`, text naming `out of memory`), promptly, on `/api` and in an MCP
/// session (whose executions run in the session's Durable Object); and the same Worker and
/// session run the next script normally, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_memory_cap_is_a_typed_error_and_the_isolate_survives() {
    if !enabled("execution_memory_cap_is_a_typed_error_and_the_isolate_survives") {
        return;
    }
    let worker = start("limits-memory", &[("EXECUTE_MEMORY_MB", "16")]).await;
    let base = worker.base_url();
    let begun = Instant::now();
    let hogs = [
        (
            "many strings",
            "const parts = []; while (true) { parts.push('x'.repeat(1000) + parts.length); }",
        ),
        (
            "many objects",
            "const a = []; while (true) a.push({ n: a.length, s: 'item' + a.length });",
        ),
        (
            "one doubling string",
            "let s = 'x'; while (true) { s = s + s; s.charCodeAt(s.length - 1); }",
        ),
        (
            "typed arrays",
            "const keep = []; while (true) keep.push(new Uint8Array(1024 * 1024));",
        ),
        (
            "past the cap in one go",
            "const b = new ArrayBuffer(200 * 1024 * 1024); return b.byteLength;",
        ),
    ];
    for round in 0..2 {
        for (what, code) in hogs {
            let started = Instant::now();
            let answer = tokio::time::timeout(Duration::from_secs(60), execute(&base, code))
                .await
                .unwrap_or_else(|_| {
                    panic!("{what}: the request hung; log: {}", tail(&worker.logs()))
                });
            let took = started.elapsed();
            assert_eq!(answer.status, 200, "{what}: {}", answer.text());
            let body = answer.json();
            assert_eq!(body["status"], "completed", "{what}: {body}");
            assert_eq!(body["isError"], true, "{what}: {body}");
            let text = body["text"].as_str().unwrap_or_default();
            assert!(
                text.contains("out of memory") || text.contains("RangeError"),
                "{what}: {body}"
            );
            assert!(took < Duration::from_secs(30), "{what} took {took:?}");
            eprintln!("memory cap e2e: round {round}, {what}: {took:?} — {text}");
            // The isolate still runs the next script.
            let next = execute(&base, "return [1, 2, 3].map((n) => n * 2);").await;
            assert_eq!(next.status, 200, "after {what}: {}", next.text());
            assert_eq!(
                next.json()["structured"]["result"],
                json!([2, 4, 6]),
                "after {what}"
            );
        }
    }

    // In an MCP session: the same envelope as a tool error, and the session goes on.
    let init = crate::mcp::post(&base, None, &crate::mcp::initialize_body(1, "2025-06-18")).await;
    assert_eq!(init.status, 200, "{}", init.text());
    let session = init.header("mcp-session-id").expect("a session id");
    for (id, code) in [
        (2, hogs[0].1),
        (3, "return 6 * 7"),
        (4, hogs[1].1),
        (5, "return 6 * 7"),
    ] {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "execute", "arguments": {"code": code}}});
        let answer = tokio::time::timeout(
            Duration::from_secs(60),
            crate::mcp::post(&base, Some(&session), &call),
        )
        .await
        .unwrap_or_else(|_| panic!("MCP call {id} hung; log: {}", tail(&worker.logs())));
        assert_eq!(answer.status, 200, "MCP call {id}: {}", answer.text());
        let result = answer.json()["result"].clone();
        if code == "return 6 * 7" {
            assert_eq!(result["structuredContent"]["result"], 42, "{result}");
        } else {
            assert_eq!(result["isError"], true, "{result}");
            assert!(result.to_string().contains("out of memory"), "{result}");
        }
    }
    let logs = worker.logs();
    assert!(!logs.contains("panicked"), "a panic reached the log");
    println!("memory cap e2e: {:?} after start", begun.elapsed());
    worker.stop().await;
}
