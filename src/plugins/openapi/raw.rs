//! Lazy navigation of JSON text.
//!
//! A spec is never materialised as one `serde_json::Value`. Objects are split into their members
//! as borrowed slices of the input (`RawObject`), arrays into their items, and only the leaves the
//! derivation needs (a schema, a string) are parsed. Member order is the declaration order, which
//! several rules depend on (default media type, security-scheme numbering).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

/// Objects with more members than this deduplicate keys through a temporary map.
const LINEAR_DEDUP_MAX: usize = 16;

/// The members of one JSON object, in declaration order, values as unparsed slices.
///
/// Duplicate keys keep the position of their first occurrence and the value of the last one
/// (what `JSON.parse` does).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawObject<'a> {
    members: Vec<(String, &'a str)>,
}

impl<'a> RawObject<'a> {
    /// Splits `raw` if it is a JSON object.
    pub(crate) fn parse(raw: &'a str) -> Option<Self> {
        Self::parse_checked(raw).ok()
    }

    /// Like [`RawObject::parse`], keeping serde_json's error (with line and column).
    pub(crate) fn parse_checked(raw: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<RawObject<'a>>(raw)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| *value)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &'a str)> + '_ {
        self.members.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub(crate) fn into_members(self) -> Vec<(String, &'a str)> {
        self.members
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// `key` parsed as a string, if it is one.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(as_string)
    }

    /// `key` parsed as a boolean, if it is one.
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(as_bool)
    }

    /// `key` as an object, if it is one.
    pub(crate) fn object(&self, key: &str) -> Option<RawObject<'a>> {
        self.get(key).and_then(RawObject::parse)
    }

    /// `key` as an array, if it is one.
    pub(crate) fn array(&self, key: &str) -> Option<Vec<&'a str>> {
        self.get(key).and_then(array_items)
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawObjectVisitor)
    }
}

struct RawObjectVisitor;

impl<'de> Visitor<'de> for RawObjectVisitor {
    type Value = RawObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(String, &'de str)> = Vec::new();
        let mut positions: Option<BTreeMap<String, usize>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: &'de RawValue = map.next_value()?;
            let value = value.get();
            if members.len() < LINEAR_DEDUP_MAX && positions.is_none() {
                if let Some(slot) = members.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                } else {
                    members.push((key, value));
                }
                continue;
            }
            let positions = positions.get_or_insert_with(|| {
                members
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect()
            });
            if let Some(&i) = positions.get(&key) {
                if let Some(slot) = members.get_mut(i) {
                    slot.1 = value;
                }
            } else {
                positions.insert(key.clone(), members.len());
                members.push((key, value));
            }
        }
        Ok(RawObject { members })
    }
}

/// The items of a JSON array as unparsed slices, if `raw` is an array.
pub(crate) fn array_items(raw: &str) -> Option<Vec<&str>> {
    serde_json::from_str::<RawArray<'_>>(raw).ok().map(|a| a.0)
}

struct RawArray<'a>(Vec<&'a str>);

impl<'de> Deserialize<'de> for RawArray<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RawArrayVisitor)
    }
}

struct RawArrayVisitor;

impl<'de> Visitor<'de> for RawArrayVisitor {
    type Value = RawArray<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(item.get());
        }
        Ok(RawArray(items))
    }
}

/// Parses a slice into a `Value` (a schema or another leaf).
pub(crate) fn parse_value(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok()
}

pub(crate) fn as_string(raw: &str) -> Option<String> {
    // Cheap pre-check: only string literals start with a quote.
    if !raw.starts_with('"') {
        return None;
    }
    serde_json::from_str::<String>(raw).ok()
}

pub(crate) fn as_bool(raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A scalar rendered as text: strings as themselves, numbers and booleans in JSON form.
/// (YAML turns `version: 1.0` into a number; upstream reads such fields as text.)
pub(crate) fn as_text(raw: &str) -> Option<String> {
    if raw.starts_with('"') {
        return as_string(raw);
    }
    match parse_value(raw)? {
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An array of strings; non-string items are skipped.
pub(crate) fn string_list(raw: &str) -> Vec<String> {
    array_items(raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(as_string)
        .collect()
}

/// The byte range of `part` inside `base`, when `part` is a sub-slice of it.
pub(crate) fn span_of(base: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(start..end)
}

/// JavaScript's default string order (UTF-16 code units), which upstream uses for every sort.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Decodes one JSON-pointer token (`~1` ⇒ `/`, `~0` ⇒ `~`, then `%XX` escapes of URI fragments).
pub(crate) fn unescape_pointer_token(token: &str) -> String {
    let token = token.replace("~1", "/").replace("~0", "~");
    if !token.contains('%') {
        return token;
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes.get(i).copied().unwrap_or_default();
        if byte == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(decoded) = hex {
                out.push(decoded);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8(out).unwrap_or(token)
}

/// Walks `tokens` (already unescaped) down from `raw`.
pub(crate) fn navigate<'a>(mut raw: &'a str, tokens: &[String]) -> Option<&'a str> {
    for token in tokens {
        raw = if raw.starts_with('{') {
            RawObject::parse(raw)?.get(token)?
        } else if raw.starts_with('[') {
            let index: usize = token.parse().ok()?;
            array_items(raw)?.get(index).copied()?
        } else {
            return None;
        };
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn objects_keep_order_and_last_duplicate() {
        let text = r#"{"b": 1, "a": {"x": [1, 2]}, "b": "two"}"#;
        let object = RawObject::parse(text).unwrap();
        let keys: Vec<_> = object.iter().map(|(k, _)| k.to_owned()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(object.str("b").as_deref(), Some("two"));
        assert_eq!(object.get("a"), Some(r#"{"x": [1, 2]}"#));
        assert!(RawObject::parse("[1]").is_none());
        assert!(RawObject::parse("{").is_none());
    }

    #[test]
    fn large_objects_deduplicate_too() {
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\": {i},"));
        }
        text.push_str("\"k3\": \"last\"}");
        let object = RawObject::parse(&text).unwrap();
        assert_eq!(object.len(), 40);
        assert_eq!(object.str("k3").as_deref(), Some("last"));
        assert_eq!(object.iter().nth(3).map(|(k, _)| k), Some("k3"));
    }

    #[test]
    fn spans_and_pointers() {
        let text = r#"{"a": {"b/c": [10, {"d": true}]}}"#;
        let inner = RawObject::parse(text).unwrap().get("a").unwrap();
        let span = span_of(text, inner).unwrap();
        assert_eq!(&text[span], inner);
        assert_eq!(span_of(text, "elsewhere"), None);
        let tokens: Vec<String> = ["b~1c", "1", "d"]
            .iter()
            .map(|t| unescape_pointer_token(t))
            .collect();
        assert_eq!(navigate(inner, &tokens), Some("true"));
        assert_eq!(unescape_pointer_token("a%20b~0"), "a b~");
        assert_eq!(unescape_pointer_token("100%"), "100%");
    }

    #[test]
    fn utf16_order_matches_javascript() {
        // U+FF61 sorts after U+1F600 in UTF-16 (surrogates are 0xD8xx), before it in UTF-8.
        assert_eq!(cmp_utf16("\u{FF61}", "\u{1F600}"), Ordering::Greater);
        assert_eq!(cmp_utf16("a", "b"), Ordering::Less);
    }

    #[test]
    fn scalars_as_text() {
        assert_eq!(as_text("1.0").as_deref(), Some("1.0"));
        assert_eq!(as_text("\"x\"").as_deref(), Some("x"));
        assert_eq!(as_text("{}"), None);
        assert_eq!(string_list(r#"["a", 1, "b"]"#), ["a", "b"]);
    }
}
