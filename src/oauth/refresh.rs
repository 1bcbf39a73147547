//! Fresh tokens before use (executor-behaviour.md §3.8 "Token refresh"): a connection with an
//! OAuth client whose `expires_at ≤ now + 60 s` is refreshed before a tool call reads its token.
//!
//! Several isolates may hold calls for the same connection, so the refresh is serialised by a
//! lease on the connection row (`oauth_refresh_lease`, claimed by a compare-and-swap `UPDATE`):
//! one claimant talks to the token endpoint, the others wait (bounded number of
//! [`crate::time::Timer`] sleeps) and re-read the row, then use the token the winner stored. The
//! winner writes the access token, a rotated refresh token, `expires_at` and the scope in one
//! batch whose every statement is conditional on still holding the lease. A dead refresh token
//! (`invalid_grant`) marks the connection (`oauth_reauth_required = 1`); from then on calls answer
//! `oauth_reauth_required` without asking the server again, until a new flow re-mints it.

use super::clients::{self, GRANT_CLIENT_CREDENTIALS};
use super::store;
use super::token;
use crate::app::Services;
use crate::connections::name;
use crate::crypto::SecretValue;
use crate::owner::{Owner, Partition};
use crate::providers::encrypted;

/// How long a claimant may hold the lease (a token request has 20 s; some slack).
pub const LEASE_MS: i64 = 30_000;
/// Waits for another claimant's refresh before giving up.
const MAX_WAITS: usize = 40;
/// Milliseconds between re-reads while another claimant refreshes.
const WAIT_MS: u64 = 250;

/// Why a connection has no usable access token.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshError {
    /// The grant is dead: the user must run the OAuth flow again.
    ReauthRequired { reason: String },
    /// The refresh failed for another reason (server down, bad answer, waited too long).
    Failed { reason: String },
    /// Storage or cipher failure (logged, opaque to the caller).
    Internal(String),
}

impl From<crate::store::StoreError> for RefreshError {
    fn from(e: crate::store::StoreError) -> Self {
        RefreshError::Internal(e.to_string())
    }
}
impl From<crate::providers::ProviderError> for RefreshError {
    fn from(e: crate::providers::ProviderError) -> Self {
        RefreshError::Internal(e.to_string())
    }
}
impl From<crate::crypto::CryptoError> for RefreshError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        RefreshError::Internal(e.to_string())
    }
}

/// Whether a token expiring at `expires_at` must be refreshed now.
pub fn due(expires_at: Option<i64>, now_ms: i64) -> bool {
    expires_at.is_some_and(|at| at <= now_ms + super::REFRESH_SKEW_MS)
}

/// The connection's access token, refreshed first when due. `partition` is the connection's;
/// `subject` is the caller's (for reading the client's secret when the client is user-owned).
pub async fn fresh_token(
    services: Services<'_>,
    partition: &Partition,
    integration: &str,
    name: &str,
) -> Result<Option<SecretValue>, RefreshError> {
    for _ in 0..=MAX_WAITS {
        let Some(state) = store::oauth_state(services.sql, partition, integration, name).await?
        else {
            return Ok(None);
        };
        if state.oauth_reauth_required != 0 {
            return Err(reauth(
                "the connection's refresh token was rejected earlier",
            ));
        }
        let now = services.clock.now_ms() as i64;
        if state.oauth_client.is_none() || !due(state.expires_at, now) {
            return current(services, partition, &state).await;
        }
        if state.oauth_refresh_lease.is_none_or(|l| l <= now) {
            // Unique per claimant: the expiry plus a random sub-second part.
            let lease = now
                + LEASE_MS
                + i64::from(u16::from_le_bytes(crate::ids::random_bytes::<2>()) % 1000);
            if store::claim_lease(services.sql, partition, integration, name, lease, now).await? {
                return refresh(services, partition, integration, name, &state, lease).await;
            }
        }
        // Someone else is refreshing: wait for their write, then read again.
        services.timer.sleep(WAIT_MS).await;
    }
    // Still not refreshed: a token that has not yet expired is still good for this call.
    let now = services.clock.now_ms() as i64;
    match store::oauth_state(services.sql, partition, integration, name).await? {
        Some(state) if state.expires_at.is_some_and(|at| at > now) => {
            current(services, partition, &state).await
        }
        _ => Err(RefreshError::Failed {
            reason: "another refresh of this connection did not finish in time".into(),
        }),
    }
}

fn reauth(reason: &str) -> RefreshError {
    RefreshError::ReauthRequired {
        reason: reason.into(),
    }
}

/// The stored access token.
async fn current(
    services: Services<'_>,
    partition: &Partition,
    state: &store::OAuthState,
) -> Result<Option<SecretValue>, RefreshError> {
    let items: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&state.item_ids).unwrap_or_default();
    let Some(item) = items.get(name::DEFAULT_VARIABLE) else {
        return Ok(None);
    };
    Ok(encrypted::resolve(
        services.sql,
        services.keyring,
        &partition.tenant,
        &partition.subject,
        item,
    )
    .await?)
}

/// Runs the refresh while holding `lease`, writes the result back and releases the lease.
async fn refresh(
    services: Services<'_>,
    partition: &Partition,
    integration: &str,
    name: &str,
    state: &store::OAuthState,
    lease: i64,
) -> Result<Option<SecretValue>, RefreshError> {
    let release = |reauth: bool| {
        store::release_lease(services.sql, partition, integration, name, lease, reauth)
    };
    let client_owner = state.oauth_client_owner.unwrap_or(Owner::Org);
    let client = match clients::load(
        services,
        &partition.tenant,
        &partition.subject,
        client_owner,
        state.oauth_client.as_deref().unwrap_or_default(),
    )
    .await
    {
        Ok(Some(client)) => client,
        Ok(None) => {
            release(true).await?;
            return Err(reauth("the connection's OAuth client no longer exists"));
        }
        Err(e) => {
            release(false).await?;
            return Err(RefreshError::Internal(format!("{e:?}")));
        }
    };
    let token_url = state
        .oauth_token_url
        .clone()
        .unwrap_or_else(|| client.row.token_url.clone());
    let scope = state.oauth_scope.clone().unwrap_or_default();
    let refresh_token = if client.row.grant == GRANT_CLIENT_CREDENTIALS {
        None
    } else {
        let stored = match &state.refresh_item_id {
            Some(item) => {
                encrypted::resolve(
                    services.sql,
                    services.keyring,
                    &partition.tenant,
                    &partition.subject,
                    item,
                )
                .await?
            }
            None => None,
        };
        match stored {
            Some(token) => Some(token),
            None => {
                release(true).await?;
                return Err(reauth("the connection has no refresh token"));
            }
        }
    };
    let mut params = match &refresh_token {
        Some(token) => vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", token.expose()),
        ],
        None => vec![("grant_type", GRANT_CLIENT_CREDENTIALS)],
    };
    if !scope.is_empty() {
        params.push(("scope", scope.as_str()));
    }
    clients::auth_params(&client, &mut params);
    let result = token::exchange(services, &token_url, &params).await;
    drop(params);
    let tokens = match result {
        Ok(tokens) => tokens,
        Err(e) if e.is_invalid_grant() => {
            release(true).await?;
            return Err(reauth(&e.message()));
        }
        Err(e) => {
            release(false).await?;
            // A token that has not expired yet still serves this call.
            let now = services.clock.now_ms() as i64;
            if state.expires_at.is_some_and(|at| at > now) {
                crate::logging::warn(&format!(
                    "oauth refresh of {integration}.{name} failed, using the current token: {}",
                    e.message()
                ));
                return current(services, partition, state).await;
            }
            return Err(RefreshError::Failed {
                reason: e.message(),
            });
        }
    };
    let now = services.clock.now_ms() as i64;
    let access_id = state_access_item(state)
        .unwrap_or_else(|| super::flow::token_item_id(partition.owner, integration, name));
    let mut statements = vec![store::guarded_secret(
        partition,
        integration,
        name,
        lease,
        &access_id,
        encrypted::sealed_data(services.keyring, &tokens.access_token)?,
        now,
    )];
    // A rotated refresh token replaces the old one in the same batch as the access token.
    let refresh_id = state
        .refresh_item_id
        .clone()
        .unwrap_or_else(|| format!("{access_id}:refresh"));
    let new_refresh = tokens.refresh_token.is_some();
    if let Some(rotated) = &tokens.refresh_token {
        statements.push(store::guarded_secret(
            partition,
            integration,
            name,
            lease,
            &refresh_id,
            encrypted::sealed_data(services.keyring, rotated)?,
            now,
        ));
    }
    statements.push(store::refreshed(
        partition,
        integration,
        name,
        lease,
        tokens.expires_at(now),
        tokens.scope.as_deref(),
        new_refresh.then_some(refresh_id.as_str()),
        now,
    ));
    services.sql.batch(statements).await?;
    Ok(Some(tokens.access_token))
}

fn state_access_item(state: &store::OAuthState) -> Option<String> {
    let items: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&state.item_ids).ok()?;
    items.get(name::DEFAULT_VARIABLE).cloned()
}
