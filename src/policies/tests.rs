//! Resolution precedence (§9) over hand-built policy sets, and `load` against the SQLite fake.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::owner::Owner;

fn rule(id: &str, owner: Owner, pattern: &str, action: Action, position: &str) -> ToolPolicy {
    ToolPolicy {
        id: id.into(),
        owner,
        pattern: pattern.into(),
        action,
        position: position.into(),
        created_at: 0,
        updated_at: 0,
    }
}

fn decision(action: Action, pattern: Option<&str>) -> Decision {
    Decision {
        action,
        matched_pattern: pattern.map(str::to_string),
    }
}

const GET_PET: &str = "petstore.org.main.pets.getPet";
const DELETE_PET: &str = "petstore.org.main.pets.deletePet";

#[test]
fn no_rules_fall_back_to_the_annotation() {
    let set = PolicySet::default();
    assert!(set.is_empty());
    assert_eq!(set.resolve(GET_PET, false), decision(Action::Approve, None));
    assert_eq!(
        set.resolve(GET_PET, true),
        decision(Action::RequireApproval, None)
    );
    // A set whose rules do not match behaves the same.
    let set = PolicySet::new(vec![rule(
        "p1",
        Owner::Org,
        "github.*",
        Action::Block,
        "a0",
    )]);
    assert_eq!(
        set.resolve(GET_PET, true),
        decision(Action::RequireApproval, None)
    );
}

#[test]
fn an_explicit_approve_silences_the_annotation_default() {
    let set = PolicySet::new(vec![rule(
        "p1",
        Owner::Org,
        "petstore.*.*.pets.createPet",
        Action::Approve,
        "a0",
    )]);
    assert_eq!(
        set.resolve("petstore.org.main.pets.createPet", true),
        decision(Action::Approve, Some("petstore.*.*.pets.createPet"))
    );
}

#[test]
fn first_match_per_owner_by_position_then_id() {
    // Within one owner the lower position wins, regardless of restrictiveness.
    let set = PolicySet::new(vec![
        rule("p1", Owner::Org, "petstore.*", Action::Block, "a1"),
        rule("p2", Owner::Org, GET_PET, Action::Approve, "a0"),
    ]);
    assert_eq!(
        set.resolve(GET_PET, false),
        decision(Action::Approve, Some(GET_PET))
    );
    assert_eq!(
        set.resolve(DELETE_PET, false),
        decision(Action::Block, Some("petstore.*"))
    );
    // Equal positions: the smaller id first.
    let set = PolicySet::new(vec![
        rule("pol_b", Owner::Org, "petstore.*", Action::Block, "a0"),
        rule("pol_a", Owner::Org, "*", Action::Approve, "a0"),
    ]);
    assert_eq!(
        set.resolve(GET_PET, false),
        decision(Action::Approve, Some("*"))
    );
    assert_eq!(
        set.policies()
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["pol_a", "pol_b"]
    );
}

#[test]
fn most_restrictive_across_owners_wins() {
    let cases = [
        // (user action, org action, expected winner's owner)
        (Action::Approve, Action::Block, Owner::Org),
        (Action::Block, Action::Approve, Owner::User),
        (Action::Approve, Action::RequireApproval, Owner::Org),
        (Action::RequireApproval, Action::Approve, Owner::User),
        (Action::RequireApproval, Action::Block, Owner::Org),
        (Action::Block, Action::RequireApproval, Owner::User),
        // ties report the user's rule
        (Action::Approve, Action::Approve, Owner::User),
        (Action::Block, Action::Block, Owner::User),
    ];
    for (user_action, org_action, winner) in cases {
        let set = PolicySet::new(vec![
            rule("o", Owner::Org, "petstore.*", org_action, "a0"),
            rule("u", Owner::User, GET_PET, user_action, "a0"),
        ]);
        let expected = match winner {
            Owner::User => decision(user_action, Some(GET_PET)),
            Owner::Org => decision(org_action, Some("petstore.*")),
        };
        assert_eq!(
            set.resolve(GET_PET, false),
            expected,
            "user {user_action:?} vs org {org_action:?}"
        );
    }
}

#[test]
fn only_the_first_match_of_each_owner_counts() {
    // The user's first match is `approve`; a later user `block` does not count, and the org's
    // first match (`require_approval`) is more restrictive than the user's.
    let set = PolicySet::new(vec![
        rule("u1", Owner::User, GET_PET, Action::Approve, "a0"),
        rule("u2", Owner::User, "petstore.*", Action::Block, "a1"),
        rule("o1", Owner::Org, "*", Action::RequireApproval, "a0"),
        rule("o2", Owner::Org, "petstore.*", Action::Block, "a1"),
    ]);
    assert_eq!(
        set.resolve(GET_PET, false),
        decision(Action::RequireApproval, Some("*"))
    );
    // User rules are evaluated first regardless of insertion order.
    assert_eq!(
        set.policies()
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["u1", "u2", "o1", "o2"]
    );
}

#[test]
fn static_tool_targets() {
    let set = PolicySet::new(vec![rule(
        "p",
        Owner::Org,
        "executor.coreTools.policies.list",
        Action::RequireApproval,
        "a0",
    )]);
    assert_eq!(
        set.resolve(target_id("executor.coreTools.policies.list"), false),
        decision(
            Action::RequireApproval,
            Some("executor.coreTools.policies.list")
        )
    );
    assert_eq!(
        set.resolve(target_id("tools.petstore.org.main.pets.getPet"), false),
        decision(Action::Approve, None)
    );
}

#[test]
fn actions_round_trip() {
    for a in [Action::Approve, Action::RequireApproval, Action::Block] {
        assert_eq!(Action::parse(a.as_str()), Some(a));
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            serde_json::json!(a.as_str())
        );
    }
    assert_eq!(Action::parse("Block"), None);
    assert_eq!(Action::parse("allow"), None);
}
