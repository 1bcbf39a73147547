//! Wire shapes of `/api/connections` (executor-behaviour.md §3.2, §3.6; wire 20–23, 88) and the
//! request-body parsers. Bodies are parsed into `serde_json::Value` and checked by hand so that
//! (a) `null` and an absent key stay distinguishable and (b) no error message ever quotes a
//! submitted value — serde's own messages would echo a pasted credential back to the client.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::crypto::SecretValue;
use crate::owner::Owner;

/// `ConnectionResponse`. Field order as upstream; nullable fields are always present.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub owner: Owner,
    pub name: String,
    pub integration: String,
    pub template: String,
    pub provider: String,
    /// `tools.<integration>.<owner>.<name>`.
    pub address: String,
    pub identity_label: Option<String>,
    pub description: Option<String>,
    /// Epoch milliseconds.
    pub expires_at: Option<i64>,
    pub oauth_client: Option<String>,
    pub oauth_client_owner: Option<Owner>,
    pub oauth_scope: Option<String>,
}

/// One entry of `POST /connections/:owner/:integration/:name/refresh`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSummary {
    pub address: String,
    pub owner: Owner,
    pub integration: String,
    pub connection: String,
    pub name: String,
    pub plugin_id: String,
    pub description: String,
}

/// A request-schema violation (answered as a 400). The message names fields, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

/// A field that may be absent (leave unchanged), `null` (clear) or a string (set).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch {
    #[default]
    Absent,
    Set(Option<String>),
}

impl Patch {
    /// The new value when the field was given.
    pub fn given(&self) -> Option<Option<&str>> {
        match self {
            Patch::Absent => None,
            Patch::Set(v) => Some(v.as_deref()),
        }
    }
}

/// Where a new connection's credential comes from: exactly one of these.
pub enum Origin {
    /// `value`: one pasted value, stored under the variable `token`.
    Value(SecretValue),
    /// `values`: pasted values by variable.
    Values(BTreeMap<String, SecretValue>),
    /// `from`: an item that already exists in a provider.
    From { provider: String, id: String },
    /// Existing provider items by variable (the built-in `connections.create` tool's `inputs`);
    /// all of one provider.
    Inputs(BTreeMap<String, ProviderRef>),
}

/// A reference to an item a credential provider already holds: never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRef {
    pub provider: String,
    pub id: String,
}

/// The body of `POST /connections`.
pub struct CreateRequest {
    pub owner: Owner,
    /// As submitted; the service normalises it.
    pub name: String,
    pub integration: String,
    pub template: String,
    pub identity_label: Patch,
    pub description: Patch,
    pub origin: Origin,
}

/// The body of `PATCH /connections/:owner/:integration/:name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchRequest {
    pub description: Patch,
    pub identity_label: Patch,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, SchemaError> {
    if body.is_empty() {
        return Err(SchemaError("expected a JSON request body".into()));
    }
    // serde_json's syntax errors carry positions only, never the offending text.
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

fn required_string(map: &Map<String, Value>, key: &str) -> Result<String, SchemaError> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(SchemaError(format!("`{key}` must be a string"))),
        None => Err(SchemaError(format!("`{key}` is required"))),
    }
}

fn nullable_string(map: &Map<String, Value>, key: &str) -> Result<Patch, SchemaError> {
    match map.get(key) {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Set(None)),
        Some(Value::String(s)) => Ok(Patch::Set(Some(s.clone()))),
        Some(_) => Err(SchemaError(format!("`{key}` must be a string or null"))),
    }
}

const ORIGINS: [&str; 3] = ["value", "values", "from"];

impl CreateRequest {
    pub fn parse(body: &[u8]) -> Result<CreateRequest, SchemaError> {
        let map = object(body)?;
        let owner = match map.get("owner") {
            Some(Value::String(s)) => Owner::parse(s),
            _ => None,
        }
        .ok_or_else(|| SchemaError("`owner` must be \"org\" or \"user\"".into()))?;
        let present: Vec<&str> = ORIGINS
            .into_iter()
            .filter(|k| map.contains_key(*k))
            .collect();
        if present.len() != 1 {
            return Err(SchemaError(
                "exactly one of `value`, `values` or `from` is required".into(),
            ));
        }
        let origin = match (present[0], &map[present[0]]) {
            ("value", Value::String(s)) => Origin::Value(SecretValue::new(s.as_str())),
            ("values", Value::Object(values)) => {
                let mut out = BTreeMap::new();
                for (variable, value) in values {
                    let Value::String(value) = value else {
                        return Err(SchemaError(
                            "`values` must map variable names to strings".into(),
                        ));
                    };
                    out.insert(variable.clone(), SecretValue::new(value.as_str()));
                }
                Origin::Values(out)
            }
            ("from", Value::Object(from)) => Origin::From {
                provider: required_string(from, "provider")
                    .map_err(|e| SchemaError(format!("in `from`: {}", e.0)))?,
                id: required_string(from, "id")
                    .map_err(|e| SchemaError(format!("in `from`: {}", e.0)))?,
            },
            (key, _) => {
                let expected = match key {
                    "value" => "a string",
                    "values" => "an object of strings",
                    _ => "an object {provider, id}",
                };
                return Err(SchemaError(format!("`{key}` must be {expected}")));
            }
        };
        Ok(CreateRequest {
            owner,
            name: required_string(&map, "name")?,
            integration: required_string(&map, "integration")?,
            template: required_string(&map, "template")?,
            identity_label: nullable_string(&map, "identityLabel")?,
            description: nullable_string(&map, "description")?,
            origin,
        })
    }
}

impl PatchRequest {
    pub fn parse(body: &[u8]) -> Result<PatchRequest, SchemaError> {
        let map = object(body)?;
        Ok(PatchRequest {
            description: nullable_string(&map, "description")?,
            identity_label: nullable_string(&map, "identityLabel")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn create(body: &str) -> Result<CreateRequest, SchemaError> {
        CreateRequest::parse(body.as_bytes())
    }

    #[test]
    fn create_needs_exactly_one_origin() {
        let base = r#""owner":"org","name":"main","integration":"p","template":"t""#;
        assert!(create(&format!("{{{base}}}")).is_err());
        assert!(create(&format!(r#"{{{base},"value":"x","values":{{"a":"b"}}}}"#)).is_err());
        assert!(create(&format!(r#"{{{base},"value":null}}"#)).is_err());
        assert!(matches!(
            create(&format!(r#"{{{base},"value":"x"}}"#))
                .unwrap()
                .origin,
            Origin::Value(_)
        ));
        assert!(matches!(
            create(&format!(
                r#"{{{base},"from":{{"provider":"encrypted","id":"i"}}}}"#
            ))
            .unwrap()
            .origin,
            Origin::From { .. }
        ));
        assert!(create(&format!(r#"{{{base},"values":{{"a":1}}}}"#)).is_err());
    }

    #[test]
    fn schema_errors_never_quote_values() {
        for body in [
            r#"{"owner":"org","name":"m","integration":"p","template":"t","values":{"a":"canary-x","b":7}}"#,
            r#"{"owner":"org","name":"m","integration":"p","template":"t","value":["canary-x"]}"#,
            r#"{"owner":"canary-x","value":"canary-x"}"#,
            r#"{"value":"canary-x""#,
        ] {
            let SchemaError(message) = create(body).err().unwrap();
            assert!(!message.contains("canary"), "{message}");
        }
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let p = PatchRequest::parse(br#"{"description":null}"#).unwrap();
        assert_eq!(p.description, Patch::Set(None));
        assert_eq!(p.identity_label, Patch::Absent);
        assert!(PatchRequest::parse(br#"{"description":1}"#).is_err());
    }

    #[test]
    fn connection_wire_shape() {
        let c = Connection {
            owner: Owner::Org,
            name: "main".into(),
            integration: "petstore".into(),
            template: "apikey-0".into(),
            provider: "encrypted".into(),
            address: "tools.petstore.org.main".into(),
            identity_label: Some("baseline key".into()),
            description: None,
            expires_at: None,
            oauth_client: None,
            oauth_client_owner: None,
            oauth_scope: None,
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"owner":"org","name":"main","integration":"petstore","template":"apikey-0","provider":"encrypted","address":"tools.petstore.org.main","identityLabel":"baseline key","description":null,"expiresAt":null,"oauthClient":null,"oauthClientOwner":null,"oauthScope":null}"#
        );
    }
}
