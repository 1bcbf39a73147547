//! The built-in tools run from `execute` (executor-behaviour.md §8.9): each tool's happy path and
//! an error path, argument checks, the approval gate, wire 59, and that no result carries a
//! credential value.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::testing::{add_policy, connect, petstore_spec, seed_openapi};
use crate::http::testing::TestWorld;
use crate::owner::Owner;
use crate::store::{Sql, Statement};
use crate::test_support::wire;

/// The pasted credential of the world's org connection: no tool result may contain it.
const CANARY: &str = "canary-7f3a-core-tools";

/// Runs `code` through `POST /api/executions` as `dev`; the script's result (it must complete).
async fn run(world: &TestWorld, code: &str) -> Value {
    let r = world
        .call("POST", "/api/executions", Some(&json!({ "code": code })))
        .await;
    assert_eq!(r.status, 200);
    let structured = r.json_body().unwrap()["structured"].clone();
    // A run stopped at an approval gate: what it asks (see `code`).
    if structured["status"] == "waiting_for_interaction" {
        let interaction = &structured["interaction"];
        return json!({ "paused": { "address": interaction["address"], "message": interaction["message"] } });
    }
    assert_eq!(structured["status"], "completed", "{structured}");
    let result = structured["result"].clone();
    assert!(!result.to_string().contains(CANARY), "{result}");
    result
}

/// `tools.executor.<name>(<args>)`.
async fn call(world: &TestWorld, name: &str, args: Value) -> Value {
    run(
        world,
        &format!("return await tools.executor.{name}({args});"),
    )
    .await
}

/// The failure code of a result; `paused` when the run stopped at an approval gate.
fn code(result: &Value) -> &str {
    if result.get("paused").is_some() {
        return "paused";
    }
    result["error"]["code"].as_str().unwrap_or("(ok)")
}

/// Petstore at a public base URL, the org connection `main` (pasted [`CANARY`], identity label as
/// in wire 59).
async fn world() -> TestWorld {
    let world = TestWorld::new();
    seed_openapi(
        &world,
        "petstore",
        "Tiny Petstore",
        petstore_spec(),
        json!({ "baseUrl": "https://petstore.example.test" }),
    )
    .await;
    let r = world
        .call(
            "POST",
            "/api/connections",
            Some(&json!({
                "owner": "org", "name": "main", "integration": "petstore",
                "template": "apikey-0", "value": CANARY, "identityLabel": "baseline key",
            })),
        )
        .await;
    assert_eq!(r.status, 200);
    world
}

/// [`world`] where an org policy approves every built-in tool.
async fn approved_world() -> TestWorld {
    let world = world().await;
    add_policy(&world, Owner::Org, "executor.*", "approve").await;
    world
}

// ---------------------------------------------------------------------------------------------
// Integrations and providers

#[tokio::test]
async fn integrations_list_and_detect() {
    let world = world().await;
    let list = call(&world, "coreTools.integrations.list", json!({})).await;
    assert_eq!(list["ok"], true);
    let slugs: Vec<&str> = list["data"]["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["executor", "petstore"]);
    assert_eq!(
        list["data"]["integrations"][1]["authMethods"][0]["template"],
        "apikey-0"
    );
    // No argument at all is the empty object.
    let bare = run(
        &world,
        "return await tools.executor.coreTools.integrations.list();",
    )
    .await;
    assert_eq!(bare, list);
    let extra = call(&world, "coreTools.integrations.list", json!({ "x": 1 })).await;
    assert_eq!(code(&extra), "invalid_tool_arguments");
    assert_eq!(
        extra["error"]["details"]["issues"][0]["message"],
        "unexpected property \"x\""
    );

    world.http.serve(
        "https://specs.example.com/openapi.json",
        "application/json",
        petstore_spec(),
    );
    let detected = call(
        &world,
        "coreTools.integrations.detect",
        json!({ "url": " https://specs.example.com/openapi.json " }),
    )
    .await;
    assert_eq!(
        detected,
        json!({"ok": true, "data": {"results": [{"kind": "openapi", "confidence": "high",
            "endpoint": "https://specs.example.com/openapi.json", "name": "Tiny Petstore",
            "slug": "tiny_petstore"}]}})
    );
    let nothing = call(
        &world,
        "coreTools.integrations.detect",
        json!({ "url": "https://specs.example.com/none" }),
    )
    .await;
    assert_eq!(nothing["data"]["results"], json!([]));
    let missing = call(&world, "coreTools.integrations.detect", json!({})).await;
    assert_eq!(code(&missing), "invalid_tool_arguments");
    let long = format!("https://example.com/{}", "a".repeat(2100));
    let too_long = call(
        &world,
        "coreTools.integrations.detect",
        json!({ "url": long }),
    )
    .await;
    assert_eq!(code(&too_long), "invalid_tool_arguments");
}

#[tokio::test]
async fn providers_list_and_items() {
    let world = world().await;
    assert_eq!(
        call(&world, "coreTools.providers.list", json!({})).await,
        json!({"ok": true, "data": {"providers": ["encrypted"]}})
    );
    assert_eq!(
        call(
            &world,
            "coreTools.providers.items",
            json!({ "provider": "encrypted" })
        )
        .await,
        json!({"ok": true, "data": {"items": [{"id": "connection:org:petstore:main:token",
            "name": "connection:org:petstore:main:token"}]}})
    );
    let unknown = call(
        &world,
        "coreTools.providers.items",
        json!({ "provider": "vault" }),
    )
    .await;
    assert_eq!(code(&unknown), "provider_not_registered");
    assert_eq!(unknown["error"]["details"], json!({ "provider": "vault" }));
    let missing = call(&world, "coreTools.providers.items", json!({})).await;
    assert_eq!(code(&missing), "invalid_tool_arguments");
    assert_eq!(missing["error"]["details"]["issues"][0]["path"], json!(""));
}

// ---------------------------------------------------------------------------------------------
// Connections

#[tokio::test]
async fn wire_59_connections_list_is_lean() {
    let world = world().await;
    let recorded = wire("59-mcp-call-execute-connections.json");
    let code = recorded["request"]["body"]["params"]["arguments"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        run(&world, &code).await,
        recorded["response"]["body"]["result"]["structuredContent"]["result"]
    );
    // The same through the MCP dispatcher.
    let principal = crate::auth::dev_principal(&world.config);
    let dispatch = crate::mcp::server::Dispatch {
        services: world.services(),
        principal: &principal,
        web_origin: None,
        mode: crate::mcp::ElicitationMode::Model,
        session_id: None,
    };
    let answer = dispatch.answer(&recorded["request"]["body"]).await;
    let crate::mcp::server::Answer::Reply(reply) = answer else {
        panic!("no reply")
    };
    assert_eq!(
        reply["result"]["structuredContent"]["result"],
        recorded["response"]["body"]["result"]["structuredContent"]["result"]
    );
    // Field order as recorded.
    let r = world
        .call(
            "POST",
            "/api/executions",
            Some(&json!({ "code": "return JSON.stringify(await tools.executor.coreTools.connections.list({}));" })),
        )
        .await;
    let text = r.json_body().unwrap()["structured"]["result"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with(
        r#"{"ok":true,"data":{"connections":[{"owner":"org","name":"main","integration":"petstore","template":"apikey-0","provider":"encrypted","address":"tools.petstore.org.main","identityLabel":"baseline key","description":null,"expiresAt":null,"oauthClient":null,"oauthClientOwner":null,"oauthScopeCount":null}"#
    ), "{text}");
}

#[tokio::test]
async fn connections_list_filters_counts_scopes_and_verbose_adds_them() {
    let world = world().await;
    connect(&world, "dev", "petstore", Owner::User, "mine", "k2").await;
    connect(&world, "alice", "petstore", Owner::User, "hers", "k3").await;
    world
        .exec(
            "UPDATE connection SET oauth_scope = 'read write  offline_access' WHERE name = 'mine'",
            vec![],
        )
        .await;
    let all = call(&world, "coreTools.connections.list", json!({})).await;
    let names: Vec<&str> = all["data"]["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "mine"], "never another user's connection");
    assert_eq!(all["data"]["connections"][1]["oauthScopeCount"], 3);
    assert!(all["data"]["connections"][1].get("oauthScope").is_none());
    let verbose = call(
        &world,
        "coreTools.connections.list",
        json!({ "owner": "user", "verbose": true }),
    )
    .await;
    assert_eq!(verbose["data"]["connections"].as_array().unwrap().len(), 1);
    assert_eq!(
        verbose["data"]["connections"][0]["oauthScope"],
        "read write  offline_access"
    );
    let none = call(
        &world,
        "coreTools.connections.list",
        json!({ "integration": "nope" }),
    )
    .await;
    assert_eq!(none, json!({"ok": true, "data": {"connections": []}}));
    let bad = call(
        &world,
        "coreTools.connections.list",
        json!({ "owner": "team" }),
    )
    .await;
    assert_eq!(code(&bad), "invalid_tool_arguments");
    assert_eq!(bad["error"]["details"]["issues"][0]["path"], "/owner");
}

#[tokio::test]
async fn connections_create_is_gated_and_takes_provider_references_only() {
    let world = world().await;
    let args = json!({
        "owner": "org", "name": "Backup key", "integration": "petstore", "template": "apikey-0",
        "from": { "provider": "encrypted", "id": "connection:org:petstore:main:token" },
    });
    let gated = call(&world, "coreTools.connections.create", args.clone()).await;
    assert_eq!(
        gated["paused"]["address"],
        "executor.coreTools.connections.create"
    );
    let message = gated["paused"]["message"].as_str().unwrap();
    assert!(message.ends_with(&format!(
        "\n\nArguments:\n{}",
        serde_json::to_string_pretty(&args).unwrap()
    )));
    // A user rule that approves exactly this tool lets it run.
    add_policy(
        &world,
        Owner::User,
        "executor.coreTools.connections.create",
        "approve",
    )
    .await;
    let created = call(&world, "coreTools.connections.create", args).await;
    assert_eq!(
        created,
        json!({"ok": true, "data": {"owner": "org", "name": "backupKey", "integration": "petstore",
            "template": "apikey-0", "provider": "encrypted", "address": "tools.petstore.org.backupKey",
            "identityLabel": null, "description": null, "expiresAt": null, "oauthClient": null,
            "oauthClientOwner": null, "oauthScope": null}})
    );
    // Its tools exist and send the referenced item.
    world.http.serve(
        "https://petstore.example.test/pets",
        "application/json",
        "[]",
    );
    let listed = run(
        &world,
        "return await tools.petstore.org.backupKey.pets.listPets({});",
    )
    .await;
    assert_eq!(listed["ok"], true);
    let sent = world.http.requests.borrow().last().cloned().unwrap();
    assert!(sent
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("x-api-key") && v == CANARY));

    // `inputs` per variable, one provider.
    let by_inputs = call(
        &world,
        "coreTools.connections.create",
        json!({"owner": "user", "name": "mine", "integration": "petstore", "template": "apikey-0",
               "identityLabel": "via inputs",
               "inputs": {"token": {"from": {"provider": "encrypted", "id": "connection:org:petstore:main:token"}}}}),
    )
    .await;
    assert_eq!(by_inputs["data"]["address"], "tools.petstore.user.mine");
    assert_eq!(by_inputs["data"]["identityLabel"], "via inputs");

    let base =
        json!({"owner": "org", "name": "x", "integration": "petstore", "template": "apikey-0"});
    let with = |extra: Value| {
        let mut args = base.clone();
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        args
    };
    for (extra, expected) in [
        (
            json!({"from": {"provider": "vault", "id": "a"}}),
            "provider_not_registered",
        ),
        (
            json!({"inputs": {"a": {"from": {"provider": "encrypted", "id": "a"}},
                              "b": {"from": {"provider": "vault", "id": "b"}}}}),
            "invalid_connection_input",
        ),
        (json!({}), "invalid_connection_input"),
        (json!({"integration": "nope"}), "integration_not_found"),
        (json!({"integration": "executor"}), "integration_not_found"),
        (
            json!({"from": {"provider": "encrypted", "id": "a"}, "inputs": {"a": {"from": {"provider": "encrypted", "id": "a"}}}}),
            "invalid_tool_arguments",
        ),
        (json!({"inputs": {}}), "invalid_tool_arguments"),
        (json!({"owner": "team"}), "invalid_tool_arguments"),
    ] {
        let result = call(&world, "coreTools.connections.create", with(extra.clone())).await;
        assert_eq!(code(&result), expected, "{extra}: {result}");
    }
    let missing = call(
        &world,
        "coreTools.connections.create",
        json!({"owner": "org", "name": "x", "integration": "petstore", "template": "apikey-0"}),
    )
    .await;
    assert_eq!(
        missing["error"]["message"],
        "A connection must supply at least one credential input."
    );
    let missing_integration = call(
        &world,
        "coreTools.connections.create",
        with(json!({"integration": "nope"})),
    )
    .await;
    assert_eq!(
        missing_integration["error"]["details"],
        json!({ "slug": "nope" })
    );
}

#[tokio::test]
async fn connections_create_refuses_values_without_echoing_them() {
    let world = approved_world().await;
    for key in ["value", "values"] {
        let value = if key == "value" {
            json!("canary-pasted-secret")
        } else {
            json!({ "token": "canary-pasted-secret" })
        };
        let result = call(
            &world,
            "coreTools.connections.create",
            json!({"owner": "org", "name": "x", "integration": "petstore", "template": "apikey-0", key: value}),
        )
        .await;
        assert_eq!(code(&result), "invalid_tool_arguments");
        assert_eq!(
            result["error"]["details"]["issues"][0]["path"],
            format!("/{key}")
        );
        assert!(result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connections.createHandoff"));
        assert!(!result.to_string().contains("canary-pasted"), "{result}");
    }
    let count = world
        .sql
        .query(Statement::new(
            "SELECT COUNT(*) AS n FROM connection",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(count[0]["n"], 1);
}

#[tokio::test]
async fn create_handoff_links_into_the_console() {
    let world = world().await;
    // `POST /api/executions` arrived at http://127.0.0.1:8787 (loopback: the request origin).
    let handoff = call(
        &world,
        "coreTools.connections.createHandoff",
        json!({"integration": "petstore", "owner": "org", "template": "apikey-0", "label": "Prod & test"}),
    )
    .await;
    assert_eq!(handoff["ok"], true, "{handoff}");
    assert_eq!(
        handoff["data"]["url"],
        "http://127.0.0.1:8787/default/integrations/petstore?addAccount=1&owner=org&template=apikey-0&label=Prod+%26+test"
    );
    assert!(handoff["data"]["instructions"]
        .as_str()
        .unwrap()
        .contains("connections.list"));
    let bare = call(
        &world,
        "coreTools.connections.createHandoff",
        json!({"integration": "petstore"}),
    )
    .await;
    assert_eq!(
        bare["data"]["url"],
        "http://127.0.0.1:8787/default/integrations/petstore?addAccount=1"
    );
    // Not gated: the user does the writing.
    let metadata = world
        .call("GET", "/api/tools?integration=executor", None)
        .await
        .json_body()
        .unwrap();
    let handoff_tool = metadata
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "coreTools.connections.createHandoff")
        .unwrap();
    assert_eq!(handoff_tool["requiresApproval"], Value::Null);

    for slug in ["nope", "executor"] {
        let missing = call(
            &world,
            "coreTools.connections.createHandoff",
            json!({ "integration": slug }),
        )
        .await;
        assert_eq!(code(&missing), "integration_not_found", "{slug}");
    }
    let bad = call(
        &world,
        "coreTools.connections.createHandoff",
        json!({"integration": "petstore", "owner": "everyone"}),
    )
    .await;
    assert_eq!(code(&bad), "invalid_tool_arguments");
}

#[tokio::test]
async fn create_handoff_without_a_known_origin_is_a_path_and_prefers_the_public_url() {
    let mut world = world().await;
    async fn host_url(world: &TestWorld, origin: Option<&str>) -> Value {
        let principal = crate::auth::dev_principal(&world.config);
        let services = world.services();
        let host = super::CatalogHost::new(services, &principal).with_web_origin(origin);
        let code = "return (await tools.executor.coreTools.connections.createHandoff({ integration: 'petstore' })).data.url;";
        let limits = crate::sandbox::Limits::default();
        let run = crate::sandbox::run(code, &limits, &host, services.clock).await;
        run.result.unwrap()
    }
    assert_eq!(
        host_url(&world, None).await,
        json!("/default/integrations/petstore?addAccount=1")
    );
    world.config.public_site_url = Some("https://executor.example.com".into());
    assert_eq!(
        host_url(&world, Some("https://executor.example.workers.dev")).await,
        json!("https://executor.example.com/default/integrations/petstore?addAccount=1")
    );
    assert_eq!(
        host_url(&world, None).await,
        json!("https://executor.example.com/default/integrations/petstore?addAccount=1")
    );
}

#[tokio::test]
async fn connections_remove_and_refresh() {
    let world = world().await;
    let key = json!({"owner": "org", "integration": "petstore", "name": "main"});
    for name in ["remove", "refresh"] {
        let gated = call(
            &world,
            &format!("coreTools.connections.{name}"),
            key.clone(),
        )
        .await;
        assert_eq!(code(&gated), "paused", "{name}");
    }
    add_policy(
        &world,
        Owner::Org,
        "executor.coreTools.connections.*",
        "approve",
    )
    .await;

    let refreshed = call(&world, "coreTools.connections.refresh", key.clone()).await;
    let tools = refreshed["data"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 5);
    assert_eq!(
        tools[0]["address"],
        "tools.petstore.org.main.pets.createPet"
    );
    assert_eq!(tools[0]["pluginId"], "openapi");

    assert_eq!(
        call(&world, "coreTools.connections.remove", key.clone()).await,
        json!({"ok": true, "data": {"removed": true}})
    );
    for name in ["remove", "refresh"] {
        let gone = call(
            &world,
            &format!("coreTools.connections.{name}"),
            key.clone(),
        )
        .await;
        assert_eq!(code(&gone), "connection_not_found", "{name}");
        assert_eq!(gone["error"]["details"], key);
    }
    let bad = call(
        &world,
        "coreTools.connections.remove",
        json!({"owner": "org", "integration": "petstore"}),
    )
    .await;
    assert_eq!(code(&bad), "invalid_tool_arguments");
    assert_eq!(
        bad["error"]["details"]["issues"][0]["message"]
            .as_str()
            .map(|m| m.contains("name")),
        Some(true)
    );
}

// ---------------------------------------------------------------------------------------------
// Policies

#[tokio::test]
async fn policies_crud() {
    let world = world().await;
    let gated = call(
        &world,
        "coreTools.policies.create",
        json!({"owner": "user", "pattern": "petstore.*", "action": "block"}),
    )
    .await;
    assert_eq!(code(&gated), "paused");
    add_policy(
        &world,
        Owner::Org,
        "executor.coreTools.policies.*",
        "approve",
    )
    .await;

    let listed = call(&world, "coreTools.policies.list", json!({})).await;
    assert_eq!(listed["data"]["policies"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["data"]["policies"][0]["pattern"],
        "executor.coreTools.policies.*"
    );

    let created = call(
        &world,
        "coreTools.policies.create",
        json!({"owner": "user", "pattern": "tools.petstore.*", "action": "block"}),
    )
    .await;
    let policy = &created["data"];
    assert_eq!(
        (
            policy["owner"].clone(),
            policy["pattern"].clone(),
            policy["action"].clone(),
            policy["position"].clone()
        ),
        (
            json!("user"),
            json!("petstore.*"),
            json!("block"),
            json!("a0")
        )
    );
    let id = policy["id"].as_str().unwrap().to_owned();
    // The route sees it.
    let route = world
        .call("GET", "/api/policies", None)
        .await
        .json_body()
        .unwrap();
    assert_eq!(route[0]["id"], json!(id));

    let updated = call(
        &world,
        "coreTools.policies.update",
        json!({"id": id, "owner": "user", "action": "require_approval"}),
    )
    .await;
    assert_eq!(updated["data"]["action"], "require_approval");
    assert_eq!(updated["data"]["pattern"], "petstore.*");

    let invalid = call(
        &world,
        "coreTools.policies.create",
        json!({"owner": "org", "pattern": "pet*", "action": "block"}),
    )
    .await;
    assert_eq!(code(&invalid), "invalid_policy");
    assert_eq!(invalid["error"]["details"], json!({ "field": "pattern" }));
    let bad_action = call(
        &world,
        "coreTools.policies.create",
        json!({"owner": "org", "pattern": "petstore.*", "action": "allow"}),
    )
    .await;
    assert_eq!(code(&bad_action), "invalid_tool_arguments");
    let wrong_owner = call(
        &world,
        "coreTools.policies.update",
        json!({"id": id, "owner": "org", "action": "approve"}),
    )
    .await;
    assert_eq!(code(&wrong_owner), "policy_not_found");
    assert_eq!(
        wrong_owner["error"]["details"],
        json!({ "id": id, "owner": "org" })
    );

    assert_eq!(
        call(
            &world,
            "coreTools.policies.remove",
            json!({"id": id, "owner": "user"})
        )
        .await,
        json!({"ok": true, "data": {"removed": true}})
    );
    let again = call(
        &world,
        "coreTools.policies.remove",
        json!({"id": id, "owner": "user"}),
    )
    .await;
    assert_eq!(code(&again), "policy_not_found");
}

#[tokio::test]
async fn a_policy_created_in_a_run_does_not_change_that_run() {
    // The run's policies are loaded once: an agent cannot approve itself mid-run.
    let world = world().await;
    add_policy(
        &world,
        Owner::Org,
        "executor.coreTools.policies.create",
        "approve",
    )
    .await;
    let result = run(
        &world,
        "await tools.executor.coreTools.policies.create({ owner: 'user', pattern: 'executor.*', action: 'approve' });
         return await tools.executor.coreTools.connections.remove({ owner: 'org', integration: 'petstore', name: 'main' });",
    )
    .await;
    assert_eq!(code(&result), "paused");
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

#[tokio::test]
async fn openapi_preview_and_add() {
    let world = world().await;
    let preview = call(
        &world,
        "openapi.previewSpec",
        json!({ "spec": petstore_spec() }),
    )
    .await;
    assert_eq!(preview["ok"], true);
    assert_eq!(preview["data"]["title"], "Tiny Petstore");
    assert_eq!(preview["data"]["operationCount"], 5);
    assert!(preview["data"].get("operations").is_none());
    let unparsable = call(
        &world,
        "openapi.previewSpec",
        json!({ "spec": "{ not json" }),
    )
    .await;
    assert_eq!(code(&unparsable), "openapi_parse_failed");
    assert!(unparsable["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Failed to parse OpenAPI document"));
    let unfetchable = call(
        &world,
        "openapi.previewSpec",
        json!({ "spec": "https://specs.example.com/missing.json" }),
    )
    .await;
    assert_eq!(code(&unfetchable), "openapi_parse_failed");
    assert!(unfetchable["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Failed to fetch OpenAPI document"));

    let args = json!({ "spec": petstore_spec(), "slug": "pets2", "name": "Pets again" });
    let gated = call(&world, "openapi.addSpec", args.clone()).await;
    assert_eq!(code(&gated), "paused");
    add_policy(&world, Owner::User, "executor.openapi.addSpec", "approve").await;
    assert_eq!(
        call(&world, "openapi.addSpec", args.clone()).await,
        json!({"ok": true, "data": {"slug": "pets2", "toolCount": 5}})
    );
    let integration = world.call("GET", "/api/integrations/pets2", None).await;
    assert_eq!(integration.json_body().unwrap()["name"], "Pets again");
    let again = call(&world, "openapi.addSpec", args).await;
    assert_eq!(code(&again), "integration_already_exists");
    assert_eq!(again["error"]["details"], json!({ "slug": "pets2" }));

    world.http.serve(
        "https://specs.example.com/openapi.json",
        "application/json",
        petstore_spec(),
    );
    let by_url = call(
        &world,
        "openapi.addSpec",
        json!({ "spec": "https://specs.example.com/openapi.json", "slug": "pets3" }),
    )
    .await;
    assert_eq!(by_url["data"]["toolCount"], 5);
    let listed = world.call("GET", "/api/integrations/pets3", None).await;
    assert_eq!(listed.json_body().unwrap()["canRefresh"], true);
    let bad_slug = call(
        &world,
        "openapi.addSpec",
        json!({ "spec": petstore_spec(), "slug": "no spaces" }),
    )
    .await;
    assert_eq!(code(&bad_slug), "invalid_openapi_input");
    let no_headers = call(
        &world,
        "openapi.addSpec",
        json!({ "spec": petstore_spec(), "slug": "p4", "headers": {"x": "y"} }),
    )
    .await;
    assert_eq!(code(&no_headers), "invalid_tool_arguments");
}

// ---------------------------------------------------------------------------------------------
// Describe, unavailable tools, secrets

#[tokio::test]
async fn describe_and_schema_show_previews() {
    let world = world().await;
    let described = run(
        &world,
        "return await tools.describe.tool({ path: 'executor.coreTools.connections.list' });",
    )
    .await;
    assert_eq!(
        described["inputTypeScript"],
        r#"{ integration?: string; owner?: "org" | "user"; verbose?: boolean; }"#
    );
    let output = described["outputTypeScript"].as_str().unwrap();
    assert!(
        output.starts_with("{ ok: true; data: { connections: { address: string; "),
        "{output}"
    );
    assert!(
        output.ends_with(" } | { ok: false; error: ToolError }"),
        "{output}"
    );
    assert!(output.contains("oauthScopeCount: number | null;"));
    assert_eq!(
        described["typeScriptDefinitions"],
        json!({ "ToolError": crate::tools::TOOL_ERROR_TS })
    );

    let (_, view) = {
        let r = world
            .call(
                "GET",
                "/api/tools/schema?address=executor.coreTools.policies.create",
                None,
            )
            .await;
        (r.status, r.json_body().unwrap())
    };
    assert_eq!(
        view["inputSchema"]["required"],
        json!(["owner", "pattern", "action"])
    );
    assert_eq!(
        view["inputTypeScript"],
        r#"{ action: "approve" | "require_approval" | "block"; owner: "org" | "user"; pattern: string; position?: string; }"#
    );
    assert!(view.get("schemaDefinitions").is_none());

    let graphql = run(
        &world,
        "return await tools.describe.tool({ path: 'executor.graphql.addIntegration' });",
    )
    .await;
    assert!(graphql["inputTypeScript"]
        .as_str()
        .unwrap()
        .contains("endpoint: string;"));
    let oauth = run(
        &world,
        "return await tools.describe.tool({ path: 'executor.coreTools.oauth.start' });",
    )
    .await;
    assert!(oauth["inputTypeScript"]
        .as_str()
        .unwrap()
        .contains("clientOwner: \"org\" | \"user\""));
}

#[tokio::test]
async fn graphql_tools_call_the_graphql_services() {
    let world = approved_world().await;
    let missing = call(&world, "graphql.addIntegration", json!({})).await;
    assert_eq!(code(&missing), "invalid_tool_arguments");
    let bad = call(
        &world,
        "graphql.addIntegration",
        json!({"endpoint": "ftp://api.example.com/graphql"}),
    )
    .await;
    assert_eq!(code(&bad), "invalid_graphql_input");
    let broken = call(
        &world,
        "graphql.addIntegration",
        json!({"endpoint": "https://api.example.com/graphql", "introspectionJson": "[1]"}),
    )
    .await;
    assert_eq!(code(&broken), "graphql_introspection_failed");
    // Adding makes no network call (no network in this world); tools come per connection.
    let added = call(
        &world,
        "graphql.addIntegration",
        json!({"endpoint": "https://api.example.com/graphql", "slug": "gql"}),
    )
    .await;
    assert_eq!(added["ok"], true, "{added}");
    assert_eq!(added["data"]["slug"], "gql");
    let again = call(
        &world,
        "graphql.addIntegration",
        json!({"endpoint": "https://api.example.com/graphql", "slug": "gql"}),
    )
    .await;
    assert_eq!(code(&again), "integration_already_exists");
    let got = call(&world, "graphql.getIntegration", json!({"slug": "gql"})).await;
    assert_eq!(got["data"]["slug"], "gql");
    assert_eq!(
        got["data"]["config"]["endpoint"], "https://api.example.com/graphql",
        "{got}"
    );
    let nope = call(&world, "graphql.getIntegration", json!({"slug": "nope"})).await;
    assert_eq!(code(&nope), "integration_not_found");
    // Policies still block them first.
    add_policy(&world, Owner::User, "executor.graphql.*", "block").await;
    let blocked = call(&world, "graphql.getIntegration", json!({"slug": "gql"})).await;
    assert_eq!(code(&blocked), "tool_blocked");
}

#[tokio::test]
async fn mcp_tools_call_the_mcp_services() {
    let world = approved_world().await;
    let result = call(&world, "mcp.probeEndpoint", json!({})).await;
    assert_eq!(code(&result), "invalid_tool_arguments");
    let added = call(
        &world,
        "mcp.addServer",
        json!({"name": "Docs", "endpoint": "https://docs.example.com/mcp", "headers": {"x": "y"}}),
    )
    .await;
    assert_eq!(
        code(&added),
        "invalid_tool_arguments",
        "static headers are console-only"
    );
    let added = call(
        &world,
        "mcp.addServer",
        json!({"name": "Docs", "endpoint": "https://docs.example.com/mcp"}),
    )
    .await;
    assert_eq!(added, json!({"ok": true, "data": {"slug": "docs"}}));
    let got = call(&world, "mcp.getServer", json!({"slug": "docs"})).await;
    assert_eq!(
        got["data"]["config"]["endpoint"],
        "https://docs.example.com/mcp"
    );
    assert!(
        got["data"]["config"].get("headers").is_none(),
        "static headers are console-only"
    );
    let missing = call(&world, "mcp.getServer", json!({"slug": "nope"})).await;
    assert_eq!(code(&missing), "integration_not_found");
    let again = call(
        &world,
        "mcp.addServer",
        json!({"name": "Docs", "endpoint": "https://docs.example.com/mcp"}),
    )
    .await;
    assert_eq!(code(&again), "integration_already_exists");
    // Unreachable (no network in this world) ⇒ a typed failure.
    let probed = call(
        &world,
        "mcp.probeEndpoint",
        json!({"endpoint": "https://docs.example.com/mcp"}),
    )
    .await;
    assert_eq!(code(&probed), "mcp_connection_failed");
}

#[tokio::test]
async fn oauth_tools_run_over_the_oauth_services() {
    let world = approved_world().await;
    let created = call(
        &world,
        "coreTools.oauth.clients.create",
        json!({"owner": "org", "slug": "app", "grant": "authorization_code",
               "authorizationUrl": "https://as.example.test/authorize",
               "tokenUrl": "https://as.example.test/token", "clientId": "public-client"}),
    )
    .await;
    assert_eq!(created, json!({"ok": true, "data": {"client": "app"}}));
    // A secret is not an accepted argument.
    let refused = call(
        &world,
        "coreTools.oauth.clients.create",
        json!({"owner": "org", "slug": "x", "grant": "client_credentials",
               "tokenUrl": "https://as.example.test/token", "clientId": "c",
               "clientSecret": "nope"}),
    )
    .await;
    assert_eq!(code(&refused), "invalid_tool_arguments");
    let listed = call(&world, "coreTools.oauth.clients.list", json!({})).await;
    assert_eq!(listed["data"]["clients"][0]["clientId"], "public-client");

    let started = call(
        &world,
        "coreTools.oauth.start",
        json!({"client": "app", "clientOwner": "org", "owner": "org", "name": "main",
               "integration": "petstore", "template": "apikey-0"}),
    )
    .await;
    assert_eq!(started["ok"], true, "{started}");
    assert_eq!(started["data"]["status"], "redirect");
    let url = started["data"]["authorizationUrl"].as_str().unwrap();
    assert!(url.starts_with("https://as.example.test/authorize?response_type=code"));
    assert!(url.contains("code_challenge_method=S256"));
    let state = started["data"]["state"].as_str().unwrap();
    let cancelled = call(&world, "coreTools.oauth.cancel", json!({ "state": state })).await;
    assert_eq!(cancelled, json!({"ok": true, "data": {"cancelled": true}}));

    let handoff = call(
        &world,
        "coreTools.oauth.clients.createHandoff",
        json!({"integration": "petstore", "grant": "client_credentials"}),
    )
    .await;
    let link = handoff["data"]["url"].as_str().unwrap();
    assert!(
        link.contains("/integrations/petstore?addAccount=1&oauthClient=1&grant=client_credentials"),
        "{link}"
    );
    let probe = call(
        &world,
        "coreTools.oauth.probe",
        json!({"url": "https://nothing.example.test"}),
    )
    .await;
    assert_eq!(code(&probe), "oauth_probe_failed");
    let removed = call(
        &world,
        "coreTools.oauth.clients.remove",
        json!({"owner": "org", "slug": "app"}),
    )
    .await;
    assert_eq!(removed, json!({"ok": true, "data": {"removed": true}}));
}

#[tokio::test]
async fn no_result_carries_a_credential_value() {
    // `run` checks every result for the canary; this drives every runnable tool once.
    let world = approved_world().await;
    connect(&world, "dev", "petstore", Owner::User, "mine", CANARY).await;
    let script = r#"
        const t = tools.executor.coreTools;
        const key = { owner: 'org', integration: 'petstore', name: 'main' };
        const out = [];
        out.push(await t.integrations.list({}));
        out.push(await t.connections.list({ verbose: true }));
        out.push(await t.connections.create({ owner: 'org', name: 'copy', integration: 'petstore',
            template: 'apikey-0', from: { provider: 'encrypted', id: 'connection:org:petstore:main:token' } }));
        out.push(await t.connections.create({ owner: 'org', name: 'copy', integration: 'petstore',
            template: 'apikey-0', value: 'x' }));
        out.push(await t.connections.createHandoff({ integration: 'petstore' }));
        out.push(await t.connections.refresh(key));
        out.push(await t.providers.list({}));
        out.push(await t.providers.items({ provider: 'encrypted' }));
        out.push(await t.policies.list({}));
        out.push(await tools.executor.openapi.previewSpec({ spec: 'openapi: 3.0.0' }));
        out.push(await t.connections.remove(key));
        out.push(await t.connections.list({ verbose: true }));
        return out;
    "#;
    let results = run(&world, script).await;
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 12);
    let failures: Vec<&str> = results.iter().map(code).collect();
    assert_eq!(
        failures,
        [
            "(ok)",
            "(ok)",
            "(ok)",
            "invalid_tool_arguments",
            "(ok)",
            "(ok)",
            "(ok)",
            "(ok)",
            "(ok)",
            "openapi_extraction_failed",
            "(ok)",
            "(ok)"
        ]
    );
    // Also absent from storage rows that tools read back, except the sealed secret itself.
    let rows = world
        .sql
        .query(Statement::new("SELECT item_ids FROM connection", vec![]))
        .await
        .unwrap();
    assert!(!format!("{rows:?}").contains(CANARY));
}
