#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::http::testing::TestWorld;
use crate::net::http::{OutboundRequest, OutboundResponse};
use crate::plugins::graphql::fixture;
use crate::store::Sql;

const ENDPOINT: &str = "https://api.example.com/graphql";
const CANARY: &str = "canary-graphql-5e0c91";

async fn post(world: &TestWorld, path: &str, body: Value) -> (u16, Value) {
    let r = world.call("POST", path, Some(&body)).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

async fn get(world: &TestWorld, path: &str) -> (u16, Value) {
    let r = world.call("GET", path, None).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

fn json_response(body: Value) -> OutboundResponse {
    OutboundResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn body_of(request: &OutboundRequest) -> Value {
    serde_json::from_slice(request.body.as_deref().unwrap_or(b"null")).unwrap()
}

/// A GraphQL server: introspection, `hello`, `createUser`.
fn serve(world: &TestWorld) {
    world.http.on(|request| {
        if !request.url.starts_with(ENDPOINT) {
            return None;
        }
        let body = body_of(request);
        let query = body["query"].as_str().unwrap_or_default();
        Some(if query.contains("__schema") {
            json_response(fixture::small())
        } else if query.starts_with("query Hello") {
            json_response(json!({"data": {"hello": format!("hello {}", body["variables"]["name"].as_str().unwrap())}}))
        } else if query.starts_with("mutation CreateUser") {
            json_response(json!({"data": {"createUser": {"id": "u1", "name": body["variables"]["input"]["name"]}}}))
        } else {
            json_response(json!({"errors": [{"message": "unknown operation"}]}))
        })
    });
}

fn add_body() -> Value {
    json!({
        "endpoint": ENDPOINT,
        "authenticationTemplate": [{"type": "apiKey", "headers": {"X-Api-Key": ["Key ", {"type": "variable", "name": "token"}]}}],
    })
}

async fn connect(world: &TestWorld, integration: &str) {
    let (status, body) = post(
        world,
        "/api/connections",
        json!({"owner": "org", "name": "main", "integration": integration, "template": "header", "value": CANARY}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn execute(world: &TestWorld, code: &str) -> Value {
    let (status, body) = post(world, "/api/executions", json!({ "code": code })).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(CANARY), "{body}");
    body
}

#[tokio::test]
async fn add_makes_no_call_and_config_routes_answer() {
    let world = TestWorld::new();
    let (status, body) = post(&world, "/api/graphql/integrations", add_body()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"slug": "api_example_com", "name": "api_example_com"})
    );
    assert!(world.http.requests.borrow().is_empty());

    let (status, body) = post(&world, "/api/graphql/integrations", add_body()).await;
    assert_eq!(
        (status, body["_tag"].clone()),
        (409, json!("IntegrationAlreadyExistsError"))
    );

    let (_, config) = get(&world, "/api/graphql/integrations/api_example_com/config").await;
    assert_eq!(
        config,
        json!({"endpoint": ENDPOINT, "name": "api_example_com", "authenticationTemplate": [
            {"kind": "apikey", "slug": "header", "placements": [{"carrier": "header", "name": "X-Api-Key", "prefix": "Key "}]}]})
    );
    let (_, raw) = get(&world, "/api/graphql/integrations/api_example_com").await;
    assert_eq!(raw["endpoint"], ENDPOINT);
    assert_eq!(
        get(&world, "/api/graphql/integrations/nope").await,
        (200, Value::Null)
    );
    assert_eq!(
        get(&world, "/api/graphql/integrations/nope/config").await,
        (200, Value::Null)
    );

    let (status, body) = post(
        &world,
        "/api/graphql/integrations/api_example_com/config",
        json!({"authenticationTemplate": [{"kind": "oauth2"}, {"kind": "none"}, {"kind": "none"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let slugs: Vec<&str> = body["authenticationTemplate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["header", "oauth2", "none", "none_2"]);
    let (_, body) = post(
        &world,
        "/api/graphql/integrations/nope/config",
        json!({"authenticationTemplate": []}),
    )
    .await;
    assert_eq!(body, json!({"authenticationTemplate": []}));

    let (_, list) = get(&world, "/api/integrations").await;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slug"] == "api_example_com")
        .unwrap()
        .clone();
    assert_eq!(entry["kind"], "graphql");
    assert_eq!(entry["displayUrl"], ENDPOINT);
    assert_eq!(entry["canRefresh"], true);
    let methods = entry["authMethods"].as_array().unwrap();
    assert_eq!(methods.len(), 4);
    assert_eq!(methods[0]["kind"], "apikey");
    assert_eq!(
        methods[1],
        json!({"id": "oauth2", "label": "OAuth", "kind": "oauth", "template": "oauth2", "oauth": {}})
    );
    assert_eq!(methods[2]["kind"], "none");
}

#[tokio::test]
async fn bad_input_is_a_typed_400() {
    let world = TestWorld::new();
    let mut body = add_body();
    body["introspectionJson"] = json!("{not json");
    let (status, answer) = post(&world, "/api/graphql/integrations", body.clone()).await;
    assert_eq!(
        (status, answer["_tag"].clone()),
        (400, json!("GraphqlIntrospectionError"))
    );
    body["introspectionJson"] = json!(r#"{"__schema": {"types": []}}"#);
    let (status, answer) = post(&world, "/api/graphql/integrations", body.clone()).await;
    assert_eq!(
        (status, answer["_tag"].clone()),
        (400, json!("GraphqlExtractionError"))
    );
    // Larger than a fetched introspection result may be: refused before parsing, limit named.
    let limit = crate::plugins::graphql::store::MAX_INTROSPECTION_BYTES;
    body["introspectionJson"] = json!(format!("{{\"data\":\"{}\"}}", "x".repeat(limit)));
    let (status, answer) = post(&world, "/api/graphql/integrations", body).await;
    assert_eq!(
        (status, answer["_tag"].clone()),
        (400, json!("GraphqlIntrospectionError"))
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("16 MiB"),
        "{answer}"
    );
    let (status, _) = post(
        &world,
        "/api/graphql/integrations",
        json!({"endpoint": "ftp://x"}),
    )
    .await;
    assert_eq!(status, 400);
    // Nothing was written.
    let (_, list) = get(&world, "/api/integrations").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn connection_introspects_then_query_and_gated_mutation_run() {
    let world = TestWorld::new();
    serve(&world);
    post(&world, "/api/graphql/integrations", add_body()).await;
    connect(&world, "api_example_com").await;
    {
        let requests = world.http.requests.borrow();
        assert_eq!(requests.len(), 1, "one introspection");
        assert!(requests[0]
            .headers
            .iter()
            .any(|(n, v)| n == "X-Api-Key" && v == &format!("Key {CANARY}")));
    }
    let (_, tools) = get(&world, "/api/tools").await;
    let names: Vec<String> = tools
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["pluginId"] == "graphql" && t["static"].is_null())
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "mutation.createUser",
            "query.hello",
            "query.user",
            "query.users"
        ]
    );

    let found = execute(&world, "return await tools.search({ query: 'hello' });").await;
    assert!(
        found
            .to_string()
            .contains("api_example_com.org.main.query.hello"),
        "{found}"
    );
    let described = execute(
        &world,
        "return await tools.describe.tool({ path: 'api_example_com.org.main.mutation.createUser' });",
    )
    .await;
    assert!(
        described.to_string().contains("CreateUserInput"),
        "{described}"
    );

    let answer = execute(
        &world,
        "return await tools.api_example_com.org.main.query.hello({ name: 'ada' });",
    )
    .await;
    assert_eq!(
        answer["structured"]["result"],
        json!({"ok": true, "data": {"hello": "hello ada"}}),
        "{answer}"
    );

    let paused = execute(
        &world,
        "return await tools.api_example_com.org.main.mutation.createUser({ input: { name: 'bo' } });",
    )
    .await;
    assert_eq!(paused["status"], "paused", "{paused}");
    let id = paused["structured"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = world.http.requests.borrow().len();
    let (status, done) = post(
        &world,
        &format!("/api/executions/{id}/resume"),
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["structured"]["result"],
        json!({"ok": true, "data": {"createUser": {"id": "u1", "name": "bo"}}}),
        "{done}"
    );
    assert!(!done.to_string().contains(CANARY));
    let requests = world.http.requests.borrow();
    assert_eq!(requests.len(), before + 1);
    assert_eq!(
        body_of(requests.last().unwrap())["variables"],
        json!({"input": {"name": "bo"}})
    );
}

#[tokio::test]
async fn a_supplied_schema_needs_no_introspection() {
    let world = TestWorld::new();
    let mut body = add_body();
    body["slug"] = json!("gql");
    body["introspectionJson"] = json!(fixture::small().to_string());
    let (status, answer) = post(&world, "/api/graphql/integrations", body).await;
    assert_eq!(status, 200, "{answer}");
    connect(&world, "gql").await;
    assert!(world.http.requests.borrow().is_empty());
    let (_, tools) = get(&world, "/api/tools").await;
    assert_eq!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["pluginId"] == "graphql" && t["static"].is_null())
            .count(),
        4
    );
    let stored = || async {
        world
            .sql
            .query(crate::store::Statement::new(
                "SELECT COUNT(*) AS n FROM plugin_storage WHERE plugin_id = 'graphql'",
                vec![],
            ))
            .await
            .unwrap()[0]["n"]
            .as_i64()
            .unwrap()
    };
    assert!(stored().await > 4);
    let r = world.call("DELETE", "/api/integrations/gql", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(stored().await, 0);
}

#[tokio::test]
async fn failed_introspection_means_zero_tools() {
    let world = TestWorld::new();
    post(&world, "/api/graphql/integrations", add_body()).await;
    connect(&world, "api_example_com").await;
    let (_, tools) = get(&world, "/api/tools").await;
    assert!(tools
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["pluginId"] != "graphql" || t["static"] == true));
}

#[tokio::test]
async fn detection_has_confidence_levels() {
    let world = TestWorld::new();
    serve(&world);
    let (_, found) = post(&world, "/api/integrations/detect", json!({"url": ENDPOINT})).await;
    let graphql: Vec<&Value> = found
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "graphql")
        .collect();
    assert_eq!(
        graphql,
        [
            &json!({"kind": "graphql", "confidence": "high", "endpoint": ENDPOINT, "name": "api.example.com", "slug": "api_example_com"})
        ]
    );
    let (_, found) = post(
        &world,
        "/api/integrations/detect",
        json!({"url": "https://other.example.com/v1/graphql"}),
    )
    .await;
    assert_eq!(
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "graphql")
            .unwrap()["confidence"],
        "low"
    );
    let (_, found) = post(
        &world,
        "/api/integrations/detect",
        json!({"url": "https://other.example.com/graphqlish"}),
    )
    .await;
    assert!(found
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["kind"] != "graphql"));
}
