//! Policy patterns (executor-behaviour.md §9): the grammar, its validation, the `tools.` prefix
//! normalisation, and matching against a tool's *policy target id*.
//!
//! A target id is a tool address without the leading `tools.`: dynamic tools
//! `<integration>.<owner>.<connection>.<tool path…>`, static tools their full address
//! (`executor.coreTools.policies.list`).
//!
//! Grammar, segment by segment (segments are separated by `.`):
//! - `*` alone matches every tool;
//! - a `*` segment in the middle matches exactly one segment;
//! - a trailing `*` segment matches the literal prefix plus anything deeper, or nothing deeper;
//! - any other segment must equal the target's segment, and without a trailing `*` the pattern
//!   and the target have the same number of segments.
//!
//! Rejected: empty patterns, empty segments (leading/trailing dot, `..`), a leading `*` other than
//! the bare `*`, and partial wildcards (`pet*`, `me*x`).

use std::fmt;

/// Longest pattern accepted (the router's path-parameter limit; tool addresses are far shorter).
pub const MAX_PATTERN_LEN: usize = 1000;

/// The prefix `GET /tools` shows on dynamic addresses. Upstream stored it verbatim, so the rule
/// never matched anything (§14 #23, wire 32); we strip it on create and update.
pub const TOOLS_PREFIX: &str = "tools.";

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    Empty,
    TooLong,
    /// A leading or trailing `.`, or `..` somewhere.
    EmptySegment,
    /// `*` first, followed by more segments (`*.foo`).
    LeadingWildcard,
    /// A segment that contains `*` but is not exactly `*` (`pet*`).
    PartialWildcard {
        segment: String,
    },
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Empty => write!(f, "the pattern is empty"),
            PatternError::TooLong => {
                write!(f, "the pattern is longer than {MAX_PATTERN_LEN} characters")
            }
            PatternError::EmptySegment => write!(
                f,
                "segments are separated by single dots; none may be empty (no leading, \
                 trailing or doubled dot)"
            ),
            PatternError::LeadingWildcard => write!(
                f,
                "a pattern cannot start with `*` unless it is exactly `*`; name the integration \
                 first, e.g. `petstore.*`"
            ),
            PatternError::PartialWildcard { segment } => write!(
                f,
                "`*` must be a whole segment, but `{segment}` mixes it with other characters; \
                 use e.g. `petstore.*`"
            ),
        }
    }
}

/// Checks the grammar of an already-normalised pattern.
pub fn validate(pattern: &str) -> Result<(), PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    if pattern.chars().count() > MAX_PATTERN_LEN {
        return Err(PatternError::TooLong);
    }
    if pattern == "*" {
        return Ok(());
    }
    let segments: Vec<&str> = pattern.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(PatternError::EmptySegment);
    }
    if segments.first() == Some(&"*") {
        return Err(PatternError::LeadingWildcard);
    }
    if let Some(segment) = segments.iter().find(|s| s.contains('*') && **s != "*") {
        return Err(PatternError::PartialWildcard {
            segment: (*segment).to_string(),
        });
    }
    Ok(())
}

/// What a create or update stores: the submitted pattern without one leading `tools.`, validated.
/// (`tools.*` therefore becomes `*`: every tool address starts with `tools.`.)
pub fn normalize(submitted: &str) -> Result<String, PatternError> {
    let pattern = submitted.strip_prefix(TOOLS_PREFIX).unwrap_or(submitted);
    validate(pattern)?;
    Ok(pattern.to_string())
}

/// A tool address as a policy target id: the address without its leading `tools.` (static
/// addresses such as `executor.coreTools.policies.list` have none and pass through).
pub fn target_id(address: &str) -> &str {
    address.strip_prefix(TOOLS_PREFIX).unwrap_or(address)
}

/// Whether `pattern` matches the target id. Patterns are assumed valid (they were validated on
/// the way in); an invalid one simply matches by the same segment rules.
pub fn matches(pattern: &str, target_id: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let target: Vec<&str> = target_id.split('.').collect();
    let last = pattern.len() - 1;
    for (i, segment) in pattern.iter().enumerate() {
        if *segment == "*" {
            if i == last {
                // Subtree: the literal prefix matched; deeper segments (or none) are fine.
                return target.len() >= i;
            }
            // Mid-pattern: exactly one segment, which must exist.
            if i >= target.len() {
                return false;
            }
            continue;
        }
        if target.get(i) != Some(segment) {
            return false;
        }
    }
    pattern.len() == target.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let valid = [
            "*",
            "petstore",
            "petstore.*",
            "petstore.*.*.pets.deletePet",
            "petstore.org.main.pets.getPet",
            "executor.coreTools.policies.list",
            "vercel.dns.*",
            "a.*.b.*",
            "tools.petstore.*", // valid grammar; `normalize` strips the prefix
        ];
        for p in valid {
            assert_eq!(validate(p), Ok(()), "{p} should be valid");
        }
        let invalid: [(&str, PatternError); 11] = [
            ("", PatternError::Empty),
            (".petstore", PatternError::EmptySegment),
            ("petstore.", PatternError::EmptySegment),
            ("petstore..x", PatternError::EmptySegment),
            (".", PatternError::EmptySegment),
            ("*.petstore", PatternError::LeadingWildcard),
            ("*.*", PatternError::LeadingWildcard),
            (
                "pet*",
                PatternError::PartialWildcard {
                    segment: "pet*".into(),
                },
            ),
            (
                "petstore.me*",
                PatternError::PartialWildcard {
                    segment: "me*".into(),
                },
            ),
            (
                "petstore.*x.y",
                PatternError::PartialWildcard {
                    segment: "*x".into(),
                },
            ),
            (
                "**",
                PatternError::PartialWildcard {
                    segment: "**".into(),
                },
            ),
        ];
        for (p, e) in invalid {
            assert_eq!(validate(p), Err(e), "{p:?} should be invalid");
        }
        assert_eq!(validate(&"a".repeat(1001)), Err(PatternError::TooLong));
        assert_eq!(validate(&"a".repeat(1000)), Ok(()));
    }

    #[test]
    fn normalize_strips_one_tools_prefix() {
        assert_eq!(normalize("tools.petstore.*").as_deref(), Ok("petstore.*"));
        assert_eq!(normalize("tools.*").as_deref(), Ok("*"));
        assert_eq!(
            normalize("tools.tools.x").as_deref(),
            Ok("tools.x"),
            "only one prefix is removed"
        );
        assert_eq!(normalize("petstore.*").as_deref(), Ok("petstore.*"));
        assert_eq!(normalize("tools").as_deref(), Ok("tools"));
        assert_eq!(normalize("tools."), Err(PatternError::Empty));
        assert!(matches!(
            normalize("tools.pet*"),
            Err(PatternError::PartialWildcard { .. })
        ));
    }

    #[test]
    fn target_ids() {
        assert_eq!(
            target_id("tools.petstore.org.main.pets.getPet"),
            "petstore.org.main.pets.getPet"
        );
        assert_eq!(
            target_id("executor.coreTools.policies.list"),
            "executor.coreTools.policies.list"
        );
    }

    #[test]
    fn matching_table() {
        let get_pet = "petstore.org.main.pets.getPet";
        let cases: &[(&str, &str, bool)] = &[
            // bare `*`
            ("*", get_pet, true),
            ("*", "executor.coreTools.policies.list", true),
            // exact: equal segments and equal length
            (get_pet, get_pet, true),
            ("petstore.org.main.pets", get_pet, false),
            ("petstore.org.main.pets.getPet.extra", get_pet, false),
            ("petstore.org.main.pets.getpet", get_pet, false),
            // middle `*`: exactly one segment
            ("petstore.*.*.pets.getPet", get_pet, true),
            (
                "petstore.*.*.pets.getPet",
                "petstore.user.main.pets.getPet",
                true,
            ),
            ("petstore.*.pets.getPet", get_pet, false),
            ("petstore.*.*.*.pets.getPet", get_pet, false),
            ("petstore.*.*.pets.deletePet", get_pet, false),
            ("petstore.*.x", "petstore", false),
            // trailing `*`: prefix plus anything deeper, or nothing
            ("petstore.*", get_pet, true),
            ("petstore.*", "petstore", true),
            ("petstore.org.main.*", get_pet, true),
            ("petstore.org.main.pets.getPet.*", get_pet, true),
            ("petstore.org.main.pets.getPet.x.*", get_pet, false),
            ("petstore.*", "petstorex.org.main.a", false),
            ("pet.*", get_pet, false),
            (
                "executor.coreTools.*",
                "executor.coreTools.policies.list",
                true,
            ),
            // both kinds
            ("petstore.*.*.pets.*", get_pet, true),
            ("petstore.*.*.store.*", get_pet, false),
            // the upstream defect (wire 32): a stored `tools.` pattern matches no target id
            ("tools.petstore.*", get_pet, false),
        ];
        for (pattern, target, expected) in cases {
            assert_eq!(matches(pattern, target), *expected, "{pattern} vs {target}");
        }
    }
}
