//! Every `audit` statement (schema: `src/store/migrations/0004_audit.sql`).

use serde_json::json;

use super::query::{Cursor, Filter, Item, Page, Principal as RowPrincipal};
use super::Entry;
use crate::auth::Principal;
use crate::store::{Row, Sql, Statement, StoreError};

/// Target size of one insert's JSON payload (one bound value; D1 takes values up to 2 MB).
const STATEMENT_PAYLOAD_BYTES: usize = 256 * 1024;

/// Rows travel as `[time, address, integration, connection, decision, outcome, duration_ms,
/// http_status, execution_id]` arrays in one JSON text per statement.
const INSERT_SQL: &str = "INSERT INTO audit (tenant, subject, email, time, address, integration, \
     connection, decision, outcome, duration_ms, http_status, execution_id) \
     SELECT ?1, ?2, ?3, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
       json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), \
       json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'), \
       json_extract(value, '$[8]') \
     FROM json_each(?4)";

/// Retention by age: the oldest rows of any tenant, a bounded number per write.
const PRUNE_AGE_SQL: &str = "DELETE FROM audit WHERE id IN \
     (SELECT id FROM audit WHERE time < ?1 ORDER BY time LIMIT ?2)";

/// Retention by count: ids only grow, so the newest `cap` rows all have ids above
/// `max(id) - cap`; older ones go, a bounded number per write (an index range on the rowid).
const PRUNE_COUNT_SQL: &str = "DELETE FROM audit WHERE id IN \
     (SELECT id FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1 ORDER BY id LIMIT ?2)";

/// Inserts of `entries` (in order, so ids follow the calls) and the two retention deletes.
pub(super) fn write_statements(
    principal: &Principal,
    entries: &[Entry],
    cutoff_ms: i64,
    max_rows: i64,
) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut payload = String::from("[");
    let flush = |payload: &mut String, statements: &mut Vec<Statement>| {
        if payload.len() > 1 {
            payload.push(']');
            statements.push(Statement::new(
                INSERT_SQL,
                vec![
                    principal.tenant().into(),
                    principal.subject().into(),
                    principal.email.as_str().into(),
                    std::mem::replace(payload, String::from("[")).into(),
                ],
            ));
        }
    };
    for entry in entries {
        let row = json!([
            entry.time,
            entry.address,
            entry.integration,
            entry.connection,
            entry.decision.as_str(),
            entry.outcome,
            entry.duration_ms,
            entry.http_status,
            entry.execution_id,
        ])
        .to_string();
        if payload.len() + row.len() > STATEMENT_PAYLOAD_BYTES {
            flush(&mut payload, &mut statements);
        }
        if payload.len() > 1 {
            payload.push(',');
        }
        payload.push_str(&row);
    }
    flush(&mut payload, &mut statements);
    let limit = super::prune_limit(entries.len());
    statements.push(Statement::new(
        PRUNE_AGE_SQL,
        vec![cutoff_ms.into(), limit.into()],
    ));
    statements.push(Statement::new(
        PRUNE_COUNT_SQL,
        vec![max_rows.into(), limit.into()],
    ));
    statements
}

/// Newest first within the tenant; each filter is either unset (`NULL`) or narrows the scan of
/// `audit_tenant_time_idx` between `from` and `to`.
const LIST_SQL: &str = "SELECT id, time, subject, email, address, integration, connection, \
       decision, outcome, duration_ms, http_status, execution_id \
     FROM audit \
     WHERE tenant = ?1 AND time >= ?2 AND time < ?3 \
       AND (?4 IS NULL OR time < ?4 OR (time = ?4 AND id < ?5)) \
       AND (?6 IS NULL OR subject = ?6 OR email = ?6) \
       AND (?7 IS NULL OR substr(address, 1, length(?7)) = ?7) \
       AND (?8 IS NULL OR integration = ?8) \
       AND (?9 IS NULL OR decision = ?9) \
       AND (?10 IS NULL OR outcome = ?10) \
     ORDER BY time DESC, id DESC \
     LIMIT ?11";

/// One result row as an [`Item`] (read by hand: a derived deserializer costs Worker size).
fn item(row: &Row) -> Result<Item, StoreError> {
    let int = |key: &str| row.get(key).and_then(serde_json::Value::as_i64);
    let text = |key: &str| {
        row.get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let missing = |key: &str| StoreError::new("decode audit row", format!("no `{key}`"));
    Ok(Item {
        id: int("id").ok_or_else(|| missing("id"))?,
        time: int("time").ok_or_else(|| missing("time"))?,
        principal: RowPrincipal {
            subject: text("subject").ok_or_else(|| missing("subject"))?,
            email: text("email").filter(|e| !e.is_empty()),
        },
        address: text("address").ok_or_else(|| missing("address"))?,
        integration: text("integration"),
        connection: text("connection"),
        decision: text("decision").ok_or_else(|| missing("decision"))?,
        outcome: text("outcome").ok_or_else(|| missing("outcome"))?,
        duration_ms: int("duration_ms").unwrap_or(0),
        http_status: int("http_status"),
        execution_id: text("execution_id"),
    })
}

/// One page of the caller's tenant's rows that match `filter`.
pub async fn list(
    sql: &dyn Sql,
    principal: &Principal,
    filter: &Filter,
) -> Result<Page, StoreError> {
    // The cursor's time also bounds the range, so the index scan starts at the cursor.
    let to = match filter.cursor {
        Some(Cursor { time, .. }) => filter.to.min(time.saturating_add(1)),
        None => filter.to,
    };
    let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
    let rows = sql
        .query(Statement::new(
            LIST_SQL,
            vec![
                principal.tenant().into(),
                filter.from.into(),
                to.into(),
                filter.cursor.map(|c| c.time).into(),
                filter.cursor.map(|c| c.id).into(),
                filter.principal.clone().into(),
                filter.address.clone().into(),
                filter.integration.clone().into(),
                filter.decision.map(|d| d.as_str()).into(),
                filter.outcome.clone().into(),
                limit.saturating_add(1).into(),
            ],
        ))
        .await?;
    let more = rows.len() > filter.limit;
    let items = rows
        .iter()
        .take(filter.limit)
        .map(item)
        .collect::<Result<Vec<Item>, StoreError>>()?;
    let next_cursor = if more {
        items.last().map(|i| Cursor {
            time: i.time,
            id: i.id,
        })
    } else {
        None
    };
    Ok(Page {
        items,
        next_cursor: next_cursor.map(|c| c.to_string()),
    })
}
