//! The `encrypted` provider (executor-behaviour.md §5): secrets sealed with
//! [`crate::crypto::SecretBox`] and stored as `plugin_storage` rows (`plugin_id =
//! 'encryptedSecrets'`, `collection = 'secrets'`, `key` = the item id, `data` = the `v1.…`
//! ciphertext as a JSON string).
//!
//! Partitioning fixes upstream's defect (§14 #2): a secret is written into the partition of the
//! connection that owns it — org secrets with `subject = ''`, so every member of the tenant can
//! resolve an org connection — instead of the writer's user partition. Reads look in the caller's
//! user partition first, then the org partition.
//!
//! Values never leave through this module except as [`SecretValue`] from [`resolve`], for the
//! single consumer that injects them into an outbound request.

use std::collections::BTreeMap;

use crate::app::Keyring;
use crate::crypto::{CryptoError, SecretValue};
use crate::owner::Partition;
use crate::store::{Sql, SqlValue, Statement, StoreError};

/// The provider key on the wire.
pub const PROVIDER_KEY: &str = "encrypted";
/// The `plugin_storage.plugin_id` of the rows.
pub const PLUGIN_ID: &str = "encryptedSecrets";
/// The `plugin_storage.collection` of the rows.
pub const COLLECTION: &str = "secrets";

/// Why a secret could not be read or written. Never carries a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("stored secret row is not a JSON string")]
    Corrupt,
}

const UPSERT_SQL: &str = "INSERT INTO plugin_storage \
     (row_id, tenant, owner, subject, plugin_id, collection, key, data, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, 'encryptedSecrets', 'secrets', ?5, ?6, ?7, ?7) \
     ON CONFLICT (tenant, owner, subject, plugin_id, collection, key) \
     DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";

/// Seals `value` and returns the statement that stores it under `item_id` in `partition`.
/// Callers put it in the same [`Sql::batch`] as the rows that reference the item.
pub fn seal_statement(
    keyring: &dyn Keyring,
    partition: &Partition,
    item_id: &str,
    value: &SecretValue,
    now_ms: i64,
) -> Result<Statement, CryptoError> {
    let data = sealed_data(keyring, value)?;
    Ok(Statement::new(
        UPSERT_SQL,
        vec![
            crate::ids::uuid_v4().into(),
            partition.tenant.as_str().into(),
            partition.owner.as_str().into(),
            partition.subject.as_str().into(),
            item_id.into(),
            data.into(),
            SqlValue::Integer(now_ms),
        ],
    ))
}

/// The `data` of a row holding `value`: the sealed `v1.…` string as JSON (quoted). For callers
/// that write the row with their own (conditional) statement.
pub fn sealed_data(keyring: &dyn Keyring, value: &SecretValue) -> Result<String, CryptoError> {
    let sealed = keyring.secret_box()?.seal(value.expose())?;
    Ok(serde_json::Value::String(sealed).to_string())
}

const RESOLVE_SQL: &str = "SELECT data FROM plugin_storage \
     WHERE tenant = ?1 AND plugin_id = 'encryptedSecrets' AND collection = 'secrets' AND key = ?3 \
       AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
     ORDER BY CASE owner WHEN 'user' THEN 0 ELSE 1 END LIMIT 1";

/// The decrypted value of `item_id` as the caller `(tenant, subject)` sees it: the user row first,
/// then the org row; `None` when neither exists.
pub async fn resolve(
    sql: &dyn Sql,
    keyring: &dyn Keyring,
    tenant: &str,
    subject: &str,
    item_id: &str,
) -> Result<Option<SecretValue>, ProviderError> {
    let rows = sql
        .query(Statement::new(
            RESOLVE_SQL,
            vec![tenant.into(), subject.into(), item_id.into()],
        ))
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let stored = row
        .get("data")
        .and_then(serde_json::Value::as_str)
        .and_then(|data| serde_json::from_str::<String>(data).ok())
        .ok_or(ProviderError::Corrupt)?;
    Ok(Some(keyring.secret_box()?.open(&stored)?))
}

/// A SQL expression for queries where `c` is a `connection` row and `?7` the caller's subject:
/// the connection's sealed `encrypted` items as one JSON object `{variable: stored | null}`
/// (user row first, then org row, as [`resolve`] reads them); `{}` for other providers. Lets a
/// tool call fetch its credentials in the same round trip as the tool row; open the result with
/// [`open_sealed_items`].
macro_rules! sealed_items_of_connection {
    () => {
        "(SELECT json_group_object(ids.key, (SELECT s.data FROM plugin_storage s \
            WHERE s.tenant = c.tenant AND s.plugin_id = 'encryptedSecrets' \
              AND s.collection = 'secrets' AND s.key = ids.value \
              AND (s.owner = 'org' OR (s.owner = 'user' AND s.subject = ?7)) \
            ORDER BY CASE s.owner WHEN 'user' THEN 0 ELSE 1 END LIMIT 1)) \
          FROM json_each(c.item_ids) ids WHERE c.provider = 'encrypted')"
    };
}
pub(crate) use sealed_items_of_connection;

/// Opens what [`sealed_items_of_connection!`] selected: variable → value (`None` when the item
/// has no row).
pub fn open_sealed_items(
    keyring: &dyn Keyring,
    sealed: &str,
) -> Result<BTreeMap<String, Option<SecretValue>>, ProviderError> {
    let items: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(sealed).map_err(|_| ProviderError::Corrupt)?;
    let mut out = BTreeMap::new();
    for (variable, stored) in items {
        let value = match stored {
            serde_json::Value::Null => None,
            serde_json::Value::String(data) => {
                let stored: String =
                    serde_json::from_str(&data).map_err(|_| ProviderError::Corrupt)?;
                Some(keyring.secret_box()?.open(&stored)?)
            }
            _ => return Err(ProviderError::Corrupt),
        };
        out.insert(variable, value);
    }
    Ok(out)
}

const LIST_SQL: &str = "SELECT DISTINCT key FROM plugin_storage \
     WHERE tenant = ?1 AND plugin_id = 'encryptedSecrets' AND collection = 'secrets' \
       AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
     ORDER BY key";

/// The item ids visible to `(tenant, subject)` (org rows and the caller's own user rows).
pub async fn list_ids(
    sql: &dyn Sql,
    tenant: &str,
    subject: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sql
        .query(Statement::new(
            LIST_SQL,
            vec![tenant.into(), subject.into()],
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| row.get("key").and_then(|k| k.as_str()).map(str::to_string))
        .collect())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::app::LazyKeyring;
    use crate::config::Secret;
    use crate::owner::Owner;
    use crate::store::sqlite::SqliteStore;

    fn partition(owner: Owner, subject: &str) -> Partition {
        Partition {
            tenant: "default".into(),
            owner,
            subject: subject.into(),
        }
    }

    #[tokio::test]
    async fn seal_resolve_and_list_respect_partitions() {
        let db = SqliteStore::migrated().unwrap();
        let keyring = LazyKeyring::new(Secret::new("provider-test-key-0123456789"));
        let put = |p: Partition, id: &str, v: &str| {
            seal_statement(&keyring, &p, id, &SecretValue::new(v), 1).unwrap()
        };
        db.batch(vec![
            put(partition(Owner::Org, ""), "shared", "org-value"),
            put(partition(Owner::User, "alice"), "shared", "alice-value"),
            put(partition(Owner::User, "alice"), "mine", "alice-only"),
        ])
        .await
        .unwrap();

        let get = |subject: &'static str, id: &'static str| {
            let (db, keyring) = (&db, &keyring);
            async move {
                resolve(db, keyring, "default", subject, id)
                    .await
                    .unwrap()
                    .map(|v| v.expose().to_string())
            }
        };
        assert_eq!(get("alice", "shared").await.as_deref(), Some("alice-value"));
        assert_eq!(get("bob", "shared").await.as_deref(), Some("org-value"));
        assert_eq!(get("bob", "mine").await, None);
        assert_eq!(get("alice", "mine").await.as_deref(), Some("alice-only"));
        assert_eq!(
            resolve(&db, &keyring, "other", "alice", "shared")
                .await
                .unwrap()
                .map(|_| ()),
            None
        );

        assert_eq!(
            list_ids(&db, "default", "alice").await.unwrap(),
            ["mine", "shared"]
        );
        assert_eq!(list_ids(&db, "default", "bob").await.unwrap(), ["shared"]);

        // Re-sealing the same item replaces it (upsert).
        db.batch(vec![put(partition(Owner::Org, ""), "shared", "org-2")])
            .await
            .unwrap();
        assert_eq!(get("bob", "shared").await.as_deref(), Some("org-2"));

        // The stored row is the quoted `v1.` ciphertext, never the value.
        let rows = db
            .query(Statement::new(
                "SELECT data FROM plugin_storage WHERE subject = '' AND key = 'shared'",
                vec![],
            ))
            .await
            .unwrap();
        let data = rows[0]["data"].as_str().unwrap();
        assert!(data.starts_with("\"v1."), "{data}");
        assert!(!data.contains("org-2"));
    }

    #[tokio::test]
    async fn wrong_key_is_an_error_not_a_value() {
        let db = SqliteStore::migrated().unwrap();
        let keyring = LazyKeyring::new(Secret::new("provider-test-key-0123456789"));
        let p = partition(Owner::Org, "");
        db.batch(vec![seal_statement(
            &keyring,
            &p,
            "k",
            &SecretValue::new("v"),
            1,
        )
        .unwrap()])
            .await
            .unwrap();
        let other = LazyKeyring::new(Secret::new("another-key-0123456789abcdef"));
        let err = resolve(&db, &other, "default", "", "k").await.unwrap_err();
        assert_eq!(err, ProviderError::Crypto(CryptoError::WrongKeyOrCorrupted));
    }
}
