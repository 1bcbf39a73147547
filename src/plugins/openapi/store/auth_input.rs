//! `authenticationTemplate` inputs (executor-behaviour.md §3.4.1): the accepted dialects, their
//! normalisation into stored [`AuthTemplate`]s, and the merge/replace rules of the config route.
//!
//! Accepted per entry:
//! * `{slug, kind: "oauth2", authorizationUrl?, tokenUrl, scopes?}` (the stored OAuth2 form);
//! * `{slug?, type: "apiKey", label?, headers?, queryParams?}` — the request-shaped form, where each
//!   value is a literal string or an array of parts `(string | {type: "variable", name})[]` with
//!   at most one variable, only as the last part;
//! * the stored forms `{slug?, kind: "apikey", label?, placements}` and `{slug?, kind: "none"}`, so
//!   a client can post back what `GET …/config` answered (an addition to upstream's dialects).
//!
//! Anything else is a request-schema error (400) with a message naming the entry.

use serde_json::{Map, Value};

use crate::plugins::openapi::{
    ApiKeyTemplate, AuthTemplate, Carrier, NoneTemplate, OAuth2Template, Placement,
};

/// The credential variable a placement uses when it names none.
const DEFAULT_VARIABLE: &str = "token";

/// One parsed entry: its requested slug (if any) and the template (slug still to be assigned).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthInput {
    pub slug: Option<String>,
    pub template: AuthTemplate,
}

/// How a config update combines incoming entries with the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMode {
    /// Incoming entries replace stored entries with the same slug in place; others are appended.
    #[default]
    Merge,
    /// The incoming entries become the whole list.
    Replace,
}

impl MergeMode {
    pub fn parse(text: &str) -> Option<MergeMode> {
        match text {
            "merge" => Some(MergeMode::Merge),
            "replace" => Some(MergeMode::Replace),
            _ => None,
        }
    }
}

/// Parses an `authenticationTemplate` array. `Err` carries a message for the 400.
pub fn parse_inputs(value: &Value) -> Result<Vec<AuthInput>, String> {
    let Value::Array(entries) = value else {
        return Err("`authenticationTemplate` must be an array".into());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            parse_entry(entry).map_err(|e| format!("`authenticationTemplate[{i}]`: {e}"))
        })
        .collect()
}

fn string_field(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn optional_slug(map: &Map<String, Value>) -> Result<Option<String>, String> {
    Ok(string_field(map, "slug")?.filter(|s| !s.is_empty()))
}

fn parse_entry(entry: &Value) -> Result<AuthInput, String> {
    let Value::Object(map) = entry else {
        return Err("must be an object".into());
    };
    let kind = string_field(map, "kind")?;
    let kind_type = string_field(map, "type")?;
    match (kind.as_deref(), kind_type.as_deref()) {
        (Some("oauth2"), _) => {
            let slug = optional_slug(map)?.ok_or("an OAuth2 template needs a `slug`")?;
            let token_url = string_field(map, "tokenUrl")?
                .filter(|u| !u.is_empty())
                .ok_or("an OAuth2 template needs a `tokenUrl`")?;
            let scopes = match map.get("scopes") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("`scopes` must be an array of strings")?,
                Some(_) => return Err("`scopes` must be an array of strings".into()),
            };
            Ok(AuthInput {
                slug: Some(slug.clone()),
                template: AuthTemplate::OAuth2(OAuth2Template {
                    slug,
                    authorization_url: string_field(map, "authorizationUrl")?.unwrap_or_default(),
                    token_url,
                    scopes,
                }),
            })
        }
        (Some("apikey"), _) => {
            let placements = match map.get("placements") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(stored_placement)
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err("an apikey template needs a `placements` array".into()),
            };
            Ok(AuthInput {
                slug: optional_slug(map)?,
                template: AuthTemplate::ApiKey(ApiKeyTemplate {
                    slug: String::new(),
                    label: string_field(map, "label")?.filter(|l| !l.is_empty()),
                    placements,
                }),
            })
        }
        (Some("none"), _) => Ok(AuthInput {
            slug: optional_slug(map)?,
            template: AuthTemplate::None(NoneTemplate {
                slug: String::new(),
            }),
        }),
        (Some(other), _) => Err(format!(
            "unknown `kind` \"{other}\" (expected \"oauth2\", \"apikey\" or \"none\")"
        )),
        (None, Some("apiKey")) => {
            let mut placements = Vec::new();
            for (key, carrier) in [
                ("headers", Carrier::Header),
                ("queryParams", Carrier::Query),
            ] {
                match map.get(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(values)) => {
                        for (name, value) in values {
                            if name.is_empty() {
                                return Err(format!("`{key}` has an empty name"));
                            }
                            placements.push(
                                template_value(carrier, name, value)
                                    .map_err(|e| format!("`{key}.{name}`: {e}"))?,
                            );
                        }
                    }
                    Some(_) => return Err(format!("`{key}` must be an object")),
                }
            }
            Ok(AuthInput {
                slug: optional_slug(map)?,
                template: AuthTemplate::ApiKey(ApiKeyTemplate {
                    slug: String::new(),
                    label: string_field(map, "label")?.filter(|l| !l.is_empty()),
                    placements,
                }),
            })
        }
        (None, Some(other)) => Err(format!("unknown `type` \"{other}\" (expected \"apiKey\")")),
        (None, None) => {
            Err("needs `kind` (\"oauth2\", \"apikey\" or \"none\") or `type: \"apiKey\"`".into())
        }
    }
}

/// A stored-form placement (`{carrier, name, prefix?, variable?, literal?}`).
fn stored_placement(value: &Value) -> Result<Placement, String> {
    let placement =
        Placement::parse(&value.to_string()).map_err(|e| format!("invalid placement: {e}"))?;
    if placement.name.is_empty() {
        return Err("a placement needs a non-empty `name`".into());
    }
    Ok(placement)
}

/// A request-shaped header/query value: a literal string, or literal parts ending in at most one
/// variable.
fn template_value(carrier: Carrier, name: &str, value: &Value) -> Result<Placement, String> {
    let placement = |prefix: String, variable: Option<String>, literal: Option<String>| Placement {
        carrier,
        name: name.to_owned(),
        prefix,
        variable,
        literal,
    };
    let parts = match value {
        Value::String(literal) => return Ok(placement(String::new(), None, Some(literal.clone()))),
        Value::Array(parts) => parts,
        _ => return Err("must be a string or an array of parts".into()),
    };
    let mut prefix = String::new();
    let mut variable: Option<String> = None;
    for (i, part) in parts.iter().enumerate() {
        if variable.is_some() {
            return Err("a variable may only be the last part".into());
        }
        match part {
            Value::String(text) => prefix.push_str(text),
            Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("variable") => {
                let var = map
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| format!("part {i}: a variable needs a non-empty `name`"))?;
                variable = Some(var.to_owned());
            }
            _ => {
                return Err(format!(
                    "part {i} must be a string or {{\"type\": \"variable\", \"name\": …}}"
                ))
            }
        }
    }
    Ok(match variable {
        Some(var) => placement(prefix, Some(var).filter(|v| v != DEFAULT_VARIABLE), None),
        None => placement(String::new(), None, Some(prefix)),
    })
}

fn with_slug(mut template: AuthTemplate, slug: String) -> AuthTemplate {
    match &mut template {
        AuthTemplate::ApiKey(t) => t.slug = slug,
        AuthTemplate::OAuth2(t) => t.slug = slug,
        AuthTemplate::None(t) => t.slug = slug,
    }
    template
}

/// Combines stored templates with incoming entries (§3.4.1): in merge mode an entry whose slug
/// names a stored template replaces it in place; an entry with a new slug is appended under that
/// slug; slug-less entries and entries whose slug is already taken (by an earlier incoming entry)
/// are appended under a fresh slug from `fresh_slug` (`custom_<6 base36>`).
pub fn merge(
    existing: Vec<AuthTemplate>,
    incoming: Vec<AuthInput>,
    mode: MergeMode,
    mut fresh_slug: impl FnMut() -> String,
) -> Vec<AuthTemplate> {
    let mut out = match mode {
        MergeMode::Merge => existing,
        MergeMode::Replace => Vec::new(),
    };
    // Slugs of stored entries that no incoming entry has claimed yet.
    let mut replaceable: Vec<String> = out.iter().map(|t| t.slug().to_owned()).collect();
    for input in incoming {
        if let Some(slug) = &input.slug {
            if let Some(at) = replaceable.iter().position(|s| s == slug) {
                replaceable.remove(at);
                if let Some(slot) = out.iter_mut().find(|t| t.slug() == slug) {
                    *slot = with_slug(input.template, slug.clone());
                    continue;
                }
            }
            if !out.iter().any(|t| t.slug() == slug) {
                out.push(with_slug(input.template, slug.clone()));
                continue;
            }
        }
        let slug = loop {
            let candidate = fresh_slug();
            if !out.iter().any(|t| t.slug() == candidate) {
                break candidate;
            }
        };
        out.push(with_slug(input.template, slug));
    }
    out
}

/// A fresh `custom_<6 base36>` slug.
pub fn custom_slug() -> String {
    format!("custom_{}", crate::ids::random_base36::<6>())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Vec<AuthInput>, String> {
        parse_inputs(&value)
    }

    fn stored(inputs: Vec<AuthInput>) -> Value {
        let mut n = 0;
        serde_json::to_value(merge(Vec::new(), inputs, MergeMode::Replace, || {
            n += 1;
            format!("custom_{n}")
        }))
        .unwrap()
    }

    #[test]
    fn request_shaped_api_keys_normalise() {
        let inputs = parse(json!([{
            "type": "apiKey", "label": "Key",
            "headers": {
                "Authorization": ["Bearer ", {"type": "variable", "name": "token"}],
                "X-Static": "fixed",
                "X-Joined": ["a", "b"],
                "X-Other": [{"type": "variable", "name": "secret"}]
            },
            "queryParams": {"api_key": [{"type": "variable", "name": "token"}]}
        }]))
        .unwrap();
        assert_eq!(
            stored(inputs),
            json!([{"kind": "apikey", "slug": "custom_1", "label": "Key", "placements": [
                {"carrier": "header", "name": "Authorization", "prefix": "Bearer "},
                {"carrier": "header", "name": "X-Joined", "literal": "ab"},
                {"carrier": "header", "name": "X-Other", "variable": "secret"},
                {"carrier": "header", "name": "X-Static", "literal": "fixed"},
                {"carrier": "query", "name": "api_key"}
            ]}])
        );
    }

    #[test]
    fn variables_only_last_and_at_most_one() {
        let var = json!({"type": "variable", "name": "token"});
        for bad in [
            json!([var.clone(), "suffix"]),
            json!([var.clone(), var.clone()]),
            json!([{"type": "variable"}]),
            json!([{"type": "other", "name": "x"}]),
            json!([1]),
            json!(5),
        ] {
            let e = parse(json!([{"type": "apiKey", "headers": {"X": bad}}])).unwrap_err();
            assert!(e.contains("authenticationTemplate[0]"), "{e}");
        }
    }

    #[test]
    fn other_dialects_and_errors() {
        let inputs = parse(json!([
            {"slug": "oauth", "kind": "oauth2", "authorizationUrl": "https://a/auth", "tokenUrl": "https://a/token", "scopes": ["read"]},
            {"kind": "apikey", "slug": "stored", "placements": [{"carrier": "query", "name": "k", "prefix": "p"}]},
            {"kind": "none", "slug": "anon"}
        ]))
        .unwrap();
        assert_eq!(
            stored(inputs),
            json!([
                {"kind": "oauth2", "slug": "oauth", "authorizationUrl": "https://a/auth", "tokenUrl": "https://a/token", "scopes": ["read"]},
                {"kind": "apikey", "slug": "stored", "placements": [{"carrier": "query", "name": "k", "prefix": "p"}]},
                {"kind": "none", "slug": "anon"}
            ])
        );
        for bad in [
            json!({}),
            json!([1]),
            json!([{"kind": "oauth2", "tokenUrl": "x"}]),
            json!([{"kind": "oauth2", "slug": "x"}]),
            json!([{"kind": "apikey"}]),
            json!([{"kind": "apikey", "placements": [{"carrier": "cookie", "name": "x"}]}]),
            json!([{"kind": "magic"}]),
            json!([{"type": "bearer"}]),
            json!([{"slug": "x"}]),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn merge_replaces_in_place_and_appends() {
        let existing: Vec<AuthTemplate> = serde_json::from_value(json!([
            {"kind": "apikey", "slug": "apikey-0", "placements": [{"carrier": "header", "name": "X-API-Key"}]},
            {"kind": "none", "slug": "anon"}
        ]))
        .unwrap();
        let incoming = parse(json!([
            {"type": "apiKey", "slug": "apikey-0", "headers": {"X-New": [{"type": "variable", "name": "token"}]}},
            {"type": "apiKey", "slug": "apikey-0", "headers": {"X-Dup": "v"}},
            {"type": "apiKey", "slug": "fresh", "headers": {}},
            {"type": "apiKey", "headers": {}}
        ]))
        .unwrap();
        let mut n = 0;
        let merged = merge(existing.clone(), incoming.clone(), MergeMode::Merge, || {
            n += 1;
            // The first candidate collides with a stored slug and must be skipped.
            if n == 1 {
                "anon".into()
            } else {
                format!("custom_{n}")
            }
        });
        let slugs: Vec<&str> = merged.iter().map(AuthTemplate::slug).collect();
        assert_eq!(slugs, ["apikey-0", "anon", "custom_2", "fresh", "custom_3"]);
        let AuthTemplate::ApiKey(first) = &merged[0] else {
            panic!()
        };
        assert_eq!(first.placements[0].name, "X-New");

        let replaced = merge(existing, incoming, MergeMode::Replace, custom_slug);
        assert_eq!(replaced.len(), 4);
        assert_eq!(replaced[0].slug(), "apikey-0");
        assert!(replaced[1].slug().starts_with("custom_"));
        assert_eq!(replaced[1].slug().len(), "custom_".len() + 6);
    }
}
