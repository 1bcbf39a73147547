//! Tool policies (executor-behaviour.md §9, §3.9): owner-scoped rules that approve, gate or block
//! tool calls by pattern.
//!
//! This module owns the `tool_policy` table and everything about rules: the pattern grammar and
//! matching ([`pattern`]), the ordering keys ([`position`]), the CRUD service ([`service`]), the
//! wire shapes ([`wire`]) and resolution ([`PolicySet::resolve`]). Enforcement (blocking,
//! approval prompts) belongs to whoever runs tools; they ask a [`PolicySet`] for a [`Decision`].
//!
//! Resolution, for a tool's *target id* (its address without `tools.`; see [`target_id`]):
//! rules are ordered `user` before `org`, then by `position`, then by `id`; each owner
//! contributes its **first** matching rule; of those (at most two) the most restrictive wins
//! (`block` > `require_approval` > `approve`), the user's on a tie. Without a match the tool's
//! own annotation decides: `require_approval` when it says `requiresApproval`, else `approve`.
//! So an org `block` cannot be weakened by a user rule, and an explicit `approve` silences a
//! plugin's default approval (upstream behaviour, §9).
//!
//! Positions: fractional-indexing keys ([`position`]). A create without `position` puts the rule
//! on top of its owner's list (a key before the current smallest), exactly as upstream (wire 30,
//! 31: `a0`, then `Zz`); a create or update with `position` stores the client's key (the
//! console computes keys between two neighbours with the same scheme), after checking it is a
//! canonical key. [`position::between`] is the generator for callers that move rules.
//!
//! Departures from upstream (all on error paths or unreachable by the console): patterns are
//! stored without a leading `tools.` (upstream kept it and the rule never matched, §14 #23);
//! invalid patterns, actions and positions are a typed 400 `InvalidToolPolicyError` instead of an
//! opaque 500 (§14 #4); an unknown policy id on update or removal is a typed 404
//! `PolicyNotFoundError`.

pub mod pattern;
pub mod position;
pub mod service;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use pattern::{matches, target_id, PatternError};
pub use service::{load, Field, PolicyError};
pub use wire::{CreateRequest, RemoveRequest, ToolPolicy, UpdateRequest};

/// What a policy (or the default) says about a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Run without asking.
    Approve,
    /// Ask the user before running.
    RequireApproval,
    /// Never run; hidden from the sandbox's tool listing.
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::RequireApproval => "require_approval",
            Action::Block => "block",
        }
    }

    /// `approve` | `require_approval` | `block`; anything else is `None`.
    pub fn parse(value: &str) -> Option<Action> {
        match value {
            "approve" => Some(Action::Approve),
            "require_approval" => Some(Action::RequireApproval),
            "block" => Some(Action::Block),
            _ => None,
        }
    }

    /// Higher is more restrictive.
    fn restriction(self) -> u8 {
        match self {
            Action::Approve => 1,
            Action::RequireApproval => 2,
            Action::Block => 3,
        }
    }
}

/// The effective policy for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// The pattern of the rule that decided; `None` when no rule matched and the tool's
    /// annotation decided.
    pub matched_pattern: Option<String>,
}

/// A caller's visible policies (the tenant's org rules and the caller's own user rules) in
/// evaluation order. Cheap to query repeatedly: load once per request or execution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    policies: Vec<ToolPolicy>,
}

impl PolicySet {
    /// A set from policies in any order (they are sorted into evaluation order).
    pub fn new(mut policies: Vec<ToolPolicy>) -> PolicySet {
        service::sort(&mut policies);
        PolicySet { policies }
    }

    /// The policies in evaluation order.
    pub fn policies(&self) -> &[ToolPolicy] {
        &self.policies
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The decision for `target_id` (a tool address without `tools.`, see [`target_id`]);
    /// `requires_approval_annotation` is the tool's `requiresApproval` annotation, used when no
    /// rule matches.
    pub fn resolve(&self, target_id: &str, requires_approval_annotation: bool) -> Decision {
        let mut user: Option<&ToolPolicy> = None;
        let mut org: Option<&ToolPolicy> = None;
        for policy in &self.policies {
            let slot = match policy.owner {
                crate::owner::Owner::User => &mut user,
                crate::owner::Owner::Org => &mut org,
            };
            if slot.is_none() && matches(&policy.pattern, target_id) {
                *slot = Some(policy);
                if user.is_some() && org.is_some() {
                    break;
                }
            }
        }
        let chosen = match (user, org) {
            // On a tie the user's rule is reported (it ranks first).
            (Some(u), Some(o)) if o.action.restriction() > u.action.restriction() => Some(o),
            (Some(u), _) => Some(u),
            (None, o) => o,
        };
        match chosen {
            Some(policy) => Decision {
                action: policy.action,
                matched_pattern: Some(policy.pattern.clone()),
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

#[cfg(test)]
mod tests;
