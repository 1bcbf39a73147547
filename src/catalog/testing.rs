//! Catalog fixtures for host tests: OpenAPI integrations, connections and policies written
//! straight into the storage layout of the shared contract (integration row with
//! `config.generation`, `op:`/`defs:` rows in `plugin_storage`, per-connection `tool` rows
//! produced by `INSERT … SELECT` from the operation rows).
//!
//! This is the one place that knows how rows get there; when the OpenAPI add route and tool
//! production land, [`seed_openapi`] and [`connect`] become calls to them.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::http::testing::TestWorld;
use crate::owner::Owner;
use crate::plugins::openapi::{
    defs_blob, derive_all_tools, derive_auth_templates, parse, DefsIndex, ToolAnnotations,
};
use crate::store::{Sql, SqlValue, Statement};
use crate::test_support::{gunzip_shared, read_shared};

/// The generation every seeded integration is at.
pub const GENERATION: &str = "g1";

/// The Tiny Petstore document (wire examples' fixture).
pub fn petstore_spec() -> String {
    read_shared("fixtures/openapi/petstore.openapi.json")
}

/// The GitHub REST document (1,223 operations).
pub fn github_spec() -> String {
    gunzip_shared("fixtures/openapi/github-api.openapi.json.gz")
}

const INSERT_INTEGRATION: &str = "INSERT INTO integration (row_id, tenant, slug, plugin_id, \
     name, description, config, config_revised_at, can_remove, can_refresh, created_at, \
     updated_at) VALUES (?1, ?2, ?3, 'openapi', ?4, ?5, ?6, 1, 1, 1, 1, 1)";
const INSERT_STORAGE: &str = "INSERT INTO plugin_storage (row_id, tenant, owner, subject, \
     plugin_id, collection, key, data, created_at, updated_at) \
     VALUES (?1, ?2, 'org', '', 'openapi', ?3, ?4, ?5, 1, 1)";

/// Adds the OpenAPI integration `slug` from `spec`: its row (config with the derived auth
/// templates, plus `extra_config` keys) and one generation of operation and definition rows.
/// Returns the number of operations.
pub async fn seed_openapi(
    world: &TestWorld,
    slug: &str,
    name: &str,
    spec: String,
    extra_config: Value,
) -> usize {
    let doc = parse(spec).unwrap();
    let tools = derive_all_tools(&doc);
    let blob = defs_blob(&doc);
    let defs = DefsIndex::new(&blob).unwrap();
    let mut config = json!({
        "specHash": "0".repeat(64),
        "specKey": format!("test/{slug}/spec"),
        "defsKey": format!("test/{slug}/defs"),
        "generation": GENERATION,
        "authenticationTemplate": derive_auth_templates(&doc),
    });
    if let (Value::Object(config), Value::Object(extra)) = (&mut config, extra_config) {
        config.extend(extra);
    }

    let tenant = world.tenant().to_owned();
    let mut statements = vec![Statement::new(
        INSERT_INTEGRATION,
        vec![
            crate::ids::uuid_v4().into(),
            tenant.as_str().into(),
            slug.into(),
            name.into(),
            doc_description(&doc).into(),
            config.to_string().into(),
        ],
    )];
    let op_collection = format!("op:{slug}:{GENERATION}");
    for tool in &tools {
        let schemas: Vec<&Value> = tool
            .input_schema
            .iter()
            .chain(tool.output_schema.iter())
            .collect();
        let reached: Vec<String> = defs.closure(&schemas).keys().cloned().collect();
        let annotations = (tool.annotations != ToolAnnotations::default())
            .then(|| serde_json::to_value(&tool.annotations).unwrap());
        let data = json!({
            "binding": tool.binding,
            "description": tool.description,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
            "annotations": annotations,
            "defs": reached,
        });
        statements.push(storage_row(
            &tenant,
            &op_collection,
            &tool.name,
            data.to_string(),
        ));
    }
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(&blob).unwrap();
    let defs_collection = format!("defs:{slug}:{GENERATION}");
    for (name, schema) in parsed {
        statements.push(storage_row(
            &tenant,
            &defs_collection,
            &name,
            schema.to_string(),
        ));
    }
    world.sql.batch(statements).await.unwrap();
    tools.len()
}

fn doc_description(doc: &crate::plugins::openapi::OpenApiDocument) -> Option<String> {
    crate::plugins::openapi::info(doc).description
}

fn storage_row(tenant: &str, collection: &str, key: &str, data: String) -> Statement {
    Statement::new(
        INSERT_STORAGE,
        vec![
            crate::ids::uuid_v4().into(),
            tenant.into(),
            collection.into(),
            key.into(),
            data.into(),
        ],
    )
}

const PRODUCE_TOOLS: &str = "INSERT INTO tool (row_id, tenant, owner, subject, integration, \
     connection, plugin_id, name, description, input_schema, output_schema, annotations, \
     created_at, updated_at) \
     SELECT lower(hex(randomblob(16))), op.tenant, ?2, ?3, ?4, ?5, op.plugin_id, op.key, \
       COALESCE(json_extract(op.data, '$.description'), ''), \
       json_extract(op.data, '$.inputSchema'), json_extract(op.data, '$.outputSchema'), \
       json_extract(op.data, '$.annotations'), ?6, ?6 \
     FROM plugin_storage op JOIN integration i ON i.tenant = op.tenant AND i.slug = ?4 \
     WHERE op.tenant = ?1 AND op.owner = 'org' AND op.subject = '' AND op.plugin_id = 'openapi' \
       AND op.collection = 'op:' || ?4 || ':' || json_extract(i.config, '$.generation') \
     ORDER BY op.key";
const STAMP_SYNCED: &str = "UPDATE connection SET tools_synced_at = ?6 WHERE tenant = ?1 \
     AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5";

/// Creates a connection through `POST /api/connections` as `user` (template `apikey-0`, the
/// pasted `value`), then produces its tools from the integration's current operation rows.
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
    let subject = match owner {
        Owner::Org => "",
        Owner::User => user,
    };
    let params: Vec<SqlValue> = vec![
        world.tenant().into(),
        owner.as_str().into(),
        subject.into(),
        integration.into(),
        name.into(),
        SqlValue::Integer(crate::http::testing::NOW_MS as i64),
    ];
    world
        .sql
        .batch(vec![
            Statement::new(PRODUCE_TOOLS, params.clone()),
            Statement::new(STAMP_SYNCED, params),
        ])
        .await
        .unwrap();
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
