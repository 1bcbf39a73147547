//! Durable pauses through the router and the MCP dispatcher, against a scripted petstore upstream.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::catalog::testing::{add_policy, connect, petstore_spec, seed_openapi};
use crate::http::testing::{TestWorld, NOW_MS};
use crate::net::http::OutboundResponse;
use crate::owner::Owner;
use crate::store::{Sql, Statement};
use crate::time::FixedClock;

const BASE: &str = "https://petstore.example.test";
const GET_PET: &str = "return await tools.petstore.org.main.pets.getPet({ petId: 1 });";

/// The petstore world on a scripted upstream, with a user `require_approval` rule on getPet
/// (wire 52). The upstream answers listPets, getPet and createPet.
async fn world() -> TestWorld {
    let world = TestWorld::new();
    seed_openapi(
        &world,
        "petstore",
        "Tiny Petstore",
        petstore_spec(),
        json!({ "baseUrl": BASE }),
    )
    .await;
    connect(
        &world,
        "dev",
        "petstore",
        Owner::Org,
        "main",
        "pet-secret-1",
    )
    .await;
    add_policy(
        &world,
        Owner::User,
        "petstore.org.main.pets.getPet",
        "require_approval",
    )
    .await;
    world.http.on(|r| {
        let path = r.url.strip_prefix(BASE)?;
        let body = match (r.method.as_str(), path.split('?').next()?) {
            ("GET", "/pets") => r#"[{"id":1,"name":"Rex","tag":"dog"}]"#.to_owned(),
            ("GET", pet) if pet.starts_with("/pets/") => {
                let id = &pet["/pets/".len()..];
                format!(r#"{{"id":{id},"name":"Rex","tag":"dog"}}"#)
            }
            ("POST", "/pets") => r#"{"id":9,"name":"new"}"#.to_owned(),
            _ => return None,
        };
        Some(OutboundResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into_bytes(),
        })
    });
    world
}

/// Upstream requests so far, as `METHOD path`.
fn upstream(world: &TestWorld) -> Vec<String> {
    world
        .http
        .requests
        .borrow()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.trim_start_matches(BASE)))
        .collect()
}

async fn post(world: &TestWorld, user: &str, path: &str, body: Value) -> (u16, Value) {
    let r = world.send(Some(user), "POST", path, Some(&body)).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

async fn execute(world: &TestWorld, code: &str) -> Value {
    let (status, body) = post(world, "dev", "/api/executions", json!({ "code": code })).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn resume(world: &TestWorld, user: &str, id: &str, action: &str) -> (u16, Value) {
    post(
        world,
        user,
        &format!("/api/executions/{id}/resume"),
        json!({ "action": action }),
    )
    .await
}

async fn get(world: &TestWorld, user: &str, id: &str) -> (u16, Value) {
    let r = world
        .send(Some(user), "GET", &format!("/api/executions/{id}"), None)
        .await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

/// The execution id of a paused answer.
fn paused_id(body: &Value) -> String {
    assert_eq!(body["status"], "paused", "{body}");
    let id = body["structured"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("exec_") && id.len() == 41, "{id}");
    id
}

fn not_found(id: &str) -> Value {
    json!({ "_tag": "ExecutionNotFoundError", "executionId": id })
}

#[tokio::test]
async fn a_gated_call_pauses_and_accept_runs_it_exactly_once() {
    let world = world().await;
    let code = "const list = await tools.petstore.org.main.pets.listPets({ limit: 1 });\n\
                console.log('listed', list.data.length);\n\
                const pet = await tools.petstore.org.main.pets.getPet({ petId: 3 });\n\
                return { listed: list.data.length, pet: pet.data };";
    let paused = execute(&world, code).await;
    let id = paused_id(&paused);
    // Wire 65's shape (our own prose in text and instructions).
    let wire = crate::test_support::wire("65-executions-execute-paused.json");
    let mut expected = wire["response"]["body"]["structured"].clone();
    expected["executionId"] = json!(id);
    expected["interaction"]["instructions"] =
        paused["structured"]["interaction"]["instructions"].clone();
    assert_eq!(paused["structured"], expected);
    assert!(paused.get("isError").is_none());
    assert!(paused["text"]
        .as_str()
        .unwrap()
        .contains(&format!("executionId: {id}")));
    // Only the call before the gate reached the upstream.
    assert_eq!(upstream(&world), vec!["GET /pets?limit=1"]);

    // GET answers the pause while it waits.
    let (status, got) = get(&world, "dev", &id).await;
    assert_eq!(status, 200);
    assert_eq!(
        got,
        json!({ "text": paused["text"], "structured": paused["structured"] })
    );

    let (status, done) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["isError"], false);
    assert_eq!(
        done["structured"]["result"],
        json!({ "listed": 1, "pet": { "id": 3, "name": "Rex", "tag": "dog" } })
    );
    // The whole run's logs, the replayed part included.
    assert_eq!(done["structured"]["logs"], json!(["[log] listed 1"]));
    // listPets was answered from the journal; getPet ran once.
    assert_eq!(upstream(&world), vec!["GET /pets?limit=1", "GET /pets/3"]);

    // Resuming again (any action) answers the recorded outcome without calling anyone.
    let (status, again) = resume(&world, "dev", &id, "decline").await;
    assert_eq!((status, &again), (200, &done));
    assert_eq!(upstream(&world).len(), 2);
    // It is no longer paused.
    assert_eq!(get(&world, "dev", &id).await, (404, not_found(&id)));
}

#[tokio::test]
async fn decline_and_cancel_reject_the_gated_call() {
    let world = world().await;
    let id = paused_id(&execute(&world, GET_PET).await);
    let (status, declined) = resume(&world, "dev", &id, "decline").await;
    assert_eq!(status, 200);
    assert_eq!(declined["status"], "completed");
    assert_eq!(declined["isError"], true);
    let error = declined["structured"]["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "Tool \"petstore.org.main.pets.getPet\" requires approval but the request was \
             declined by the user."
        ),
        "{error}"
    );
    assert!(upstream(&world).is_empty());

    let code = "try { await tools.petstore.org.main.pets.getPet({ petId: 2 }); } \
                catch (e) { return 'caught: ' + e.message; }";
    let id = paused_id(&execute(&world, code).await);
    let (_, cancelled) = resume(&world, "dev", &id, "cancel").await;
    assert_eq!(
        cancelled["structured"]["result"],
        "caught: Tool \"petstore.org.main.pets.getPet\" requires approval but the request was \
         cancelled by the user."
    );
    assert!(upstream(&world).is_empty());

    // Unknown actions are schema errors.
    let (status, body) = resume(&world, "dev", &id, "maybe").await;
    assert_eq!(
        (status, body["_tag"].as_str()),
        (400, Some("HttpApiSchemaError"))
    );
}

#[tokio::test]
async fn other_principals_and_unknown_ids_are_not_found() {
    let world = world().await;
    let id = paused_id(&execute(&world, GET_PET).await);
    assert_eq!(get(&world, "alice", &id).await, (404, not_found(&id)));
    assert_eq!(
        resume(&world, "alice", &id, "accept").await,
        (404, not_found(&id))
    );
    assert!(upstream(&world).is_empty());
    assert_eq!(
        get(&world, "dev", "exec_missing").await,
        (404, not_found("exec_missing"))
    );
    assert_eq!(
        resume(&world, "dev", "exec_missing", "accept").await,
        (404, not_found("exec_missing"))
    );
    // No identity: 401 before anything else.
    let r = world
        .send(None, "GET", &format!("/api/executions/{id}"), None)
        .await;
    assert_eq!(r.status, 401);
    // The owner still can.
    let (status, done) = resume(&world, "dev", &id, "accept").await;
    assert_eq!((status, done["status"].as_str()), (200, Some("completed")));
    // After it settled, the other principal still sees nothing.
    assert_eq!(
        resume(&world, "alice", &id, "accept").await,
        (404, not_found(&id))
    );
}

#[tokio::test]
async fn pauses_expire() {
    let mut world = world().await;
    let id = paused_id(&execute(&world, GET_PET).await);
    let ttl = world.config.execution_pause_ttl_ms as f64;
    world.clock = FixedClock(NOW_MS + ttl - 1.0);
    assert_eq!(get(&world, "dev", &id).await.0, 200);
    world.clock = FixedClock(NOW_MS + ttl);
    assert_eq!(get(&world, "dev", &id).await, (404, not_found(&id)));
    assert_eq!(
        resume(&world, "dev", &id, "accept").await,
        (404, not_found(&id))
    );
    assert!(upstream(&world).is_empty());

    // A later pause sweeps expired rows away.
    let next = paused_id(&execute(&world, GET_PET).await);
    let rows = world
        .sql
        .query(Statement::new("SELECT id FROM execution", vec![]))
        .await
        .unwrap();
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, vec![next.as_str()]);
}

#[tokio::test]
async fn the_clock_and_random_numbers_replay() {
    let mut world = world().await;
    let code = "const t = Date.now(); const r = Math.random();\n\
                const n = Math.floor(r * 1000) + 1;\n\
                const pet = await tools.petstore.org.main.pets.getPet({ petId: n });\n\
                return { t, r, n, id: pet.data.id, later: Date.now(), again: new Date().getTime() };";
    let paused = execute(&world, code).await;
    let id = paused_id(&paused);
    let n = paused["structured"]["interaction"]["args"]["petId"].clone();
    // The decision is made an hour later, in another request.
    world.clock = FixedClock(NOW_MS + 3_600_000.0);
    let (_, done) = resume(&world, "dev", &id, "accept").await;
    let result = &done["structured"]["result"];
    assert_eq!(result["n"], n, "{done}");
    assert_eq!(result["id"], n);
    let r = result["r"].as_f64().unwrap();
    assert_eq!(json!((r * 1000.0).floor() as u64 + 1), n);
    assert_eq!(result["t"], json!(NOW_MS as u64));
    assert_eq!(result["later"], json!(NOW_MS as u64 + 3_600_000));
    assert_eq!(result["again"], result["later"]);
}

#[tokio::test]
async fn a_second_gate_pauses_again_under_a_new_id() {
    let world = world().await;
    let code = "const a = await tools.petstore.org.main.pets.getPet({ petId: 1 });\n\
                const b = await tools.petstore.org.main.pets.createPet({ body: { name: 'new' } });\n\
                return [a.data.name, b.data.name];";
    let first = paused_id(&execute(&world, code).await);
    let (_, second) = resume(&world, "dev", &first, "accept").await;
    let second_id = paused_id(&second);
    assert_ne!(second_id, first);
    // createPet asks by its annotation: its approval description is the message.
    assert_eq!(
        second["structured"]["interaction"]["message"],
        "POST /pets\n\nArguments:\n{\n  \"body\": {\n    \"name\": \"new\"\n  }\n}"
    );
    assert_eq!(upstream(&world), vec!["GET /pets/1"]);

    // A repeated resume of the first id answers the same pause; it never approves the second.
    let (_, repeated) = resume(&world, "dev", &first, "accept").await;
    assert_eq!(repeated, second);
    assert_eq!(get(&world, "dev", &first).await.0, 404);
    assert_eq!(get(&world, "dev", &second_id).await.0, 200);

    let (_, done) = resume(&world, "dev", &second_id, "accept").await;
    assert_eq!(done["structured"]["result"], json!(["Rex", "new"]));
    assert_eq!(upstream(&world), vec!["GET /pets/1", "POST /pets"]);
}

#[tokio::test]
async fn a_replay_that_diverges_settles_with_a_typed_error() {
    let world = world().await;
    let code = "await tools.petstore.org.main.pets.listPets({ limit: 1 });\n\
                return await tools.petstore.org.main.pets.getPet({ petId: 1 });";
    let id = paused_id(&execute(&world, code).await);
    // Someone changed what the run would do (here: the stored code).
    world
        .sql
        .execute(Statement::new(
            "UPDATE execution SET code = ?1 WHERE id = ?2",
            vec![
                code.replace("limit: 1", "limit: 2").into(),
                id.as_str().into(),
            ],
        ))
        .await
        .unwrap();
    let (status, done) = resume(&world, "dev", &id, "decline").await;
    assert_eq!(status, 200);
    assert_eq!(done["isError"], true);
    let error = done["structured"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the script did not replay deterministically: call #1"),
        "{error}"
    );
    // Settled: a repeated resume answers the same.
    assert_eq!(resume(&world, "dev", &id, "accept").await.1, done);
    assert_eq!(upstream(&world), vec!["GET /pets?limit=1"]);
}

#[tokio::test]
async fn a_resume_in_progress_is_refused_and_a_stale_one_is_taken_over() {
    let world = world().await;
    let id = paused_id(&execute(&world, GET_PET).await);
    let set_running = |lease_until: f64, decision: Option<&str>| {
        world.sql.execute(Statement::new(
            "UPDATE execution SET status = 'running', claim = 'other', lease_until = ?1, \
             decision = ?2 WHERE id = ?3",
            vec![
                (lease_until as i64).into(),
                decision.map(str::to_owned).into(),
                id.as_str().into(),
            ],
        ))
    };
    set_running(NOW_MS + 1000.0, None).await.unwrap();
    let (status, busy) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(status, 409);
    assert_eq!(busy["_tag"], "ExecutionInProgressError");
    // While a decision is being made, the execution is no longer offered as paused.
    set_running(
        NOW_MS - 1.0,
        Some(
            r#"{"at":1795000000000,"calls":[{"seq":1,"path":"petstore.org.main.pets.getPet",
                "args":{"petId":1},"reply":{"ok":{"ok":true,"data":"recorded earlier"}}}]}"#,
        ),
    )
    .await
    .unwrap();
    assert_eq!(get(&world, "dev", &id).await.0, 404);
    // The lease ran out (that resume's isolate went away after recording the decision): the
    // next resume takes over and uses the recorded outcome instead of calling again.
    let (status, done) = resume(&world, "dev", &id, "decline").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["structured"]["result"],
        json!({ "ok": true, "data": "recorded earlier" })
    );
    assert!(upstream(&world).is_empty());
}

#[tokio::test]
async fn oversized_executions_do_not_pause() {
    let world = world().await;
    let padding = "x".repeat(super::MAX_PAUSED_ROW_BYTES);
    let code = format!("// {padding}\n{GET_PET}");
    let body = execute(&world, &code).await;
    assert_eq!(body["status"], "completed");
    assert_eq!(body["isError"], true);
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("too large to pause"),
        "{body}"
    );
    assert!(upstream(&world).is_empty());
}

#[tokio::test]
async fn mcp_resume_works_from_a_brand_new_session() {
    let world = world().await;
    let principal = crate::auth::dev_principal(&world.config);
    let dispatch = crate::mcp::server::Dispatch {
        services: world.services(),
        principal: &principal,
        web_origin: None,
        mode: crate::mcp::ElicitationMode::Model,
        session_id: None,
    };
    let call = |id: u64, name: &str, arguments: Value| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": { "name": name, "arguments": arguments } })
    };
    let answer = |reply: crate::mcp::server::Answer| match reply {
        crate::mcp::server::Answer::Reply(v) => v["result"].clone(),
        crate::mcp::server::Answer::Nothing => panic!("no reply"),
    };
    let paused = answer(
        dispatch
            .answer(&call(1, "execute", json!({ "code": GET_PET })))
            .await,
    );
    assert_eq!(
        paused["structuredContent"]["status"],
        "waiting_for_interaction"
    );
    assert!(paused.get("isError").is_none());
    let id = paused["structuredContent"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(paused["content"][0]["text"].as_str().unwrap().lines().next().unwrap(),
        "Execution paused: Approve tools.petstore.org.main.pets.getPet? (matched policy: petstore.org.main.pets.getPet)");

    // Another session of the same principal (a new Dispatch) resumes it; `content` may be junk.
    let fresh = crate::mcp::server::Dispatch {
        services: world.services(),
        principal: &principal,
        web_origin: Some("http://127.0.0.1:8787"),
        mode: crate::mcp::ElicitationMode::Model,
        session_id: None,
    };
    let done = answer(
        fresh
            .answer(&call(
                2,
                "resume",
                json!({ "executionId": id, "action": "accept", "content": "not json" }),
            ))
            .await,
    );
    assert_eq!(done["structuredContent"]["status"], "completed", "{done}");
    assert_eq!(done["structuredContent"]["result"]["data"]["id"], 1);
    assert_eq!(upstream(&world), vec!["GET /pets/1"]);

    // The REST surface sees the same settled outcome.
    let (_, rest) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(rest["structured"], done["structuredContent"]);

    // Unknown ids: the guidance to run execute again.
    let missing = answer(
        fresh
            .answer(&call(
                3,
                "resume",
                json!({ "executionId": "exec_gone", "action": "accept" }),
            ))
            .await,
    );
    assert_eq!(missing["isError"], true);
    assert_eq!(
        missing["structuredContent"],
        json!({ "status": "execution_not_found", "executionId": "exec_gone", "recovery": "re_execute" })
    );
    assert!(missing["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("run the execute tool again"));

    // Bad arguments are validation errors.
    let bad = answer(
        fresh
            .answer(&call(
                4,
                "resume",
                json!({ "executionId": id, "action": "yes" }),
            ))
            .await,
    );
    assert_eq!(bad["isError"], true);
    assert!(bad["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("action"));
}

#[tokio::test]
async fn built_in_tools_pause_too_and_run_once_approved() {
    let world = world().await;
    let blocks = |body: Value| {
        body.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["pattern"] == "petstore.*.*.pets.deletePet")
            .count()
    };
    let code = "return await tools.executor.coreTools.policies.create(\
                { owner: 'user', pattern: 'petstore.*.*.pets.deletePet', action: 'block' });";
    let paused = execute(&world, code).await;
    let id = paused_id(&paused);
    assert_eq!(
        paused["structured"]["interaction"]["address"],
        "executor.coreTools.policies.create"
    );
    let listed = world.call("GET", "/api/policies", None).await;
    assert_eq!(blocks(listed.json_body().unwrap()), 0);

    let (_, done) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(done["structured"]["result"]["ok"], true, "{done}");
    let listed = world.call("GET", "/api/policies", None).await;
    assert_eq!(blocks(listed.json_body().unwrap()), 1);
    // A repeated resume does not create it twice.
    let (_, again) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(again, done);
    let listed = world.call("GET", "/api/policies", None).await;
    assert_eq!(blocks(listed.json_body().unwrap()), 1);
}

#[tokio::test]
async fn concurrent_executions_per_caller_are_capped() {
    let mut world = world().await;
    world.config.execute_max_concurrent = 2;
    let mut principal = crate::auth::dev_principal(&world.config);
    principal.account_id = "dev".into();
    // Two runs of `dev` in flight (held as a run waiting on a tool would hold them).
    let first = super::running::acquire(&principal, 2).unwrap();
    let second = super::running::acquire(&principal, 2).unwrap();

    let (status, body) = post(
        &world,
        "dev",
        "/api/executions",
        json!({ "code": "return 1" }),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["_tag"], "ExecutionLimitError");
    assert_eq!(body["limit"], 2);
    assert!(body["message"].as_str().unwrap().contains("at most 2"));

    // The same answer on /mcp, as a tool error the model can read (not an internal error).
    let dispatch = crate::mcp::server::Dispatch {
        services: world.services(),
        principal: &principal,
        web_origin: None,
        mode: crate::mcp::ElicitationMode::Model,
        session_id: None,
    };
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": { "name": "execute", "arguments": { "code": "return 1" } } });
    let crate::mcp::server::Answer::Reply(reply) = dispatch.answer(&call).await else {
        panic!("no reply")
    };
    assert_eq!(reply["result"]["isError"], true);
    assert_eq!(
        reply["result"]["structuredContent"]["code"],
        "execution_limit"
    );

    // Another caller is not affected.
    let (status, _) = post(
        &world,
        "someone-else",
        "/api/executions",
        json!({ "code": "return 1" }),
    )
    .await;
    assert_eq!(status, 200);

    // A paused execution's resume waits for a slot too, and the refused resume leaves the
    // row as it was: once a slot is free, the same resume goes through.
    drop(second);
    let (status, paused) = post(&world, "dev", "/api/executions", json!({ "code": GET_PET })).await;
    assert_eq!(
        (status, paused["status"].as_str()),
        (200, Some("paused")),
        "{paused}"
    );
    let id = paused["structured"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = super::running::acquire(&principal, 2).unwrap();
    let resume = format!("/api/executions/{id}/resume");
    let (status, body) = post(&world, "dev", &resume, json!({ "action": "accept" })).await;
    assert_eq!(status, 429, "{body}");
    assert!(upstream(&world).is_empty());
    drop((first, again));
    let (status, body) = post(&world, "dev", &resume, json!({ "action": "accept" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["structured"]["status"], "completed", "{body}");
    assert_eq!(upstream(&world), vec!["GET /pets/1"]);
    // Every slot was given back.
    let slots: Vec<_> = (0..2)
        .map(|_| super::running::acquire(&principal, 2).unwrap())
        .collect();
    drop(slots);
}

/// The lease rows (`execution_lease`) as `(subject, expires_at)`.
async fn leases(world: &TestWorld) -> Vec<(String, i64)> {
    let rows = world
        .sql
        .query(Statement::new(
            "SELECT subject, expires_at FROM execution_lease ORDER BY expires_at, subject",
            vec![],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r["subject"].as_str().unwrap().to_owned(),
                r["expires_at"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A lease row written as another isolate would have written it.
async fn insert_lease(world: &TestWorld, user: &str, id: &str, expires_at: i64) {
    world
        .sql
        .execute(Statement::new(
            "INSERT INTO execution_lease (id, tenant, subject, expires_at) VALUES (?1, ?2, ?3, ?4)",
            vec![
                id.into(),
                world.tenant().into(),
                user.into(),
                expires_at.into(),
            ],
        ))
        .await
        .unwrap();
}

/// The MCP `execute` tool's answer for `dev`.
async fn mcp_execute(world: &TestWorld, code: &str) -> Value {
    let mut principal = crate::auth::dev_principal(&world.config);
    principal.account_id = "dev".into();
    let dispatch = crate::mcp::server::Dispatch {
        services: world.services(),
        principal: &principal,
        web_origin: None,
        mode: crate::mcp::ElicitationMode::Model,
        session_id: None,
    };
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": { "name": "execute", "arguments": { "code": code } } });
    let crate::mcp::server::Answer::Reply(reply) = dispatch.answer(&call).await else {
        panic!("no reply")
    };
    reply["result"].clone()
}

#[tokio::test]
async fn leases_held_elsewhere_count_against_the_limit_per_caller() {
    let mut world = world().await;
    world.config.execute_max_concurrent = 2;
    let now = NOW_MS as i64;
    // Two runs of `dev` in flight on other isolates: nothing runs in this one.
    insert_lease(&world, "dev", "other-isolate-1", now + 60_000).await;
    insert_lease(&world, "dev", "other-isolate-2", now + 60_000).await;

    let (status, body) = post(
        &world,
        "dev",
        "/api/executions",
        json!({ "code": "return 1" }),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["_tag"], "ExecutionLimitError");
    assert_eq!(body["limit"], 2);
    let result = mcp_execute(&world, "return 1").await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(result["structuredContent"]["code"], "execution_limit");
    // A refused run wrote no lease.
    assert_eq!(leases(&world).await.len(), 2);

    // Another caller is not affected, and gives its lease back.
    let (status, body) = post(
        &world,
        "someone-else",
        "/api/executions",
        json!({ "code": "return 2" }),
    )
    .await;
    assert_eq!((status, &body["structured"]["result"]), (200, &json!(2)));
    assert_eq!(leases(&world).await.len(), 2);

    // One of them ends: there is room again.
    world
        .sql
        .execute(Statement::new(
            "DELETE FROM execution_lease WHERE id = 'other-isolate-1'",
            vec![],
        ))
        .await
        .unwrap();
    let done = execute(&world, "return 3").await;
    assert_eq!(done["structured"]["result"], 3, "{done}");
    assert_eq!(leases(&world).await, vec![("dev".to_owned(), now + 60_000)]);
}

#[tokio::test]
async fn expired_leases_do_not_count_and_are_cleaned_up() {
    let mut world = world().await;
    world.config.execute_max_concurrent = 1;
    world.config.execute_timeout_ms = 5_000;
    let now = NOW_MS as i64;
    // An isolate that died mid-run never released its lease.
    insert_lease(&world, "dev", "crashed", now - 1).await;
    insert_lease(&world, "someone-else", "crashed-too", now).await;
    let done = execute(&world, "return 1").await;
    assert_eq!(done["structured"]["result"], 1, "{done}");
    // The release removed them too.
    assert!(leases(&world).await.is_empty());

    // A lease taken and never given back (the request's future was dropped) blocks until the
    // run's wall-clock limit plus the margin has passed, and not after.
    let mut principal = crate::auth::dev_principal(&world.config);
    principal.account_id = "dev".into();
    let held = super::lease::acquire(world.services(), &principal, 5_000)
        .await
        .ok()
        .unwrap();
    drop(held);
    let expires = now + 5_000 + super::lease::MARGIN_MS;
    assert_eq!(leases(&world).await, vec![("dev".to_owned(), expires)]);
    let (status, body) = post(
        &world,
        "dev",
        "/api/executions",
        json!({ "code": "return 1" }),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    world.clock = FixedClock((expires - 1) as f64);
    let (status, _) = post(
        &world,
        "dev",
        "/api/executions",
        json!({ "code": "return 1" }),
    )
    .await;
    assert_eq!(status, 429);
    world.clock = FixedClock(expires as f64);
    let (status, body) = post(
        &world,
        "dev",
        "/api/executions",
        json!({ "code": "return 1" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(leases(&world).await.is_empty());
}

#[tokio::test]
async fn every_ending_gives_the_lease_back() {
    let mut world = world().await;
    // One slot: any lease left behind makes the next execution a 429.
    world.config.execute_max_concurrent = 1;
    for (code, status) in [
        ("return 1", "completed"),
        ("throw new Error('boom')", "error"),
        ("return (", "error"),
        (
            "return await tools.petstore.org.main.pets.listPets({ limit: 1 });",
            "completed",
        ),
    ] {
        let body = execute(&world, code).await;
        assert_eq!(body["structured"]["status"], status, "{code}: {body}");
        assert!(leases(&world).await.is_empty(), "{code}");
    }
    let result = mcp_execute(&world, "return 1").await;
    assert_eq!(
        result["structuredContent"]["status"], "completed",
        "{result}"
    );
    assert!(leases(&world).await.is_empty());

    // Paused for approval: not running, so no lease while it waits.
    let first = paused_id(&execute(&world, GET_PET).await);
    assert!(leases(&world).await.is_empty());
    // A resume takes a slot and gives it back: accepted, then a repeated resume.
    let (status, body) = resume(&world, "dev", &first, "accept").await;
    assert_eq!(status, 200, "{body}");
    assert!(leases(&world).await.is_empty());
    let (status, _) = resume(&world, "dev", &first, "accept").await;
    assert_eq!(status, 200);
    assert!(leases(&world).await.is_empty());
    // A resume that pauses again, then a declined one.
    let code = "await tools.petstore.org.main.pets.getPet({ petId: 1 }); \
                return await tools.petstore.org.main.pets.getPet({ petId: 2 });";
    let id = paused_id(&execute(&world, code).await);
    let (_, next) = resume(&world, "dev", &id, "accept").await;
    let next = paused_id(&next);
    assert!(leases(&world).await.is_empty());
    let (status, body) = resume(&world, "dev", &next, "decline").await;
    assert_eq!(status, 200, "{body}");
    assert!(leases(&world).await.is_empty());

    // A resume refused by the limit leaves the row paused and takes nothing.
    let id = paused_id(&execute(&world, GET_PET).await);
    insert_lease(&world, "dev", "elsewhere", NOW_MS as i64 + 60_000).await;
    let (status, body) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(leases(&world).await.len(), 1);
    world
        .sql
        .execute(Statement::new("DELETE FROM execution_lease", vec![]))
        .await
        .unwrap();
    let (status, body) = resume(&world, "dev", &id, "accept").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["structured"]["status"], "completed", "{body}");

    // A storage failure after the run (the pause cannot be written) still gives it back.
    world
        .sql
        .execute(Statement::new("DROP TABLE execution", vec![]))
        .await
        .unwrap();
    let (status, _) = post(&world, "dev", "/api/executions", json!({ "code": GET_PET })).await;
    assert_eq!(status, 500);
    assert!(leases(&world).await.is_empty());
    assert_eq!(execute(&world, "return 5").await["structured"]["result"], 5);

    // Without D1 leases the isolate's own count still applies, and code still runs.
    world
        .sql
        .execute(Statement::new("DROP TABLE execution_lease", vec![]))
        .await
        .unwrap();
    assert_eq!(execute(&world, "return 6").await["structured"]["result"], 6);
    let mut principal = crate::auth::dev_principal(&world.config);
    principal.account_id = "dev".into();
    let held = super::running::acquire(&principal, 1).unwrap();
    let (status, _) = post(
        &world,
        "dev",
        "/api/executions",
        json!({ "code": "return 7" }),
    )
    .await;
    assert_eq!(status, 429);
    drop(held);
}
