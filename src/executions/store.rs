//! Every `execution` row statement (schema: `src/store/migrations/0003_executions.sql`). Each
//! statement filters on the owner (tenant + subject), so another principal's id reads as absent.

use crate::auth::Principal;
use crate::store::{decode_rows, FromRow, RowReader, Sql, Statement, StoreError};

/// Expired rows removed per new pause (keeps the cleanup's cost bounded).
const CLEANUP_BATCH: i64 = 50;

/// Where an execution row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Paused,
    Running,
    Settled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Paused => "paused",
            Status::Running => "running",
            Status::Settled => "settled",
        }
    }

    fn parse(value: &str) -> Option<Status> {
        match value {
            "paused" => Some(Status::Paused),
            "running" => Some(Status::Running),
            "settled" => Some(Status::Settled),
            _ => None,
        }
    }
}

/// One row, JSON columns still as text.
#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub id: String,
    pub status: Status,
    pub code: Option<String>,
    pub journal: Option<String>,
    pub pending: Option<String>,
    pub decision: Option<String>,
    pub outcome: Option<String>,
    pub claim: Option<String>,
    pub lease_until: Option<i64>,
    pub expires_at: i64,
}

impl FromRow for ExecutionRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        let status = row.text("status")?;
        Ok(ExecutionRow {
            id: row.text("id")?,
            status: Status::parse(&status)
                .ok_or_else(|| StoreError::new("decode row", "column `status`: unknown status"))?,
            code: row.opt_text("code")?,
            journal: row.opt_text("journal")?,
            pending: row.opt_text("pending")?,
            decision: row.opt_text("decision")?,
            outcome: row.opt_text("outcome")?,
            claim: row.opt_text("claim")?,
            lease_until: row.opt_int("lease_until")?,
            expires_at: row.int("expires_at")?,
        })
    }
}

/// The caller's execution `id`, if it exists (expired or not).
pub async fn load(
    sql: &dyn Sql,
    principal: &Principal,
    id: &str,
) -> Result<Option<ExecutionRow>, StoreError> {
    let rows = sql
        .query(Statement::new(
            "SELECT id, status, code, journal, pending, decision, outcome, claim, lease_until, \
             expires_at FROM execution WHERE id = ?1 AND tenant = ?2 AND subject = ?3",
            vec![
                id.into(),
                principal.tenant().into(),
                principal.subject().into(),
            ],
        ))
        .await?;
    Ok(decode_rows(rows)?.into_iter().next())
}

/// What a new paused row holds.
pub struct NewPause<'a> {
    pub id: &'a str,
    pub code: &'a str,
    pub journal: &'a str,
    pub pending: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// Removes a few expired rows (of anyone), then inserts a paused row, in one batch with `audit`
/// (the run's audit statements). Should that batch fail with the audit statements in it, the
/// pause is stored without them (the audit must not fail the run; the loss is logged).
pub async fn insert_paused(
    sql: &dyn Sql,
    principal: &Principal,
    row: &NewPause<'_>,
    audit: Vec<Statement>,
) -> Result<(), StoreError> {
    let pause = vec![
        Statement::new(
            "DELETE FROM execution WHERE id IN \
             (SELECT id FROM execution WHERE expires_at <= ?1 LIMIT ?2)",
            vec![row.now.into(), CLEANUP_BATCH.into()],
        ),
        Statement::new(
            "INSERT INTO execution (id, tenant, subject, status, code, journal, pending, \
             created_at, updated_at, expires_at) \
             VALUES (?1, ?2, ?3, 'paused', ?4, ?5, ?6, ?7, ?7, ?8)",
            vec![
                row.id.into(),
                principal.tenant().into(),
                principal.subject().into(),
                row.code.into(),
                row.journal.into(),
                row.pending.into(),
                row.now.into(),
                row.expires_at.into(),
            ],
        ),
    ];
    if audit.is_empty() {
        return sql.batch(pause).await;
    }
    let with_audit = pause.iter().cloned().chain(audit).collect();
    match sql.batch(with_audit).await {
        Ok(()) => Ok(()),
        Err(e) => {
            crate::logging::error(&format!(
                "audit: the rows of paused execution {} were not written: {e}",
                row.id
            ));
            sql.batch(pause).await
        }
    }
}

/// Takes the row for one resume: it must still be in `status` with `previous_claim` (so two
/// resumes never both win). `false` when someone else changed it first.
pub async fn claim(
    sql: &dyn Sql,
    principal: &Principal,
    row: &ExecutionRow,
    claim: &str,
    lease_until: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = sql
        .execute(Statement::new(
            "UPDATE execution SET status = 'running', claim = ?1, lease_until = ?2, \
             updated_at = ?3 \
             WHERE id = ?4 AND tenant = ?5 AND subject = ?6 AND status = ?7 \
               AND claim IS ?8",
            vec![
                claim.into(),
                lease_until.into(),
                now.into(),
                row.id.as_str().into(),
                principal.tenant().into(),
                principal.subject().into(),
                row.status.as_str().into(),
                row.claim.clone().into(),
            ],
        ))
        .await?;
    Ok(changed == 1)
}

/// Records the gated call's outcome under our claim. `false` when the claim was lost.
pub async fn record_decision(
    sql: &dyn Sql,
    principal: &Principal,
    id: &str,
    claim: &str,
    decision: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = sql
        .execute(Statement::new(
            "UPDATE execution SET decision = ?1, updated_at = ?2 \
             WHERE id = ?3 AND tenant = ?4 AND subject = ?5 AND status = 'running' \
               AND claim = ?6",
            vec![
                decision.into(),
                now.into(),
                id.into(),
                principal.tenant().into(),
                principal.subject().into(),
                claim.into(),
            ],
        ))
        .await?;
    Ok(changed == 1)
}

/// Settles the row under our claim with the envelope repeated resumes answer, dropping what
/// only a resume needed. `false` when the claim was lost.
pub async fn settle(
    sql: &dyn Sql,
    principal: &Principal,
    id: &str,
    claim: &str,
    outcome: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let changed = sql
        .execute(Statement::new(
            "UPDATE execution SET status = 'settled', outcome = ?1, code = NULL, journal = NULL, \
             pending = NULL, decision = NULL, claim = NULL, lease_until = NULL, updated_at = ?2, \
             expires_at = ?3 \
             WHERE id = ?4 AND tenant = ?5 AND subject = ?6 AND status = 'running' \
               AND claim = ?7",
            vec![
                outcome.into(),
                now.into(),
                expires_at.into(),
                id.into(),
                principal.tenant().into(),
                principal.subject().into(),
                claim.into(),
            ],
        ))
        .await?;
    Ok(changed == 1)
}

/// Deletes a row (a pause whose continuation lost its claim).
pub async fn delete(sql: &dyn Sql, principal: &Principal, id: &str) -> Result<(), StoreError> {
    sql.execute(Statement::new(
        "DELETE FROM execution WHERE id = ?1 AND tenant = ?2 AND subject = ?3",
        vec![
            id.into(),
            principal.tenant().into(),
            principal.subject().into(),
        ],
    ))
    .await
    .map(|_| ())
}

/// One row of the caller's waiting list.
#[derive(Debug, Clone)]
pub struct WaitingRow {
    pub id: String,
    pub pending: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl FromRow for WaitingRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(WaitingRow {
            id: row.text("id")?,
            pending: row.opt_text("pending")?,
            created_at: row.int("created_at")?,
            expires_at: row.int("expires_at")?,
        })
    }
}

/// The caller's paused, unexpired rows, newest first, after `(created_at, id)` of the previous
/// page when `after` is set; at most `limit` rows.
pub async fn list_paused(
    sql: &dyn Sql,
    principal: &Principal,
    now: i64,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<WaitingRow>, StoreError> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    let rows = sql
        .query(Statement::new(
            "SELECT id, pending, created_at, expires_at FROM execution \
             WHERE tenant = ?1 AND subject = ?2 AND status = 'paused' AND expires_at > ?3 \
               AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND id < ?5)) \
             ORDER BY created_at DESC, id DESC LIMIT ?6",
            vec![
                principal.tenant().into(),
                principal.subject().into(),
                now.into(),
                after_at.into(),
                after_id.into(),
                limit.into(),
            ],
        ))
        .await?;
    decode_rows(rows)
}
