//! The policies service (executor-behaviour.md §3.9): list, create, update, remove, and loading a
//! caller's [`PolicySet`]. All SQL of the `tool_policy` table lives here; every query carries the
//! owner predicate (§4.2): reads see the tenant's `org` rows and the caller's own `user` rows,
//! writes name exactly one partition.
//!
//! Every write is one statement, validated in full before it is sent, so a refused request
//! changes nothing.

use std::fmt;

use super::pattern::{self, PatternError};
use super::position::{self, PositionError};
use super::wire::{CreateRequest, RemoveRequest, SchemaError, ToolPolicy, UpdateRequest};
use super::{Action, PolicySet};
use crate::app::Services;
use crate::auth::Principal;
use crate::owner::{Owner, Partition};
use crate::store::{decode_rows, FromRow, RowReader, Sql, SqlValue, Statement, StoreError};

/// Which submitted field a [`PolicyError::Invalid`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Owner,
    Pattern,
    Action,
    Position,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Owner => "owner",
            Field::Pattern => "pattern",
            Field::Action => "action",
            Field::Position => "position",
        }
    }
}

/// Why a policies operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyError {
    /// The request does not fit the route's schema (400).
    Schema(String),
    /// A well-formed request whose value breaks the policy rules (400). The message quotes the
    /// submitted value: policies hold no secrets.
    Invalid { field: Field, message: String },
    /// No policy with that id in the partition `owner` names for this caller (404).
    NotFound { id: String, owner: Owner },
    /// Storage failure; logged under a trace id, never shown.
    Internal(String),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Schema(message) | PolicyError::Invalid { message, .. } => {
                f.write_str(message)
            }
            PolicyError::NotFound { id, owner } => {
                write!(f, "No {} tool policy with id {id}", owner.as_str())
            }
            PolicyError::Internal(_) => f.write_str("Internal error"),
        }
    }
}

impl std::error::Error for PolicyError {}

impl From<StoreError> for PolicyError {
    fn from(e: StoreError) -> Self {
        PolicyError::Internal(e.to_string())
    }
}

impl From<SchemaError> for PolicyError {
    fn from(e: SchemaError) -> Self {
        PolicyError::Schema(e.0)
    }
}

fn invalid_pattern(submitted: &str, e: PatternError) -> PolicyError {
    PolicyError::Invalid {
        field: Field::Pattern,
        message: format!("Invalid tool policy pattern {submitted:?}: {e}"),
    }
}

fn parse_pattern(submitted: &str) -> Result<String, PolicyError> {
    pattern::normalize(submitted).map_err(|e| invalid_pattern(submitted, e))
}

fn parse_action(submitted: &str) -> Result<Action, PolicyError> {
    Action::parse(submitted).ok_or_else(|| PolicyError::Invalid {
        field: Field::Action,
        message: format!(
            "Invalid tool policy action {submitted:?}: expected \"approve\", \
             \"require_approval\" or \"block\""
        ),
    })
}

fn invalid_position(submitted: &str, e: PositionError) -> PolicyError {
    PolicyError::Invalid {
        field: Field::Position,
        message: format!("Invalid tool policy position {submitted:?}: {e}"),
    }
}

fn parse_position(submitted: &str) -> Result<String, PolicyError> {
    position::validate(submitted).map_err(|e| invalid_position(submitted, e))?;
    Ok(submitted.to_string())
}

struct PolicyRow {
    id: String,
    owner: Owner,
    pattern: String,
    action: Action,
    position: String,
    created_at: i64,
    updated_at: i64,
}

impl FromRow for PolicyRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        let action = row.text("action")?;
        Ok(PolicyRow {
            id: row.text("id")?,
            owner: row.owner("owner")?,
            pattern: row.text("pattern")?,
            action: Action::parse(&action)
                .ok_or_else(|| StoreError::new("decode row", "column `action`: unknown action"))?,
            position: row.text("position")?,
            created_at: row.int("created_at")?,
            updated_at: row.int("updated_at")?,
        })
    }
}

impl PolicyRow {
    fn into_wire(self) -> ToolPolicy {
        ToolPolicy {
            id: self.id,
            owner: self.owner,
            pattern: self.pattern,
            action: self.action,
            position: self.position,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Evaluation and listing order (§3.9, §9): `user` rows first, then `org`; within an owner by
/// `position` (byte order), then `id`.
pub(super) fn sort(policies: &mut [ToolPolicy]) {
    let rank = |owner: Owner| match owner {
        Owner::User => 0,
        Owner::Org => 1,
    };
    crate::sort::sort_by(policies, |a, b| {
        rank(a.owner)
            .cmp(&rank(b.owner))
            .then_with(|| a.position.cmp(&b.position))
            .then_with(|| a.id.cmp(&b.id))
    });
}

const VISIBLE_SQL: &str =
    "SELECT id, owner, pattern, action, position, created_at, updated_at FROM tool_policy \
     WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2))";

/// A SQL expression for queries where `?1` is the tenant and `?2` the caller's subject: the
/// caller's visible policies as one JSON array, so a reader that needs them next to other data
/// (the catalog's per-run fingerprint) pays no extra round trip. Decode with [`set_from_json`].
macro_rules! visible_policies_json {
    () => {
        "(SELECT json_group_array(json_object('id', p.id, 'owner', p.owner, \
            'pattern', p.pattern, 'action', p.action, 'position', p.position, \
            'created_at', p.created_at, 'updated_at', p.updated_at)) \
          FROM tool_policy p \
          WHERE p.tenant = ?1 AND (p.owner = 'org' OR (p.owner = 'user' AND p.subject = ?2)))"
    };
}
pub(crate) use visible_policies_json;

/// The [`PolicySet`] of what [`visible_policies_json!`] selected.
pub fn set_from_json(text: &str) -> Result<PolicySet, StoreError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| StoreError::new("decode policies", e.to_string()))?;
    let Some(items) = value.as_array() else {
        return Err(StoreError::new("decode policies", "expected an array"));
    };
    let mut policies = Vec::with_capacity(items.len());
    for item in items {
        let Some(row) = item.as_object() else {
            return Err(StoreError::new("decode policies", "expected an object"));
        };
        policies.push(PolicyRow::from_row(&RowReader(row))?.into_wire());
    }
    sort(&mut policies);
    Ok(PolicySet::new(policies))
}

/// The tenant's org policies and the caller's own user policies, in evaluation order.
async fn visible(sql: &dyn Sql, principal: &Principal) -> Result<Vec<ToolPolicy>, StoreError> {
    let rows: Vec<PolicyRow> = decode_rows(
        sql.query(Statement::new(
            VISIBLE_SQL,
            vec![principal.tenant().into(), principal.subject().into()],
        ))
        .await?,
    )?;
    let mut policies: Vec<ToolPolicy> = rows.into_iter().map(PolicyRow::into_wire).collect();
    sort(&mut policies);
    Ok(policies)
}

/// `GET /policies`.
pub async fn list(sql: &dyn Sql, principal: &Principal) -> Result<Vec<ToolPolicy>, PolicyError> {
    Ok(visible(sql, principal).await?)
}

/// The caller's policies, ready to resolve tool calls and listings (§9).
pub async fn load(sql: &dyn Sql, principal: &Principal) -> Result<PolicySet, StoreError> {
    Ok(PolicySet::new(visible(sql, principal).await?))
}

const MIN_POSITION_SQL: &str = "SELECT MIN(position) AS position FROM tool_policy \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3";

const INSERT_SQL: &str = "INSERT INTO tool_policy \
     (row_id, tenant, owner, subject, id, pattern, action, position, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)";

/// `pol_` + 12 random base-36 characters + base-36 creation time (ms): upstream's id shape
/// (`pol_<random><time>`, §14 #7) with a fixed-width random part.
fn new_policy_id(now_ms: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let random: String = crate::ids::random_bytes::<12>()
        .iter()
        .map(|b| DIGITS[(*b as usize) % DIGITS.len()] as char)
        .collect();
    format!(
        "pol_{random}{}",
        crate::ids::base36(u64::try_from(now_ms).unwrap_or(0))
    )
}

/// `POST /policies`. Without a `position`, the rule goes on top of the owner's list (a key before
/// the owner's current smallest; `a0` for the first rule), as upstream does (wire 30, 31): a rule
/// added later takes precedence over the owner's existing rules.
pub async fn create(
    services: Services<'_>,
    principal: &Principal,
    request: CreateRequest,
) -> Result<ToolPolicy, PolicyError> {
    let partition = Partition::of(principal, request.owner).map_err(|_| PolicyError::Invalid {
        field: Field::Owner,
        message: "A user-owned tool policy needs an authenticated subject.".into(),
    })?;
    let pattern = parse_pattern(&request.pattern)?;
    let action = parse_action(&request.action)?;
    let position = match request.position.as_deref() {
        Some(p) => parse_position(p)?,
        None => top_position(services.sql, &partition).await?,
    };
    let now = services.clock.now_ms() as i64;
    let policy = ToolPolicy {
        id: new_policy_id(now),
        owner: partition.owner,
        pattern,
        action,
        position,
        created_at: now,
        updated_at: now,
    };
    services
        .sql
        .execute(Statement::new(
            INSERT_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                partition.tenant.as_str().into(),
                partition.owner.as_str().into(),
                partition.subject.as_str().into(),
                policy.id.as_str().into(),
                policy.pattern.as_str().into(),
                policy.action.as_str().into(),
                policy.position.as_str().into(),
                SqlValue::Integer(now),
            ],
        ))
        .await?;
    Ok(policy)
}

/// A key before the partition's smallest position. Two concurrent creates may compute the same
/// key; equal positions are ordered by id, so that is harmless.
async fn top_position(sql: &dyn Sql, partition: &Partition) -> Result<String, PolicyError> {
    let rows = sql
        .query(Statement::new(
            MIN_POSITION_SQL,
            partition_params(partition),
        ))
        .await?;
    let smallest = rows
        .first()
        .and_then(|r| r.get("position"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    position::before(smallest.as_deref()).map_err(|e| {
        PolicyError::Internal(format!(
            "no position before the stored minimum {smallest:?}: {e}"
        ))
    })
}

fn partition_params(p: &Partition) -> Vec<SqlValue> {
    vec![
        p.tenant.as_str().into(),
        p.owner.as_str().into(),
        p.subject.as_str().into(),
    ]
}

fn key_params(p: &Partition, id: &str) -> Vec<SqlValue> {
    let mut params = partition_params(p);
    params.push(id.into());
    params
}

/// The partition an update or removal names. A caller without a subject owns no user rows, so
/// for it every user policy is simply not found.
fn keyed_partition(
    principal: &Principal,
    owner: Owner,
    id: &str,
) -> Result<Partition, PolicyError> {
    Partition::of(principal, owner).map_err(|_| PolicyError::NotFound {
        id: id.to_string(),
        owner,
    })
}

const GET_SQL: &str =
    "SELECT id, owner, pattern, action, position, created_at, updated_at FROM tool_policy \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND id = ?4";

const UPDATE_SQL: &str = "UPDATE tool_policy SET \
       pattern = COALESCE(?5, pattern), action = COALESCE(?6, action), \
       position = COALESCE(?7, position), updated_at = ?8 \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND id = ?4";

/// `PATCH /policies/:policyId`: changes the given fields (the pattern normalised as on create),
/// moves the rule when `position` is given, and always stamps `updatedAt` (wire 86, 87).
pub async fn update(
    services: Services<'_>,
    principal: &Principal,
    id: &str,
    request: UpdateRequest,
) -> Result<ToolPolicy, PolicyError> {
    let partition = keyed_partition(principal, request.owner, id)?;
    let not_found = || PolicyError::NotFound {
        id: id.to_string(),
        owner: request.owner,
    };
    let pattern = request.pattern.as_deref().map(parse_pattern).transpose()?;
    let action = request.action.as_deref().map(parse_action).transpose()?;
    let position = request
        .position
        .as_deref()
        .map(parse_position)
        .transpose()?;
    let mut params = key_params(&partition, id);
    params.extend([
        pattern.into(),
        action.map(Action::as_str).into(),
        position.into(),
        SqlValue::Integer(services.clock.now_ms() as i64),
    ]);
    let changed = services
        .sql
        .execute(Statement::new(UPDATE_SQL, params))
        .await?;
    if changed == 0 {
        return Err(not_found());
    }
    let rows: Vec<PolicyRow> = decode_rows(
        services
            .sql
            .query(Statement::new(GET_SQL, key_params(&partition, id)))
            .await?,
    )?;
    rows.into_iter()
        .next()
        .map(PolicyRow::into_wire)
        .ok_or_else(not_found)
}

const DELETE_SQL: &str =
    "DELETE FROM tool_policy WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND id = ?4";

/// `DELETE /policies/:policyId`. An id that is not in the named partition is
/// [`PolicyError::NotFound`] (upstream answered `{removed: true}` for any id).
pub async fn remove(
    sql: &dyn Sql,
    principal: &Principal,
    id: &str,
    request: RemoveRequest,
) -> Result<(), PolicyError> {
    let partition = keyed_partition(principal, request.owner, id)?;
    let changed = sql
        .execute(Statement::new(DELETE_SQL, key_params(&partition, id)))
        .await?;
    if changed == 0 {
        return Err(PolicyError::NotFound {
            id: id.to_string(),
            owner: request.owner,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_ids_have_upstreams_shape() {
        let id = new_policy_id(1_795_701_875_000);
        assert!(id.starts_with("pol_"));
        let rest = &id[4..];
        assert!(rest
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        assert!(rest.ends_with(&crate::ids::base36(1_795_701_875_000)));
        assert_eq!(rest.len(), 12 + crate::ids::base36(1_795_701_875_000).len());
        assert_ne!(new_policy_id(1), new_policy_id(1));
    }
}
