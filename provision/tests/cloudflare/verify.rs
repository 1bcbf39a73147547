//! `verify`, `verify-mcp`, `token` and `bridge` against a fake Access edge.

use serde_json::Value;

use crate::fake_edge::{FakeEdge, Mode};
use crate::support::{provision, provision_with_stdin, Workspace};

const TEAM: &str = "acme.cloudflareaccess.com";
const CLIENT_ID: &str = "0123abcd.access";
const SECRET: &str = "s3cret-client-value-0123456789";

fn write_env_mcp(ws: &Workspace, edge: &FakeEdge, secret: &str) {
    let creds = provision::state::McpCredentials {
        url: format!("{}/mcp", edge.origin()),
        client_id: CLIENT_ID.into(),
        client_secret: provision::secret::Secret::new(secret),
    };
    provision::state::write_mcp_env(&ws.mcp_env(), &creds).expect("write .env.mcp");
}

fn args(list: &[&str], ws: &Workspace) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    out.extend([
        "--state-dir".to_string(),
        ws.state_dir().display().to_string(),
    ]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_behind_access_and_fails_when_open() {
    let ws = Workspace::new("verify");
    let edge = FakeEdge::start(Mode::Protected, TEAM, CLIENT_ID, SECRET).await;
    let origin = edge.origin();
    let run = provision(
        &ws.dir,
        &args(&["verify", "--origin", &origin, "--team-domain", TEAM], &ws),
        &[],
    )
    .await;
    run.ok();
    assert!(
        run.stdout.contains("turned away by Access"),
        "{}",
        run.stdout
    );
    let paths: Vec<String> = edge.lock().seen.iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, vec!["/", "/mcp"]);

    // A redirect to another team is not good enough.
    let run = provision(
        &ws.dir,
        &args(
            &[
                "verify",
                "--origin",
                &origin,
                "--team-domain",
                "other.cloudflareaccess.com",
            ],
            &ws,
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);

    let open = FakeEdge::start(Mode::Open, TEAM, CLIENT_ID, SECRET).await;
    let run = provision(
        &ws.dir,
        &args(&["verify", "--origin", &open.origin()], &ws),
        &[],
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("reached the app"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_mcp_needs_a_working_service_token() {
    let ws = Workspace::new("verify-mcp");
    let edge = FakeEdge::start(Mode::Protected, TEAM, CLIENT_ID, SECRET).await;
    let env_file = ws.mcp_env().display().to_string();
    write_env_mcp(&ws, &edge, SECRET);
    let run = provision(
        &ws.dir,
        &args(&["verify-mcp", "--mcp-env-file", &env_file], &ws),
        &[],
    )
    .await;
    run.ok();
    {
        let st = edge.lock();
        let init = &st.seen[0];
        assert_eq!(init.method, "POST");
        assert_eq!(init.client_id.as_deref(), Some(CLIENT_ID));
        assert_eq!(
            init.body.as_ref().expect("body")["params"]["protocolVersion"],
            "2025-06-18"
        );
    }

    // A wrong secret: Access redirects; the secret never shows up in the output.
    write_env_mcp(&ws, &edge, "wrong-secret-value-42");
    let run = provision(
        &ws.dir,
        &args(&["verify-mcp", "--mcp-env-file", &env_file], &ws),
        &[],
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 302"), "{}", run.stderr);
    assert!(!run.all().contains("wrong-secret-value-42"));

    // An answer without serverInfo fails too.
    let broken = FakeEdge::start(Mode::BrokenMcp, TEAM, CLIENT_ID, SECRET).await;
    write_env_mcp(&ws, &broken, SECRET);
    let run = provision(
        &ws.dir,
        &args(&["verify-mcp", "--mcp-env-file", &env_file], &ws),
        &[],
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);

    // `token` prints the connection details without the secret (unless asked).
    let run = provision(
        &ws.dir,
        &args(&["token", "--mcp-env-file", &env_file], &ws),
        &[],
    )
    .await;
    run.ok();
    assert!(
        run.stdout.contains(CLIENT_ID) && run.stdout.contains("mcpServers"),
        "{}",
        run.stdout
    );
    assert!(!run.all().contains(SECRET));
    let snippet_start = run.stdout.find('{').expect("json snippet");
    let snippet_end = run.stdout[snippet_start..].find("\n}\n").expect("end") + snippet_start + 2;
    let snippet: Value =
        serde_json::from_str(&run.stdout[snippet_start..snippet_end]).expect("mcp.json parses");
    assert_eq!(
        snippet["mcpServers"]["executor"]["headers"]["CF-Access-Client-Id"],
        CLIENT_ID
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_keeps_order_and_the_session() {
    let ws = Workspace::new("bridge");
    let edge = FakeEdge::start(Mode::Protected, TEAM, CLIENT_ID, SECRET).await;
    write_env_mcp(&ws, &edge, SECRET);
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        "this is not json",
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":"four","method":"explode"}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
    ]
    .join("\n")
        + "\n";
    let env_file = ws.mcp_env().display().to_string();
    let run = provision_with_stdin(
        &ws.dir,
        &args(&["bridge", "--mcp-env-file", &env_file], &ws),
        &[],
        Some(&input),
    )
    .await;
    run.ok();
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|_| panic!("one JSON message per line: {l}"))
        })
        .collect();
    let ids: Vec<Value> = lines
        .iter()
        .map(|l| l.get("id").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        ids,
        vec![
            Value::from(1),
            Value::from(2),
            Value::Null, // parse error
            Value::Null, // the progress notification
            Value::from(3),
            Value::from("four"),
            Value::from(5),
        ],
        "{}",
        run.stdout
    );
    assert!(lines[0]["result"]["serverInfo"].is_object());
    assert_eq!(lines[2]["error"]["code"], -32700);
    assert_eq!(lines[3]["method"], "notifications/progress");
    assert_eq!(lines[5]["error"]["code"], -32000);
    assert!(lines[5]["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("HTTP 500"));
    // The server saw the messages in order, with the session id after initialize.
    let st = edge.lock();
    let posts: Vec<&crate::fake_edge::Seen> =
        st.seen.iter().filter(|s| s.method == "POST").collect();
    let methods: Vec<&str> = posts
        .iter()
        .map(|s| {
            s.body
                .as_ref()
                .and_then(|b| b["method"].as_str())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        methods,
        vec![
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call",
            "explode",
            "ping"
        ]
    );
    assert!(posts[0].session.is_none());
    assert!(posts[1..]
        .iter()
        .all(|s| s.session.as_deref() == Some("session-1")));
    assert!(posts[1..]
        .iter()
        .all(|s| s.protocol.as_deref() == Some("2025-06-18")));
    assert!(posts
        .iter()
        .all(|s| s.client_id.as_deref() == Some(CLIENT_ID)));
    assert_eq!(
        st.deleted,
        vec!["session-1".to_string()],
        "the session is closed at the end"
    );
    assert!(!run.all().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_from_up_passes_verify_mcp() {
    let api = crate::fake_api::FakeApi::start().await;
    let ws = Workspace::new("up-verify");
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    let (client_id, secret) = {
        let st = api.lock();
        (st.tokens[0].client_id.clone(), st.tokens[0].secret.clone())
    };
    let edge = FakeEdge::start(Mode::Protected, TEAM, &client_id, &secret).await;
    // `.env.mcp` is found next to the state directory; the origin points at the fake edge.
    let run = provision(
        &ws.dir,
        &args(&["verify-mcp", "--origin", &edge.origin()], &ws),
        &[],
    )
    .await;
    run.ok();
    assert!(!run.all().contains(&secret));
    // `verify` takes the hostname and the team domain from the state file.
    provision(
        &ws.dir,
        &args(&["verify", "--origin", &edge.origin()], &ws),
        &[],
    )
    .await
    .ok();
}
