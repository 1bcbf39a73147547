//! Catalog fixtures for host tests: OpenAPI integrations and connections added through the real
//! routes (so tool production is the production path), policies written as rows.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::http::testing::TestWorld;
use crate::owner::Owner;
use crate::store::{Sql, Statement};
use crate::test_support::{gunzip_shared, read_shared};

/// The Tiny Petstore document (wire examples' fixture).
pub fn petstore_spec() -> String {
    read_shared("fixtures/openapi/petstore.openapi.json")
}

/// The GitHub REST document (1,223 operations).
pub fn github_spec() -> String {
    gunzip_shared("fixtures/openapi/github-api.openapi.json.gz")
}

/// Adds the OpenAPI integration `slug` from `spec` through `POST /api/openapi/specs` (inline),
/// with `extra` request fields (`baseUrl`, `headers`, …). Returns the tool count.
pub async fn seed_openapi(
    world: &TestWorld,
    slug: &str,
    name: &str,
    spec: String,
    extra: Value,
) -> usize {
    let mut body = json!({ "spec": { "kind": "blob", "value": spec }, "slug": slug, "name": name });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    let response = world
        .send(Some("dev"), "POST", "/api/openapi/specs", Some(&body))
        .await;
    assert_eq!(response.status, 200, "{:?}", response.json_body());
    response.json_body().unwrap()["toolCount"].as_u64().unwrap() as usize
}

/// Creates a connection through `POST /api/connections` as `user` (template `apikey-0`, the
/// pasted `value`); the route produces its tools.
pub async fn connect(
    world: &TestWorld,
    user: &str,
    integration: &str,
    owner: Owner,
    name: &str,
    value: &str,
) {
    let response = world
        .send(
            Some(user),
            "POST",
            "/api/connections",
            Some(&json!({
                "owner": owner,
                "name": name,
                "integration": integration,
                "template": "apikey-0",
                "value": value,
                "identityLabel": "test key",
            })),
        )
        .await;
    assert_eq!(response.status, 200, "{:?}", response.json_body());
}

/// Stores a tool policy row (`owner` partition of user `dev` for `user` rules).
pub async fn add_policy(world: &TestWorld, owner: Owner, pattern: &str, action: &str) {
    let id = format!("pol_{}", crate::ids::hex(&crate::ids::random_bytes::<6>()));
    let subject = match owner {
        Owner::Org => "",
        Owner::User => "dev",
    };
    world
        .sql
        .execute(Statement::new(
            "INSERT INTO tool_policy (row_id, tenant, owner, subject, id, pattern, action, \
             position, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'a0', 1, 1)",
            vec![
                crate::ids::uuid_v4().into(),
                world.tenant().into(),
                owner.as_str().into(),
                subject.into(),
                id.into(),
                pattern.into(),
                action.into(),
            ],
        ))
        .await
        .unwrap();
}

/// The petstore world of the wire examples: integration `petstore`, org connection `main`.
pub async fn petstore_world() -> TestWorld {
    let world = TestWorld::new();
    seed_openapi(
        &world,
        "petstore",
        "Tiny Petstore",
        petstore_spec(),
        json!({}),
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
    world
}
