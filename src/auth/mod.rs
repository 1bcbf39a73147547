//! Identity: who is calling (executor-behaviour.md §10).
//!
//! Cloudflare Access sits in front of the hostname and injects a signed assertion
//! (`Cf-Access-Jwt-Assertion`); the Worker re-verifies it here. Everything in this module is pure
//! Rust: the two platform operations — fetching the signing keys and checking an RS256 signature —
//! come in through [`KeySource`], which the edge implements with `fetch` and WebCrypto and the host
//! tests implement with the `rsa` crate.
//!
//! - [`jwt`]: token parsing ([`parse_jwt`]) and claim checks ([`check_claims`]);
//! - [`jwks`]: the signing-key document and the per-isolate cache ([`JwksCache::authenticate`]);
//! - this file: turning verified claims into a [`Principal`], and the dev-auth principal.

use serde_json::{Map, Value};

use crate::config::{Config, Organization};

pub mod jwks;
pub mod jwt;

pub use jwks::{Jwk, Jwks, JwksCache, KeySource, JWKS_MAX_AGE_MS, UNKNOWN_KID_COOLDOWN_MS};
pub use jwt::{check_claims, parse_jwt, AuthError, JwtHeader, JwtParts};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The subject that owns `owner: "user"` rows: `sub`, else `email`, else `common_name`.
    pub account_id: String,
    /// The caller's email, or `""` for service tokens.
    pub email: String,
    pub name: Option<String>,
    /// Always `None` on this host.
    pub avatar_url: Option<String>,
    /// Informational only: nothing authorises by role (§10.3).
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub organization: Organization,
}

impl Principal {
    /// The tenant that partitions the catalog: always the configured organization (§10.6).
    pub fn tenant(&self) -> &str {
        &self.organization.id
    }

    /// The subject that owns user-scoped rows.
    pub fn subject(&self) -> &str {
        &self.account_id
    }
}

/// The fixed principal of `ENABLE_DEV_AUTH=true` (§10.5).
pub fn dev_principal(config: &Config) -> Principal {
    Principal {
        account_id: "dev".into(),
        email: config
            .admin_emails
            .first()
            .cloned()
            .unwrap_or_else(|| "dev@local".into()),
        name: Some("Dev".into()),
        avatar_url: None,
        roles: vec!["admin".into()],
        groups: Vec::new(),
        organization: config.organization.clone(),
    }
}

/// Maps verified Access claims to a [`Principal`] (§10.3).
pub fn principal_from_claims(claims: &Map<String, Value>, config: &Config) -> Principal {
    let string_claim = |key: &str| claims.get(key).and_then(Value::as_str);

    let email = string_claim("email").unwrap_or("").to_string();
    let sub = string_claim("sub").unwrap_or("");
    let common_name = string_claim("common_name").unwrap_or("");

    let account_id = [sub, email.as_str(), common_name]
        .into_iter()
        .find(|candidate| !candidate.is_empty())
        .unwrap_or("")
        .to_string();

    let name = string_claim(&config.name_claim)
        .unwrap_or(common_name)
        .to_string();
    let name = (!name.is_empty()).then_some(name);

    let groups: Vec<String> = match claims.get(&config.groups_claim) {
        Some(Value::Array(items)) => items.iter().map(js_string).collect(),
        _ => Vec::new(),
    };

    let is_admin = !email.is_empty() && config.admin_emails.contains(&email.to_lowercase());
    let roles = if is_admin {
        std::iter::once("admin".to_string())
            .chain(groups.iter().cloned())
            .collect()
    } else if !groups.is_empty() {
        groups.clone()
    } else {
        vec!["member".to_string()]
    };

    Principal {
        account_id,
        email,
        name,
        avatar_url: None,
        roles,
        groups,
        organization: config.organization.clone(),
    }
}

/// JavaScript's `String(value)` for a JSON value, so group lists stringify as upstream's do.
fn js_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n),
        // `String([1, null, "a"])` is "1,,a": null/undefined elements become empty.
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

fn js_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        // Whole floats print without a fraction in JavaScript (`String(2.0)` is "2").
        Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn config_with(pairs: &[(&str, &str)]) -> Config {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(|k| {
            map.get(k).cloned().or_else(|| match k {
                "EXECUTOR_SECRET_KEY" => Some("test-secret-key-0123456789".into()),
                "ACCESS_TEAM_DOMAIN" => Some("team.cloudflareaccess.com".into()),
                "ACCESS_AUD" => Some("aud-tag".into()),
                _ => None,
            })
        })
        .unwrap()
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("claims must be an object"),
        }
    }

    #[test]
    fn human_with_sub_and_groups() {
        let config = config_with(&[]);
        let p = principal_from_claims(
            &claims(json!({
                "sub": "user-123", "email": "person@example.com", "name": "Person",
                "groups": ["eng"]
            })),
            &config,
        );
        assert_eq!(p.account_id, "user-123");
        assert_eq!(p.email, "person@example.com");
        assert_eq!(p.name.as_deref(), Some("Person"));
        assert_eq!(p.avatar_url, None);
        assert_eq!(p.groups, vec!["eng"]);
        assert_eq!(p.roles, vec!["eng"]);
        assert_eq!(p.organization.id, "default");
        assert_eq!(p.organization.slug, "default");
        assert_eq!(p.tenant(), "default");
        assert_eq!(p.subject(), "user-123");
    }

    #[test]
    fn allow_listed_email_is_admin_case_insensitively() {
        let config = config_with(&[("ADMIN_EMAILS", "boss@example.com, other@x.org")]);
        let p = principal_from_claims(
            &claims(json!({"sub": "u1", "email": "Boss@Example.com", "groups": ["eng", "ops"]})),
            &config,
        );
        assert_eq!(p.roles, vec!["admin", "eng", "ops"]);
        assert_eq!(p.groups, vec!["eng", "ops"]);
        assert_eq!(
            p.email, "Boss@Example.com",
            "the email is kept as the token has it"
        );
    }

    #[test]
    fn service_token_uses_common_name() {
        let config = config_with(&[("ADMIN_EMAILS", "boss@example.com")]);
        let p = principal_from_claims(
            &claims(json!({"sub": "", "common_name": "df8a20db.access", "aud": ["x"]})),
            &config,
        );
        assert_eq!(p.account_id, "df8a20db.access");
        assert_eq!(p.name.as_deref(), Some("df8a20db.access"));
        assert_eq!(p.email, "");
        assert_eq!(p.roles, vec!["member"]);
        assert!(p.groups.is_empty());
    }

    #[test]
    fn no_groups_and_not_admin_is_member() {
        let config = config_with(&[("ADMIN_EMAILS", "boss@example.com")]);
        let p = principal_from_claims(&claims(json!({"email": "someone@example.com"})), &config);
        assert_eq!(
            p.account_id, "someone@example.com",
            "email stands in for a missing sub"
        );
        assert_eq!(p.roles, vec!["member"]);
        assert_eq!(p.name, None);
        // Not an array: ignored.
        let p = principal_from_claims(
            &claims(json!({"email": "someone@example.com", "groups": "eng"})),
            &config,
        );
        assert!(p.groups.is_empty());
        assert_eq!(p.roles, vec!["member"]);
    }

    #[test]
    fn configured_claim_names_and_stringified_groups() {
        let config = config_with(&[
            ("ACCESS_NAME_CLAIM", "display"),
            ("ACCESS_GROUPS_CLAIM", "teams"),
            ("SELF_HOSTED_ORG_ID", "org-1"),
        ]);
        let p = principal_from_claims(
            &claims(json!({
                "sub": "s", "name": "ignored", "display": "Shown",
                "groups": ["ignored"], "teams": ["a", 7, 2.0, 1.5, true, null, {"k": 1}, [1, null, "z"]]
            })),
            &config,
        );
        assert_eq!(p.name.as_deref(), Some("Shown"));
        assert_eq!(
            p.groups,
            vec![
                "a",
                "7",
                "2",
                "1.5",
                "true",
                "null",
                "[object Object]",
                "1,,z"
            ]
        );
        assert_eq!(p.organization.id, "org-1");
        // A non-string name claim falls back to common_name, then to None.
        let p = principal_from_claims(
            &claims(json!({"sub": "s", "display": 5, "common_name": "cn"})),
            &config,
        );
        assert_eq!(p.name.as_deref(), Some("cn"));
    }

    #[test]
    fn dev_principal_uses_first_admin_email() {
        let config = Config::from_env(|k| match k {
            "EXECUTOR_SECRET_KEY" => Some("test-secret-key-0123456789".into()),
            "ENABLE_DEV_AUTH" => Some("true".into()),
            "ADMIN_EMAILS" => Some(" First@x.com ,second@y.com".into()),
            _ => None,
        })
        .unwrap();
        let p = dev_principal(&config);
        assert_eq!(p.account_id, "dev");
        assert_eq!(p.email, "first@x.com");
        assert_eq!(p.name.as_deref(), Some("Dev"));
        assert_eq!(p.roles, vec!["admin"]);
        assert_eq!(p.avatar_url, None);

        let p = dev_principal(&Config::for_tests());
        assert_eq!(p.email, "dev@local");
        assert_eq!(p.organization.id, "default");
    }
}
