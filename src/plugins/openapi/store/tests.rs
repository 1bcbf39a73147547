//! Unit tests of the store's pieces below the routes (the routes: `src/http/openapi/tests.rs`).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::ingest::operation_row;
use super::*;
use crate::owner::{Owner, Partition};
use crate::plugins::openapi::{derive_all_tools, parse as parse_spec};
use crate::store::sqlite::SqliteStore;

#[test]
fn slug_rule() {
    for good in [
        "petstore",
        "petstore-url",
        "test_server",
        "A1",
        "9lives",
        &"x".repeat(64),
    ] {
        assert!(valid_slug(good), "{good}");
    }
    for bad in [
        "",
        "-x",
        "_x",
        "a.b",
        "a:b",
        "a/b",
        "a b",
        "ünï",
        &"x".repeat(65),
    ] {
        assert!(!valid_slug(bad), "{bad}");
    }
}

#[test]
fn config_keys_are_camel_case_and_absent_when_unset() {
    let config = OpenApiConfig {
        spec_hash: Some("h".into()),
        generation: Some("g1".into()),
        base_url: Some("https://api".into()),
        query_params: Some(BTreeMap::from([("k".into(), "v".into())])),
        ..OpenApiConfig::default()
    };
    assert_eq!(
        serde_json::from_str::<Value>(&config.to_json()).unwrap(),
        json!({"specHash": "h", "generation": "g1", "baseUrl": "https://api", "queryParams": {"k": "v"}})
    );
    assert_eq!(OpenApiConfig::parse(&config.to_json()).unwrap(), config);
    assert_eq!(config.ops_collection("p").as_deref(), Some("op:p:g1"));
    assert_eq!(config.defs_collection("p").as_deref(), Some("defs:p:g1"));
    assert_eq!(OpenApiConfig::default().ops_collection("p"), None);
    // Configs written by hand or by older builds read too.
    let old: OpenApiConfig = OpenApiConfig::parse(
        r#"{"sourceUrl": null, "authenticationTemplate": [{"slug": "anon", "kind": "none"}], "extra": 1}"#,
    )
    .unwrap();
    assert!(old.auth_template("anon").is_some() && old.auth_template("x").is_none());
}

#[test]
fn operation_rows_list_transitive_defs_and_object_schemas() {
    let doc = parse_spec(
        json!({
            "openapi": "3.1.0",
            "paths": {"/a": {"post": {
                "operationId": "make", "tags": ["a"],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                "responses": {"200": {"content": {"application/json": {"schema": true}}}}
            }}},
            "components": {"schemas": {
                "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"items": {"$ref": "#/components/schemas/C"}},
                "C": {"properties": {"a": {"$ref": "#/components/schemas/A"}}},
                "Unused": {}
            }}
        })
        .to_string(),
    )
    .unwrap();
    let tool = derive_all_tools(&doc).remove(0);
    let graph = BTreeMap::from([
        ("A".to_owned(), vec!["B".to_owned()]),
        ("B".to_owned(), vec!["C".to_owned()]),
        ("C".to_owned(), vec!["A".to_owned()]),
        ("Unused".to_owned(), vec![]),
    ]);
    let row = operation_row(tool, &graph);
    assert_eq!(row.defs, ["A", "B", "C"]);
    assert_eq!(
        row.output_schema,
        Some(json!({})),
        "boolean schemas become objects"
    );
    assert_eq!(
        serde_json::to_value(&row.annotations).unwrap(),
        json!({"requiresApproval": true, "approvalDescription": "POST /a"})
    );
}

async fn insert_row(db: &SqliteStore, collection: &str) {
    db.execute(Statement::new(
        "INSERT INTO plugin_storage (row_id, tenant, owner, subject, plugin_id, collection, key, \
         data, created_at, updated_at) VALUES (?1, 't', 'org', '', 'openapi', ?2, 'k', '{}', 1, 1)",
        vec![crate::ids::uuid_v4().into(), collection.into()],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn cleanup_takes_exactly_the_slugs_collections() {
    let db = SqliteStore::migrated().unwrap();
    for collection in [
        "op:pet:g1",
        "op:pet:g2",
        "defs:pet:g1",
        "op:petstore:g1",
        "op:pet-x:g1",
        "defs:pet_:g1",
        "op:pe:g1",
    ] {
        insert_row(&db, collection).await;
    }
    db.execute(cleanup_statement("t", "pet")).await.unwrap();
    let rows = db
        .query(Statement::new(
            "SELECT collection FROM plugin_storage ORDER BY collection",
            vec![],
        ))
        .await
        .unwrap();
    let left: Vec<&str> = rows
        .iter()
        .map(|r| r["collection"].as_str().unwrap())
        .collect();
    assert_eq!(
        left,
        ["defs:pet_:g1", "op:pe:g1", "op:pet-x:g1", "op:petstore:g1"]
    );
    db.execute(cleanup_statement("other-tenant", "petstore"))
        .await
        .unwrap();
    assert_eq!(
        db.query(Statement::new(
            "SELECT COUNT(*) AS n FROM plugin_storage",
            vec![]
        ))
        .await
        .unwrap()[0]["n"],
        4
    );
}

#[tokio::test]
async fn producing_without_a_generation_clears_and_stamps() {
    let db = SqliteStore::migrated().unwrap();
    db.execute(Statement::new(
        "INSERT INTO connection (row_id, tenant, owner, subject, integration, name, template, \
         provider, created_at, updated_at) VALUES ('c', 't', 'user', 'u', 'p', 'main', 'x', 'encrypted', 1, 1)",
        vec![],
    ))
    .await
    .unwrap();
    db.execute(Statement::new(
        "INSERT INTO tool (row_id, tenant, owner, subject, integration, connection, plugin_id, \
         name, created_at, updated_at) VALUES ('r', 't', 'user', 'u', 'p', 'main', 'openapi', 'old', 1, 1)",
        vec![],
    ))
    .await
    .unwrap();
    let partition = Partition {
        tenant: "t".into(),
        owner: Owner::User,
        subject: "u".into(),
    };
    produce_tools(
        &db,
        42,
        &partition,
        "p",
        "main",
        Some(&OpenApiConfig::default()),
    )
    .await
    .unwrap();
    let rows = db
        .query(Statement::new(
            "SELECT (SELECT COUNT(*) FROM tool) AS tools, tools_synced_at FROM connection",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(
        (rows[0]["tools"].clone(), rows[0]["tools_synced_at"].clone()),
        (json!(0), json!(42))
    );
}

#[test]
fn add_requests_are_read_with_the_schema_rules() {
    let add = AddRequest::parse(
        r#"{"slug":"p","spec":{"kind":"blob","value":"{\"openapi\":\"3.0.0\"}"},"headers":{"a":"b"},"other":"\ud800"}"#,
    )
    .unwrap();
    assert_eq!(add.slug, "p");
    assert_eq!(
        add.spec,
        SpecInput::Blob {
            value: r#"{"openapi":"3.0.0"}"#.into()
        }
    );
    assert_eq!(add.headers.unwrap()["a"], "b");
    let url = AddRequest::parse(r#"{"slug":"p","spec":{"kind":"url","url":"https://x"}}"#).unwrap();
    assert_eq!(
        url.spec,
        SpecInput::Url {
            url: "https://x".into()
        }
    );
    for bad in [
        r#"{"slug":"p"}"#,
        r#"{"slug":"p","spec":null}"#,
        r#"{"slug":5,"spec":{"kind":"url","url":"https://x"}}"#,
        r#"{"slug":"p","spec":{"kind":"file","value":"x"}}"#,
        r#"{"slug":"p","spec":{"kind":"blob"}}"#,
        r#"{"slug":"p","spec":{"kind":"blob","value":5}}"#,
        r#"{"slug":"p","slug":"q","spec":{"kind":"url","url":"https://x"}}"#,
        r#"{"slug":"p","spec":{"kind":"url","url":"https://x"},"headers":["x"]}"#,
    ] {
        assert!(AddRequest::parse(bad).is_err(), "{bad}");
    }
    assert!(SpecUpdate::parse("{}").unwrap().spec.is_none());
    assert!(ConfigUpdate::parse("{}").is_err());
    assert_eq!(
        ConfigUpdate::parse(r#"{"authenticationTemplate":null}"#)
            .unwrap()
            .authentication_template,
        Value::Null
    );
}
