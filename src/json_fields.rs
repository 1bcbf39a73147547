//! Typed fields out of a JSON object text (request bodies, tool arguments, stored config) with
//! one non-generic reader instead of a derived `Deserialize` per shape.
//!
//! Why: every derived struct monomorphises serde's struct visitor, field identifier and
//! `from_str` for each input it is read from, which cost the Worker tens of KB. Here one visitor
//! records each *named* member as a borrowed [`RawValue`] slice of the text, and small accessors
//! decode a member only when asked.
//!
//! The rules match what the derived deserializers did: unknown members are skipped unread (so an
//! ignored member may carry anything a JSON parser skips, as serde's `IgnoredAny` did); a named
//! member given twice is a `duplicate field` error; `deny_unknown` rejects other members; a
//! missing required member is `missing field`; an optional member may be absent or `null`.
//! Errors are plain messages that name the member; callers wrap them in their typed 4xx.

use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The named members of one JSON object (see the module docs).
pub struct Fields<'a> {
    names: &'a [&'a str],
    values: Vec<Option<&'a RawValue>>,
}

struct Reader<'n> {
    names: &'n [&'n str],
    deny_unknown: bool,
}

impl<'de> DeserializeSeed<'de> for Reader<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Reader<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.names.len()];
        while let Some(key) = map.next_key::<String>()? {
            match self.names.iter().position(|n| *n == key) {
                Some(i) if values[i].is_some() => {
                    return Err(A::Error::custom(format_args!("duplicate field `{key}`")))
                }
                Some(i) => values[i] = Some(map.next_value::<&'de RawValue>()?),
                None if self.deny_unknown => {
                    let expected = quoted(self.names);
                    return Err(A::Error::custom(format_args!(
                        "unknown field `{key}`, expected one of {expected}"
                    )));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// A `serde_json` message without its ` at line L column C` suffix (positions inside a member's
/// slice would mislead).
fn bare(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn invalid(name: &str, expected: &str) -> String {
    format!("invalid type for field `{name}`: expected {expected}")
}

impl<'a> Fields<'a> {
    /// Reads the members `names` of the object `text`.
    pub fn parse(
        text: &'a str,
        names: &'a [&'a str],
        deny_unknown: bool,
    ) -> Result<Fields<'a>, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let values = Reader {
            names,
            deny_unknown,
        }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| e.to_string())?;
        Ok(Fields { names, values })
    }

    /// The member `name` as written (`null` included); `None` when absent.
    pub fn raw(&self, name: &str) -> Option<&'a RawValue> {
        let i = self.names.iter().position(|n| *n == name)?;
        self.values[i]
    }

    /// The member, `None` when absent or `null`.
    fn present(&self, name: &str) -> Option<&'a str> {
        self.raw(name).map(|r| r.get()).filter(|t| *t != "null")
    }

    /// A required string (`null` is a type error).
    pub fn string(&self, name: &str) -> Result<String, String> {
        match self.raw(name) {
            None => Err(format!("missing field `{name}`")),
            Some(raw) => text_string(name, raw.get()),
        }
    }

    /// A string that may be absent or `null`.
    pub fn opt_string(&self, name: &str) -> Result<Option<String>, String> {
        self.present(name).map(|t| text_string(name, t)).transpose()
    }

    /// A string that defaults to empty when absent (`null` is a type error).
    pub fn string_or_empty(&self, name: &str) -> Result<String, String> {
        match self.raw(name) {
            None => Ok(String::new()),
            Some(raw) => text_string(name, raw.get()),
        }
    }

    /// Any JSON value, required (`null` allowed).
    pub fn value(&self, name: &str) -> Result<Value, String> {
        match self.raw(name) {
            None => Err(format!("missing field `{name}`")),
            Some(raw) => text_value(name, raw.get()),
        }
    }

    /// Any JSON value; `None` when absent or `null`.
    pub fn opt_value(&self, name: &str) -> Result<Option<Value>, String> {
        self.present(name).map(|t| text_value(name, t)).transpose()
    }

    /// An array of strings; `None` when absent or `null`.
    pub fn opt_strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.opt_value(name)? {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid(name, "an array of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(name, "an array of strings")),
        }
    }

    /// An array of strings that defaults to empty when absent (`null` is a type error).
    pub fn strings_or_empty(&self, name: &str) -> Result<Vec<String>, String> {
        match self.raw(name) {
            Some(raw) if raw.get() == "null" => Err(invalid(name, "an array of strings")),
            _ => Ok(self.opt_strings(name)?.unwrap_or_default()),
        }
    }

    /// An array of any values; `None` when absent or `null`.
    pub fn opt_array(&self, name: &str) -> Result<Option<Vec<Value>>, String> {
        match self.opt_value(name)? {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(invalid(name, "an array")),
        }
    }

    /// An object of strings; `None` when absent or `null`.
    pub fn opt_string_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, String> {
        match self.opt_value(name)? {
            None => Ok(None),
            Some(Value::Object(map)) => string_map(name, map).map(Some),
            Some(_) => Err(invalid(name, "an object of strings")),
        }
    }

    /// A required number.
    pub fn f64(&self, name: &str) -> Result<f64, String> {
        match self.value(name)? {
            Value::Number(n) => n.as_f64().ok_or_else(|| invalid(name, "a number")),
            _ => Err(invalid(name, "a number")),
        }
    }

    /// A required integer in `0..=u32::MAX`.
    pub fn u32(&self, name: &str) -> Result<u32, String> {
        match self.value(name)? {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| invalid(name, "an integer in 0..=4294967295")),
            _ => Err(invalid(name, "an integer")),
        }
    }

    /// A required boolean.
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        match self.value(name)? {
            Value::Bool(b) => Ok(b),
            _ => Err(invalid(name, "a boolean")),
        }
    }

    /// A boolean that may be absent or `null`.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, String> {
        match self.present(name) {
            None => Ok(None),
            Some(_) => self.bool(name).map(Some),
        }
    }

    /// A boolean that defaults to `false` when absent (`null` is a type error).
    pub fn bool_or_false(&self, name: &str) -> Result<bool, String> {
        match self.raw(name) {
            None => Ok(false),
            Some(_) => self.bool(name),
        }
    }

    /// A required array, as the JSON text of each item (for items read with [`Fields`]).
    pub fn raw_items(&self, name: &str) -> Result<Vec<&'a RawValue>, String> {
        match self.raw(name) {
            None => Err(format!("missing field `{name}`")),
            Some(raw) if raw.get().starts_with('[') => {
                serde_json::from_str::<Vec<&'a RawValue>>(raw.get())
                    .map_err(|e| format!("field `{name}`: {}", bare(&e)))
            }
            Some(_) => Err(invalid(name, "an array")),
        }
    }

    /// A required array of strings (`null` is a type error).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        match self.raw(name) {
            None => Err(format!("missing field `{name}`")),
            Some(_) => self.strings_or_empty(name),
        }
    }

    /// A required `org` | `user`.
    pub fn owner(&self, name: &str) -> Result<crate::owner::Owner, String> {
        let value = self.string(name)?;
        crate::owner::Owner::parse(&value)
            .ok_or_else(|| unknown_variant(name, &value, &["org", "user"]))
    }

    /// A required string that must be one of `variants`; answers its index.
    pub fn variant(&self, name: &str, variants: &[&str]) -> Result<usize, String> {
        let value = self.string(name)?;
        variants
            .iter()
            .position(|v| *v == value)
            .ok_or_else(|| unknown_variant(name, &value, variants))
    }
}

fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|v| format!("`{v}`")).collect();
    quoted.join(", ")
}

/// `unknown variant` naming the member and the accepted values.
pub fn unknown_variant(name: &str, value: &str, variants: &[&str]) -> String {
    let expected = quoted(variants);
    format!("unknown variant `{value}` for field `{name}`, expected one of {expected}")
}

/// The one required string member `name` of the object `text` (other members ignored).
pub fn string_member(text: &str, name: &str) -> Result<String, String> {
    Fields::parse(text, &[name], false)?.string(name)
}

fn text_string(name: &str, text: &str) -> Result<String, String> {
    if !text.starts_with('"') {
        return Err(invalid(name, "a string"));
    }
    serde_json::from_str::<String>(text).map_err(|e| format!("field `{name}`: {}", bare(&e)))
}

fn text_value(name: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str::<Value>(text).map_err(|e| format!("field `{name}`: {}", bare(&e)))
}

fn string_map(name: &str, map: Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(invalid(name, "an object of strings")),
        })
        .collect()
}

/// The items of the JSON array `text`, as text (for items read with [`Fields`]).
pub fn raw_array(text: &str) -> Result<Vec<&RawValue>, String> {
    if !text.trim_start().starts_with('[') {
        return Err("invalid type: expected an array".into());
    }
    serde_json::from_str::<Vec<&RawValue>>(text).map_err(|e| e.to_string())
}

/// A member of an already-parsed object (tool arguments): a required string.
pub fn map_string(map: &Map<String, Value>, name: &str) -> Result<String, String> {
    match map.get(name) {
        None => Err(format!("missing field `{name}`")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid(name, "a string")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NAMES: &[&str] = &["code", "name", "tags", "headers"];

    #[test]
    fn reads_named_members_and_skips_the_rest() {
        let f = Fields::parse(
            r#"{"code":"x\n","other":{"deep":["\ud800"]},"tags":["a"],"headers":{"h":"v"}}"#,
            NAMES,
            false,
        )
        .unwrap();
        assert_eq!(f.string("code").unwrap(), "x\n");
        assert_eq!(f.opt_string("name").unwrap(), None);
        assert_eq!(f.opt_strings("tags").unwrap(), Some(vec!["a".to_owned()]));
        assert_eq!(
            f.opt_string_map("headers").unwrap().unwrap()["h"],
            "v".to_owned()
        );
        assert!(f
            .string("name")
            .unwrap_err()
            .contains("missing field `name`"));
    }

    #[test]
    fn rejects_what_the_derived_readers_rejected() {
        for bad in [
            r#"{"code":"a","code":"b"}"#,
            r#"[]"#,
            r#"null"#,
            r#"{"code":"a"} x"#,
            r#"{"code":"a""#,
        ] {
            assert!(Fields::parse(bad, NAMES, false).is_err(), "{bad}");
        }
        assert!(Fields::parse(r#"{"zzz":1}"#, NAMES, true)
            .err()
            .unwrap()
            .contains("unknown field `zzz`"));
        let f = Fields::parse(
            r#"{"code":5,"name":null,"tags":[1],"headers":{"h":1}}"#,
            NAMES,
            false,
        )
        .unwrap();
        assert!(f.string("code").unwrap_err().contains("`code`"));
        assert!(f.string("name").is_err());
        assert_eq!(f.opt_string("name").unwrap(), None);
        assert!(f.opt_strings("tags").unwrap_err().contains("`tags`"));
        assert!(f.opt_string_map("headers").is_err());
        let f = Fields::parse(r#"{"code":"\ud800"}"#, NAMES, false).unwrap();
        assert!(f.string("code").is_err());
        let f = Fields::parse(r#"{"code":"nope"}"#, NAMES, false).unwrap();
        assert!(f
            .variant("code", &["yes", "no"])
            .unwrap_err()
            .contains("unknown variant `nope`"));
    }
}
