//! Route-level tests of `GET /api/audit` and of what executions record, through the router,
//! against a scripted petstore upstream.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::catalog::testing::{add_policy, connect, petstore_spec, seed_openapi};
use crate::http::testing::{TestWorld, NOW_MS};
use crate::net::http::OutboundResponse;
use crate::owner::Owner;
use crate::store::{Sql, Statement};
use crate::time::FixedClock;

const BASE: &str = "https://petstore.example.test";
const SECRET: &str = "pet-secret-audit-canary-1";

/// Petstore with an org connection holding [`SECRET`]; `deletePet` is blocked (org rule) and
/// `getPet` needs the user's approval (user rule of `dev`). `/pets/404` answers 404.
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
    connect(&world, "dev", "petstore", Owner::Org, "main", SECRET).await;
    add_policy(
        &world,
        Owner::Org,
        "petstore.org.main.pets.deletePet",
        "block",
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
        let (status, body) = match (r.method.as_str(), path.split('?').next()?) {
            ("GET", "/pets") => (200, r#"[{"id":1,"name":"Rex","tag":"dog"}]"#.to_owned()),
            ("GET", "/pets/404") => (404, r#"{"message":"no such pet"}"#.to_owned()),
            ("GET", pet) if pet.starts_with("/pets/") => {
                (200, format!(r#"{{"id":{},"name":"Rex"}}"#, &pet[6..]))
            }
            _ => return None,
        };
        Some(OutboundResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into_bytes(),
        })
    });
    world
}

async fn execute(world: &TestWorld, user: &str, code: &str) -> Value {
    let r = world
        .send(
            Some(user),
            "POST",
            "/api/executions",
            Some(&json!({ "code": code })),
        )
        .await;
    assert_eq!(r.status, 200);
    r.json_body().unwrap()
}

async fn resume(world: &TestWorld, id: &str, action: &str) -> Value {
    let r = world
        .call(
            "POST",
            &format!("/api/executions/{id}/resume"),
            Some(&json!({ "action": action })),
        )
        .await;
    assert_eq!(r.status, 200);
    r.json_body().unwrap()
}

fn paused_id(body: &Value) -> String {
    assert_eq!(body["status"], "paused", "{body}");
    body["structured"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET /api/audit?<query>` as `dev`: the raw answer (checked for the secret) and its JSON.
async fn audit(world: &TestWorld, query: &str) -> (u16, Value) {
    let r = world
        .call("GET", &format!("/api/audit?{query}"), None)
        .await;
    let raw = String::from_utf8_lossy(&r.body).into_owned();
    assert!(!raw.contains(SECRET), "the audit answer holds the secret");
    (r.status, r.json_body().unwrap_or(Value::Null))
}

async fn items(world: &TestWorld, query: &str) -> Vec<Value> {
    let (status, body) = audit(world, query).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// `(tool name, decision, outcome)` of rows, newest first.
fn summary(rows: &[Value]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|r| {
            let address = r["address"].as_str().unwrap();
            (
                address.rsplit('.').next().unwrap().to_owned(),
                r["decision"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn s(name: &str, decision: &str, outcome: &str) -> (String, String, String) {
    (name.into(), decision.into(), outcome.into())
}

#[tokio::test]
async fn runs_record_allowed_blocked_approved_and_declined_calls() {
    let mut world = world().await;
    assert_eq!(items(&world, "").await, Vec::<Value>::new());

    // Allowed (ok, and an upstream 404), blocked, unknown; catalog reads are not recorded.
    let done = execute(
        &world,
        "dev",
        "await tools.search({ query: 'pets' });\n\
         await tools.petstore.org.main.pets.listPets({ limit: 1 });\n\
         await tools.petstore.org.main.store.getInventory({});\n\
         const d = await tools.petstore.org.main.pets.deletePet({ petId: 1 });\n\
         const n = await tools.petstore.org.main.pets.nope({});\n\
         return [d.error.code, n.error.code];",
    )
    .await;
    assert_eq!(
        done["structured"]["result"],
        json!(["tool_blocked", "tool_not_found"])
    );
    let rows = items(&world, "").await;
    assert_eq!(
        summary(&rows),
        vec![
            s("nope", "allowed", "tool_not_found"),
            s("deletePet", "blocked", "tool_blocked"),
            s("getInventory", "allowed", "upstream_unreachable"),
            s("listPets", "allowed", "ok"),
        ]
    );
    let list = &rows[3];
    assert_eq!(
        list,
        &json!({
            "id": list["id"], "time": NOW_MS as i64,
            "principal": {"subject": "dev", "email": "dev@example.test"},
            "address": "tools.petstore.org.main.pets.listPets",
            "integration": "petstore", "connection": "org.main",
            "decision": "allowed", "outcome": "ok", "durationMs": 0, "httpStatus": 200,
            "executionId": null,
        })
    );
    assert_eq!(rows[1]["httpStatus"], Value::Null);

    // Approval: the pause is recorded with its execution id, the call before it too.
    world.clock = FixedClock(NOW_MS + 1000.0);
    let paused = execute(
        &world,
        "dev",
        "await tools.petstore.org.main.pets.listPets({});\n\
         return (await tools.petstore.org.main.pets.getPet({ petId: 7 })).data;",
    )
    .await;
    let accepted = paused_id(&paused);
    let rows = items(&world, "limit=2").await;
    assert_eq!(
        summary(&rows),
        vec![
            s("getPet", "approval_required", "pending"),
            s("listPets", "allowed", "ok")
        ]
    );
    assert!(rows.iter().all(|r| r["executionId"] == json!(accepted)));

    // Accept: the approved call is recorded once; the replayed listPets is not recorded again.
    world.clock = FixedClock(NOW_MS + 2000.0);
    let done = resume(&world, &accepted, "accept").await;
    assert_eq!(
        done["structured"]["result"],
        json!({"id": 7, "name": "Rex"})
    );
    let rows = items(&world, "limit=3").await;
    assert_eq!(
        summary(&rows),
        vec![
            s("getPet", "approved", "ok"),
            s("getPet", "approval_required", "pending"),
            s("listPets", "allowed", "ok"),
        ]
    );
    assert_eq!(rows[0]["httpStatus"], 200);
    assert_eq!(rows[0]["executionId"], json!(accepted));
    // A repeated resume records nothing.
    resume(&world, &accepted, "accept").await;
    assert_eq!(items(&world, "").await.len(), 7);

    // Decline and cancel.
    world.clock = FixedClock(NOW_MS + 3000.0);
    let declined = paused_id(
        &execute(
            &world,
            "dev",
            "return await tools.petstore.org.main.pets.getPet({ petId: 8 });",
        )
        .await,
    );
    resume(&world, &declined, "decline").await;
    let cancelled = paused_id(
        &execute(
            &world,
            "dev",
            "return await tools.petstore.org.main.pets.getPet({ petId: 9 });",
        )
        .await,
    );
    resume(&world, &cancelled, "cancel").await;
    let rows = items(&world, "limit=4").await;
    assert_eq!(
        summary(&rows),
        vec![
            s("getPet", "cancelled", "not_run"),
            s("getPet", "approval_required", "pending"),
            s("getPet", "declined", "not_run"),
            s("getPet", "approval_required", "pending"),
        ]
    );
    assert_eq!(rows[2]["executionId"], json!(declined));
    assert_eq!(rows[2]["integration"], "petstore");
    assert_eq!(rows[2]["connection"], "org.main");
    assert_eq!(rows[0]["executionId"], json!(cancelled));

    // Another principal's calls, and a pause that is never awaited.
    world.clock = FixedClock(NOW_MS + 4000.0);
    execute(
        &world,
        "bob",
        "tools.petstore.org.main.pets.getPet({ petId: 404 }); \
         return (await tools.petstore.org.main.pets.getPet({ petId: 404 })).error.status;",
    )
    .await;
    let bob = items(&world, "principal=bob").await;
    assert_eq!(
        summary(&bob),
        vec![
            s("getPet", "allowed", "upstream_http_error"),
            s("getPet", "allowed", "upstream_http_error"),
        ]
    );
    assert_eq!(bob[0]["httpStatus"], 404);
    assert_eq!(bob[0]["principal"]["email"], "bob@example.test");
    assert_eq!(items(&world, "principal=bob%40example.test").await, bob);
    let done = execute(
        &world,
        "dev",
        "tools.petstore.org.main.pets.getPet({ petId: 1 });\n\
         await tools.petstore.org.main.pets.listPets({});\n\
         return 1;",
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    let never = items(&world, "decision=approval_required&outcome=not_run").await;
    assert_eq!(
        summary(&never),
        vec![s("getPet", "approval_required", "not_run")]
    );
    assert_eq!(never[0]["executionId"], Value::Null);
}

#[tokio::test]
async fn filters_and_paging() {
    let mut world = world().await;
    for (i, code) in [
        "await tools.petstore.org.main.pets.listPets({});",
        "await tools.petstore.org.main.pets.deletePet({ petId: 1 });",
        "await tools.executor.coreTools.connections.list({});",
        "await tools.petstore.org.main.pets.listPets({});",
        "await tools.petstore.org.main.pets.deletePet({ petId: 2 });",
    ]
    .iter()
    .enumerate()
    {
        world.clock = FixedClock(NOW_MS + 1000.0 * i as f64);
        execute(&world, "dev", code).await;
    }
    let all = items(&world, "").await;
    assert_eq!(all.len(), 5);
    let times: Vec<i64> = all.iter().map(|r| r["time"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");
    assert_eq!(all[2]["address"], "executor.coreTools.connections.list");
    assert_eq!(all[2]["integration"], "executor");
    assert_eq!(all[2]["connection"], Value::Null);

    // Paging: two rows a page, newest first, each row once.
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let (status, page) = audit(&world, &query).await;
        assert_eq!(status, 200);
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, all);

    let count = |rows: Vec<Value>| rows.len();
    assert_eq!(count(items(&world, "decision=blocked").await), 2);
    assert_eq!(count(items(&world, "outcome=ok").await), 3);
    assert_eq!(count(items(&world, "integration=executor").await), 1);
    assert_eq!(
        count(items(&world, "address=tools.petstore.org.main.pets.list").await),
        2
    );
    assert_eq!(count(items(&world, "address=tools.").await), 4);
    assert_eq!(count(items(&world, "principal=dev").await), 5);
    assert_eq!(count(items(&world, "principal=alice").await), 0);
    let from = NOW_MS as i64 + 1000;
    let to = NOW_MS as i64 + 4000;
    assert_eq!(
        count(items(&world, &format!("from={from}&to={to}")).await),
        3
    );
    assert_eq!(
        count(items(&world, "from=2020-01-01&to=2020-01-02T00:00:00Z").await),
        0
    );
    // NOW_MS is 2026-11-18T11:06:40Z.
    assert_eq!(
        count(
            items(
                &world,
                "from=2026-11-18T11:06:41Z&to=2026-11-18T12:06:43%2B01:00"
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(items(&world, "decision=blocked&from=&limit=1").await),
        1
    );

    // Bad filters are typed 400s.
    for (query, field) in [
        ("decision=maybe", "decision"),
        ("outcome=Not%20A%20Code", "outcome"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=nope", "cursor"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=5&to=4", "from"),
        ("colour=red", "colour"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (status, body) = audit(&world, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["_tag"], "InvalidAuditFilterError", "{query}");
        assert_eq!(body["field"], field, "{query}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The limit is capped, not refused.
    assert_eq!(audit(&world, "limit=100000").await.0, 200);
    // No identity: 401.
    let r = world.send(None, "GET", "/api/audit", None).await;
    assert_eq!(r.status, 401);
}

async fn audit_rows(world: &TestWorld) -> i64 {
    let rows = world
        .sql
        .query(Statement::new("SELECT COUNT(*) AS n FROM audit", vec![]))
        .await
        .unwrap();
    rows[0]["n"].as_i64().unwrap()
}

#[tokio::test]
async fn writes_prune_by_age_and_by_count() {
    let mut world = world().await;
    // Rows older than the retention go on the next write.
    let old = NOW_MS as i64 - world.config.audit_retention_ms as i64 - 1;
    world
        .exec(
            "INSERT INTO audit (tenant, time, subject, email, address, decision, outcome, \
             duration_ms) VALUES ('t', ?1, 's', '', 'tools.x.org.y.z', 'allowed', 'ok', 0)",
            vec![old.into()],
        )
        .await;
    execute(
        &world,
        "dev",
        "await tools.petstore.org.main.pets.listPets({});",
    )
    .await;
    assert_eq!(audit_rows(&world).await, 1);

    // At most `audit_max_rows` are kept: the oldest go.
    world.config.audit_max_rows = 3;
    world.clock = FixedClock(NOW_MS + 1.0);
    execute(
        &world,
        "dev",
        "for (let i = 0; i < 4; i++) await tools.petstore.org.main.pets.listPets({ limit: i });",
    )
    .await;
    assert_eq!(audit_rows(&world).await, 3);
    let rows = items(&world, "").await;
    assert!(rows.iter().all(|r| r["time"] == NOW_MS as i64 + 1));
}

#[tokio::test]
async fn a_failing_audit_write_does_not_fail_the_run() {
    let world = world().await;
    world.exec("DROP TABLE audit", vec![]).await;
    let done = execute(
        &world,
        "dev",
        "return (await tools.petstore.org.main.pets.listPets({})).ok;",
    )
    .await;
    assert_eq!(done["structured"]["result"], true);
    // The pause is still stored (without its audit rows) and can be resumed.
    let id = paused_id(
        &execute(
            &world,
            "dev",
            "return (await tools.petstore.org.main.pets.getPet({ petId: 2 })).data;",
        )
        .await,
    );
    let done = resume(&world, &id, "accept").await;
    assert_eq!(
        done["structured"]["result"],
        json!({"id": 2, "name": "Rex"})
    );
}
