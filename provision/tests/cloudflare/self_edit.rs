//! `provision self-edit-mcp` over stdio: confinement, unique matches, deploy failures.

use serde_json::{json, Value};

use crate::support::{provision_with_stdin, Workspace};

/// A tiny repository with a file, a symlink leading out, and a file outside it.
fn repo(ws: &Workspace) -> std::path::PathBuf {
    let root = ws.dir.join("repo");
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir .git");
    std::fs::write(
        root.join("src/lib.rs"),
        "const GREETING: &str = \"hello\";\n",
    )
    .expect("write");
    std::fs::write(root.join("package.json"), "{\"a\": \"b\"}\n").expect("write");
    std::fs::write(root.join(".git/config"), "[core]\n").expect("write");
    std::fs::write(root.join(".env"), "CLOUDFLARE_API_BASE_URL=x\n").expect("write");
    std::fs::write(ws.dir.join("outside.txt"), "secret outside\n").expect("write");
    std::os::unix::fs::symlink(ws.dir.join("outside.txt"), root.join("src/link.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(ws.dir.clone(), root.join("up")).expect("dir symlink");
    root
}

/// Sends `calls` (tools/call arguments) after initialize; returns the responses by id.
async fn session(
    ws: &Workspace,
    root: &std::path::Path,
    deploy: &str,
    calls: &[Value],
) -> Vec<Value> {
    let mut lines = vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for (i, args) in calls.iter().enumerate() {
        lines.push(json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": "self_edit", "arguments": args}}));
    }
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let args: Vec<String> = vec![
        "self-edit-mcp".into(),
        "--root".into(),
        root.display().to_string(),
        "--deploy-command".into(),
        deploy.into(),
    ];
    let run = provision_with_stdin(&ws.dir, &args, &[], Some(&input)).await;
    run.ok();
    let out: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        out.len(),
        calls.len() + 1,
        "one answer per request, none for the notification:\n{}",
        run.stdout
    );
    assert_eq!(out[0]["result"]["serverInfo"]["name"], "executor-self-edit");
    out
}

fn answer(reply: &Value) -> (bool, String) {
    (
        reply["result"]["isError"].as_bool().unwrap_or(false),
        reply["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_confined_to_the_repository() {
    let ws = Workspace::new("self-edit");
    let root = repo(&ws);
    let absolute = ws.dir.join("outside.txt").display().to_string();
    let cases = [
        (
            json!({"path": "../../../etc/hosts", "find": "a", "replace": "b", "deploy": false}),
            "Refusing to edit outside the repo",
        ),
        (
            json!({"path": absolute, "find": "secret", "replace": "x", "deploy": false}),
            "Refusing to edit outside the repo",
        ),
        (
            json!({"path": "src/link.txt", "find": "secret", "replace": "x", "deploy": false}),
            "Refusing to edit outside the repo",
        ),
        (
            json!({"path": "up/outside.txt", "find": "secret", "replace": "x", "deploy": false}),
            "Refusing to edit outside the repo",
        ),
        (
            json!({"path": ".git/config", "find": "core", "replace": "x", "deploy": false}),
            "off limits",
        ),
        (
            json!({"path": ".env", "find": "x", "replace": "y", "deploy": false}),
            "credentials",
        ),
        (
            json!({"path": "does-not-exist.ts", "find": "a", "replace": "b", "deploy": false}),
            "No such file",
        ),
        (
            json!({"path": "package.json", "find": "\"", "replace": "'", "deploy": false}),
            "not unique",
        ),
        (
            json!({"path": "package.json", "find": "zzz", "replace": "y", "deploy": false}),
            "not present",
        ),
        (
            json!({"path": "package.json", "find": "", "replace": "y", "deploy": false}),
            "must not be empty",
        ),
    ];
    let calls: Vec<Value> = cases.iter().map(|(a, _)| a.clone()).collect();
    let replies = session(&ws, &root, "true", &calls).await;
    for (i, (args, needle)) in cases.iter().enumerate() {
        let (is_error, text) = answer(&replies[i + 1]);
        assert!(is_error, "{args} must fail: {text}");
        assert!(text.contains(needle), "{args}: `{needle}` in `{text}`");
    }
    assert_eq!(
        std::fs::read_to_string(ws.dir.join("outside.txt")).expect("read"),
        "secret outside\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("package.json")).expect("read"),
        "{\"a\": \"b\"}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deploy_is_a_failure() {
    let ws = Workspace::new("self-edit-deploy");
    let root = repo(&ws);
    let edit = |from: &str, to: &str, deploy: bool| json!({"path": "src/lib.rs", "find": from, "replace": to, "deploy": deploy});

    let replies = session(
        &ws,
        &root,
        "echo building; echo deploy broke >&2; exit 3",
        &[edit("hello", "hi", true)],
    )
    .await;
    let (is_error, text) = answer(&replies[1]);
    assert!(is_error, "{text}");
    assert!(
        text.contains("deploy FAILED") && text.contains("deploy broke"),
        "{text}"
    );
    assert!(std::fs::read_to_string(root.join("src/lib.rs"))
        .expect("read")
        .contains("\"hi\""));

    let replies = session(
        &ws,
        &root,
        "echo deployed",
        &[edit("hi", "hey", true), edit("hey", "yo", false)],
    )
    .await;
    let (is_error, text1) = answer(&replies[1]);
    assert!(
        !is_error && text1.contains("redeployed") && text1.contains("deployed"),
        "{text1}"
    );
    let (is_error, text2) = answer(&replies[2]);
    assert!(!is_error && text2.contains("Not redeployed"), "{text2}");
    assert!(std::fs::read_to_string(root.join("src/lib.rs"))
        .expect("read")
        .contains("\"yo\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors() {
    let ws = Workspace::new("self-edit-proto");
    let root = repo(&ws);
    let input = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "rm_rf", "arguments": {}}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/list"}).to_string(),
        json!({"jsonrpc": "2.0", "method": "whatever"}).to_string(),
        "not json".to_string(),
    ]
    .join("\n")
        + "\n";
    let args: Vec<String> = vec![
        "self-edit-mcp".into(),
        "--root".into(),
        root.display().to_string(),
    ];
    let run = provision_with_stdin(&ws.dir, &args, &[], Some(&input)).await;
    run.ok();
    let out: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(out.len(), 4, "{}", run.stdout);
    assert_eq!(out[0]["result"]["tools"][0]["name"], "self_edit");
    assert_eq!(
        out[0]["result"]["tools"][0]["annotations"]["destructiveHint"],
        true
    );
    assert_eq!(out[1]["error"]["code"], -32601);
    assert_eq!(out[2]["error"]["code"], -32601);
    assert_eq!(out[3]["error"]["code"], -32700);
}
