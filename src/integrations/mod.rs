//! The integration catalog: the built-in `executor` entry plus the tenant's rows in D1
//! (executor-behaviour.md §3.2–§3.3): list, get, patch, remove, and URL detection ([`detect`]).
//! Adding and configuring integrations is plugin work (`crate::plugins::openapi::store`).

pub mod config;
pub mod detect;

use serde::Serialize;
use serde_json::Value;

use crate::store::{decode_rows, FromRow, RowReader, Sql, Statement, StoreError};

/// `IntegrationResponse` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub can_remove: bool,
    pub can_refresh: bool,
    pub auth_methods: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_url: Option<String>,
}

/// Slug of the static entry that holds the built-in tools.
pub const BUILT_IN_SLUG: &str = "executor";

/// The static entry for built-in tools; always first.
pub fn built_in() -> Integration {
    Integration {
        slug: BUILT_IN_SLUG.into(),
        name: "Executor".into(),
        description: "Executor".into(),
        kind: "built-in".into(),
        can_remove: false,
        can_refresh: false,
        auth_methods: Vec::new(),
        display_url: None,
    }
}

#[derive(Debug)]
struct IntegrationRow {
    slug: String,
    plugin_id: String,
    name: Option<String>,
    description: Option<String>,
    config: Option<String>,
    can_remove: i64,
    can_refresh: i64,
}

impl FromRow for IntegrationRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(IntegrationRow {
            slug: row.text("slug")?,
            plugin_id: row.text("plugin_id")?,
            name: row.opt_text("name")?,
            description: row.opt_text("description")?,
            config: row.opt_text("config")?,
            can_remove: row.int("can_remove")?,
            can_refresh: row.int("can_refresh")?,
        })
    }
}

const LIST_SQL: &str =
    "SELECT slug, plugin_id, name, description, config, can_remove, can_refresh \
     FROM integration WHERE tenant = ?1 ORDER BY created_at, slug";
const GET_SQL: &str = "SELECT slug, plugin_id, name, description, config, can_remove, can_refresh \
     FROM integration WHERE tenant = ?1 AND slug = ?2";

/// Auth methods as the console sees them, projected from the plugin's stored templates. A
/// config this build cannot read degrades to no methods; it never fails the listing.
fn auth_methods(plugin_id: &str, config: Option<&Value>) -> Vec<Value> {
    use crate::plugins::openapi::{auth_method_descriptors, AuthTemplate};
    if plugin_id == crate::plugins::graphql::store::PLUGIN_ID {
        return crate::plugins::graphql::store::auth_method_values(config);
    }
    if plugin_id == crate::plugins::mcp_remote::store::PLUGIN_ID {
        return crate::plugins::mcp_remote::store::auth_method_values(config);
    }
    if !matches!(plugin_id, "openapi" | "google" | "microsoft") {
        return Vec::new();
    }
    let Some(templates) = config.and_then(|c| c.get("authenticationTemplate")) else {
        return Vec::new();
    };
    match AuthTemplate::parse_list(&templates.to_string()) {
        Ok(templates) => auth_method_descriptors(&templates)
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Where the integration points, for display: `baseUrl ?? sourceUrl` for spec-based plugins,
/// the endpoint for GraphQL and MCP.
fn display_url(plugin_id: &str, config: Option<&Value>) -> Option<String> {
    let config = config?;
    let field = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_string);
    match plugin_id {
        "openapi" | "microsoft" => field("baseUrl").or_else(|| field("sourceUrl")),
        "google" => field("baseUrl").or_else(|| {
            config
                .get("googleDiscoveryUrls")
                .and_then(|u| u.get(0))
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
        "graphql" | "mcp" => field("endpoint"),
        _ => None,
    }
}

fn project(row: IntegrationRow) -> Integration {
    let config: Option<Value> = row
        .config
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    Integration {
        name: row
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| row.description.clone().filter(|d| !d.is_empty()))
            .unwrap_or_else(|| row.slug.clone()),
        description: row.description.unwrap_or_default(),
        can_remove: row.can_remove != 0,
        can_refresh: row.can_refresh != 0,
        auth_methods: auth_methods(&row.plugin_id, config.as_ref()),
        display_url: display_url(&row.plugin_id, config.as_ref()),
        kind: row.plugin_id,
        slug: row.slug,
    }
}

/// `GET /api/integrations`: built-ins first, then stored rows in creation order.
pub async fn list(sql: &dyn Sql, tenant: &str) -> Result<Vec<Integration>, StoreError> {
    let rows: Vec<IntegrationRow> = decode_rows(
        sql.query(Statement::new(LIST_SQL, vec![tenant.into()]))
            .await?,
    )?;
    let mut out = vec![built_in()];
    out.extend(rows.into_iter().map(project));
    Ok(out)
}

/// `GET /api/integrations/:slug`; `executor` is the static entry.
pub async fn get(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<Integration>, StoreError> {
    if slug == BUILT_IN_SLUG {
        return Ok(Some(built_in()));
    }
    let rows: Vec<IntegrationRow> = decode_rows(
        sql.query(Statement::new(GET_SQL, vec![tenant.into(), slug.into()]))
            .await?,
    )?;
    Ok(rows.into_iter().next().map(project))
}

/// The fields `PATCH /api/integrations/:slug` may change (absent = unchanged).
#[derive(Debug, Default)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl IntegrationPatch {
    /// Reads `{name?, description?}` (`null` = unchanged).
    pub fn parse(text: &str) -> Result<IntegrationPatch, String> {
        let f = crate::json_fields::Fields::parse(text, &["name", "description"], false)?;
        Ok(IntegrationPatch {
            name: f.opt_string("name")?,
            description: f.opt_string("description")?,
        })
    }
}

/// Applies a patch to a stored integration (the static `executor` entry has no row) and
/// re-reads it. Does not touch `config_revised_at`: names do not change tools.
pub async fn patch(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
    patch: &IntegrationPatch,
    now_ms: i64,
) -> Result<Option<Integration>, StoreError> {
    const PATCH_SQL: &str = "UPDATE integration SET name = COALESCE(?3, name), \
         description = COALESCE(?4, description), updated_at = ?5 WHERE tenant = ?1 AND slug = ?2";
    let changed = sql
        .execute(Statement::new(
            PATCH_SQL,
            vec![
                tenant.into(),
                slug.into(),
                patch.name.clone().into(),
                patch.description.clone().into(),
                now_ms.into(),
            ],
        ))
        .await?;
    if changed == 0 {
        return Ok(None);
    }
    get(sql, tenant, slug).await
}

/// Why a removal was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    NotAllowed,
}

/// `DELETE /api/integrations/:slug`: idempotent (unknown slugs and the built-in answer removed);
/// deletes the tools, definitions and connections of the integration that the caller can see,
/// the plugin's stored operations (OpenAPI `op:`/`defs:` rows — upstream leaves them orphaned),
/// then the row, atomically. Blobs stay: they are content-addressed and may be shared.
pub async fn remove(
    sql: &dyn Sql,
    tenant: &str,
    subject: &str,
    slug: &str,
) -> Result<RemoveOutcome, StoreError> {
    if slug == BUILT_IN_SLUG {
        return Ok(RemoveOutcome::Removed);
    }
    let Some(row) = decode_rows::<IntegrationRow>(
        sql.query(Statement::new(GET_SQL, vec![tenant.into(), slug.into()]))
            .await?,
    )?
    .into_iter()
    .next() else {
        return Ok(RemoveOutcome::Removed);
    };
    if row.can_remove == 0 {
        return Ok(RemoveOutcome::NotAllowed);
    }
    // Rows of this integration the caller can see: org rows and the caller's own user rows.
    let scoped =
        |sql: &'static str| Statement::new(sql, vec![tenant.into(), slug.into(), subject.into()]);
    sql.batch(vec![
        scoped("DELETE FROM tool WHERE tenant = ?1 AND integration = ?2 AND (owner = 'org' OR (owner = 'user' AND subject = ?3))"),
        scoped("DELETE FROM definition WHERE tenant = ?1 AND integration = ?2 AND (owner = 'org' OR (owner = 'user' AND subject = ?3))"),
        scoped("DELETE FROM connection WHERE tenant = ?1 AND integration = ?2 AND (owner = 'org' OR (owner = 'user' AND subject = ?3))"),
        crate::plugins::openapi::store::cleanup_statement(tenant, slug),
        crate::plugins::graphql::store::cleanup_statement(tenant, slug),
        crate::plugins::google::store::cleanup_statement(tenant, slug),
        crate::plugins::mcp_remote::store::cleanup_statement(tenant, slug),
        Statement::new(
            "DELETE FROM integration WHERE tenant = ?1 AND slug = ?2",
            vec![tenant.into(), slug.into()],
        ),
    ])
    .await?;
    Ok(RemoveOutcome::Removed)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn lists_built_in_then_rows_of_the_tenant_only() {
        let db = SqliteStore::migrated().unwrap();
        let insert =
            "INSERT INTO integration (row_id, tenant, slug, plugin_id, name, description, \
                      created_at, updated_at) VALUES (?1, ?2, ?3, 'openapi', ?4, ?5, ?6, ?6)";
        for (id, tenant, slug, name, desc, at) in [
            ("r1", "default", "petstore", None, Some("Pets"), 1),
            ("r2", "other", "hidden", Some("Hidden"), None, 2),
            ("r3", "default", "zoo", Some("Zoo API"), None, 3),
        ] {
            db.execute(Statement::new(
                insert,
                vec![
                    id.into(),
                    tenant.into(),
                    slug.into(),
                    name.into(),
                    desc.into(),
                    (at as i64).into(),
                ],
            ))
            .await
            .unwrap();
        }
        let list = list(&db, "default").await.unwrap();
        let slugs: Vec<_> = list.iter().map(|i| i.slug.as_str()).collect();
        assert_eq!(slugs, ["executor", "petstore", "zoo"]);
        assert_eq!(list[1].name, "Pets", "name falls back to the description");
        let json = serde_json::to_value(&list[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"slug":"executor","name":"Executor","description":"Executor",
                "kind":"built-in","canRemove":false,"canRefresh":false,"authMethods":[]})
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod route_tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use crate::http::testing::TestWorld;
    use crate::store::{Sql, Statement};

    fn petstore_config() -> serde_json::Value {
        json!({"sourceUrl": null, "baseUrl": null, "headers": null, "queryParams": null,
               "authenticationTemplate": [{"slug": "apikey-0", "kind": "apikey",
                   "placements": [{"carrier": "header", "name": "X-API-Key"}]}]})
    }

    #[tokio::test]
    async fn get_projects_auth_methods_and_answers_typed_404s() {
        let world = TestWorld::new();
        world
            .add_integration("petstore", "openapi", Some(&petstore_config()))
            .await;

        let got = world.call("GET", "/api/integrations/petstore", None).await;
        assert_eq!(got.status, 200);
        assert_eq!(
            got.json_body().unwrap(),
            json!({"slug":"petstore","name":"petstore","description":"","kind":"openapi",
                   "canRemove":true,"canRefresh":false,"authMethods":[{"id":"apikey-0",
                   "label":"API key (X-API-Key)","kind":"apikey","template":"apikey-0",
                   "placements":[{"carrier":"header","name":"X-API-Key","prefix":""}]}]})
        );
        let listed = world
            .call("GET", "/api/integrations", None)
            .await
            .json_body()
            .unwrap();
        assert_eq!(listed[1]["authMethods"][0]["id"], "apikey-0");

        let built_in = world.call("GET", "/api/integrations/executor", None).await;
        assert_eq!(built_in.json_body().unwrap()["kind"], "built-in");

        let missing = world.call("GET", "/api/integrations/nope", None).await;
        assert_eq!(missing.status, 404);
        assert_eq!(
            missing.json_body().unwrap(),
            json!({"_tag": "IntegrationNotFoundError", "slug": "nope"})
        );
        assert_eq!(
            world
                .send(None, "GET", "/api/integrations/petstore", None)
                .await
                .status,
            401
        );
    }

    #[tokio::test]
    async fn display_url_prefers_the_base_url() {
        let world = TestWorld::new();
        let config = json!({"sourceUrl": "https://example.com/openapi.json", "baseUrl": null});
        world.add_integration("a", "openapi", Some(&config)).await;
        let config =
            json!({"sourceUrl": "https://example.com/spec", "baseUrl": "https://api.example.com"});
        world.add_integration("b", "openapi", Some(&config)).await;
        let a = world
            .call("GET", "/api/integrations/a", None)
            .await
            .json_body()
            .unwrap();
        let b = world
            .call("GET", "/api/integrations/b", None)
            .await
            .json_body()
            .unwrap();
        assert_eq!(a["displayUrl"], "https://example.com/openapi.json");
        assert_eq!(b["displayUrl"], "https://api.example.com");
    }

    #[tokio::test]
    async fn patch_changes_only_given_fields_and_not_the_config_revision() {
        let world = TestWorld::new();
        world.add_integration("petstore", "openapi", None).await;
        let patched = world
            .call(
                "PATCH",
                "/api/integrations/petstore",
                Some(&json!({"description": "Pets"})),
            )
            .await;
        assert_eq!(patched.status, 200);
        let body = patched.json_body().unwrap();
        assert_eq!(
            (body["name"].clone(), body["description"].clone()),
            (json!("petstore"), json!("Pets"))
        );
        let renamed = world
            .call(
                "PATCH",
                "/api/integrations/petstore",
                Some(&json!({"name": "Pet Store"})),
            )
            .await
            .json_body()
            .unwrap();
        assert_eq!(
            (renamed["name"].clone(), renamed["description"].clone()),
            (json!("Pet Store"), json!("Pets"))
        );
        let rows = world
            .sql
            .query(Statement::new(
                "SELECT config_revised_at, updated_at FROM integration WHERE slug = 'petstore'",
                vec![],
            ))
            .await
            .unwrap();
        assert!(rows[0]["config_revised_at"].is_null());
        assert_ne!(rows[0]["updated_at"], 1);

        let static_entry = world
            .call(
                "PATCH",
                "/api/integrations/executor",
                Some(&json!({"name": "x"})),
            )
            .await;
        assert_eq!(static_entry.status, 404);
        let bad = world
            .call(
                "PATCH",
                "/api/integrations/petstore",
                Some(&json!({"name": 5})),
            )
            .await;
        assert_eq!(bad.status, 400);
    }

    #[tokio::test]
    async fn delete_is_idempotent_and_removes_only_what_the_caller_sees() {
        let world = TestWorld::new();
        world.add_integration("petstore", "openapi", None).await;
        let connection = "INSERT INTO connection (row_id, tenant, owner, subject, integration, name, \
             template, provider, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'petstore', ?5, 'none', 'encrypted', 1, 1)";
        for (id, owner, subject, name) in [
            ("c1", "org", "", "main"),
            ("c2", "user", "dev", "mine"),
            ("c3", "user", "someone", "theirs"),
        ] {
            world
                .exec(
                    connection,
                    vec![
                        id.into(),
                        world.tenant().into(),
                        owner.into(),
                        subject.into(),
                        name.into(),
                    ],
                )
                .await;
        }
        let removed = world
            .call("DELETE", "/api/integrations/petstore", None)
            .await;
        assert_eq!(removed.json_body().unwrap(), json!({"removed": true}));
        let left = world
            .sql
            .query(Statement::new(
                "SELECT name FROM connection ORDER BY name",
                vec![],
            ))
            .await
            .unwrap();
        assert_eq!(
            left.len(),
            1,
            "another user's private connection is not the caller's to delete"
        );
        assert_eq!(left[0]["name"], "theirs");
        assert_eq!(
            world
                .call("GET", "/api/integrations/petstore", None)
                .await
                .status,
            404
        );

        for slug in ["petstore", "never-existed", "executor"] {
            let again = world
                .call("DELETE", &format!("/api/integrations/{slug}"), None)
                .await;
            assert_eq!(
                again.json_body().unwrap(),
                json!({"removed": true}),
                "{slug}"
            );
        }

        world.add_integration("pinned", "openapi", None).await;
        world
            .exec(
                "UPDATE integration SET can_remove = 0 WHERE slug = 'pinned'",
                vec![],
            )
            .await;
        let refused = world.call("DELETE", "/api/integrations/pinned", None).await;
        assert_eq!(refused.status, 409);
        assert_eq!(
            refused.json_body().unwrap()["_tag"],
            "IntegrationRemovalNotAllowedError"
        );
    }
}
