//! `provision up` and `provision plan` against the fake API.

use serde_json::Value;

use crate::fake_api::{FakeApi, FaultKind, ACCOUNT, TEAM, TOKEN};
use crate::support::{assert_no_secret, provision, Workspace, EMAIL, HOST};

/// Index of the first recorded call whose line contains `needle` (panics if none).
fn first(calls: &[String], needle: &str) -> usize {
    calls
        .iter()
        .position(|c| c.contains(needle))
        .unwrap_or_else(|| panic!("no call matching `{needle}` in\n{}", calls.join("\n")))
}

fn count(calls: &[String], needle: &str) -> usize {
    calls.iter().filter(|c| c.contains(needle)).count()
}

/// Calls equal to `METHOD /accounts/<ACCOUNT><rest>`.
fn exactly(calls: &[String], method: &str, rest: &str) -> usize {
    let line = format!("{method} /accounts/{ACCOUNT}{rest}");
    calls.iter().filter(|c| **c == line).count()
}

fn assert_clean(api: &FakeApi) {
    let st = api.lock();
    assert!(
        st.violations.is_empty(),
        "violations:\n{}",
        st.violations.join("\n")
    );
}

/// One of each resource, nothing duplicated.
fn assert_one_of_each(api: &FakeApi) {
    let st = api.lock();
    assert_eq!(st.d1.len(), 1, "D1 databases");
    assert_eq!(st.r2.len(), 1, "R2 buckets");
    assert_eq!(st.tokens.len(), 1, "service tokens");
    assert_eq!(st.policies.len(), 2, "policies");
    assert_eq!(st.apps.len(), 1, "Access applications");
    assert_eq!(st.scripts.len(), 1, "scripts");
    assert_eq!(st.domains.len(), 1, "custom domains");
    let script = st.scripts.get("executor").expect("script");
    assert!(
        !script.subdomain && !script.previews,
        "workers.dev and previews off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_up_creates_everything_in_a_safe_order() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("first");
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    run.ok();
    assert_clean(&api);
    assert_one_of_each(&api);

    let st = api.lock();
    let muts = st.mutations();
    // Exactly one create each.
    assert_eq!(exactly(&muts, "POST", "/d1/database"), 1);
    assert_eq!(exactly(&muts, "POST", "/r2/buckets"), 1);
    assert_eq!(count(&muts, "/access/service_tokens"), 1);
    assert_eq!(exactly(&muts, "POST", "/access/policies"), 2);
    assert_eq!(exactly(&muts, "POST", "/access/apps"), 1);
    assert_eq!(count(&muts, "assets-upload-session"), 1);
    assert!(
        count(&muts, "/workers/assets/upload") >= 2,
        "two buckets of assets"
    );
    assert_eq!(exactly(&muts, "PUT", "/workers/scripts/executor"), 1);
    assert_eq!(count(&muts, "/subdomain"), 1);
    assert_eq!(exactly(&muts, "PUT", "/workers/domains"), 1);

    // Order: token and email policy before the agent policy; both policies before the
    // application; the application before the script; the script before subdomain and
    // domain; the domain last.
    let token = first(&muts, "/access/service_tokens");
    let policy1 = first(&muts, "/access/policies");
    let policy2 = muts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.contains("/access/policies"))
        .nth(1)
        .map(|(i, _)| i)
        .expect("second policy");
    let app = first(&muts, "/access/apps");
    let script = first(
        &muts,
        &format!("PUT /accounts/{ACCOUNT}/workers/scripts/executor"),
    );
    let sub = first(&muts, "/subdomain");
    let domain = first(&muts, "/workers/domains");
    assert!(
        token < policy2 && policy1 < app && policy2 < app,
        "{muts:#?}"
    );
    assert!(app < script && script < sub && sub < domain, "{muts:#?}");
    assert_eq!(
        domain,
        muts.len() - 1,
        "the custom domain comes last: {muts:#?}"
    );
    let first_d1 = first(&muts, "/d1/database");
    assert!(first_d1 < app, "data resources first");

    // The agent policy names the token; the application lists both policies in order.
    let token_id = st.tokens[0].id.clone();
    let agent = st
        .policies
        .iter()
        .find(|p| p.decision == "non_identity")
        .expect("agent policy");
    assert_eq!(
        agent.include[0]["service_token"]["token_id"],
        token_id.as_str()
    );
    let people = st
        .policies
        .iter()
        .find(|p| p.decision == "allow")
        .expect("email policy");
    assert_eq!(people.include[0]["email"]["email"], EMAIL);
    assert_eq!(
        st.apps[0].policies,
        vec![people.id.clone(), agent.id.clone()]
    );
    assert_eq!(st.apps[0].domain, HOST);

    // The script: modules, bindings, vars, secret, assets, migrations, compatibility date.
    let sc = st.scripts.get("executor").expect("script");
    let names: Vec<&str> = sc.modules.iter().map(|(n, _, _)| n.as_str()).collect();
    assert!(
        names.contains(&"index.js") && names.contains(&"index_bg.wasm"),
        "{names:?}"
    );
    let meta = &sc.metadata;
    assert_eq!(meta["main_module"], "index.js");
    let wrangler = provision::wrangler::WorkerSpec::load(
        &provision::root::find_root_from(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("root"),
    )
    .expect("wrangler.toml");
    assert_eq!(
        meta["compatibility_date"],
        wrangler.compatibility_date.as_str()
    );
    assert_eq!(meta["observability"]["enabled"], true);
    assert_eq!(meta["migrations"]["new_tag"], "v1");
    assert_eq!(
        meta["migrations"]["steps"][0]["new_sqlite_classes"][0],
        "McpSessionDO"
    );
    assert_eq!(
        meta["assets"]["config"]["not_found_handling"],
        "single-page-application"
    );
    let bindings = meta["bindings"].as_array().expect("bindings");
    let find = |name: &str| {
        bindings
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("binding {name}"))
    };
    assert_eq!(find("DB")["type"], "d1");
    assert_eq!(find("DB")["database_id"], st.d1[0].uuid.as_str());
    assert_eq!(find("BLOBS")["bucket_name"], "executor-blobs");
    assert_eq!(find("MCP_SESSION")["class_name"], "McpSessionDO");
    assert_eq!(find("ACCESS_AUD")["text"], st.apps[0].aud.as_str());
    assert_eq!(find("ACCESS_TEAM_DOMAIN")["text"], TEAM);
    assert_eq!(find("ADMIN_EMAILS")["text"], EMAIL);
    assert_eq!(
        find("VITE_PUBLIC_SITE_URL")["text"],
        format!("https://{HOST}")
    );
    assert_eq!(find("EXECUTOR_SECRET_KEY")["type"], "secret_text");
    assert!(!bindings.iter().any(|b| b["name"] == "ENABLE_DEV_AUTH"));
    let key = sc
        .secrets
        .get("EXECUTOR_SECRET_KEY")
        .expect("secret")
        .clone();
    assert_eq!(key.len(), 64);

    // D1 migrations were applied remotely: every file in the migrations directory, in order.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/store/migrations");
    let mut expected: Vec<String> = std::fs::read_dir(&dir)
        .expect("the migrations directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    expected.sort();
    assert_eq!(st.d1[0].applied, expected);

    // Module parts are keyed by file name with the right content types; workers.dev and
    // previews are turned off together.
    let upload = st
        .calls
        .iter()
        .find(|c| c.method == "PUT" && c.path.ends_with("/scripts/executor"))
        .expect("upload");
    let parts = upload.parts.as_ref().expect("multipart");
    let wasm = parts
        .iter()
        .find(|p| p.name == "index_bg.wasm")
        .expect("wasm part");
    assert_eq!(wasm.content_type.as_deref(), Some("application/wasm"));
    assert_eq!(wasm.filename.as_deref(), Some("index_bg.wasm"));
    assert_eq!(wasm.size, 8);
    let sub = st
        .calls
        .iter()
        .find(|c| c.method == "POST" && c.path.ends_with("/subdomain"))
        .expect("subdomain");
    assert_eq!(
        sub.json,
        Some(serde_json::json!({"enabled": false, "previews_enabled": false}))
    );

    // The API token never went to the assets upload endpoint.
    assert!(st
        .calls
        .iter()
        .filter(|c| c.path.ends_with("/workers/assets/upload"))
        .all(|c| c.auth == crate::fake_api::Auth::UploadJwt));

    // Local files: ids in the state, secrets only in 0600 files.
    let state = ws.state();
    assert_eq!(state["account_id"], ACCOUNT);
    assert_eq!(state["d1"]["uuid"], st.d1[0].uuid.as_str());
    assert_eq!(state["access"]["aud"], st.apps[0].aud.as_str());
    assert_eq!(
        state["access"]["service_token_client_id"],
        st.tokens[0].client_id.as_str()
    );
    assert_eq!(ws.secrets()["encryption_key"], key.as_str());
    let env_mcp = std::fs::read_to_string(ws.mcp_env()).expect(".env.mcp");
    assert!(env_mcp.contains(&format!("CF_ACCESS_CLIENT_SECRET={}", st.tokens[0].secret)));
    use std::os::unix::fs::PermissionsExt;
    for f in [ws.state_dir().join("secrets.json"), ws.mcp_env()] {
        assert_eq!(
            std::fs::metadata(&f).expect("stat").permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }

    // Output: one line per resource, the URLs, the client id, where the secret went.
    assert!(
        run.stdout.contains(&format!("https://{HOST}/mcp")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&st.tokens[0].client_id));
    assert!(run.stdout.contains(&ws.mcp_env().display().to_string()));
    assert!(
        run.stderr.contains("created D1 database `executor`"),
        "{}",
        run.stderr
    );

    // No secret in stdout, stderr or state.json.
    let mut secrets = st.issued_secrets();
    secrets.push(TOKEN.to_string());
    let state_text = std::fs::read_to_string(ws.state_dir().join("state.json")).expect("state");
    assert_no_secret(&run.all(), &secrets, "the output");
    assert_no_secret(&state_text, &secrets, "state.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_up_changes_only_the_worker() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("second");
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    let key = api.lock().scripts["executor"].secrets["EXECUTOR_SECRET_KEY"].clone();

    // Unchanged build: no mutation at all.
    api.clear_calls();
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    run.ok();
    assert_eq!(api.lock().mutations(), Vec::<String>::new());
    assert!(!run.stderr.contains("created"), "{}", run.stderr);

    // A changed Worker: only the assets session and the script upload.
    std::fs::write(
        ws.dir.join("build/index.js"),
        "export default {}; export class McpSessionDO {} // v2\n",
    )
    .expect("write");
    api.clear_calls();
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    run.ok();
    assert_clean(&api);
    let st = api.lock();
    let muts = st.mutations();
    assert_eq!(muts.len(), 2, "{muts:#?}");
    assert!(muts[0].ends_with("/workers/scripts/executor/assets-upload-session"));
    assert!(muts[1].starts_with("PUT ") && muts[1].ends_with("/workers/scripts/executor"));
    let upload = st
        .calls
        .iter()
        .rev()
        .find(|c| c.method == "PUT" && c.path.ends_with("/scripts/executor"))
        .expect("upload");
    let meta = upload.metadata().expect("metadata");
    assert!(
        meta.get("migrations").is_none(),
        "no migration on a re-deploy"
    );
    // Assets were known already: the session asked for none.
    assert_eq!(count(&muts, "/workers/assets/upload"), 0);
    // Same key.
    assert_eq!(st.scripts["executor"].secrets["EXECUTOR_SECRET_KEY"], key);
    assert_eq!(st.scripts["executor"].uploads, 2);
    assert!(
        run.stderr.contains("updated Worker `executor`"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_without_state_adopts_existing_resources() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("adopt");
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    let key = api.lock().scripts["executor"].secrets["EXECUTOR_SECRET_KEY"].clone();
    std::fs::remove_file(ws.state_dir().join("state.json")).expect("rm state");

    api.clear_calls();
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    run.ok();
    assert_clean(&api);
    assert_one_of_each(&api);
    let creates: Vec<String> = api
        .lock()
        .mutations()
        .into_iter()
        .filter(|m| m.starts_with("POST") && !m.contains("assets") && !m.contains("/query"))
        .collect();
    assert!(creates.is_empty(), "{creates:#?}");
    assert!(run.stderr.contains("found by name"), "{}", run.stderr);
    // secrets.json still holds the client secret of the adopted token.
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unchanged MCP credentials"),
        "{}",
        run.stderr
    );
    assert_eq!(
        api.lock().scripts["executor"].secrets["EXECUTOR_SECRET_KEY"],
        key
    );

    // Without secrets.json either: the key is inherited, never regenerated, and the token is
    // kept (a warning says how to get a new secret).
    std::fs::remove_dir_all(ws.state_dir()).expect("rm state dir");
    std::fs::remove_file(ws.mcp_env()).expect("rm .env.mcp");
    api.clear_calls();
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    run.ok();
    assert_clean(&api);
    assert_one_of_each(&api);
    {
        let st = api.lock();
        assert_eq!(st.scripts["executor"].secrets["EXECUTOR_SECRET_KEY"], key);
        let upload = st
            .calls
            .iter()
            .find(|c| c.method == "PUT" && c.path.ends_with("/scripts/executor"))
            .expect("upload");
        assert!(upload
            .query
            .contains(&("bindings_inherit".into(), "strict".into())));
        let bindings = upload.metadata().expect("meta")["bindings"].clone();
        assert!(bindings
            .as_array()
            .expect("list")
            .iter()
            .any(|b| b["type"] == "inherit" && b["name"] == "EXECUTOR_SECRET_KEY"));
        assert!(
            run.stderr.contains("--rotate-service-token"),
            "{}",
            run.stderr
        );
        assert!(!ws.mcp_env().exists());
    }

    // --rotate-service-token issues a new secret and writes .env.mcp.
    api.clear_calls();
    let mut args = ws.up_args(&api);
    args.push("--rotate-service-token".into());
    provision(&ws.dir, &args, &[]).await.ok();
    let st = api.lock();
    assert_eq!(count(&st.mutations(), "/rotate"), 1);
    let env_mcp = std::fs::read_to_string(ws.mcp_env()).expect(".env.mcp");
    assert!(env_mcp.contains(&st.tokens[0].secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_only_reads_and_matches_what_up_does() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("plan");
    let mut args = ws.up_args(&api);
    args[0] = "plan".into();
    args.push("--json".into());
    let run = provision(&ws.dir, &args, &[]).await;
    run.ok();
    assert_clean(&api);
    assert_eq!(api.lock().mutations(), Vec::<String>::new());
    assert!(
        !ws.state_dir().join("state.json").exists(),
        "plan writes nothing"
    );
    let doc: Value = serde_json::from_str(&run.stdout).expect("json");
    let planned: Vec<(String, String)> = doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["resource"].as_str().unwrap_or_default().to_string(),
                s["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        planned
            .iter()
            .all(|(_, a)| a == "would_create" || a == "would_update"),
        "{planned:#?}"
    );

    let mut up = ws.up_args(&api);
    up.push("--json".into());
    let run = provision(&ws.dir, &up, &[]).await;
    run.ok();
    let doc: Value = serde_json::from_str(&run.stdout).expect("json");
    let done: Vec<String> = doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["action"] != "skipped")
        .map(|s| s["resource"].as_str().unwrap_or_default().to_string())
        .collect();
    let planned_names: Vec<String> = planned.into_iter().map(|(r, _)| r).collect();
    // `up` also reports the MCP credentials file, which `plan` does not write.
    let done_core: Vec<String> = done
        .into_iter()
        .filter(|r| !r.starts_with("MCP credentials"))
        .collect();
    assert_eq!(planned_names, done_core);
    assert_eq!(doc["ok"], true);
    assert!(doc["outputs"]["agent_client_id"].is_string());

    // After `up`, the plan is all "unchanged" except the migrations check it cannot make.
    let run = provision(&ws.dir, &args, &[]).await;
    let doc: Value = serde_json::from_str(&run.ok().stdout).expect("json");
    for step in doc["steps"].as_array().expect("steps") {
        if step["resource"] != "D1 migrations" {
            assert_eq!(step["action"], "unchanged", "{step}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_each_step_then_a_rerun_completes() {
    // How many mutating calls a first run makes.
    let probe = FakeApi::start().await;
    let ws = Workspace::new("probe");
    provision(&ws.dir, &ws.up_args(&probe), &[]).await.ok();
    let calls: Vec<(usize, String)> = probe.lock().calls.iter().map(|c| (c.n, c.line())).collect();
    drop(probe);
    let mutating = calls.iter().filter(|(_, l)| !l.starts_with("GET")).count();
    assert!(mutating >= 10, "{calls:#?}");
    // Every call of the run, lookups included.
    let points: Vec<usize> = calls.iter().map(|(n, _)| *n).collect();
    for kind in [FaultKind::Reject, FaultKind::CommitThenFail] {
        for &n in &points {
            let api = FakeApi::start().await;
            let ws = Workspace::new("fault");
            api.fail_at(n, kind);
            let first = provision(&ws.dir, &ws.up_args(&api), &[]).await;
            let line = calls
                .iter()
                .find(|(i, _)| *i == n)
                .map(|(_, l)| l.clone())
                .unwrap_or_default();
            assert_ne!(
                first.code, 0,
                "a {kind:?} at call {n} ({line}) must fail the run:\n{}",
                first.stderr
            );
            assert!(first.stderr.contains("error:"), "{}", first.stderr);
            let second = provision(&ws.dir, &ws.up_args(&api), &[]).await;
            assert_eq!(
                second.code, 0,
                "re-run after a {kind:?} at call {n} ({line}):\n{}",
                second.stderr
            );
            assert_clean(&api);
            assert_one_of_each(&api);
            let st = api.lock();
            assert_no_secret(
                &format!("{}{}", first.all(), second.all()),
                &st.issued_secrets(),
                "the output",
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("retry");
    api.fail_first(
        "GET /accounts/0123456789abcdef0123456789abcdef/d1/database",
        FaultKind::RateLimit,
    );
    api.fail_first(
        "GET /accounts/0123456789abcdef0123456789abcdef/workers/scripts",
        FaultKind::Unavailable,
    );
    api.fail_first(
        "POST /accounts/0123456789abcdef0123456789abcdef/access/apps",
        FaultKind::PolicyNotFound,
    );
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    assert_clean(&api);
    assert_one_of_each(&api);
    let st = api.lock();
    assert!(st.faults.iter().all(|f| f.fired));
    assert_eq!(exactly(&st.mutations(), "POST", "/access/apps"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_with_one_call_each() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("drift");
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    {
        let mut st = api.lock();
        let people = st
            .policies
            .iter_mut()
            .find(|p| p.decision == "allow")
            .expect("policy");
        people.include = vec![serde_json::json!({"email": {"email": "intruder@example.com"}})];
        st.apps[0].policies.truncate(1);
        let script = st.scripts.get_mut("executor").expect("script");
        script.subdomain = true;
    }
    api.clear_calls();
    let run = provision(&ws.dir, &ws.up_args(&api), &[]).await;
    run.ok();
    assert_clean(&api);
    let st = api.lock();
    let muts = st.mutations();
    assert_eq!(muts.len(), 3, "{muts:#?}");
    assert_eq!(
        count(
            &muts,
            "PUT /accounts/0123456789abcdef0123456789abcdef/access/policies/"
        ),
        1
    );
    assert_eq!(
        count(
            &muts,
            "PUT /accounts/0123456789abcdef0123456789abcdef/access/apps/"
        ),
        1
    );
    assert_eq!(count(&muts, "/subdomain"), 1);
    assert_eq!(st.apps[0].policies.len(), 2);
    assert!(!st.scripts["executor"].subdomain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_json_output_has_no_secret_and_takeover_needs_yes() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("verbose");
    api.lock().domains.push(crate::fake_api::Domain {
        id: "old".into(),
        hostname: HOST.into(),
        service: "previous-worker".into(),
        zone_id: crate::fake_api::ZONE_ID.into(),
    });
    let mut args = ws.up_args(&api);
    args.extend([
        "-v".to_string(),
        "--json".to_string(),
        "--takeover-domain".to_string(),
    ]);
    let run = provision(&ws.dir, &args, &[]).await;
    assert_eq!(
        run.code, 3,
        "--takeover-domain alone is not enough: {}",
        run.stderr
    );
    args.push("--yes".into());
    let run = provision(&ws.dir, &args, &[]).await;
    run.ok();
    assert_clean(&api);
    assert!(
        run.stderr.contains("http: GET /user/tokens/verify -> 200"),
        "{}",
        run.stderr
    );
    let doc: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(doc["ok"], true);
    let st = api.lock();
    let attach = st
        .calls
        .iter()
        .find(|c| c.method == "PUT" && c.path.ends_with("/workers/domains"))
        .expect("attach");
    assert_eq!(
        attach.json.as_ref().expect("body")["override_existing_origin"],
        true
    );
    assert_eq!(st.domains.len(), 1);
    assert_eq!(st.domains[0].service, "executor");
    let mut secrets = st.issued_secrets();
    secrets.push(TOKEN.to_string());
    assert_no_secret(&run.all(), &secrets, "verbose JSON output");
}
