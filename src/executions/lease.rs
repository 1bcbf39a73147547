//! How many executions each principal has in flight across every isolate
//! (`EXECUTE_MAX_CONCURRENT`): one D1 `execution_lease` row per run or resume that is executing
//! code (schema: `src/store/migrations/0006_execution_lease.sql`).
//!
//! - Acquire is one statement — insert the lease only while the principal has fewer than the
//!   limit of unexpired leases — so two isolates racing for the last slot cannot both win (D1
//!   runs statements one at a time). It reports whether it inserted through the change count.
//!   The in-isolate count ([`super::running`]) is asked first: a caller flooding one isolate is
//!   refused without touching D1.
//! - Release deletes the lease when the run ends, whatever the ending (finished, failed, timed
//!   out, paused for approval: a paused execution is not running; its resume acquires again).
//!   The same statement deletes a few expired leases of anyone.
//! - A lease expires after the run's wall-clock limit plus [`MARGIN_MS`], so an isolate that
//!   died mid-run (or a request whose future was dropped) cannot lock its principal out; an
//!   expired lease never counts.
//! - When D1 fails to answer the acquire, the run goes ahead under the in-isolate count alone
//!   (logged): an outage of the database degrades the limit to per isolate instead of refusing
//!   code that may need no storage at all.

use super::{running, ExecuteError};
use crate::app::Services;
use crate::auth::Principal;
use crate::store::{Sql, Statement, StoreError};

/// Added to a run's wall-clock limit: the writes after the run (pause row, audit) and clock skew
/// between isolates.
pub const MARGIN_MS: i64 = 30_000;

/// Expired leases removed per release (keeps its cost bounded).
const CLEANUP_BATCH: i64 = 20;

/// A held execution slot: the in-isolate count and the D1 row. Give it back with
/// [`Lease::release`]; if it is dropped instead, the in-isolate count is freed at once and the
/// row stops counting when it expires.
pub struct Lease {
    /// `None` when D1 could not be asked (see the module docs).
    id: Option<String>,
    _slot: running::Slot,
}

/// Takes a slot for `principal` for at most `hold_ms` (the run's wall-clock limit; the margin is
/// added here), or answers [`ExecuteError::TooManyRunning`].
pub async fn acquire(
    services: Services<'_>,
    principal: &Principal,
    hold_ms: i64,
) -> Result<Lease, ExecuteError> {
    let limit = services.config.execute_max_concurrent;
    let slot = running::acquire(principal, limit)?;
    let id = crate::ids::hex(&crate::ids::random_bytes::<16>());
    let now = super::now_ms(services);
    let expires_at = now.saturating_add(hold_ms).saturating_add(MARGIN_MS);
    match insert(services.sql, principal, &id, now, expires_at, limit).await {
        Ok(true) => Ok(Lease {
            id: Some(id),
            _slot: slot,
        }),
        Ok(false) => Err(ExecuteError::TooManyRunning { limit }),
        Err(e) => {
            crate::logging::warn(&format!(
                "executions: no execution lease (counted in this isolate only): {e}"
            ));
            Ok(Lease {
                id: None,
                _slot: slot,
            })
        }
    }
}

impl Lease {
    /// Deletes the lease (and a few expired ones). A failure is logged, not returned: the run's
    /// answer is already decided, and the lease expires on its own.
    pub async fn release(self, services: Services<'_>) {
        let Some(id) = self.id else { return };
        let now = super::now_ms(services);
        if let Err(e) = delete(services.sql, &id, now).await {
            crate::logging::warn(&format!(
                "executions: an execution lease was not released (it expires on its own): {e}"
            ));
        }
    }
}

/// Inserts the lease unless the principal already holds `limit` unexpired ones; `true` when it
/// was inserted.
async fn insert(
    sql: &dyn Sql,
    principal: &Principal,
    id: &str,
    now: i64,
    expires_at: i64,
    limit: u32,
) -> Result<bool, StoreError> {
    let inserted = sql
        .execute(Statement::new(
            "INSERT INTO execution_lease (id, tenant, subject, expires_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE (SELECT count(*) FROM execution_lease \
             WHERE tenant = ?2 AND subject = ?3 AND expires_at > ?5) < ?6",
            vec![
                id.into(),
                principal.tenant().into(),
                principal.subject().into(),
                expires_at.into(),
                now.into(),
                i64::from(limit).into(),
            ],
        ))
        .await?;
    Ok(inserted == 1)
}

async fn delete(sql: &dyn Sql, id: &str, now: i64) -> Result<u64, StoreError> {
    sql.execute(Statement::new(
        "DELETE FROM execution_lease WHERE id = ?1 OR id IN \
         (SELECT id FROM execution_lease WHERE expires_at <= ?2 LIMIT ?3)",
        vec![id.into(), now.into(), CLEANUP_BATCH.into()],
    ))
    .await
}
