//! Route-level tests of `/api/openapi…` and `POST /api/integrations/detect`, replaying the
//! recorded wire examples where there are some.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::http::testing::{TestWorld, NOW_MS};
use crate::http::Response;
use crate::net::http::OutboundResponse;
use crate::store::{Sql, Statement};
use crate::test_support::{gunzip_shared, read_shared, wire};
use crate::time::FixedClock;

const PETSTORE_URL: &str = "http://127.0.0.1:8901/openapi.json";

fn petstore_text() -> String {
    read_shared("fixtures/openapi/petstore.openapi.json")
}

/// The petstore as recorded (the fixture with the recording's `info.description`).
fn recorded_petstore_text() -> String {
    read_shared("reference/wire-examples/inputs/petstore-openapi.json")
}

fn body(response: &Response) -> Value {
    response.json_body().unwrap_or(Value::Null)
}

/// Sends a recorded request and checks status and body against the recording.
async fn replay(world: &TestWorld, name: &str) -> Response {
    let exchange = wire(name);
    let request = &exchange["request"];
    let method = request["method"].as_str().unwrap();
    let path = request["path"].as_str().unwrap();
    let sent = (!request["body"].is_null()).then_some(&request["body"]);
    let response = world.call(method, path, sent).await;
    assert_eq!(
        (response.status, body(&response)),
        (
            exchange["response"]["status"].as_u64().unwrap() as u16,
            exchange["response"]["body"].clone()
        ),
        "{name}"
    );
    response
}

async fn count(world: &TestWorld, sql: &'static str) -> i64 {
    let rows = world.sql.query(Statement::new(sql, vec![])).await.unwrap();
    rows[0]["n"].as_i64().unwrap()
}

/// A world that serves the petstore at [`PETSTORE_URL`] and may reach loopback addresses (as
/// the recordings were made).
fn local_world() -> TestWorld {
    let mut world = TestWorld::new();
    world.config.allow_local_network = true;
    world
        .http
        .serve(PETSTORE_URL, "application/json", recorded_petstore_text());
    world
}

fn add_blob(slug: &str, spec: &str) -> Value {
    json!({"spec": {"kind": "blob", "value": spec}, "slug": slug})
}

/// Wire 20's connection on the petstore.
fn connection_request(name: &str) -> Value {
    json!({"owner": "org", "name": name, "integration": "petstore", "template": "apikey-0",
           "value": "secret-value", "identityLabel": "baseline key"})
}

#[tokio::test]
async fn preview_matches_wire_08_and_fetches_urls() {
    let world = local_world();
    replay(&world, "08-openapi-preview-petstore.json").await;
    let fetched = world
        .call(
            "POST",
            "/api/openapi/preview",
            Some(&json!({"spec": PETSTORE_URL})),
        )
        .await;
    assert_eq!(
        body(&fetched),
        wire("08-openapi-preview-petstore.json")["response"]["body"]
    );
    let bad = world
        .call(
            "POST",
            "/api/openapi/preview",
            Some(&json!({"spec": "{nope"})),
        )
        .await;
    assert_eq!(
        (bad.status, body(&bad)),
        (
            400,
            json!({"_tag": "OpenApiParseError", "message": "Failed to parse OpenAPI document"})
        )
    );
    let schema = world
        .call("POST", "/api/openapi/preview", Some(&json!({"spec": 5})))
        .await;
    assert_eq!(schema.status, 400);
    assert_eq!(
        count(&world, "SELECT COUNT(*) AS n FROM integration").await,
        0
    );
}

#[tokio::test]
async fn adding_matches_wire_09_to_18() {
    let world = local_world();
    replay(&world, "09-openapi-add-petstore-blob.json").await;
    replay(&world, "10-openapi-add-petstore-duplicate.json").await;
    replay(&world, "11-openapi-add-petstore-url.json").await;
    replay(&world, "12-openapi-add-upstream-test-server.json").await;
    replay(&world, "13-openapi-add-invalid-spec.json").await;
    replay(&world, "14-integrations-list-after-add.json").await;
    replay(&world, "15-integration-get-petstore.json").await;
    replay(&world, "16-integration-get-missing.json").await;
    replay(&world, "17-openapi-integration-petstore.json").await;
    replay(&world, "18-openapi-config-petstore.json").await;

    // The URL spec was fetched once, as §8.1.1 says.
    let fetch = {
        let requests = world.http.requests.borrow();
        assert_eq!(requests.len(), 1);
        requests[0].clone()
    };
    assert_eq!(
        (fetch.method.as_str(), fetch.url.as_str()),
        ("GET", PETSTORE_URL)
    );
    assert!(fetch.headers.contains(&(
        "accept".into(),
        "application/json, application/yaml, text/yaml, */*".into()
    )));
    assert_eq!(fetch.timeout_ms, 60_000);
    assert_eq!(fetch.max_body_bytes, 32 * 1024 * 1024);

    let url_config = world
        .call("GET", "/api/openapi/integrations/petstore-url/config", None)
        .await;
    assert_eq!(body(&url_config)["sourceUrl"], PETSTORE_URL);
    for missing in [
        "/api/openapi/integrations/nope",
        "/api/openapi/integrations/nope/config",
        "/api/openapi/integrations/executor",
    ] {
        let r = world.call("GET", missing, None).await;
        assert_eq!((r.status, body(&r)), (200, Value::Null), "{missing}");
    }

    // Stored layout: one generation per integration, 5 operations, 3 definitions, two blobs.
    assert_eq!(
        count(
            &world,
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE collection LIKE 'op:petstore:%'"
        )
        .await,
        5
    );
    assert_eq!(
        count(
            &world,
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE collection LIKE 'defs:petstore:%'"
        )
        .await,
        3
    );
    let rows = world
        .sql
        .query(Statement::new(
            "SELECT config, config_revised_at FROM integration WHERE slug = 'petstore'",
            vec![],
        ))
        .await
        .unwrap();
    let config: Value = serde_json::from_str(rows[0]["config"].as_str().unwrap()).unwrap();
    assert_eq!(rows[0]["config_revised_at"], json!(NOW_MS as i64));
    let spec_key = config["specKey"].as_str().unwrap();
    assert!(
        spec_key.starts_with("o:default/openapi/spec/"),
        "{spec_key}"
    );
    assert!(spec_key.ends_with(config["specHash"].as_str().unwrap()));
    use crate::store::Blobs;
    let spec = world.blobs.get(spec_key).await.unwrap().unwrap();
    assert_eq!(
        String::from_utf8(spec).unwrap(),
        wire("09-openapi-add-petstore-blob.json")["request"]["body"]["spec"]["value"]
            .as_str()
            .unwrap()
    );
    let defs = world
        .blobs
        .get(config["defsKey"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let defs: Value = serde_json::from_slice(&defs).unwrap();
    assert_eq!(defs["Pet"]["required"], json!(["id", "name"]));
    assert!(config.get("sourceUrl").is_none(), "absent keys stay absent");
}

#[tokio::test]
async fn operation_rows_follow_the_storage_contract() {
    use crate::plugins::openapi::store;
    let world = TestWorld::new();
    world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add_blob("petstore", &petstore_text())),
        )
        .await;
    let config = store::load_config(&world.sql, "default", "petstore")
        .await
        .unwrap()
        .unwrap();
    let get_pet = store::load_operation(&world.sql, "default", "petstore", &config, "pets.getPet")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(get_pet.binding.path_template, "/pets/{petId}");
    assert_eq!(get_pet.defs, ["Pet"]);
    assert!(get_pet.annotations.is_none());
    let schema = wire("28-tools-schema-getPet.json");
    let schema = &schema["response"]["body"];
    assert_eq!(get_pet.input_schema.as_ref(), Some(&schema["inputSchema"]));
    assert_eq!(
        get_pet.output_schema.as_ref(),
        Some(&schema["outputSchema"])
    );
    let defs = store::load_defs(&world.sql, "default", "petstore", &config, &get_pet.defs)
        .await
        .unwrap();
    assert_eq!(Value::Object(defs), schema["schemaDefinitions"]);

    let create =
        store::load_operation(&world.sql, "default", "petstore", &config, "pets.createPet")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(create.defs, ["NewPet", "Pet"]);
    assert_eq!(
        serde_json::to_value(&create.annotations).unwrap(),
        json!({"requiresApproval": true, "approvalDescription": "POST /pets"})
    );
    let raw = world
        .sql
        .query(Statement::new(
            "SELECT data FROM plugin_storage WHERE key = 'store.getInventory'",
            vec![],
        ))
        .await
        .unwrap();
    let raw: Value = serde_json::from_str(raw[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        raw["inputSchema"],
        Value::Null,
        "absent schemas are stored as null"
    );
    assert_eq!(raw["annotations"], Value::Null);
    assert_eq!(raw["defs"], json!([]));
    assert!(
        store::load_operation(&world.sql, "default", "petstore", &config, "nope")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn typed_spec_errors_leave_nothing_behind() {
    let world = TestWorld::new();
    let cases = [
        (
            r#"{"swagger": "2.0", "info": {}, "paths": {}}"#,
            "OpenApiExtractionError",
            "Swagger 2.0",
        ),
        (
            r#"{"openapi": "3.0.0", "info": {}}"#,
            "OpenApiExtractionError",
            "\"paths\"",
        ),
        (
            "just some words",
            "OpenApiParseError",
            "Failed to parse OpenAPI document",
        ),
        (
            "[1, 2]",
            "OpenApiParseError",
            "Failed to parse OpenAPI document",
        ),
    ];
    for (spec, tag, text) in cases {
        let r = world
            .call(
                "POST",
                "/api/openapi/specs",
                Some(&add_blob("broken", spec)),
            )
            .await;
        assert_eq!(
            (r.status, body(&r)["_tag"].clone()),
            (400, json!(tag)),
            "{spec}"
        );
        assert!(
            body(&r)["message"].as_str().unwrap().contains(text),
            "{}",
            body(&r)
        );
    }
    assert_eq!(
        count(&world, "SELECT COUNT(*) AS n FROM integration").await,
        0
    );
    assert_eq!(
        count(&world, "SELECT COUNT(*) AS n FROM plugin_storage").await,
        0
    );
}

#[tokio::test]
async fn slugs_are_validated() {
    let world = TestWorld::new();
    let spec = petstore_text();
    let long = "a".repeat(65);
    for slug in ["", "a.b", "has space", "x:y", "-lead", "ünï", long.as_str()] {
        let r = world
            .call("POST", "/api/openapi/specs", Some(&add_blob(slug, &spec)))
            .await;
        assert_eq!(
            (r.status, body(&r)["_tag"].clone()),
            (400, json!("HttpApiSchemaError")),
            "{slug:?}"
        );
    }
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add_blob("executor", &spec)),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            409,
            json!({"_tag": "IntegrationAlreadyExistsError", "slug": "executor"})
        )
    );
    for slug in ["Pet_Store-2", &"a".repeat(64)] {
        let r = world
            .call("POST", "/api/openapi/specs", Some(&add_blob(slug, &spec)))
            .await;
        assert_eq!(r.status, 200, "{slug}");
    }
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&json!({"spec": {"kind": "ftp", "url": "x"}, "slug": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        world
            .send(
                None,
                "POST",
                "/api/openapi/specs",
                Some(&add_blob("x", &spec))
            )
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn add_defaults_and_explicit_settings() {
    let world = TestWorld::new();
    let spec = json!({
        "openapi": "3.0.0", "info": {"title": "Titled", "version": "1"},
        "paths": {"/a": {"get": {"operationId": "a"}}},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
    .to_string();
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&json!({
                "spec": {"kind": "blob", "value": spec}, "slug": "custom",
                "baseUrl": "https://api.example.com/v1", "headers": {"X-Static": "1"},
                "queryParams": {"tenant": "t"},
                "authenticationTemplate": [{"type": "apiKey", "headers": {
                    "Authorization": ["Token ", {"type": "variable", "name": "token"}]}}]
            })),
        )
        .await;
    assert_eq!(body(&r), json!({"slug": "custom", "toolCount": 1}));
    let config = body(
        &world
            .call("GET", "/api/openapi/integrations/custom/config", None)
            .await,
    );
    assert_eq!(config["baseUrl"], "https://api.example.com/v1");
    assert_eq!(config["headers"], json!({"X-Static": "1"}));
    assert_eq!(config["queryParams"], json!({"tenant": "t"}));
    let template = &config["authenticationTemplate"][0];
    assert!(template["slug"].as_str().unwrap().starts_with("custom_"));
    assert_eq!(
        template["placements"],
        json!([{"carrier": "header", "name": "Authorization", "prefix": "Token "}])
    );
    let listed = body(&world.call("GET", "/api/integrations/custom", None).await);
    assert_eq!(
        (
            listed["name"].clone(),
            listed["description"].clone(),
            listed["displayUrl"].clone()
        ),
        (
            json!("Titled"),
            json!("Titled"),
            json!("https://api.example.com/v1")
        )
    );
    assert_eq!(
        listed["authMethods"][0]["placements"][0]["prefix"],
        "Token "
    );

    // Derived templates, and an explicit empty list that suppresses them.
    world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add_blob("derived", &spec)),
        )
        .await;
    let derived = body(
        &world
            .call("GET", "/api/openapi/integrations/derived/config", None)
            .await,
    );
    assert_eq!(
        derived["authenticationTemplate"],
        json!([{"kind": "apikey", "slug": "apikey-0", "placements": [
            {"carrier": "header", "name": "Authorization", "prefix": "Bearer "}]}])
    );
    let mut none = add_blob("none", &spec);
    none["authenticationTemplate"] = json!([]);
    world.call("POST", "/api/openapi/specs", Some(&none)).await;
    let none = body(
        &world
            .call("GET", "/api/openapi/integrations/none/config", None)
            .await,
    );
    assert_eq!(none["authenticationTemplate"], json!([]));

    let mut bad = add_blob("bad", &spec);
    bad["authenticationTemplate"] =
        json!([{"type": "apiKey", "headers": {"X": [{"type": "variable", "name": "a"}, "tail"]}}]);
    let r = world.call("POST", "/api/openapi/specs", Some(&bad)).await;
    assert_eq!(r.status, 400);
    assert!(
        body(&r)["message"].as_str().unwrap().contains("last part"),
        "{}",
        body(&r)
    );
}

#[tokio::test]
async fn url_fetch_failures() {
    // Loopback is refused without ALLOW_LOCAL_NETWORK, before any request leaves (wire 106).
    let world = TestWorld::new();
    world
        .http
        .serve(PETSTORE_URL, "application/json", petstore_text());
    replay(&world, "106-nolocal-openapi-add-url-127.json").await;
    assert!(world.http.requests.borrow().is_empty());

    world.http.on(|r| {
        (r.url == "https://specs.example.com/gone.json").then(|| OutboundResponse {
            status: 404,
            headers: Vec::new(),
            body: b"not here".to_vec(),
        })
    });
    let add = |url: &str| json!({"spec": {"kind": "url", "url": url}, "slug": "remote"});
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add("https://specs.example.com/gone.json")),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            400,
            json!({"_tag": "OpenApiParseError", "message": "Failed to fetch OpenAPI document: HTTP 404"})
        )
    );
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add("https://unreachable.example.com/x")),
        )
        .await;
    assert_eq!(body(&r)["message"], "Failed to fetch OpenAPI document");
    let r = world
        .call("POST", "/api/openapi/specs", Some(&add("not a url")))
        .await;
    assert_eq!(body(&r)["message"], "Failed to fetch OpenAPI document");
    assert_eq!(
        count(&world, "SELECT COUNT(*) AS n FROM integration").await,
        0
    );
}

#[tokio::test]
async fn detection_matches_wire_91() {
    let world = local_world();
    world.http.serve(
        "http://127.0.0.1:8901/page.html",
        "text/html",
        "<html><body>hello</body></html>",
    );
    world.http.serve(
        "http://127.0.0.1:8901/spec.yaml",
        "text/yaml",
        "openapi: 3.0.0\ninfo:\n  title: '***'\npaths: {}\n",
    );
    replay(&world, "91-integrations-detect.json").await;
    let detect = |url: &str| json!({"url": url});
    let r = world
        .call(
            "POST",
            "/api/integrations/detect",
            Some(&detect("  http://127.0.0.1:8901/spec.yaml\n")),
        )
        .await;
    assert_eq!(
        body(&r),
        json!([{"kind": "openapi", "confidence": "high", "endpoint": "http://127.0.0.1:8901/spec.yaml",
                "name": "***", "slug": "api"}])
    );
    for url in [
        "http://127.0.0.1:8901/page.html",
        "http://127.0.0.1:9/none",
        "",
        "nonsense",
    ] {
        let r = world
            .call("POST", "/api/integrations/detect", Some(&detect(url)))
            .await;
        assert_eq!((r.status, body(&r)), (200, json!([])), "{url}");
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let r = world
        .call("POST", "/api/integrations/detect", Some(&detect(&long)))
        .await;
    assert_eq!(r.status, 400);
    let r = world
        .call("POST", "/api/integrations/detect", Some(&json!({})))
        .await;
    assert_eq!(r.status, 400);
}

/// The petstore added by blob plus wire 20's connection.
async fn petstore_with_connection() -> TestWorld {
    let world = TestWorld::new();
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add_blob("petstore", &petstore_text())),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = world
        .call(
            "POST",
            "/api/connections",
            Some(&connection_request("main")),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", body(&r));
    world
}

#[tokio::test]
async fn connections_get_tool_rows_with_schemas() {
    let world = petstore_with_connection().await;
    let rows = world
        .sql
        .query(Statement::new(
            "SELECT name, description, input_schema, output_schema, annotations, plugin_id, owner, \
             subject FROM tool WHERE integration = 'petstore' AND connection = 'main' ORDER BY name",
            vec![],
        ))
        .await
        .unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "pets.createPet",
            "pets.deletePet",
            "pets.getPet",
            "pets.listPets",
            "store.getInventory"
        ]
    );
    let get_pet = &rows[2];
    let schema = wire("28-tools-schema-getPet.json");
    let parse = |v: &Value| serde_json::from_str::<Value>(v.as_str().unwrap()).unwrap();
    assert_eq!(
        parse(&get_pet["input_schema"]),
        schema["response"]["body"]["inputSchema"]
    );
    assert_eq!(
        parse(&get_pet["output_schema"]),
        schema["response"]["body"]["outputSchema"]
    );
    assert_eq!(get_pet["annotations"], Value::Null);
    assert_eq!(get_pet["description"], "Info for a specific pet");
    assert_eq!(
        (
            get_pet["plugin_id"].clone(),
            get_pet["owner"].clone(),
            get_pet["subject"].clone()
        ),
        (json!("openapi"), json!("org"), json!(""))
    );
    assert_eq!(
        parse(&rows[0]["annotations"]),
        json!({"requiresApproval": true, "approvalDescription": "POST /pets"})
    );
    assert_eq!(rows[4]["input_schema"], Value::Null);
    let synced = world
        .sql
        .query(Statement::new(
            "SELECT tools_synced_at FROM connection",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(synced[0]["tools_synced_at"], json!(NOW_MS as i64));

    let refreshed = world
        .call("POST", "/api/connections/org/petstore/main/refresh", None)
        .await;
    let refreshed = body(&refreshed);
    assert_eq!(refreshed.as_array().unwrap().len(), 5);
    assert_eq!(
        refreshed[2],
        json!({"address": "tools.petstore.org.main.pets.getPet", "owner": "org",
               "integration": "petstore", "connection": "main", "name": "pets.getPet",
               "pluginId": "openapi", "description": "Info for a specific pet"})
    );
    assert_eq!(count(&world, "SELECT COUNT(*) AS n FROM tool").await, 5);
    assert_eq!(
        count(&world, "SELECT COUNT(*) AS n FROM definition").await,
        0
    );
}

fn principal(world: &TestWorld, user: &str) -> crate::auth::Principal {
    let mut p = crate::auth::dev_principal(&world.config);
    p.account_id = user.into();
    p
}

#[tokio::test]
async fn config_updates_merge_replace_and_make_connections_stale() {
    let mut world = petstore_with_connection().await;
    // Another user's private connection: stale too, but not this caller's to refresh.
    let mut theirs = connection_request("theirs");
    theirs["owner"] = json!("user");
    let r = world
        .send(Some("someone"), "POST", "/api/connections", Some(&theirs))
        .await;
    assert_eq!(r.status, 200);

    world.clock = FixedClock(NOW_MS + 1_000.0);
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/petstore/config",
            Some(&json!({"authenticationTemplate": [
                {"type": "apiKey", "slug": "apikey-0", "label": "Key",
                 "headers": {"X-API-Key": [{"type": "variable", "name": "token"}]}},
                {"type": "apiKey", "queryParams": {"key": [{"type": "variable", "name": "token"}]}},
                {"slug": "oauth", "kind": "oauth2", "authorizationUrl": "https://a/authorize",
                 "tokenUrl": "https://a/token", "scopes": ["read"]}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200);
    let stored = body(&r)["authenticationTemplate"].clone();
    assert_eq!(stored.as_array().unwrap().len(), 3);
    assert_eq!(
        stored[0],
        json!({"kind": "apikey", "slug": "apikey-0", "label": "Key",
               "placements": [{"carrier": "header", "name": "X-API-Key"}]})
    );
    assert!(stored[1]["slug"].as_str().unwrap().starts_with("custom_"));
    assert_eq!(stored[2]["slug"], "oauth");
    let config = body(
        &world
            .call("GET", "/api/openapi/integrations/petstore/config", None)
            .await,
    );
    assert_eq!(config["authenticationTemplate"], stored);
    let listed = body(&world.call("GET", "/api/integrations/petstore", None).await);
    assert_eq!(listed["authMethods"][0]["label"], "Key");
    assert_eq!(listed["authMethods"][2]["kind"], "oauth");

    let revised = world
        .sql
        .query(Statement::new(
            "SELECT config_revised_at, updated_at FROM integration WHERE slug = 'petstore'",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(
        revised[0]["config_revised_at"],
        json!(NOW_MS as i64 + 1_000)
    );

    // The caller's stale connection is re-produced; the other user's stays stale.
    crate::connections::service::refresh_stale(world.services(), &principal(&world, "dev"))
        .await
        .unwrap();
    let synced = world
        .sql
        .query(Statement::new(
            "SELECT name, tools_synced_at FROM connection ORDER BY name",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(
        synced[0]["tools_synced_at"],
        json!(NOW_MS as i64 + 1_000),
        "main"
    );
    assert_eq!(synced[1]["tools_synced_at"], json!(NOW_MS as i64), "theirs");
    // Nothing stale left for this caller: a second pass writes nothing.
    world.clock = FixedClock(NOW_MS + 2_000.0);
    crate::connections::service::refresh_stale(world.services(), &principal(&world, "dev"))
        .await
        .unwrap();
    let synced = world
        .sql
        .query(Statement::new(
            "SELECT tools_synced_at FROM connection WHERE name = 'main'",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(synced[0]["tools_synced_at"], json!(NOW_MS as i64 + 1_000));

    // Replace mode; bad inputs; unknown integrations answer an empty list.
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/petstore/config",
            Some(&json!({"mode": "replace", "authenticationTemplate": [{"kind": "none", "slug": "anon"}]})),
        )
        .await;
    assert_eq!(
        body(&r),
        json!({"authenticationTemplate": [{"kind": "none", "slug": "anon"}]})
    );
    for bad in [
        json!({"authenticationTemplate": [{"type": "apiKey", "headers": {"X": [{"type": "variable", "name": "a"}, {"type": "variable", "name": "b"}]}}]}),
        json!({"authenticationTemplate": [], "mode": "sideways"}),
        json!({"mode": "merge"}),
    ] {
        let r = world
            .call(
                "POST",
                "/api/openapi/integrations/petstore/config",
                Some(&bad),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/nope/config",
            Some(&json!({"authenticationTemplate": [{"kind": "none"}]})),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (200, json!({"authenticationTemplate": []}))
    );
}

fn petstore_v2() -> String {
    let mut spec: Value = serde_json::from_str(&petstore_text()).unwrap();
    let paths = spec["paths"].as_object_mut().unwrap();
    paths["/pets/{petId}"]
        .as_object_mut()
        .unwrap()
        .remove("delete");
    paths.insert(
        "/owners".into(),
        json!({"get": {"operationId": "listOwners", "tags": ["owners"], "summary": "List owners"}}),
    );
    spec.to_string()
}

#[tokio::test]
async fn spec_updates_swap_generations_and_refresh_connections() {
    let mut world = petstore_with_connection().await;
    let first = current_generation(&world).await;

    world.clock = FixedClock(NOW_MS + 5_000.0);
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/petstore/spec",
            Some(&json!({"spec": {"kind": "blob", "value": petstore_v2()}})),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            200,
            json!({"slug": "petstore", "toolCount": 5, "addedTools": ["owners.listOwners"],
                   "removedTools": ["pets.deletePet"]})
        )
    );
    let second = current_generation(&world).await;
    assert_ne!(first, second);
    assert_eq!(
        count(
            &world,
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE collection LIKE 'op:%'"
        )
        .await,
        5,
        "the old generation's operations are gone"
    );
    assert_eq!(
        count(
            &world,
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE collection LIKE 'defs:%'"
        )
        .await,
        3
    );
    // The caller's connection was refreshed at once.
    let tools = world
        .sql
        .query(Statement::new(
            "SELECT name FROM tool ORDER BY name",
            vec![],
        ))
        .await
        .unwrap();
    let names: Vec<&str> = tools.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"owners.listOwners") && !names.contains(&"pets.deletePet"),
        "{names:?}"
    );
    // Auth templates and names are untouched.
    replay(&world, "18-openapi-config-petstore.json").await;

    // Inline specs cannot be re-fetched.
    for empty in [None, Some(json!({}))] {
        let r = world
            .call(
                "POST",
                "/api/openapi/integrations/petstore/spec",
                empty.as_ref(),
            )
            .await;
        assert_eq!(
            (r.status, body(&r)["_tag"].clone()),
            (400, json!("OpenApiParseError"))
        );
        assert!(body(&r)["message"]
            .as_str()
            .unwrap()
            .contains("pasted inline"));
    }
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/nope/spec",
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            404,
            json!({"_tag": "IntegrationNotFoundError", "slug": "nope"})
        )
    );
    // A bad new spec changes nothing.
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/petstore/spec",
            Some(&json!({"spec": {"kind": "blob", "value": "{broken"}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(current_generation(&world).await, second);
    assert_eq!(
        count(
            &world,
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE collection LIKE 'op:%'"
        )
        .await,
        5
    );

    // A URL integration re-fetches its source; a new URL becomes the source.
    world.config.allow_local_network = true;
    world
        .http
        .serve(PETSTORE_URL, "application/json", petstore_text());
    let r = world
        .call(
            "POST",
            "/api/openapi/integrations/petstore/spec",
            Some(&json!({"spec": {"kind": "url", "url": PETSTORE_URL}})),
        )
        .await;
    assert_eq!(
        body(&r),
        json!({"slug": "petstore", "toolCount": 5, "addedTools": ["pets.deletePet"],
               "removedTools": ["owners.listOwners"]})
    );
    let listed = body(&world.call("GET", "/api/integrations/petstore", None).await);
    assert_eq!(
        (listed["canRefresh"].clone(), listed["displayUrl"].clone()),
        (json!(true), json!(PETSTORE_URL))
    );
    let r = world
        .call("POST", "/api/openapi/integrations/petstore/spec", None)
        .await;
    assert_eq!(
        body(&r),
        json!({"slug": "petstore", "toolCount": 5, "addedTools": [], "removedTools": []})
    );
}

async fn current_generation(world: &TestWorld) -> String {
    let rows = world
        .sql
        .query(Statement::new(
            "SELECT config FROM integration WHERE slug = 'petstore'",
            vec![],
        ))
        .await
        .unwrap();
    let config: Value = serde_json::from_str(rows[0]["config"].as_str().unwrap()).unwrap();
    config["generation"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn removal_cleans_up_through_either_route() {
    let world = petstore_with_connection().await;
    world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add_blob("petstore2", &petstore_text())),
        )
        .await;
    let stored = "SELECT COUNT(*) AS n FROM plugin_storage WHERE plugin_id = 'openapi'";
    assert_eq!(count(&world, stored).await, 16);

    let r = world
        .call("DELETE", "/api/openapi/integrations/petstore", None)
        .await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert_eq!(
        count(&world, stored).await,
        8,
        "only petstore2's rows are left"
    );
    assert_eq!(count(&world, "SELECT COUNT(*) AS n FROM tool").await, 0);
    assert_eq!(
        count(&world, "SELECT COUNT(*) AS n FROM connection").await,
        0
    );
    let r = world
        .call("GET", "/api/openapi/integrations/petstore", None)
        .await;
    assert_eq!(body(&r), Value::Null);
    // Idempotent, and blind to other plugins' integrations.
    let r = world
        .call("DELETE", "/api/openapi/integrations/petstore", None)
        .await;
    assert_eq!(r.status, 204);
    world.add_integration("gql", "graphql", None).await;
    let r = world
        .call("DELETE", "/api/openapi/integrations/gql", None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        world
            .call("GET", "/api/integrations/gql", None)
            .await
            .status,
        200
    );

    let r = world
        .call("DELETE", "/api/integrations/petstore2", None)
        .await;
    assert_eq!(body(&r), json!({"removed": true}));
    assert_eq!(count(&world, stored).await, 0);
}

#[tokio::test]
async fn github_spec_ingests_in_bounded_statements() {
    let world = TestWorld::new();
    let spec = gunzip_shared("fixtures/openapi/github-api.openapi.json.gz");
    let r = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&add_blob("github", &spec)),
        )
        .await;
    drop(spec);
    assert_eq!(body(&r), json!({"slug": "github", "toolCount": 1223}));
    let high = world.sql.high_water();
    eprintln!("largest statement: {high:?}");
    assert!(high.params <= 100, "{high:?}");
    assert!(high.value_bytes < 1_000_000, "{high:?}");
    assert_eq!(
        count(
            &world,
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE collection LIKE 'op:github:%'"
        )
        .await,
        1223
    );
    let largest = world
        .sql
        .query(Statement::new(
            "SELECT MAX(length(data)) AS n FROM plugin_storage",
            vec![],
        ))
        .await
        .unwrap();
    assert!(largest[0]["n"].as_i64().unwrap() < 1_000_000);

    let mut connection = connection_request("main");
    connection["integration"] = json!("github");
    connection["template"] = json!("apikey-0");
    let r = world
        .call("POST", "/api/connections", Some(&connection))
        .await;
    assert_eq!(r.status, 200, "{:?}", body(&r));
    assert_eq!(count(&world, "SELECT COUNT(*) AS n FROM tool").await, 1223);
}

#[tokio::test]
async fn specs_over_the_size_limit_are_refused_with_the_limit_named() {
    use crate::plugins::openapi::store::MAX_SPEC_BYTES;
    let mut world = TestWorld::new();
    world.config.allow_local_network = true;
    // Valid JSON that is too large: a petstore with a long description.
    let padded = |extra: usize| {
        let mut spec: Value = serde_json::from_str(&petstore_text()).unwrap();
        spec["info"]["description"] = Value::String("x".repeat(extra));
        let text = spec.to_string();
        let over = text.len() - MAX_SPEC_BYTES;
        spec["info"]["description"] = Value::String("x".repeat(extra - over + 1));
        spec.to_string()
    };
    let big = padded(MAX_SPEC_BYTES);
    assert_eq!(big.len(), MAX_SPEC_BYTES + 1);

    let inline = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&json!({"slug": "big", "spec": {"kind": "blob", "value": big}})),
        )
        .await;
    assert_eq!(inline.status, 400);
    let answer = body(&inline);
    assert_eq!(answer["_tag"], "OpenApiParseError");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("larger than 32 MiB"),
        "{answer}"
    );
    let preview = world
        .call("POST", "/api/openapi/preview", Some(&json!({"spec": big})))
        .await;
    assert_eq!(preview.status, 400);
    assert!(body(&preview)["message"]
        .as_str()
        .unwrap()
        .contains("32 MiB"));

    world
        .http
        .serve(PETSTORE_URL, "application/json", big.into_bytes());
    let fetched = world
        .call(
            "POST",
            "/api/openapi/specs",
            Some(&json!({"slug": "big", "spec": {"kind": "url", "url": PETSTORE_URL}})),
        )
        .await;
    assert_eq!(fetched.status, 400);
    let answer = body(&fetched);
    assert_eq!(answer["_tag"], "OpenApiParseError");
    assert_eq!(
        answer["message"],
        "Failed to fetch OpenAPI document: the document is larger than 32 MiB"
    );
    // Nothing was stored.
    let list = body(&world.call("GET", "/api/integrations", None).await);
    assert!(!list.to_string().contains("\"big\""), "{list}");
}
