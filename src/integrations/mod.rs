//! The integration catalog: the built-in `executor` entry plus the tenant's rows in D1
//! (executor-behaviour.md §3.2–§3.3). The skeleton lists them; adding sources comes with the
//! catalog work.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{decode_rows, Sql, Statement, StoreError};

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

/// The static entry for built-in tools; always first.
pub fn built_in() -> Integration {
    Integration {
        slug: "executor".into(),
        name: "Executor".into(),
        description: "Executor".into(),
        kind: "built-in".into(),
        can_remove: false,
        can_refresh: false,
        auth_methods: Vec::new(),
        display_url: None,
    }
}

#[derive(Debug, Deserialize)]
struct IntegrationRow {
    slug: String,
    plugin_id: String,
    name: Option<String>,
    description: Option<String>,
    can_remove: i64,
    can_refresh: i64,
}

const LIST_SQL: &str = "SELECT slug, plugin_id, name, description, can_remove, can_refresh \
     FROM integration WHERE tenant = ?1 ORDER BY created_at, slug";

/// `GET /api/integrations`: built-ins first, then stored rows in creation order.
pub async fn list(sql: &dyn Sql, tenant: &str) -> Result<Vec<Integration>, StoreError> {
    let rows: Vec<IntegrationRow> = decode_rows(
        sql.query(Statement::new(LIST_SQL, vec![tenant.into()]))
            .await?,
    )?;
    let mut out = vec![built_in()];
    out.extend(rows.into_iter().map(|row| {
        Integration {
            name: row
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| row.description.clone().filter(|d| !d.is_empty()))
                .unwrap_or_else(|| row.slug.clone()),
            description: row.description.unwrap_or_default(),
            kind: row.plugin_id,
            can_remove: row.can_remove != 0,
            can_refresh: row.can_refresh != 0,
            auth_methods: Vec::new(),
            display_url: None,
            slug: row.slug,
        }
    }));
    Ok(out)
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
