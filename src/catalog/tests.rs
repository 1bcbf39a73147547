//! Catalog tests through the router (`/api/tools…`, `/api/executions`), the MCP dispatcher and
//! the host directly, against the recorded wire examples.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cache::IndexCache;
use super::testing::{add_policy, connect, github_spec, petstore_world, seed_openapi};
use super::CatalogHost;
use crate::app::Services;
use crate::auth::Principal;
use crate::http::testing::TestWorld;
use crate::owner::Owner;
use crate::sandbox::{HostReply, ToolHost};
use crate::store::{Row, Sql, Statement, StoreError};
use crate::test_support::wire;

fn body(response: &crate::http::Response) -> Value {
    response.json_body().unwrap_or(Value::Null)
}

fn wire_body(name: &str) -> Value {
    wire(name)["response"]["body"].clone()
}

fn wire_result(name: &str) -> Value {
    wire_body(name)["result"]["structuredContent"]["result"].clone()
}

async fn get(world: &TestWorld, path: &str) -> (u16, Value) {
    let r = world.call("GET", path, None).await;
    (r.status, body(&r))
}

/// Runs `code` through `POST /api/executions`; the structured outcome.
async fn execute(world: &TestWorld, code: &str) -> Value {
    let r = world
        .call("POST", "/api/executions", Some(&json!({ "code": code })))
        .await;
    assert_eq!(r.status, 200);
    body(&r)["structured"].clone()
}

/// The script's result, asserting it completed.
async fn result_of(world: &TestWorld, code: &str) -> Value {
    let structured = execute(world, code).await;
    assert_eq!(structured["status"], "completed", "{structured}");
    structured["result"].clone()
}

fn without_descriptions(mut list: Value) -> Value {
    for item in list.as_array_mut().unwrap() {
        let description = item.as_object_mut().unwrap().remove("description").unwrap();
        assert!(!description.as_str().unwrap().is_empty());
    }
    list
}

fn principal(world: &TestWorld) -> Principal {
    crate::auth::dev_principal(&world.config)
}

// ---------------------------------------------------------------------------------------------
// GET /api/tools

#[tokio::test]
async fn wire_06_initial_listing_is_the_built_in_tools() {
    let world = TestWorld::new();
    let (status, list) = get(&world, "/api/tools").await;
    assert_eq!(status, 200);
    // Descriptions are ours (the recording's prose is not to be copied).
    assert_eq!(
        without_descriptions(list),
        without_descriptions(wire_body("06-tools-list-initial.json"))
    );
}

#[tokio::test]
async fn wire_19_25_connection_tools_then_built_ins() {
    let world = TestWorld::new();
    seed_openapi(
        &world,
        "petstore",
        "Tiny Petstore",
        super::testing::petstore_spec(),
        json!({}),
    )
    .await;
    assert_eq!(
        get(&world, "/api/tools?integration=petstore").await,
        (
            200,
            wire_body("19-tools-list-petstore-before-connection.json")
        )
    );
    connect(&world, "dev", "petstore", Owner::Org, "main", "k").await;
    let (status, list) = get(&world, "/api/tools?integration=petstore").await;
    assert_eq!(
        (status, &list),
        (200, &wire_body("25-tools-list-petstore.json"))
    );
    // Key order as upstream.
    let r = world
        .call("GET", "/api/tools?integration=petstore", None)
        .await;
    assert!(String::from_utf8_lossy(&r.body).starts_with(
        r#"[{"address":"tools.petstore.org.main.pets.createPet","owner":"org","integration":"petstore","connection":"main","name":"pets.createPet","pluginId":"openapi","description":"Create a pet","mayElicit":null,"requiresApproval":true,"approvalDescription":"POST /pets","static":null}"#
    ));

    // Unfiltered: connection tools first, then the 28 built-ins.
    let (_, all) = get(&world, "/api/tools").await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 5 + 28);
    assert_eq!(
        all[4]["address"],
        "tools.petstore.org.main.store.getInventory"
    );
    assert_eq!(all[5]["address"], "executor.coreTools.integrations.list");
}

#[tokio::test]
async fn wire_26_27_query_is_a_plain_substring_filter() {
    let world = petstore_world().await;
    assert_eq!(
        get(&world, "/api/tools?query=pet").await,
        (200, wire_body("26-tools-search-pet.json"))
    );
    assert_eq!(
        get(&world, "/api/tools?query=INVENTORY").await,
        (200, wire_body("27-tools-search-inventory.json"))
    );
}

#[tokio::test]
async fn owner_connection_and_integration_filters() {
    let world = petstore_world().await;
    connect(&world, "dev", "petstore", Owner::User, "mine", "k2").await;
    connect(&world, "alice", "petstore", Owner::User, "hers", "k3").await;

    let count = |v: &Value| v.as_array().unwrap().len();
    let (_, user) = get(&world, "/api/tools?owner=user").await;
    // Dev's own user connection, then the built-ins; never alice's.
    assert_eq!(count(&user), 5 + 28);
    assert_eq!(
        user[0]["address"],
        "tools.petstore.user.mine.pets.createPet"
    );
    let (_, org) = get(&world, "/api/tools?owner=org").await;
    assert_eq!(count(&org), 5);
    let (_, mine) = get(&world, "/api/tools?connection=mine&integration=petstore").await;
    assert_eq!(count(&mine), 5);
    let (_, core) = get(&world, "/api/tools?connection=coreTools").await;
    assert_eq!(count(&core), 28);
    let (_, executor) = get(&world, "/api/tools?integration=executor&query=POLICIES").await;
    assert_eq!(count(&executor), 4);
    let (_, none) = get(&world, "/api/tools?integration=nope").await;
    assert_eq!(none, json!([]));
    let (_, everything) = get(&world, "/api/tools?includeAnnotations=false").await;
    assert_eq!(count(&everything), 10 + 28);

    assert_eq!(get(&world, "/api/tools?owner=team").await.0, 400);
    let r = world.send(None, "GET", "/api/tools", None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn wire_37_38_blocked_tools_are_listed_unless_include_blocked_is_false() {
    let world = petstore_world().await;
    add_policy(&world, Owner::Org, "petstore.*.*.pets.deletePet", "block").await;
    add_policy(&world, Owner::Org, "executor.coreTools.policies.*", "block").await;
    assert_eq!(
        get(&world, "/api/tools?integration=petstore").await,
        (200, wire_body("37-tools-list-petstore-after-policies.json"))
    );
    assert_eq!(
        get(
            &world,
            "/api/tools?integration=petstore&includeAnnotations=true&includeBlocked=true"
        )
        .await,
        (
            200,
            wire_body("38-tools-list-petstore-with-annotations.json")
        )
    );
    let (_, visible) = get(&world, "/api/tools?includeBlocked=false").await;
    let addresses: Vec<&str> = visible
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses.len(), 4 + 24);
    assert!(!addresses.contains(&"tools.petstore.org.main.pets.deletePet"));
    assert!(!addresses.contains(&"executor.coreTools.policies.list"));
}

// ---------------------------------------------------------------------------------------------
// GET /api/tools/schema

#[tokio::test]
async fn wire_28_29_schema_views() {
    let world = petstore_world().await;
    let (status, view) = get(
        &world,
        "/api/tools/schema?address=tools.petstore.org.main.pets.getPet",
    )
    .await;
    assert_eq!(
        (status, view),
        (200, wire_body("28-tools-schema-getPet.json"))
    );
    assert_eq!(
        get(&world, "/api/tools/schema?address=petstore.org.main.nope").await,
        (404, wire_body("29-tools-schema-missing.json"))
    );

    // listPets: an array of a named type, with optional query arguments.
    let (_, list) = get(
        &world,
        "/api/tools/schema?address=tools.petstore.org.main.pets.listPets",
    )
    .await;
    assert_eq!(list["inputTypeScript"], "{ limit?: number; tag?: string; }");
    assert_eq!(list["outputTypeScript"], "Pet[]");
    assert_eq!(list["schemaDefinitions"].as_object().unwrap().len(), 1);

    // Built-ins: metadata only, no definitions.
    let (status, core) = get(
        &world,
        "/api/tools/schema?address=executor.coreTools.policies.list",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(core["name"], "coreTools.policies.list");
    assert!(core.get("schemaDefinitions").is_none());

    // Another user's connection is not visible.
    connect(&world, "alice", "petstore", Owner::User, "hers", "k").await;
    let (status, _) = get(
        &world,
        "/api/tools/schema?address=tools.petstore.user.hers.pets.getPet",
    )
    .await;
    assert_eq!(status, 404);
    let r = world
        .send(
            Some("alice"),
            "GET",
            "/api/tools/schema?address=tools.petstore.user.hers.pets.getPet",
            None,
        )
        .await;
    assert_eq!(r.status, 200);

    assert_eq!(get(&world, "/api/tools/schema").await.0, 400);
}

// ---------------------------------------------------------------------------------------------
// The sandbox host, through POST /api/executions

#[tokio::test]
async fn wire_48_search_ranks_and_describe_renders() {
    let world = petstore_world().await;
    // As when wire 48 was recorded: deletePet blocked by an org policy.
    add_policy(&world, Owner::Org, "petstore.*.*.pets.deletePet", "block").await;
    let code = wire("48-mcp-call-execute-discover.json")["request"]["body"]["params"]["arguments"]
        ["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        result_of(&world, &code).await,
        wire_result("48-mcp-call-execute-discover.json")
    );
}

#[tokio::test]
async fn wire_83_namespace_paging_and_wire_53_blocked_tools_are_not_found() {
    let world = petstore_world().await;
    add_policy(&world, Owner::Org, "petstore.*.*.pets.deletePet", "block").await;
    assert_eq!(
        result_of(
            &world,
            "return await tools.search({ namespace: 'petstore', query: 'pet', limit: 2 });"
        )
        .await,
        wire_result("83-mcp-call-execute-search-namespace.json")
    );
    let code = wire("53-mcp-call-execute-blocked-tool.json")["request"]["body"]["params"]
        ["arguments"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(result_of(&world, &code).await, json!({ "res": null }));
}

#[tokio::test]
async fn search_argument_errors_reject_and_blank_queries_are_empty() {
    let world = petstore_world().await;
    let structured = execute(&world, "return await tools.search('pets');").await;
    assert_eq!(structured["status"], "error");
    assert!(structured["error"]
        .as_str()
        .unwrap()
        .contains("expects an object argument"));
    assert_eq!(
        result_of(&world, "return await tools.search({ query: '  ' });").await,
        json!({ "items": [], "total": 0, "hasMore": false, "nextOffset": null })
    );
    // Built-in tools are searchable too.
    let page = result_of(
        &world,
        "return await tools.search({ query: 'policies list', limit: 1 });",
    )
    .await;
    assert_eq!(page["items"][0]["path"], "executor.coreTools.policies.list");
    assert_eq!(page["items"][0]["integration"], "executor");
}

#[tokio::test]
async fn wire_81_describe_missing_and_other_describes() {
    let world = petstore_world().await;
    assert_eq!(
        result_of(
            &world,
            "return await tools.describe.tool({ path: 'petstore.org.main.pets.getPett' });"
        )
        .await,
        wire_result("81-mcp-call-execute-describe-missing.json")
    );
    let get_pet = result_of(
        &world,
        "return await tools.describe.tool({ path: 'tools.petstore.org.main.pets.getPet' });",
    )
    .await;
    assert_eq!(get_pet["path"], "petstore.org.main.pets.getPet");
    assert_eq!(get_pet["inputTypeScript"], "{ petId: number; }");
    assert_eq!(
        get_pet["outputTypeScript"],
        "{ ok: true; data: Pet; http?: ToolHttpMeta } | { ok: false; error: ToolError }"
    );
    assert_eq!(
        get_pet["typeScriptDefinitions"]["Pet"],
        "{ id: number; name: string; tag?: string; }"
    );
    let search = result_of(
        &world,
        "return await tools.describe.tool({ path: 'search' });",
    )
    .await;
    assert_eq!(search["path"], "search");
    assert!(search["inputTypeScript"]
        .as_str()
        .unwrap()
        .contains("query"));
    let core = result_of(
        &world,
        "return await tools.describe.tool({ path: 'executor.coreTools.connections.list' });",
    )
    .await;
    assert_eq!(core["name"], "coreTools.connections.list");
    assert!(core.get("error").is_none());
    let bad = execute(
        &world,
        "return await tools.describe.tool({ path: 'search', includeSchemas: true });",
    )
    .await;
    assert_eq!(bad["status"], "error");
}

#[tokio::test]
async fn sources_list_counts_visible_tools() {
    let world = petstore_world().await;
    add_policy(&world, Owner::Org, "petstore.*.*.pets.deletePet", "block").await;
    let page = result_of(&world, "return await tools.executor.sources.list({});").await;
    assert_eq!(
        page,
        json!({
            "items": [
                {"id": "executor", "name": "Executor", "kind": "built-in", "canRemove": false,
                 "canRefresh": false, "toolCount": 28},
                {"id": "petstore", "name": "Tiny Petstore",
                 "description": "Small petstore used in tests", "kind": "openapi",
                 "canRemove": true, "canRefresh": false, "toolCount": 4}
            ],
            "total": 2, "hasMore": false, "nextOffset": null
        })
    );
    let page = result_of(
        &world,
        "return await tools.executor.sources.list({ query: 'OpenAPI small', limit: 1 });",
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], "petstore");
    let page = result_of(
        &world,
        "return await tools.executor.sources.list({ limit: 1 });",
    )
    .await;
    assert_eq!(
        (page["hasMore"].clone(), page["nextOffset"].clone()),
        (json!(true), json!(1))
    );
    let bad = execute(
        &world,
        "return await tools.executor.sources.list({ limit: 0 });",
    )
    .await;
    assert_eq!(bad["status"], "error");
}

#[tokio::test]
async fn wire_80_blocked_call() {
    let world = petstore_world().await;
    add_policy(&world, Owner::Org, "petstore.*.*.pets.deletePet", "block").await;
    let code = wire("80-mcp-call-execute-blocked-direct.json")["request"]["body"]["params"]
        ["arguments"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        result_of(&world, &code).await,
        wire_result("80-mcp-call-execute-blocked-direct.json")
    );
    assert!(world.http.requests.borrow().is_empty());
}

#[tokio::test]
async fn unknown_tools_answer_tool_not_found() {
    let world = petstore_world().await;
    assert_eq!(
        result_of(
            &world,
            "return await tools.petstore.org.main.pets.getPett({});"
        )
        .await,
        json!({
            "ok": false,
            "error": {
                "code": "tool_not_found",
                "message": "Tool not found: petstore.org.main.pets.getPett",
                "details": {
                    "path": "petstore.org.main.pets.getPett",
                    "suggestions": ["petstore.org.main.pets.getPet", "petstore.org.main.store.getInventory"]
                }
            }
        })
    );
    assert_eq!(
        result_of(&world, "return await tools.zzqx();").await,
        json!({
            "ok": false,
            "error": {"code": "tool_not_found", "message": "Tool not found: zzqx", "details": {"path": "zzqx"}}
        })
    );
    // A user address of someone else is not found either.
    connect(&world, "alice", "petstore", Owner::User, "hers", "k").await;
    let other = result_of(
        &world,
        "return await tools.petstore.user.hers.pets.getPet({ petId: 1 });",
    )
    .await;
    assert_eq!(other["error"]["code"], "tool_not_found");
}

#[tokio::test]
async fn approval_gates_pause_and_approved_calls_skip_only_the_gate() {
    let world = petstore_world().await;
    let principal = principal(&world);
    let host = CatalogHost::new(world.services(), &principal);
    let pause = |reply: HostReply| match reply {
        HostReply::Pause(request) => request,
        other => panic!("not paused: {other:?}"),
    };
    // createPet asks for approval by annotation: its approval description is the question.
    let request = pause(
        host.call(
            "petstore.org.main.pets.createPet",
            Some(json!({ "body": { "name": "x" } })),
        )
        .await,
    );
    assert_eq!(request.address, "tools.petstore.org.main.pets.createPet");
    assert_eq!(
        request.message,
        "POST /pets\n\nArguments:\n{\n  \"body\": {\n    \"name\": \"x\"\n  }\n}"
    );
    // A user require_approval policy gates getPet (wire 52/55): the message names the rule.
    add_policy(
        &world,
        Owner::User,
        "petstore.org.main.pets.getPet",
        "require_approval",
    )
    .await;
    let host = CatalogHost::new(world.services(), &principal);
    let request = pause(
        host.call("petstore.org.main.pets.getPet", Some(json!({ "petId": 1 })))
            .await,
    );
    let wire55 = wire_body("55-mcp-call-execute-require-approval-getPet.json");
    assert_eq!(
        json!(request.message),
        wire55["result"]["structuredContent"]["interaction"]["message"]
    );
    assert!(world.http.requests.borrow().is_empty());

    // The approved call goes through to the invoker…
    let reply = host
        .call_approved("petstore.org.main.pets.getPet", Some(json!({ "petId": 1 })))
        .await;
    assert!(reached_invoker(&reply), "{reply:?}");
    // …but a block that appeared meanwhile still wins, and unknown tools stay unknown.
    add_policy(&world, Owner::Org, "petstore.*.*.pets.getPet", "block").await;
    let host = CatalogHost::new(world.services(), &principal);
    let blocked = reply_json(
        host.call_approved("petstore.org.main.pets.getPet", Some(json!({ "petId": 1 })))
            .await,
    );
    assert_eq!(blocked["error"]["code"], "tool_blocked");
    let missing = reply_json(
        host.call_approved("petstore.org.main.pets.nope", None)
            .await,
    );
    assert_eq!(missing["error"]["code"], "tool_not_found");

    // An org approve policy lets createPet through without asking (wire 54's setup).
    add_policy(&world, Owner::Org, "petstore.*.*.pets.createPet", "approve").await;
    let structured = execute(
        &world,
        "return await tools.petstore.org.main.pets.createPet({ body: { name: 'x' } });",
    )
    .await;
    assert_invoker_reached(&structured);
}

#[test]
fn approval_messages_cut_long_arguments() {
    let long = json!({ "text": "z".repeat(10_000) });
    let message = super::host::approval_message("tools.a.org.b.c", None, None, Some(&long));
    assert!(message.starts_with("Approve tools.a.org.b.c?\n\nArguments:\n{"));
    let shown = message.split("Arguments:\n").nth(1).unwrap();
    assert!(
        shown.ends_with("… (arguments cut)"),
        "{}",
        &shown[shown.len() - 40..]
    );
    assert!(shown.chars().count() < super::host::MAX_APPROVAL_ARGS_CHARS + 30);
    assert_eq!(
        super::host::approval_message("tools.x", Some("  "), Some("x.*"), None),
        "Approve tools.x? (matched policy: x.*)\n\nArguments:\n{}"
    );
}

/// Whether a call got past the catalog (lookup, policies, credentials) to the invoker. Its
/// stand-in rejects with an opaque `Internal tool error [<8 hex>]`; the real invoker answers a
/// ToolResult of its own (in these worlds `outbound_blocked`: the petstore lives on 127.0.0.1).
fn reached_invoker(reply: &HostReply) -> bool {
    match reply {
        HostReply::Reject(message) => message
            .strip_prefix("Internal tool error [")
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|id| id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit())),
        HostReply::Pause(_) => false,
        HostReply::Resolve(_) | HostReply::Json(_) => {
            let value = reply_json(reply.clone());
            !matches!(
                value["error"]["code"].as_str(),
                Some("tool_blocked" | "tool_not_found")
            )
        }
    }
}

/// [`reached_invoker`] for a run's structured outcome.
fn assert_invoker_reached(structured: &Value) {
    let reply = match structured["status"].as_str() {
        Some("error") => HostReply::Reject(structured["error"].as_str().unwrap().to_owned()),
        _ => HostReply::Resolve(structured["result"].clone()),
    };
    assert!(reached_invoker(&reply), "{structured}");
}

#[tokio::test]
async fn approved_calls_reach_the_invoker_and_never_echo_the_key() {
    let world = petstore_world().await;
    let host_principal = principal(&world);
    let host = CatalogHost::new(world.services(), &host_principal);
    let reply = host
        .call("petstore.org.main.pets.getPet", Some(json!({ "petId": 1 })))
        .await;
    assert!(reached_invoker(&reply), "{reply:?}");
    assert!(!format!("{reply:?}").contains("pet-secret-1"));
}

/// The full call path once `plugins::openapi::invoke` is in this build (wire 49, 50, 99).
#[tokio::test]
async fn calls_run_against_the_upstream_with_the_connections_key() {
    let world = TestWorld::new();
    seed_openapi(
        &world,
        "petstore",
        "Tiny Petstore",
        super::testing::petstore_spec(),
        json!({ "baseUrl": "https://petstore.example.test" }),
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
    world.http.serve(
        "https://petstore.example.test/pets?limit=2",
        "application/json",
        r#"[{"id":1,"name":"Rex","tag":"dog"},{"id":2,"name":"Tom","tag":"cat"}]"#,
    );
    let result = result_of(
        &world,
        "return await tools.petstore.org.main.pets.listPets({ limit: 2 });",
    )
    .await;
    assert_eq!(result["ok"], true);
    assert_eq!(result["data"][1]["name"], "Tom");
    assert_eq!(result["http"]["status"], 200);
    let requests = world.http.requests.borrow();
    let sent = requests.last().unwrap();
    assert!(sent
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("x-api-key") && v == "pet-secret-1"));
}

#[tokio::test]
async fn built_in_tools_run_unless_blocked() {
    let world = petstore_world().await;
    let listed = result_of(
        &world,
        "return await tools.executor.coreTools.connections.list({});",
    )
    .await;
    assert_eq!(listed["ok"], true);
    assert_eq!(
        listed["data"]["connections"][0]["address"],
        "tools.petstore.org.main"
    );
    add_policy(
        &world,
        Owner::User,
        "executor.coreTools.connections.*",
        "block",
    )
    .await;
    let blocked = result_of(
        &world,
        "return await tools.executor.coreTools.connections.list({});",
    )
    .await;
    assert_eq!(blocked["error"]["code"], "tool_blocked");
    assert_eq!(
        blocked["error"]["details"]["pattern"],
        "executor.coreTools.connections.*"
    );
}

#[tokio::test]
async fn mcp_execute_runs_with_the_same_catalog() {
    let world = petstore_world().await;
    let principal = principal(&world);
    let dispatch = crate::mcp::server::Dispatch {
        services: world.services(),
        principal: &principal,
        web_origin: None,
        mode: crate::mcp::ElicitationMode::Model,
        session_id: None,
    };
    let answer = dispatch
        .answer(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "execute", "arguments": {
                "code": "return (await tools.search({ query: 'inventory' })).items[0].path;"
            }}
        }))
        .await;
    let crate::mcp::server::Answer::Reply(reply) = answer else {
        panic!("no reply")
    };
    assert_eq!(
        reply["result"]["structuredContent"]["result"],
        json!("petstore.org.main.store.getInventory")
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips

/// A [`Sql`] that records every statement it runs (first words only).
struct CountingSql<'a> {
    inner: &'a dyn Sql,
    log: RefCell<Vec<String>>,
}

impl CountingSql<'_> {
    fn take(&self) -> Vec<String> {
        self.log.take()
    }
    fn record(&self, statement: &Statement) {
        let words: Vec<&str> = statement.sql.split_whitespace().take(6).collect();
        self.log.borrow_mut().push(words.join(" "));
    }
}

#[async_trait::async_trait(?Send)]
impl Sql for CountingSql<'_> {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        self.record(&statement);
        self.inner.query(statement).await
    }
    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        self.record(&statement);
        self.inner.execute(statement).await
    }
    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError> {
        statements.iter().for_each(|s| self.record(s));
        self.inner.batch(statements).await
    }
}

fn counting_services<'a>(world: &'a TestWorld, sql: &'a CountingSql<'a>) -> Services<'a> {
    Services {
        sql,
        ..world.services()
    }
}

fn reply_json(reply: HostReply) -> Value {
    match reply {
        HostReply::Json(text) => serde_json::from_str(&text).unwrap(),
        HostReply::Resolve(value) => value,
        HostReply::Reject(message) => panic!("rejected: {message}"),
        HostReply::Pause(request) => panic!("paused: {request:?}"),
    }
}

#[tokio::test]
async fn queries_per_path() {
    let world = petstore_world().await;
    let sql = CountingSql {
        inner: &world.sql,
        log: RefCell::default(),
    };
    let principal = principal(&world);
    let cache = Rc::new(IndexCache::default());
    let host =
        || CatalogHost::with_cache(counting_services(&world, &sql), &principal, cache.clone());
    let run = host();

    // First search of an isolate: the fingerprint (which brings the policies), then the rows.
    let page = reply_json(run.call("search", Some(json!({"query": "pets"}))).await);
    assert_eq!(page["total"], 5);
    assert_eq!(sql.take().len(), 2);
    // Later searches of the run and blank queries: none.
    reply_json(run.call("search", Some(json!({"query": "store"}))).await);
    reply_json(run.call("search", Some(json!({"query": ""}))).await);
    assert_eq!(sql.take().len(), 0);

    // Describe: one query.
    let d = reply_json(
        run.call(
            "describe.tool",
            Some(json!({"path": "petstore.org.main.pets.getPet"})),
        )
        .await,
    );
    assert_eq!(d["name"], "pets.getPet");
    assert_eq!(sql.take().len(), 1);
    // Unknown: one query, suggestions from the loaded index.
    reply_json(
        run.call(
            "describe.tool",
            Some(json!({"path": "petstore.org.main.x"})),
        )
        .await,
    );
    assert_eq!(sql.take().len(), 1);

    // A call (policies already loaded): one query brings the tool, its binding and $defs, the
    // integration config and the connection's sealed secrets.
    let reply = run
        .call("petstore.org.main.pets.getPet", Some(json!({"petId": 1})))
        .await;
    assert!(reached_invoker(&reply), "{reply:?}");
    let log = sql.take();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].starts_with("SELECT t.plugin_id"), "{log:?}");

    // The next run: a search costs one query, the fingerprint with the policies (the index is
    // kept).
    let run = host();
    let page = reply_json(run.call("search", Some(json!({"query": "pets"}))).await);
    assert_eq!(page["total"], 5);
    assert_eq!(sql.take().len(), 1);

    // A call first costs the tool query and the policies, side by side.
    let run = host();
    let gated = run
        .call("petstore.org.main.pets.createPet", Some(json!({})))
        .await;
    assert!(matches!(gated, HostReply::Pause(_)), "{gated:?}");
    assert_eq!(sql.take().len(), 2);

    // Concurrent first searches share one load.
    let run = host();
    let (a, b) = super::concurrent::join(
        run.call("search", Some(json!({"query": "pets"}))),
        run.call("search", Some(json!({"query": "store"}))),
    )
    .await;
    assert_eq!(reply_json(a)["total"], 5);
    assert_eq!(
        reply_json(b)["items"][0]["path"],
        "petstore.org.main.store.getInventory"
    );
    assert_eq!(sql.take().len(), 1);
}

#[tokio::test]
async fn kept_indexes_follow_catalog_changes() {
    let world = petstore_world().await;
    let principal = principal(&world);
    let cache = Rc::new(IndexCache::default());
    async fn total(world: &TestWorld, principal: &Principal, cache: &Rc<IndexCache>) -> Value {
        let host = CatalogHost::with_cache(world.services(), principal, cache.clone());
        reply_json(host.call("search", Some(json!({"query": "pets"}))).await)["total"].clone()
    }
    assert_eq!(total(&world, &principal, &cache).await, 5);
    // A new connection's tools appear in the next run.
    connect(&world, "dev", "petstore", Owner::User, "mine", "k2").await;
    assert_eq!(total(&world, &principal, &cache).await, 10);
    // Removing a connection drops its tools.
    let r = world
        .call("DELETE", "/api/connections/org/petstore/main", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(total(&world, &principal, &cache).await, 5);
    // Policies apply per run, not per kept index.
    add_policy(&world, Owner::User, "petstore.user.mine.pets.*", "block").await;
    assert_eq!(total(&world, &principal, &cache).await, 1);
}

// ---------------------------------------------------------------------------------------------
// The GitHub catalog (1,223 tools)

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn github_catalog_search_and_describe() {
    let world = TestWorld::new();
    let count = seed_openapi(&world, "github", "GitHub", github_spec(), json!({})).await;
    assert_eq!(count, 1223);
    connect(&world, "dev", "github", Owner::Org, "main", "ghp-test").await;
    let principal = principal(&world);
    let cache = Rc::new(IndexCache::default());

    let mut cold = Vec::new();
    let mut first = Vec::new();
    let mut warm = Vec::new();
    let mut describes = Vec::new();
    for round in 0..6 {
        // Round 0 builds the index; later runs find it kept in the isolate.
        let host = CatalogHost::with_cache(world.services(), &principal, cache.clone());
        let start = Instant::now();
        let page = reply_json(
            host.call(
                "search",
                Some(json!({"query": "create issue comment", "limit": 5})),
            )
            .await,
        );
        if round == 0 {
            cold.push(start.elapsed());
        } else {
            first.push(start.elapsed());
        }
        assert_eq!(
            page["items"][0]["path"],
            "github.org.main.reactions.createForIssueComment"
        );
        for q in [
            "get a repository",
            "list workflow runs",
            "gist",
            "org members",
        ] {
            let start = Instant::now();
            let page = reply_json(host.call("search", Some(json!({"query": q}))).await);
            warm.push(start.elapsed());
            assert!(page["total"].as_u64().unwrap() > 0, "{q}");
        }
        for path in ["github.org.main.repos.get", "github.org.main.pulls.create"] {
            let start = Instant::now();
            let d = reply_json(
                host.call("describe.tool", Some(json!({ "path": path })))
                    .await,
            );
            describes.push(start.elapsed());
            assert!(d["outputTypeScript"]
                .as_str()
                .unwrap()
                .starts_with("{ ok: true; data: "));
            assert!(d["typeScriptDefinitions"].as_object().unwrap().len() > 3);
        }
    }
    println!(
        "github (host, SQLite, this build profile): first search of an isolate {:?}; first \
         search of a run p50 {:?}; later searches p50 {:?}; describe p50 {:?}",
        cold[0],
        p50(first),
        p50(warm),
        p50(describes)
    );
}

#[tokio::test]
async fn the_fingerprint_reads_an_index_not_the_tool_rows() {
    // The rows carry whole schemas; scanning them per run cost ~5 ms on a GitHub-sized catalog.
    let world = TestWorld::new();
    let sql: &'static str =
        Box::leak(format!("EXPLAIN QUERY PLAN {}", super::store::FINGERPRINT_SQL).into_boxed_str());
    let plan = world
        .sql
        .query(crate::store::Statement::new(
            sql,
            vec!["tenant".into(), "subject".into()],
        ))
        .await
        .unwrap();
    let details: Vec<String> = plan
        .iter()
        .filter_map(|row| row.get("detail").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("tool USING COVERING INDEX tool_fingerprint_idx")),
        "{details:?}"
    );
}
