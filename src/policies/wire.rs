//! Wire shapes of `/api/policies` (executor-behaviour.md §3.2, §3.9; wire 30–36, 85–87) and the
//! request-body parsers. Bodies are read as JSON objects and checked by hand so that structural
//! problems (a missing `owner`, a number where a string belongs) are schema errors, while values
//! of the right type that break the policy rules (a bad pattern, an unknown action, a malformed
//! position) reach the service and become typed errors there.

use serde::Serialize;
use serde_json::{Map, Value};

use super::Action;
use crate::owner::Owner;

/// `ToolPolicy`. Field order as upstream; timestamps are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolPolicy {
    pub id: String,
    pub owner: Owner,
    /// Stored without a leading `tools.`.
    pub pattern: String,
    pub action: Action,
    /// Fractional-indexing key: lower sorts first and takes precedence within its owner.
    pub position: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A request-schema violation (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

/// The body of `POST /policies` (and the arguments of the built-in `policies.create` tool).
/// `pattern`, `action` and `position` are as submitted; the service validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub owner: Owner,
    pub pattern: String,
    pub action: String,
    /// `None`: the service places the rule on top of the owner's list.
    pub position: Option<String>,
}

/// The body of `PATCH /policies/:policyId`: `owner` names the partition; absent fields are
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    pub owner: Owner,
    pub pattern: Option<String>,
    pub action: Option<String>,
    pub position: Option<String>,
}

/// The body of `DELETE /policies/:policyId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoveRequest {
    pub owner: Owner,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, SchemaError> {
    if body.is_empty() {
        return Err(SchemaError("expected a JSON request body".into()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SchemaError("expected a JSON object".into())),
        Err(e) => Err(SchemaError(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        ))),
    }
}

fn owner(map: &Map<String, Value>) -> Result<Owner, SchemaError> {
    match map.get("owner") {
        Some(Value::String(s)) => Owner::parse(s),
        _ => None,
    }
    .ok_or_else(|| SchemaError("`owner` must be \"org\" or \"user\"".into()))
}

fn required_string(map: &Map<String, Value>, key: &str) -> Result<String, SchemaError> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(SchemaError(format!("`{key}` must be a string"))),
        None => Err(SchemaError(format!("`{key}` is required"))),
    }
}

/// Optional, not nullable: `null` is a schema error, as in upstream's schema.
fn optional_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, SchemaError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SchemaError(format!("`{key}` must be a string"))),
    }
}

impl CreateRequest {
    pub fn from_json(map: &Map<String, Value>) -> Result<CreateRequest, SchemaError> {
        Ok(CreateRequest {
            owner: owner(map)?,
            pattern: required_string(map, "pattern")?,
            action: required_string(map, "action")?,
            position: optional_string(map, "position")?,
        })
    }

    pub fn parse(body: &[u8]) -> Result<CreateRequest, SchemaError> {
        CreateRequest::from_json(&object(body)?)
    }
}

impl UpdateRequest {
    pub fn from_json(map: &Map<String, Value>) -> Result<UpdateRequest, SchemaError> {
        Ok(UpdateRequest {
            owner: owner(map)?,
            pattern: optional_string(map, "pattern")?,
            action: optional_string(map, "action")?,
            position: optional_string(map, "position")?,
        })
    }

    pub fn parse(body: &[u8]) -> Result<UpdateRequest, SchemaError> {
        UpdateRequest::from_json(&object(body)?)
    }
}

impl RemoveRequest {
    pub fn from_json(map: &Map<String, Value>) -> Result<RemoveRequest, SchemaError> {
        Ok(RemoveRequest { owner: owner(map)? })
    }

    pub fn parse(body: &[u8]) -> Result<RemoveRequest, SchemaError> {
        RemoveRequest::from_json(&object(body)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_bodies() {
        let c =
            CreateRequest::parse(br#"{"owner":"org","pattern":"p.*","action":"block"}"#).unwrap();
        assert_eq!(
            c,
            CreateRequest {
                owner: Owner::Org,
                pattern: "p.*".into(),
                action: "block".into(),
                position: None
            }
        );
        let u = UpdateRequest::parse(br#"{"owner":"user","position":"a0"}"#).unwrap();
        assert_eq!(u.owner, Owner::User);
        assert_eq!(
            (u.pattern, u.action, u.position.as_deref()),
            (None, None, Some("a0"))
        );
        assert_eq!(
            RemoveRequest::parse(br#"{"owner":"org"}"#).unwrap().owner,
            Owner::Org
        );
    }

    #[test]
    fn structural_problems_are_schema_errors() {
        for body in [
            &b""[..],
            b"[]",
            b"{nope",
            br#"{"pattern":"p","action":"block"}"#,
            br#"{"owner":"team","pattern":"p","action":"block"}"#,
            br#"{"owner":"org","action":"block"}"#,
            br#"{"owner":"org","pattern":7,"action":"block"}"#,
            br#"{"owner":"org","pattern":"p","action":null}"#,
            br#"{"owner":"org","pattern":"p","action":"block","position":null}"#,
        ] {
            assert!(
                CreateRequest::parse(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(UpdateRequest::parse(br#"{"action":"block"}"#).is_err());
        assert!(UpdateRequest::parse(br#"{"owner":"org","pattern":null}"#).is_err());
        assert!(RemoveRequest::parse(b"").is_err());
        assert!(RemoveRequest::parse(br#"{"owner":"Org"}"#).is_err());
    }
}
