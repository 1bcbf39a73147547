//! Open approvals and the MCP browser-approval flow, against a scripted petstore upstream.

#![allow(clippy::unwrap_used)]

use std::cell::Cell;

use serde_json::{json, Value};

use crate::catalog::testing::{add_policy, connect, petstore_spec, seed_openapi};
use crate::http::testing::TestWorld;
use crate::mcp::server::{Answer, Dispatch};
use crate::mcp::ElicitationMode;
use crate::net::http::OutboundResponse;
use crate::owner::Owner;

const BASE: &str = "https://petstore.example.test";
const GET_PET: &str = "return await tools.petstore.org.main.pets.getPet({ petId: 1 });";
const SID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_SID: &str = "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Petstore with a `require_approval` rule on getPet for `dev`.
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
        let id = path.strip_prefix("/pets/")?;
        Some(OutboundResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: format!(r#"{{"id":{id},"name":"Rex"}}"#).into_bytes(),
        })
    });
    world
}

async fn send(
    world: &TestWorld,
    user: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = world.send(Some(user), method, path, body.as_ref()).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

fn call(name: &str, arguments: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": name, "arguments": arguments } })
}

async fn answer(dispatch: &Dispatch<'_>, message: Value) -> Value {
    match dispatch.answer(&message).await {
        Answer::Reply(v) => v["result"].clone(),
        Answer::Nothing => panic!("no reply"),
    }
}

fn browser<'a>(
    world: &'a TestWorld,
    services: crate::app::Services<'a>,
    principal: &'a crate::auth::Principal,
) -> Dispatch<'a> {
    let _ = world;
    Dispatch {
        services,
        principal,
        web_origin: Some("https://console.example.test"),
        mode: ElicitationMode::Browser,
        session_id: Some(SID),
    }
}

fn dev(world: &TestWorld) -> crate::auth::Principal {
    let mut principal = crate::auth::dev_principal(&world.config);
    principal.account_id = "dev".into();
    principal.email = "dev@example.test".into();
    principal.name = Some("dev".into());
    principal
}

#[tokio::test]
async fn open_approvals_are_listed_newest_first_with_paging() {
    let world = world().await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let code = format!("return await tools.petstore.org.main.pets.getPet({{ petId: {n} }});");
        let (status, body) = send(
            &world,
            "dev",
            "POST",
            "/api/executions",
            Some(json!({ "code": code })),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        ids.push(
            body["structured"]["executionId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Same instant (fixed clock): ties are broken by id, descending.
    let mut expected = ids.clone();
    expected.sort();
    expected.reverse();

    let (status, page) = send(
        &world,
        "dev",
        "GET",
        "/api/executions?status=paused&limit=2",
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let listed: Vec<&str> = page["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["executionId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, &[expected[0].as_str(), expected[1].as_str()]);
    let first = &page["executions"][0];
    assert_eq!(first["address"], "tools.petstore.org.main.pets.getPet");
    assert!(first["message"]
        .as_str()
        .unwrap()
        .starts_with("Approve tools.petstore.org.main.pets.getPet?"));
    assert!(first["argsPreview"]
        .as_str()
        .unwrap()
        .starts_with("{\"petId\":"));
    assert_eq!(first["argsTruncated"], false);
    assert!(first["expiresAt"].as_i64().unwrap() > first["createdAt"].as_i64().unwrap());
    assert!(first.get("mcpSessionId").is_none());
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, rest) = send(
        &world,
        "dev",
        "GET",
        &format!(
            "/api/executions?limit=2&cursor={}",
            crate::http::percent_encode(cursor)
        ),
        None,
    )
    .await;
    assert_eq!(rest["executions"].as_array().unwrap().len(), 1);
    assert_eq!(rest["executions"][0]["executionId"], expected[2].as_str());
    assert_eq!(rest["nextCursor"], Value::Null);

    // Someone else sees nothing; an answered one leaves the list.
    let (_, theirs) = send(&world, "eve", "GET", "/api/executions", None).await;
    assert_eq!(theirs, json!({ "executions": [], "nextCursor": null }));
    let (status, _) = send(
        &world,
        "dev",
        "POST",
        &format!("/api/executions/{}/resume", ids[0]),
        Some(json!({ "action": "decline" })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, after) = send(&world, "dev", "GET", "/api/executions", None).await;
    assert_eq!(after["executions"].as_array().unwrap().len(), 2);

    for bad in [
        "status=settled",
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=nope",
    ] {
        let (status, body) = send(
            &world,
            "dev",
            "GET",
            &format!("/api/executions?{bad}"),
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["_tag"], "HttpApiSchemaError");
    }
    let r = world.send(None, "GET", "/api/executions", None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn long_arguments_are_cut_in_the_list() {
    let world = world().await;
    let code = format!(
        "return await tools.petstore.org.main.pets.getPet({{ petId: 1, note: \"{}\" }});",
        "n".repeat(5000)
    );
    let (_, body) = send(
        &world,
        "dev",
        "POST",
        "/api/executions",
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!(body["status"], "paused", "{body}");
    let (_, page) = send(&world, "dev", "GET", "/api/executions", None).await;
    let row = &page["executions"][0];
    assert_eq!(row["argsTruncated"], true);
    assert!(
        row["argsPreview"].as_str().unwrap().chars().count()
            <= super::waiting::MAX_ARGS_PREVIEW_CHARS + 1
    );
    assert_eq!(row["messageTruncated"], true);
}

#[tokio::test]
async fn browser_mode_pauses_with_a_link_and_the_console_decides() {
    let world = world().await;
    let principal = dev(&world);
    let dispatch = browser(&world, world.services(), &principal);

    let list = match dispatch
        .answer(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await
    {
        Answer::Reply(v) => v["result"]["tools"].clone(),
        Answer::Nothing => panic!(),
    };
    assert_eq!(list[1]["name"], "resume");
    assert_eq!(list[1]["inputSchema"]["required"], json!(["executionId"]));
    assert!(list[1]["inputSchema"]["properties"].get("action").is_none());

    let paused = answer(&dispatch, call("execute", json!({ "code": GET_PET }))).await;
    let s = &paused["structuredContent"];
    assert_eq!(s["status"], "user_approval_required", "{paused}");
    let id = s["executionId"].as_str().unwrap().to_owned();
    assert_eq!(
        s["approvalUrl"],
        format!("https://console.example.test/resume/{id}?mcp_session_id={SID}")
    );
    assert!(paused["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("User approval required."));
    assert!(s["resumePrompt"].as_str().unwrap().contains(&id));

    // The waiting list shows which session it belongs to.
    let (_, page) = send(&world, "dev", "GET", "/api/executions?status=paused", None).await;
    assert_eq!(page["executions"][0]["mcpSessionId"], SID);

    // Nobody decided: resume polls (the host timer does not wait) and hands the link out again.
    let again = answer(&dispatch, call("resume", json!({ "executionId": id }))).await;
    assert_eq!(again["structuredContent"], paused["structuredContent"]);
    assert!(world.http.requests.borrow().is_empty());

    // The approval page's routes: only for that session, the owner, and well-formed ids.
    let path = format!("/api/mcp-sessions/{SID}/executions/{id}");
    let (status, shown) = send(&world, "dev", "GET", &path, None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["structured"]["status"], "waiting_for_interaction");
    assert_eq!(
        shown["structured"]["interaction"]["args"],
        json!({ "petId": 1 })
    );
    for (user, p) in [
        (
            "dev",
            format!("/api/mcp-sessions/{OTHER_SID}/executions/{id}"),
        ),
        (
            "dev",
            format!("/api/mcp-sessions/not-a-session/executions/{id}"),
        ),
        (
            "dev",
            format!("/api/mcp-sessions/{SID}/executions/exec_nope"),
        ),
        ("eve", path.clone()),
    ] {
        let (status, body) = send(&world, user, "GET", &p, None).await;
        assert_eq!(status, 404, "{p}: {body}");
        assert_eq!(body["_tag"], "ExecutionNotFoundError");
        let (status, _) = send(
            &world,
            user,
            "POST",
            &format!("{p}/resume"),
            Some(json!({ "action": "accept" })),
        )
        .await;
        assert_eq!(status, 404, "{p}");
    }
    for bad in [
        json!({}),
        json!({ "action": "maybe" }),
        json!({ "action": "accept", "content": "x" }),
        json!([1]),
    ] {
        let (status, body) = send(
            &world,
            "dev",
            "POST",
            &format!("{path}/resume"),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid approval response"));
    }
    let r = world
        .send(
            None,
            "POST",
            &format!("{path}/resume"),
            Some(&json!({ "action": "accept" })),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(world.http.requests.borrow().is_empty());

    let (status, decided) = send(
        &world,
        "dev",
        "POST",
        &format!("{path}/resume"),
        Some(json!({ "action": "accept", "content": {} })),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "completed");
    assert_eq!(decided["text"], "I've approved it");
    assert_eq!(
        decided["structured"],
        json!({ "status": "approved", "executionId": id })
    );
    assert_eq!(decided["isError"], false);
    assert_eq!(decided["outcome"]["status"], "completed");
    assert_eq!(decided["outcome"]["structured"]["result"]["data"]["id"], 1);
    assert_eq!(decided["next"], Value::Null);

    // The agent's resume now answers the run's outcome; the link is spent.
    let done = answer(&dispatch, call("resume", json!({ "executionId": id }))).await;
    assert_eq!(done["structuredContent"]["status"], "completed", "{done}");
    assert_eq!(done["structuredContent"]["result"]["data"]["id"], 1);
    assert_eq!(world.http.requests.borrow().len(), 1);
    let (status, _) = send(&world, "dev", "GET", &path, None).await;
    assert_eq!(status, 404);

    let missing = answer(
        &dispatch,
        call("resume", json!({ "executionId": "exec_nope" })),
    )
    .await;
    assert_eq!(
        missing["structuredContent"]["status"],
        "execution_not_found"
    );
    assert_eq!(missing["isError"], true);
}

/// A timer that makes the console's decision while the agent's `resume` waits.
struct DecideWhileWaiting<'a> {
    world: &'a TestWorld,
    path: String,
    action: &'static str,
    sleeps: Cell<u32>,
}

#[async_trait::async_trait(?Send)]
impl crate::time::Timer for DecideWhileWaiting<'_> {
    async fn sleep(&self, _ms: u64) {
        self.sleeps.set(self.sleeps.get() + 1);
        if self.sleeps.get() == 3 {
            let (status, body) = send(
                self.world,
                "dev",
                "POST",
                &self.path,
                Some(json!({ "action": self.action })),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    }
}

#[tokio::test]
async fn a_waiting_resume_sees_the_decision_and_follows_the_next_pause() {
    let world = world().await;
    let principal = dev(&world);
    let code = "const a = await tools.petstore.org.main.pets.getPet({ petId: 1 });\n\
                const b = await tools.petstore.org.main.pets.getPet({ petId: 2 });\n\
                return [a.data.id, b.ok ? b.data.id : b.error.message];";
    let paused = answer(
        &browser(&world, world.services(), &principal),
        call("execute", json!({ "code": code })),
    )
    .await;
    let first = paused["structuredContent"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();

    let approve = DecideWhileWaiting {
        world: &world,
        path: format!("/api/mcp-sessions/{SID}/executions/{first}/resume"),
        action: "accept",
        sleeps: Cell::new(0),
    };
    let mut services = world.services();
    services.timer = &approve;
    let next = answer(
        &browser(&world, services, &principal),
        call("resume", json!({ "executionId": first })),
    )
    .await;
    assert_eq!(approve.sleeps.get(), 3);
    let s = &next["structuredContent"];
    assert_eq!(s["status"], "user_approval_required", "{next}");
    let second = s["executionId"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    // The continuation keeps the session, so its link works on the same approval routes.
    assert_eq!(
        s["approvalUrl"],
        format!("https://console.example.test/resume/{second}?mcp_session_id={SID}")
    );
    let (status, _) = send(
        &world,
        "dev",
        "GET",
        &format!("/api/mcp-sessions/{SID}/executions/{second}"),
        None,
    )
    .await;
    assert_eq!(status, 200);

    let decline = DecideWhileWaiting {
        world: &world,
        path: format!("/api/mcp-sessions/{SID}/executions/{second}/resume"),
        action: "decline",
        sleeps: Cell::new(0),
    };
    let mut services = world.services();
    services.timer = &decline;
    let done = answer(
        &browser(&world, services, &principal),
        call("resume", json!({ "executionId": second })),
    )
    .await;
    // A declined call rejects inside the script (§7.3); the run ends with that error.
    assert_eq!(done["structuredContent"]["status"], "error", "{done}");
    assert_eq!(done["isError"], true);
    let error = done["structuredContent"]["error"].as_str().unwrap();
    assert!(error.contains("declined by the user"), "{error}");
    assert_eq!(world.http.requests.borrow().len(), 1);
}
