//! The catalog's calls into services built in parallel with it (see the shared contract in
//! `notes/catalog-contract.md`): stale-connection refresh, tool policies and OpenAPI invocation.
//!
//! Each is reached through exactly one item here, shaped like the contract, so that wiring the
//! real implementation is a one-line change per seam:
//!
//! - [`refresh_stale`] → `crate::connections::service::refresh_stale`;
//! - [`PolicySet`], [`Decision`], [`Action`], [`load_policies`] → `crate::policies::{PolicySet,
//!   Decision, Action, load}`;
//! - [`OpenApiCall`], [`InvokeOutcome`], [`invoke`] → `crate::plugins::openapi::invoke::{…}`.
//!
//! Until then: refresh is a no-op, invocation answers an opaque internal failure, and policies
//! are a small stand-in that reads the `tool_policy` rows and applies executor-behaviour.md §9
//! (so block/approval behaviour is testable now and the same tests check the real module later).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::app::Services;
use crate::auth::Principal;
use crate::connections::ConnectionError;
use crate::crypto::SecretValue;
use crate::net::http::HttpClient;
use crate::plugins::openapi::{AuthTemplate, OperationBinding};
use crate::store::{decode_rows, Sql, Statement, StoreError};

// ---------------------------------------------------------------------------------------------
// Stale connections (§8.7)

/// Re-produces the tools of the caller's visible connections whose integration changed since
/// they were produced. Stand-in: nothing is ever stale in this build yet.
pub async fn refresh_stale(
    services: Services<'_>,
    principal: &Principal,
) -> Result<(), ConnectionError> {
    let _ = (services, principal);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Policies (§9)

/// A policy's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Approve,
    RequireApproval,
    Block,
}

impl Action {
    fn parse(text: &str) -> Option<Action> {
        match text {
            "approve" => Some(Action::Approve),
            "require_approval" => Some(Action::RequireApproval),
            "block" => Some(Action::Block),
            _ => None,
        }
    }
}

/// The effective policy of one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// The pattern that decided, `None` for the plugin default.
    pub matched_pattern: Option<String>,
}

#[derive(serde::Deserialize)]
struct PolicyRow {
    owner: String,
    pattern: String,
    action: String,
}

/// The caller's policies, in evaluation order (user rows first, then org; by position, id).
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// `(is_user, pattern, action)`.
    rules: Vec<(bool, String, Action)>,
}

const POLICIES_SQL: &str = "SELECT owner, pattern, action FROM tool_policy \
     WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
     ORDER BY CASE owner WHEN 'user' THEN 0 ELSE 1 END, position, id";

/// Loads the caller's policies (one query).
pub async fn load_policies(sql: &dyn Sql, principal: &Principal) -> Result<PolicySet, StoreError> {
    let rows: Vec<PolicyRow> = decode_rows(
        sql.query(Statement::new(
            POLICIES_SQL,
            vec![principal.tenant().into(), principal.subject().into()],
        ))
        .await?,
    )?;
    Ok(PolicySet {
        rules: rows
            .into_iter()
            .filter_map(|r| Some((r.owner == "user", r.pattern, Action::parse(&r.action)?)))
            .collect(),
    })
}

/// `*`; dot-separated segments where a middle `*` is one segment and a trailing `*` is the
/// prefix plus anything deeper (or nothing).
fn pattern_matches(pattern: &str, target: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let target: Vec<&str> = target.split('.').collect();
    let segment = |p: &str, t: &str| p == "*" || p == t;
    match pattern.split_last() {
        Some((&"*", prefix)) => {
            target.len() >= prefix.len() && prefix.iter().zip(&target).all(|(p, t)| segment(p, t))
        }
        _ => {
            pattern.len() == target.len() && pattern.iter().zip(&target).all(|(p, t)| segment(p, t))
        }
    }
}

impl PolicySet {
    /// Each owner's first matching rule; the most restrictive of those wins; without a match,
    /// `require_approval` when the tool's annotation asks for it, else `approve`.
    pub fn resolve(&self, target_id: &str, requires_approval_annotation: bool) -> Decision {
        let mut best: Option<(Action, &str)> = None;
        for owner_is_user in [true, false] {
            let first = self.rules.iter().find(|(user, pattern, _)| {
                *user == owner_is_user && pattern_matches(pattern, target_id)
            });
            if let Some((_, pattern, action)) = first {
                if best.is_none_or(|(a, _)| *action > a) {
                    best = Some((*action, pattern));
                }
            }
        }
        match best {
            Some((action, pattern)) => Decision {
                action,
                matched_pattern: Some(pattern.to_owned()),
            },
            None => Decision {
                action: if requires_approval_annotation {
                    Action::RequireApproval
                } else {
                    Action::Approve
                },
                matched_pattern: None,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI invocation (§8.1.5)

/// Everything one OpenAPI tool call needs (the contract's `OpenApiCall`).
// Stand-in: the fields are read by the real invoker only.
#[allow(dead_code)]
pub struct OpenApiCall<'a> {
    pub integration: &'a str,
    pub connection: &'a str,
    pub binding: &'a OperationBinding,
    pub input_schema: Option<&'a Value>,
    pub defs: &'a Map<String, Value>,
    pub base_url: Option<&'a str>,
    pub headers: &'a BTreeMap<String, String>,
    pub query_params: &'a BTreeMap<String, String>,
    pub auth: Option<&'a AuthTemplate>,
    pub credentials: &'a BTreeMap<String, Option<SecretValue>>,
    pub timeout_ms: u64,
    pub allow_local_network: bool,
}

/// What a call produced.
// Stand-in: only the real invoker produces results.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeOutcome {
    /// A ToolResult value for the sandbox.
    Result(Value),
    /// An opaque failure; `cause` goes to the server log only.
    Internal { cause: String },
}

/// Runs one call. Stand-in: invocation is not in this build yet.
pub async fn invoke(
    http: &dyn HttpClient,
    call: &OpenApiCall<'_>,
    args: Option<Value>,
) -> InvokeOutcome {
    let _ = (http, args);
    InvokeOutcome::Internal {
        cause: format!(
            "OpenAPI invocation is not available in this build yet ({} {})",
            call.integration, call.binding.path_template
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rules: &[(bool, &str, Action)]) -> PolicySet {
        PolicySet {
            rules: rules
                .iter()
                .map(|(u, p, a)| (*u, (*p).to_owned(), *a))
                .collect(),
        }
    }

    #[test]
    fn patterns() {
        let t = "petstore.org.main.pets.deletePet";
        for yes in [
            "*",
            "petstore.*",
            "petstore.*.*.pets.deletePet",
            "petstore.org.main.pets.deletePet",
            "petstore.org.main.pets.deletePet.*",
        ] {
            assert!(pattern_matches(yes, t), "{yes}");
        }
        for no in [
            "tools.petstore.*",
            "petstore.*.pets.deletePet",
            "petstore.org.main.pets",
            "other.*",
        ] {
            assert!(!pattern_matches(no, t), "{no}");
        }
    }

    #[test]
    fn resolution() {
        let t = "petstore.org.main.pets.getPet";
        assert_eq!(
            PolicySet::default().resolve(t, false).action,
            Action::Approve
        );
        assert_eq!(
            PolicySet::default().resolve(t, true),
            Decision {
                action: Action::RequireApproval,
                matched_pattern: None
            }
        );
        // Each owner's first match; the most restrictive of the two wins.
        let s = set(&[
            (true, "petstore.*", Action::Approve),
            (true, "*", Action::Block),
            (
                false,
                "petstore.org.main.pets.getPet",
                Action::RequireApproval,
            ),
        ]);
        assert_eq!(
            s.resolve(t, false),
            Decision {
                action: Action::RequireApproval,
                matched_pattern: Some("petstore.org.main.pets.getPet".into())
            }
        );
        // An explicit approve silences the annotation.
        let s = set(&[(false, "petstore.*", Action::Approve)]);
        assert_eq!(s.resolve(t, true).action, Action::Approve);
    }
}
