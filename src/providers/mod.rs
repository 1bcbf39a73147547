//! Credential providers (executor-behaviour.md §3.7, §5). This host registers exactly one, the
//! writable [`encrypted`] provider; it is therefore the default store for pasted connection
//! values. Providers list item ids, never values.

pub mod encrypted;

pub use encrypted::ProviderError;

use serde::Serialize;

use crate::auth::Principal;
use crate::store::{Sql, StoreError};

/// Provider keys in registration order (`GET /api/providers`).
pub const PROVIDERS: &[&str] = &[encrypted::PROVIDER_KEY];

/// The provider that stores pasted values: the first writable one.
pub const DEFAULT_WRITABLE: &str = encrypted::PROVIDER_KEY;

/// Whether `key` names a registered provider.
pub fn is_registered(key: &str) -> bool {
    PROVIDERS.contains(&key)
}

/// One entry of `GET /api/providers/:key/items`: the item id as both `id` and `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderItem {
    pub id: String,
    pub name: String,
}

/// The items of provider `key` visible to the caller; an unknown key has none.
pub async fn list_items(
    sql: &dyn Sql,
    principal: &Principal,
    key: &str,
) -> Result<Vec<ProviderItem>, StoreError> {
    if key != encrypted::PROVIDER_KEY {
        return Ok(Vec::new());
    }
    let ids = encrypted::list_ids(sql, principal.tenant(), principal.subject()).await?;
    Ok(ids
        .into_iter()
        .map(|id| ProviderItem {
            name: id.clone(),
            id,
        })
        .collect())
}
