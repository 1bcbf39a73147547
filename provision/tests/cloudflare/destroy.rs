//! `provision destroy` against the fake API.

use crate::fake_api::FakeApi;
use crate::support::{provision, provision_with_stdin, Workspace, HOST};

fn destroy_args(ws: &Workspace, api: &FakeApi, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["destroy".to_string()];
    args.extend(ws.common_args(api));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_goes_in_a_safe_order_and_keeps_data() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("destroy");
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    api.clear_calls();

    let run = provision(&ws.dir, &destroy_args(&ws, &api, &["--yes"]), &[]).await;
    run.ok();
    {
        let st = api.lock();
        assert!(st.violations.is_empty(), "{:#?}", st.violations);
        let deletes: Vec<String> = st
            .mutations()
            .into_iter()
            .map(|m| {
                let parts: Vec<&str> = m.split('/').collect();
                // `DELETE /accounts/<id>/<kind>/…` → the kind of resource.
                format!(
                    "{} {}",
                    parts[0].trim(),
                    parts[3..parts.len().min(5)].join("/")
                )
            })
            .collect();
        assert_eq!(
            deletes,
            vec![
                "DELETE workers/domains",
                "DELETE workers/scripts",
                "DELETE access/apps",
                "DELETE access/policies",
                "DELETE access/policies",
                "DELETE access/service_tokens",
            ],
            "{:#?}",
            st.mutations()
        );
        assert!(st.domains.is_empty() && st.scripts.is_empty() && st.apps.is_empty());
        assert!(st.policies.is_empty() && st.tokens.is_empty());
        assert_eq!(st.d1.len(), 1, "D1 kept");
        assert_eq!(st.r2.len(), 1, "R2 kept");
    }
    assert!(run.stderr.contains("kept D1 database"), "{}", run.stderr);
    assert!(!ws.mcp_env().exists(), ".env.mcp removed");
    // The key that decrypts the D1 data stays; the state still records the data.
    assert!(ws.secrets()["encryption_key"].is_string());
    assert!(ws.state()["d1"]["uuid"].is_string());

    // A second destroy changes nothing and succeeds.
    api.clear_calls();
    provision(&ws.dir, &destroy_args(&ws, &api, &["--yes"]), &[])
        .await
        .ok();
    let muts = api.lock().mutations();
    assert!(
        muts.iter().all(|m| m.contains("/workers/scripts/")),
        "{muts:#?}"
    );

    // `up` again reuses the kept data and the same key.
    let uuid = api.lock().d1[0].uuid.clone();
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    let st = api.lock();
    assert_eq!(st.d1.len(), 1);
    assert_eq!(st.d1[0].uuid, uuid);
    assert!(st.violations.is_empty(), "{:#?}", st.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_data_needs_a_typed_confirmation() {
    let api = FakeApi::start().await;
    let ws = Workspace::new("destroy-data");
    provision(&ws.dir, &ws.up_args(&api), &[]).await.ok();
    api.clear_calls();

    // No confirmation (stdin closed) and a wrong one: nothing happens.
    let args = destroy_args(&ws, &api, &["--delete-data"]);
    let run = provision(&ws.dir, &args, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = provision_with_stdin(&ws.dir, &args, &[], Some("yes\n")).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("not confirmed"), "{}", run.stderr);
    assert!(api.lock().mutations().is_empty());

    // Typing the hostname deletes everything, data last: bucket, then database.
    let run = provision_with_stdin(&ws.dir, &args, &[], Some(&format!("{HOST}\n"))).await;
    run.ok();
    let st = api.lock();
    assert!(st.violations.is_empty(), "{:#?}", st.violations);
    let muts = st.mutations();
    let n = muts.len();
    assert!(
        muts[n - 2].contains("/r2/buckets/executor-blobs"),
        "{muts:#?}"
    );
    assert!(muts[n - 1].contains("/d1/database/"), "{muts:#?}");
    assert!(st.d1.is_empty() && st.r2.is_empty());
    assert!(!ws.state_dir().join("state.json").exists(), "state removed");
    assert!(
        !ws.state_dir().join("secrets.json").exists(),
        "secrets removed"
    );
}
