//! Read-modify-write of an integration row's stored `config` text, shared by every plugin
//! (OpenAPI, Google, GraphQL, MCP): read the text, let the plugin compute the new text, and
//! write it back only if nobody changed it meanwhile (compare-and-swap on the old text), retrying
//! a few times when another writer won.

use serde_json::Value;

use crate::app::Services;
use crate::store::{Statement, StoreError};

/// How often a rewrite retries after losing a race.
const ATTEMPTS: usize = 3;

const CONFIG_SQL: &str =
    "SELECT config FROM integration WHERE tenant = ?1 AND slug = ?2 AND plugin_id = ?3";

/// Why [`rewrite`] failed.
#[derive(Debug)]
pub enum RewriteError<E> {
    /// The plugin's `change` refused (bad input, broken stored config).
    Change(E),
    Store(StoreError),
    /// Every attempt lost to a concurrent writer; the message names the integration.
    Contended(String),
}

/// Rewrites the config of `plugin_id`'s integration `slug` with `change` (old text, `None` when
/// the column is NULL ⇒ new text and the caller's answer). `swap_sql` is the plugin's UPDATE:
/// it binds `?1` tenant, `?2` slug, `?3` new text, `?4` now (ms), `?5` old text, and must
/// match only when `config IS ?5` (it may also set plugin-specific columns from `?3`).
/// `Ok(None)`: no such integration of that plugin.
pub async fn rewrite<T, E>(
    services: Services<'_>,
    plugin_id: &str,
    swap_sql: &'static str,
    tenant: &str,
    slug: &str,
    mut change: impl FnMut(Option<&str>) -> Result<(String, T), E>,
) -> Result<Option<T>, RewriteError<E>> {
    for _ in 0..ATTEMPTS {
        let rows = services
            .sql
            .query(Statement::new(
                CONFIG_SQL,
                vec![tenant.into(), slug.into(), plugin_id.into()],
            ))
            .await
            .map_err(RewriteError::Store)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let old = row.get("config").and_then(Value::as_str).map(str::to_owned);
        let (next, answer) = change(old.as_deref()).map_err(RewriteError::Change)?;
        let now = services.clock.now_ms() as i64;
        let changed = services
            .sql
            .execute(Statement::new(
                swap_sql,
                vec![
                    tenant.into(),
                    slug.into(),
                    next.into(),
                    now.into(),
                    old.into(),
                ],
            ))
            .await
            .map_err(RewriteError::Store)?;
        if changed == 1 {
            return Ok(Some(answer));
        }
    }
    Err(RewriteError::Contended(format!(
        "config of {slug} kept changing under a concurrent writer"
    )))
}
