//! Shared schema definitions: `components.schemas` as the `defs` blob, and per-tool closures.
//!
//! Tool schemas never inline component schemas: `#/components/schemas/X` becomes `#/$defs/X`
//! (executor-behaviour.md §8.1.1) and the definitions ship separately. The blob is written one
//! schema at a time and read back one schema at a time.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::document::OpenApiDocument;
use super::error::OpenApiError;
use super::raw::{self, RawObject};
use super::yaml::push_json_string;

const COMPONENT_SCHEMAS: &str = "#/components/schemas/";
const DEFS: &str = "#/$defs/";

fn rewrite_target(target: &mut String) {
    if let Some(rest) = target.strip_prefix(COMPONENT_SCHEMAS) {
        *target = format!("{DEFS}{rest}");
    }
}

/// Rewrites every `$ref` (and `discriminator.mapping` target) pointing into
/// `#/components/schemas/…` to `#/$defs/…`, in place.
pub fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref" {
                    if let Value::String(target) = child {
                        rewrite_target(target);
                        continue;
                    }
                }
                if key == "discriminator" {
                    if let Some(Value::Object(mapping)) = child.get_mut("mapping") {
                        for target in mapping.values_mut() {
                            if let Value::String(target) = target {
                                rewrite_target(target);
                            }
                        }
                    }
                }
                rewrite_refs(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn def_name(target: &str) -> Option<String> {
    let rest = target.strip_prefix(DEFS)?;
    let token = rest.split('/').next().unwrap_or_default();
    Some(raw::unescape_pointer_token(token))
}

/// Names of the definitions `value` refers to (`#/$defs/<name>…`), decoded.
fn referenced_defs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(name) = child.as_str().and_then(def_name) {
                        out.push(name);
                        continue;
                    }
                }
                if key == "discriminator" {
                    if let Some(Value::Object(mapping)) = child.get("mapping") {
                        out.extend(
                            mapping
                                .values()
                                .filter_map(|t| t.as_str())
                                .filter_map(def_name),
                        );
                    }
                }
                referenced_defs(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| referenced_defs(item, out)),
        _ => {}
    }
}

/// Names of the definitions `value` refers to directly (`#/$defs/<name>…` refs and
/// discriminator mappings), decoded, in document order, possibly repeated.
pub(crate) fn direct_def_refs(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    referenced_defs(value, &mut out);
    out
}

/// The `defs` blob: a JSON object `{SchemaName: schema}` of every `components.schemas` entry in
/// declaration order, refs rewritten to `#/$defs/`. Built incrementally; peak extra memory is the
/// blob plus one parsed schema.
pub fn defs_blob(doc: &OpenApiDocument) -> String {
    let mut out = String::with_capacity(doc.components_len("schemas").saturating_add(2));
    out.push('{');
    let mut first = true;
    for (name, schema) in doc.components("schemas") {
        let Some(mut value) = raw::parse_value(schema) else {
            continue;
        };
        rewrite_refs(&mut value);
        let Ok(text) = serde_json::to_string(&value) else {
            continue;
        };
        drop(value);
        if !first {
            out.push(',');
        }
        first = false;
        push_json_string(&mut out, name);
        out.push(':');
        out.push_str(&text);
    }
    out.push('}');
    out.shrink_to_fit();
    out
}

/// Read access to a `defs` blob without parsing all of it: the blob is split into its members
/// (borrowed slices) once, and each definition is parsed only when asked for.
#[derive(Debug, Clone)]
pub struct DefsIndex<'a> {
    members: std::collections::BTreeMap<String, &'a str>,
}

impl<'a> DefsIndex<'a> {
    /// Indexes a blob produced by [`defs_blob`].
    pub fn new(blob: &'a str) -> Result<Self, OpenApiError> {
        let object = RawObject::parse_checked(blob).map_err(|e| {
            OpenApiError::parse(format!("the schema definitions are not a JSON object: {e}"))
        })?;
        Ok(DefsIndex {
            members: object.into_members().into_iter().collect(),
        })
    }

    /// Number of definitions.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every definition as its raw JSON text from the blob, in name order (no parsing).
    pub fn raw_members(&self) -> impl Iterator<Item = (&str, &'a str)> + '_ {
        self.members.iter().map(|(name, raw)| (name.as_str(), *raw))
    }

    /// One definition, parsed.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.members.get(name).and_then(|raw| raw::parse_value(raw))
    }

    /// Every definition reachable from `schemas` through `#/$defs/` refs, by name.
    /// Unknown names are skipped.
    pub fn closure(&self, schemas: &[&Value]) -> Map<String, Value> {
        let mut pending = Vec::new();
        for schema in schemas {
            referenced_defs(schema, &mut pending);
        }
        let mut seen = BTreeSet::new();
        let mut out = Map::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(definition) = self.get(&name) else {
                continue;
            };
            referenced_defs(&definition, &mut pending);
            out.insert(name, definition);
        }
        out
    }
}

/// The transitive `$defs` needed by `schemas`, read from a `defs` blob. A malformed blob yields
/// an empty map. For many tools over one blob, build a [`DefsIndex`] once instead.
pub fn defs_closure(defs_blob: &str, schemas: &[&Value]) -> Map<String, Value> {
    DefsIndex::new(defs_blob)
        .map(|index| index.closure(schemas))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_rewritten() {
        let mut value = json!({
            "allOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/parameters/p"}],
            "properties": {"$ref": {"type": "string"}, "x": {"$ref": "#/components/schemas/B~1C/properties/y"}},
            "discriminator": {"propertyName": "kind", "mapping": {"a": "#/components/schemas/A", "b": "B"}}
        });
        rewrite_refs(&mut value);
        assert_eq!(value["allOf"][0]["$ref"], "#/$defs/A");
        assert_eq!(value["allOf"][1]["$ref"], "#/components/parameters/p");
        assert_eq!(value["properties"]["$ref"], json!({"type": "string"}));
        assert_eq!(
            value["properties"]["x"]["$ref"],
            "#/$defs/B~1C/properties/y"
        );
        assert_eq!(
            value["discriminator"]["mapping"],
            json!({"a": "#/$defs/A", "b": "B"})
        );
        let mut names = Vec::new();
        referenced_defs(&value, &mut names);
        assert_eq!(names, ["A", "A", "B/C"]);
    }

    #[test]
    fn blob_and_closure() {
        let doc = super::super::parse(
            r##"{"openapi": "3.0.0", "paths": {}, "components": {"schemas": {
                "Z": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}},
                "A": {"type": "array", "items": {"$ref": "#/components/schemas/B/C"}},
                "B/C": {"type": "object", "properties": {"back": {"$ref": "#/components/schemas/Z"}}},
                "Lonely": {"type": "string"}}}}"##
                .to_owned(),
        )
        .unwrap();
        let blob = defs_blob(&doc);
        assert!(blob.starts_with(r#"{"Z":"#), "{blob}");
        let parsed: Value = serde_json::from_str(&blob).unwrap();
        assert_eq!(parsed["A"]["items"]["$ref"], "#/$defs/B/C");
        let index = DefsIndex::new(&blob).unwrap();
        assert_eq!(index.len(), 4);

        let schema = json!({"$ref": "#/$defs/A"});
        let closure = index.closure(&[&schema]);
        // `B/C` is reached as the token `B` (the ref is not pointer-escaped): unknown, skipped.
        assert_eq!(closure.keys().collect::<Vec<_>>(), ["A"]);

        let schema = json!({"items": {"$ref": "#/$defs/Z"}});
        let closure = defs_closure(&blob, &[&schema, &json!(true)]);
        assert_eq!(closure.keys().collect::<Vec<_>>(), ["A", "Z"]);
        assert!(defs_closure("not json", &[&schema]).is_empty());
    }

    #[test]
    fn empty_components_give_an_empty_object() {
        let doc = super::super::parse(r#"{"openapi": "3.0.0", "paths": {}}"#.to_owned()).unwrap();
        assert_eq!(defs_blob(&doc), "{}");
    }
}
