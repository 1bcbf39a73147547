//! Remote MCP servers as sources on real workerd (executor-behaviour.md §3.4.3, §8.3, §8.6): a
//! loopback MCP server written with the official TypeScript SDK (`tests/js/mcp-upstream.mjs`,
//! its own process group) serves streamable HTTP at `/mcp` and legacy HTTP+SSE at `/sse`, and
//! counts the `initialize` requests it sees. For both transports: detect, probe, add,
//! connection (discovery), search → describe → call from `execute`. Streamable HTTP: many calls
//! across separate Worker requests share one upstream session; a killed session is renewed
//! once; the destructive tool pauses for approval; a dead endpoint is added and its tools appear
//! on refresh once a server listens there. Also reports p50 of a remote MCP call next to the
//! trivial-route floor.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::catalog::log_path;
use crate::catalog::{metric, Api};
use crate::support::{enabled, root, start_with};

/// The Node MCP server, in its own process group; stopped by that group id.
struct McpUpstream {
    child: Child,
    port: u16,
}

impl McpUpstream {
    fn start(port: u16) -> McpUpstream {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let root = root();
        let mut child = Command::new(root.join("node_modules/.bin/node"))
            .arg(root.join("tests/js/mcp-upstream.mjs"))
            .arg(port.to_string())
            .current_dir(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = serde_json::from_str::<Value>(&line).expect("a port line")["port"]
            .as_u64()
            .expect("a port") as u16;
        McpUpstream { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn stats(&self) -> Value {
        crate::support::get(&self.url("/stats"), &[]).await.json()
    }

    async fn inits(&self, transport: &str) -> u64 {
        self.stats().await["initialize"][transport]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for McpUpstream {
    fn drop(&mut self) {
        // Node runs the server in this one process (the group leader of its own group), so
        // stopping it by its id stops the group.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn names_of(tools: &Value, integration: &str) -> Vec<String> {
    let mut names: Vec<String> = tools
        .as_array()
        .expect("a list")
        .iter()
        .filter(|t| t["integration"] == integration)
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

fn p50(mut samples: Vec<u128>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn add_and_connect(
    api: &Api,
    slug: &str,
    endpoint: &str,
    transport: &str,
    logs: &dyn Fn() -> String,
) -> Value {
    let added = api
        .post(
            "/api/mcp/servers",
            &json!({"name": slug, "slug": slug, "endpoint": endpoint, "remoteTransport": transport}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    assert_eq!(added.json(), json!({ "slug": slug }));
    let connection = api
        .post(
            "/api/connections",
            &json!({"owner": "org", "name": "main", "integration": slug, "template": "none",
                    "values": {}}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
    api.get("/api/tools").await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_servers_as_sources_over_both_transports() {
    if !enabled("mcp_servers_as_sources_over_both_transports") {
        return;
    }
    let upstream = McpUpstream::start(0);
    let worker = start_with(
        "mcp_sources",
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log_path("mcp_sources")),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());

    // Detection and probe: a live handshake ⇒ high.
    let detected = api
        .post(
            "/api/integrations/detect",
            &json!({ "url": upstream.url("/mcp") }),
        )
        .await;
    assert_eq!(detected.status, 200, "{}\n{}", detected.text(), logs());
    let mcp: Vec<Value> = detected
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["kind"] == "mcp")
        .cloned()
        .collect();
    assert_eq!(mcp.len(), 1, "{mcp:?}");
    assert_eq!(mcp[0]["confidence"], "high");
    let probed = api
        .post(
            "/api/mcp/probe",
            &json!({ "endpoint": upstream.url("/mcp") }),
        )
        .await;
    assert_eq!(probed.status, 200, "{}\n{}", probed.text(), logs());
    let probed = probed.json();
    assert_eq!(probed["connected"], true, "{probed}");
    assert_eq!(probed["toolCount"], 3, "{probed}");
    assert_eq!(probed["serverName"], "notes-streamable");

    // Streamable HTTP: discovery follows the cursor; the session it opened serves the calls.
    let before = upstream.inits("streamable").await;
    let tools = add_and_connect(
        &api,
        "notes",
        &upstream.url("/mcp"),
        "streamable-http",
        &logs,
    )
    .await;
    assert_eq!(
        names_of(&tools, "notes"),
        ["delete_note", "fail_loudly", "read_note"]
    );
    let run = api
        .execute(
            "const found = await tools.search({ query: 'read note', limit: 3 });\n\
             const described = await tools.describe.tool({ path: 'notes.org.main.read_note' });\n\
             const read = await tools.notes.org.main.read_note({ id: 'n1' });\n\
             return { found, described, read };",
            &logs,
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}\n{}", logs());
    let result = &run["structured"]["result"];
    assert!(
        result["found"]
            .to_string()
            .contains("notes.org.main.read_note"),
        "{result}"
    );
    assert!(result["described"].to_string().contains("id"), "{result}");
    assert_eq!(result["read"]["ok"], true, "{result}");
    assert_eq!(
        result["read"]["data"]["content"][0]["text"],
        "note n1 via streamable"
    );
    for n in 0..5 {
        let run = api
            .execute(
                &format!("return await tools.notes.org.main.read_note({{ id: 'r{n}' }});"),
                &logs,
            )
            .await;
        assert_eq!(run["structured"]["result"]["ok"], true, "{run}\n{}", logs());
    }
    assert_eq!(
        upstream.inits("streamable").await - before,
        1,
        "one upstream initialize for discovery and six calls across separate Worker requests"
    );

    // The server forgets every session: the next call re-initialises once and succeeds.
    crate::support::post_json(&upstream.url("/kill"), &json!({})).await;
    let run = api
        .execute(
            "return await tools.notes.org.main.read_note({ id: 'after' });",
            &logs,
        )
        .await;
    assert_eq!(
        run["structured"]["result"]["data"]["content"][0]["text"], "note after via streamable",
        "{run}"
    );
    let run = api
        .execute(
            "return await tools.notes.org.main.read_note({ id: 'again' });",
            &logs,
        )
        .await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}");
    assert_eq!(
        upstream.inits("streamable").await - before,
        2,
        "exactly one re-initialise"
    );

    // isError ⇒ a typed failure; the destructive tool pauses, then runs once when accepted.
    let run = api
        .execute("return await tools.notes.org.main.fail_loudly({});", &logs)
        .await;
    assert_eq!(
        run["structured"]["result"]["error"]["code"], "mcp_tool_error",
        "{run}"
    );
    let calls_before = upstream.stats().await["calls"]["streamable"]
        .as_u64()
        .unwrap_or(0);
    let paused = api
        .execute(
            "return await tools.notes.org.main.delete_note({ id: 'n1' });",
            &logs,
        )
        .await;
    assert_eq!(paused["status"], "paused", "{paused}\n{}", logs());
    assert!(paused.to_string().contains("Delete a note"), "{paused}");
    assert_eq!(
        upstream.stats().await["calls"]["streamable"]
            .as_u64()
            .unwrap_or(0),
        calls_before
    );
    let id = paused["structured"]["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let resumed = api
        .post(
            &format!("/api/executions/{id}/resume"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}\n{}", resumed.text(), logs());
    assert_eq!(
        resumed.json()["structured"]["result"]["data"]["content"][0]["text"],
        "deleted n1"
    );
    assert_eq!(
        upstream.stats().await["calls"]["streamable"]
            .as_u64()
            .unwrap_or(0),
        calls_before + 1
    );

    // Legacy HTTP+SSE: add → search → call (one stream, one initialize per call).
    let sse_before = upstream.inits("sse").await;
    let tools = add_and_connect(&api, "legacy", &upstream.url("/sse"), "sse", &logs).await;
    assert_eq!(
        names_of(&tools, "legacy"),
        ["delete_note", "fail_loudly", "read_note"]
    );
    let run = api
        .execute(
            "const found = await tools.search({ query: 'legacy read', limit: 3 });\n\
             const described = await tools.describe.tool({ path: 'legacy.org.main.read_note' });\n\
             const read = await tools.legacy.org.main.read_note({ id: 's1' });\n\
             return { found, described, read };",
            &logs,
        )
        .await;
    let result = &run["structured"]["result"];
    assert!(
        result["found"]
            .to_string()
            .contains("legacy.org.main.read_note"),
        "{result}"
    );
    assert_eq!(
        result["read"]["data"]["content"][0]["text"],
        "note s1 via sse",
        "{run}\n{}",
        logs()
    );
    let sse_inits = upstream.inits("sse").await - sse_before;
    metric(
        "mcp_sources.sse_initializes_for_discovery_plus_one_call",
        sse_inits,
    );
    assert_eq!(
        sse_inits, 2,
        "SSE sessions die with their stream: one per exchange"
    );

    // `auto` against the SSE endpoint falls back to SSE.
    let tools = add_and_connect(&api, "autosse", &upstream.url("/sse"), "auto", &logs).await;
    assert_eq!(names_of(&tools, "autosse").len(), 3, "{tools}");

    // Latency: a remote MCP call from `execute` next to the trivial-route floor, same run.
    let mut floor = Vec::new();
    let mut trivial_execute = Vec::new();
    let mut mcp_call = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        api.get("/api/account/me").await;
        floor.push(t.elapsed().as_micros());
        let t = Instant::now();
        api.execute("return 1", &logs).await;
        trivial_execute.push(t.elapsed().as_micros());
        let t = Instant::now();
        api.execute(
            "return await tools.notes.org.main.read_note({ id: 'p' });",
            &logs,
        )
        .await;
        mcp_call.push(t.elapsed().as_micros());
    }
    metric("mcp_sources.p50_account_me_us", p50(floor));
    metric("mcp_sources.p50_execute_return1_us", p50(trivial_execute));
    metric("mcp_sources.p50_execute_mcp_call_us", p50(mcp_call));
    assert_eq!(
        upstream.inits("streamable").await - before,
        2,
        "still one session"
    );

    // A dead endpoint: adding succeeds, zero tools; once a server listens, refresh finds them.
    let port = free_port();
    let dead = format!("http://127.0.0.1:{port}/mcp");
    let tools = add_and_connect(&api, "late", &dead, "auto", &logs).await;
    assert!(names_of(&tools, "late").is_empty());
    let late = McpUpstream::start(port);
    eprintln!("mcp_sources: late server on {port}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refreshed = api
        .post("/api/connections/org/late/main/refresh", &json!({}))
        .await;
    eprintln!("mcp_sources: refreshed");
    assert_eq!(refreshed.status, 200, "{}\n{}", refreshed.text(), logs());
    assert_eq!(
        refreshed.json().as_array().map(Vec::len),
        Some(3),
        "{}",
        refreshed.text()
    );
    let run = api
        .execute(
            "return await tools.late.org.main.read_note({ id: 'z' });",
            &logs,
        )
        .await;
    assert_eq!(run["structured"]["result"]["ok"], true, "{run}");
    assert_eq!(late.inits("streamable").await, 1);

    // Removal clears the catalog entry.
    let removed = api.send("DELETE", "/api/mcp/servers/late", None).await;
    assert_eq!(removed.json(), json!({"removed": true}));
    assert_eq!(api.get("/api/mcp/servers/late").await.json(), Value::Null);
    worker.stop().await;
}
