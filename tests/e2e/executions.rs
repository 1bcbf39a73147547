//! Durable pause/resume on real workerd (executor-behaviour.md §3.10, §6.5, §6.6, §7.5, §7.6, §9;
//! wire 52, 55–58, 65–68): an approval-gated call pauses the run, the Worker is stopped and a
//! new one is started on the same local D1/R2/DO state, and the new one finishes the run —
//! calling the upstream exactly once for the approved call and never again for the calls made
//! before the pause. Also: decline, repeated resumes, a second principal (two Access identities
//! signed by a loopback JWKS), and `resume` from a brand-new MCP session. A canary connection
//! key must show up in no answer, no log line and nowhere in the local state in plaintext.

use executor_tests::jwt::{serve_jwks, TestKeys};
use executor_tests::upstream::{Recorded, Upstream};
use serde_json::{json, Value};

use crate::catalog::{assert_state_has_no_plaintext, canary, contains, log_path, Api};
use crate::mcp::initialize_body;
use crate::support::{enabled, start_on};

const ACCESS_HEADER: &str = "cf-access-jwt-assertion";

/// The upstream calls after `mark` (spec fetches aside), as `METHOD /path?query`.
fn calls_since(upstream: &Upstream, mark: usize) -> Vec<String> {
    upstream
        .requests_since(mark)
        .iter()
        .filter(|r| r.path != "/openapi.json")
        .map(Recorded::line)
        .collect()
}

fn paused_id(body: &Value) -> String {
    assert_eq!(body["status"], "paused", "{body}");
    let id = body["structured"]["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("exec_") && id.len() == 41, "{body}");
    id
}

/// Opens an MCP session as the caller of `api`; returns its id.
async fn mcp_session(api: &Api) -> String {
    let init = api.mcp(None, &initialize_body(1, "2025-06-18")).await;
    assert_eq!(init.status, 200, "{}", init.text());
    let session = init.header("mcp-session-id").unwrap_or_default();
    let notified = api
        .mcp(
            Some(&session),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(notified.status, 202);
    session
}

async fn mcp_call(api: &Api, session: &str, id: u64, name: &str, arguments: Value) -> Value {
    let answer = api
        .mcp(
            Some(session),
            &json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                    "params":{"name":name,"arguments":arguments}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_executions_survive_a_worker_restart() {
    if !enabled("paused_executions_survive_a_worker_restart") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let spec_url = upstream.serve_petstore().expect("the petstore fixture");
    let keys = TestKeys::new("kid-exec");
    let jwks = serve_jwks(keys.jwks_json()).await;
    let aud = "e2e-executions-aud";
    let team = jwks.team_domain();
    let vars = [
        ("ENABLE_DEV_AUTH", ""),
        ("ACCESS_TEAM_DOMAIN", team.as_str()),
        ("ACCESS_AUD", aud),
        ("ALLOW_LOCAL_NETWORK", "true"),
    ];
    let alice_token = keys.token(&jwks.issuer(), aud, "alice@example.com", 3600);
    let bob_token = keys.token(&jwks.issuer(), aud, "bob@example.com", 3600);
    let canary = canary();
    let state = provision::local::temp_state_dir("executions");
    let logs_1 = log_path("executions-1");
    let logs_2 = log_path("executions-2");

    // --- First Worker: set up the catalog and pause two runs.
    let worker = start_on(state.clone(), &vars, Some(logs_1.clone())).await;
    let logs = || worker.logs();
    let alice = Api::with_headers(worker.base_url(), &[(ACCESS_HEADER, &alice_token)]);
    let bob = Api::with_headers(worker.base_url(), &[(ACCESS_HEADER, &bob_token)]);
    let added = alice
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "url", "url": spec_url}, "slug": "petstore"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    let connection = alice
        .post(
            "/api/connections",
            &json!({"owner":"org","name":"main","integration":"petstore","template":"apikey-0",
                    "value":canary}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
    // Wire 52: Alice's own rule gates getPet.
    let policy = alice
        .post(
            "/api/policies",
            &json!({"owner":"user","pattern":"petstore.org.main.pets.getPet",
                    "action":"require_approval"}),
        )
        .await;
    assert_eq!(policy.status, 200, "{}", policy.text());

    let mark = upstream.mark();
    let code = "const list = await tools.petstore.org.main.pets.listPets({ limit: 1 });\n\
                const t = Date.now();\n\
                const pet = await tools.petstore.org.main.pets.getPet({ petId: 2 });\n\
                return { first: list.data[0].name, pet: pet.data, t };";
    let first = alice.execute(code, &logs).await;
    let accept_id = paused_id(&first);
    assert_eq!(
        first["structured"]["interaction"]["message"],
        "Approve tools.petstore.org.main.pets.getPet? (matched policy: \
         petstore.org.main.pets.getPet)\n\nArguments:\n{\n  \"petId\": 2\n}"
    );
    assert_eq!(
        calls_since(&upstream, mark),
        vec!["GET /pets?limit=1"],
        "only the call before the gate ran"
    );
    let second = alice
        .execute(
            "return await tools.petstore.org.main.pets.getPet({ petId: 3 });",
            &logs,
        )
        .await;
    let decline_id = paused_id(&second);

    // GET answers the pause to its owner only (wire 66, 68).
    let got = alice.get(&format!("/api/executions/{accept_id}")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        got.json(),
        json!({"text": first["text"], "structured": first["structured"]})
    );
    let not_found = json!({"_tag": "ExecutionNotFoundError", "executionId": accept_id});
    let foreign = bob.get(&format!("/api/executions/{accept_id}")).await;
    assert_eq!((foreign.status, foreign.json()), (404, not_found.clone()));
    let foreign = bob
        .post(
            &format!("/api/executions/{accept_id}/resume"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!((foreign.status, foreign.json()), (404, not_found.clone()));
    assert_eq!(calls_since(&upstream, mark), vec!["GET /pets?limit=1"]);

    // --- Stop it; a new Worker on the same state finishes the runs.
    let answers_1: Vec<Vec<u8>> = alice.seen().into_iter().chain(bob.seen()).collect();
    let state = worker.stop_keeping_state().await;
    let worker = start_on(state, &vars, Some(logs_2.clone())).await;
    let logs = || worker.logs();
    let alice = Api::with_headers(worker.base_url(), &[(ACCESS_HEADER, &alice_token)]);
    let bob = Api::with_headers(worker.base_url(), &[(ACCESS_HEADER, &bob_token)]);

    let mark = upstream.mark();
    let resumed = alice
        .post(
            &format!("/api/executions/{accept_id}/resume"),
            &json!({"action": "accept", "content": {}}),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}\n{}", resumed.text(), logs());
    let done = resumed.json();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["isError"], false, "{done}");
    let result = &done["structured"]["result"];
    assert_eq!(result["first"], "Rex", "{done}");
    assert_eq!(result["pet"], json!({"id": 2, "name": "Tom", "tag": "cat"}));
    assert!(result["t"].as_f64().is_some_and(|t| t > 1.7e12), "{done}");
    // Exactly one upstream call: the approved one, with the connection's key.
    let calls = upstream.requests_since(mark);
    assert_eq!(
        calls.iter().map(Recorded::line).collect::<Vec<_>>(),
        vec!["GET /pets/2"],
        "{}",
        logs()
    );
    assert_eq!(calls[0].header("x-api-key"), Some(canary.as_str()));

    // Resuming again replays the recorded outcome (nothing reaches the upstream).
    let again = alice
        .post(
            &format!("/api/executions/{accept_id}/resume"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!((again.status, again.json()), (200, done.clone()));
    let gone = alice.get(&format!("/api/executions/{accept_id}")).await;
    assert_eq!((gone.status, gone.json()), (404, not_found));
    // Bob still cannot resume Alice's other pause after the restart.
    let foreign = bob
        .post(
            &format!("/api/executions/{decline_id}/resume"),
            &json!({"action": "accept"}),
        )
        .await;
    assert_eq!(foreign.status, 404);

    // Decline (wire 58): the gated call rejects inside the script, nothing is sent.
    let declined = alice
        .post(
            &format!("/api/executions/{decline_id}/resume"),
            &json!({"action": "decline"}),
        )
        .await;
    assert_eq!(declined.status, 200, "{}", declined.text());
    let declined = declined.json();
    assert_eq!(declined["isError"], true, "{declined}");
    assert!(
        declined["structured"]["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with(
                "Tool \"petstore.org.main.pets.getPet\" requires approval but the request was \
                 declined by the user."
            ),
        "{declined}"
    );
    assert_eq!(calls_since(&upstream, mark), vec!["GET /pets/2"]);

    // MCP: a run paused in one session is resumed from a brand-new session (wire 55, 56).
    let session_a = mcp_session(&alice).await;
    let paused = mcp_call(
        &alice,
        &session_a,
        2,
        "execute",
        json!({"code": "const made = await tools.petstore.org.main.pets.createPet({ body: { name: 'Nib' } });\nreturn made.data;"}),
    )
    .await;
    let structured = &paused["structuredContent"];
    assert_eq!(structured["status"], "waiting_for_interaction", "{paused}");
    assert!(paused.get("isError").is_none());
    // createPet asks by its annotation: its approval description is the question.
    assert!(structured["interaction"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("POST /pets\n\nArguments:\n"));
    let mcp_id = structured["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(paused["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!("executionId: {mcp_id}")));
    // Bob's session cannot resume it: the agent is told to run execute again.
    let bob_session = mcp_session(&bob).await;
    let refused = mcp_call(
        &bob,
        &bob_session,
        2,
        "resume",
        json!({"executionId": mcp_id, "action": "accept"}),
    )
    .await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(
        refused["structuredContent"],
        json!({"status": "execution_not_found", "executionId": mcp_id, "recovery": "re_execute"})
    );
    assert!(refused["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("run the execute tool again"));

    let session_b = mcp_session(&alice).await;
    assert_ne!(session_a, session_b);
    let mark = upstream.mark();
    let finished = mcp_call(
        &alice,
        &session_b,
        2,
        "resume",
        json!({"executionId": mcp_id, "action": "accept", "content": "{}"}),
    )
    .await;
    assert_eq!(
        finished["structuredContent"]["status"],
        "completed",
        "{finished}\n{}",
        logs()
    );
    assert_eq!(finished["structuredContent"]["result"]["name"], "Nib");
    let posted = upstream.requests_since(mark);
    assert_eq!(
        posted.iter().map(Recorded::line).collect::<Vec<_>>(),
        vec!["POST /pets"]
    );
    // A repeated MCP resume replays.
    let replayed = mcp_call(
        &alice,
        &session_a,
        3,
        "resume",
        json!({"executionId": mcp_id, "action": "decline"}),
    )
    .await;
    assert_eq!(replayed, finished);
    assert_eq!(upstream.requests_since(mark).len(), 1);

    // The key never came back in an answer, a log line or plaintext state.
    let answers: Vec<Vec<u8>> = answers_1
        .into_iter()
        .chain(alice.seen())
        .chain(bob.seen())
        .collect();
    for answer in &answers {
        assert!(
            !contains(answer, canary.as_bytes()),
            "an answer carried the secret: {}",
            String::from_utf8_lossy(answer)
        );
    }
    let state = worker.stop_keeping_state().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for log in [&logs_1, &logs_2] {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(text.lines().count() > 3, "{}", log.display());
        assert!(!text.contains(&canary), "the Worker logged the secret");
        let _ = std::fs::remove_file(log);
    }
    assert_state_has_no_plaintext(&canary, &state);
    let _ = std::fs::remove_dir_all(&state);
}
