//! Inputs and preconditions: problems are reported before anything is created.

use serde_json::json;

use crate::fake_api::{Domain, FakeApi, ZONE_ID};
use crate::spec;
use crate::support::{provision, Workspace, HOST};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_are_all_reported_with_exit_1() {
    let ws = Workspace::new("inputs");
    let args: Vec<String> = [
        "up",
        "--hostname",
        "localhost",
        "--allowed-email",
        "nope",
        "--team-domain",
        "acme.example.com",
        "--state-dir",
        ".provision",
        "--env-file",
        "missing.env",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = provision(&ws.dir, &args, &[("CLOUDFLARE_API_TOKEN", "")]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    for needle in [
        "missing CLOUDFLARE_API_TOKEN",
        "must be a hostname",
        "one email address",
        "your-team.cloudflareaccess.com",
        "hint:",
    ] {
        assert!(
            run.stderr.contains(needle),
            "`{needle}` in:\n{}",
            run.stderr
        );
    }

    // Values from a `.env` file count; the environment wins over it.
    std::fs::write(
        ws.dir.join("x.env"),
        "EXECUTOR_HOSTNAME=from-file.example.com\nEXECUTOR_ALLOWED_EMAIL=me@example.com\nCLOUDFLARE_API_TOKEN=short\n",
    )
    .expect("write .env");
    let args: Vec<String> = [
        "plan",
        "--env-file",
        "x.env",
        "--api-base",
        "http://127.0.0.1:9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = provision(&ws.dir, &args, &[("CLOUDFLARE_API_TOKEN", "")]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not look like an API token"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("EXECUTOR_HOSTNAME"), "{}", run.stderr);
}

async fn expect_precondition(api: &FakeApi, ws: &Workspace, extra: &[&str], needle: &str) {
    let mut args = ws.up_args(api);
    args.extend(extra.iter().map(|s| s.to_string()));
    api.clear_calls();
    let run = provision(&ws.dir, &args, &[]).await;
    assert_eq!(run.code, 3, "expected exit 3 ({needle}):\n{}", run.stderr);
    assert!(
        run.stderr.contains(needle),
        "`{needle}` in:\n{}",
        run.stderr
    );
    assert_eq!(
        api.lock().mutations(),
        Vec::<String>::new(),
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_stop_before_any_change() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("pre");

    // A hostname outside every zone of the account.
    let mut args = ws.up_args(&api);
    let i = args.iter().position(|a| a == HOST).expect("host arg");
    args[i] = "app.elsewhere.net".into();
    let run = provision(&ws.dir, &args, &[]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not in a zone of this account"),
        "{}",
        run.stderr
    );
    assert!(api.lock().mutations().is_empty());

    // The hostname is already another Worker's custom domain.
    api.lock().domains.push(Domain {
        id: "d0".into(),
        hostname: HOST.into(),
        service: "someone-else".into(),
        zone_id: ZONE_ID.into(),
    });
    expect_precondition(
        &api,
        &ws,
        &[],
        "already the custom domain of Worker `someone-else`",
    )
    .await;
    api.lock().domains.clear();

    // Zero Trust not set up.
    let org = api.lock().org_domain.take();
    expect_precondition(&api, &ws, &[], "Zero Trust (Access) is not set up").await;
    api.lock().org_domain = org;

    // A team domain that is not the account's.
    let mut args = ws.up_args(&api);
    args.extend([
        "--team-domain".to_string(),
        "other.cloudflareaccess.com".to_string(),
    ]);
    let run = provision(&ws.dir, &args, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is not this account's Access team domain"),
        "{}",
        run.stderr
    );
    assert!(api.lock().mutations().is_empty());

    // Everything fine, but the hostname has DNS records Workers does not manage (100117).
    api.lock().external_dns.insert(HOST.into());
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("100117") && run.stderr.contains("DNS"),
        "{}",
        run.stderr
    );
    api.lock().external_dns.clear();
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    assert!(api.lock().violations.is_empty());

    // A deployed migration tag wrangler.toml does not know.
    api.lock()
        .scripts
        .get_mut("executor")
        .expect("script")
        .migration_tag = Some("v7".into());
    expect_precondition(&api, &ws, &[], "migration tag `v7`").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mode_reports_failures_too() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("json");
    api.lock().org_domain = None;
    let mut args = ws.up_args(&api);
    args.push("--json".into());
    let run = provision(&ws.dir, &args, &[]).await;
    assert_eq!(run.code, 3);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json on stdout");
    assert_eq!(doc["ok"], false);
    assert!(doc["error"]
        .as_str()
        .unwrap_or_default()
        .contains("Zero Trust"));
}

#[test]
fn the_spec_check_catches_bad_requests() {
    if spec::document().is_none() {
        eprintln!("skipped: no OpenAPI document");
        return;
    }
    let query = vec![("nmae".to_string(), "x".to_string())];
    let body = json!({ "name": "executor", "primary_location_hint": "mars", "nmae": 1 });
    let problems = spec::check(&spec::Request {
        method: "POST",
        path: "/accounts/0123456789abcdef0123456789abcdef/d1/database",
        query: &query,
        content_type: Some("application/json"),
        json: Some(&body),
        parts: None,
    })
    .join("\n");
    assert!(
        problems.contains("undeclared query parameter `nmae`"),
        "{problems}"
    );
    assert!(problems.contains("\"mars\" is not one of"), "{problems}");
    assert!(
        problems.contains("property `nmae` is not in the schema"),
        "{problems}"
    );

    let no_op = spec::check(&spec::Request {
        method: "PATCH",
        path: "/accounts/x/workers/scripts",
        query: &[],
        content_type: None,
        json: None,
        parts: None,
    });
    assert!(no_op[0].contains("no such operation"), "{no_op:?}");

    let missing = json!({ "decision": "allow" });
    let problems = spec::check(&spec::Request {
        method: "POST",
        path: "/accounts/0123456789abcdef0123456789abcdef/access/policies",
        query: &[],
        content_type: Some("application/json"),
        json: Some(&missing),
        parts: None,
    })
    .join("\n");
    assert!(
        problems.contains("missing required property `name`"),
        "{problems}"
    );
    assert!(
        problems.contains("missing required property `include`"),
        "{problems}"
    );

    // A binding without its required field, in the script upload's metadata part.
    let meta = json!({ "main_module": "index.js", "bindings": [{ "type": "d1", "name": "DB" }] });
    let parts = vec![
        ("metadata".to_string(), Some(meta)),
        ("index.js".to_string(), None),
    ];
    let problems = spec::check(&spec::Request {
        method: "PUT",
        path: "/accounts/0123456789abcdef0123456789abcdef/workers/scripts/executor",
        query: &[],
        content_type: Some("multipart/form-data; boundary=x"),
        json: None,
        parts: Some(&parts),
    })
    .join("\n");
    assert!(
        problems.contains("missing required property `database_id`"),
        "{problems}"
    );
}
