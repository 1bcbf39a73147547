//! Just enough OpenAPI 3.0 to check requests against Cloudflare's API document and to cut
//! slices out of it: loading (optionally gzipped), `$ref` resolution, matching a concrete
//! path to a path template, and a JSON Schema subset validator.
//!
//! The validator covers `$ref`, `type` (with `nullable`), `enum`, `required`, `properties`,
//! `additionalProperties` (`false` or a schema), `items`, `allOf`, and `anyOf`/`oneOf` (a
//! `discriminator` selects its branch; otherwise one branch must match). Formats, lengths,
//! patterns and numeric bounds are not checked. In [`Strictness::Declared`] mode an object
//! schema that lists `properties` also rejects keys it does not list (stricter than JSON
//! Schema, which allows them): that catches misspelt fields in our own requests.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// A loaded OpenAPI document.
pub struct Document {
    pub doc: Value,
    templates: Vec<Template>,
}

struct Template {
    path: String,
    segments: Vec<Option<String>>,
    literals: usize,
}

/// A request path matched to an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub template: String,
    pub method: String,
}

/// How unknown object keys are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// As JSON Schema: only `additionalProperties: false` rejects unknown keys.
    Spec,
    /// Also reject keys an object schema with `properties` does not declare.
    Declared,
}

pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Document {
    /// Reads a `.json` or `.json.gz` file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let text = if path.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::with_capacity(bytes.len() * 12);
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_end(&mut out)
                .with_context(|| format!("decompressing {}", path.display()))?;
            out
        } else {
            bytes
        };
        let doc: Value =
            serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Self::new(doc))
    }

    pub fn new(doc: Value) -> Self {
        let mut templates: Vec<Template> = doc
            .get("paths")
            .and_then(Value::as_object)
            .map(|paths| {
                paths
                    .keys()
                    .map(|p| {
                        let segments: Vec<Option<String>> = p
                            .trim_start_matches('/')
                            .split('/')
                            .map(|s| {
                                if s.starts_with('{') && s.ends_with('}') {
                                    None
                                } else {
                                    Some(s.to_string())
                                }
                            })
                            .collect();
                        let literals = segments.iter().filter(|s| s.is_some()).count();
                        Template {
                            path: p.clone(),
                            segments,
                            literals,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Most literal segments first, so `/apps/ca` beats `/apps/{app_id}`.
        templates.sort_by_key(|t| std::cmp::Reverse(t.literals));
        Self { doc, templates }
    }

    /// Follows `$ref`s (local ones only).
    pub fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return schema;
            };
            let Some(pointer) = reference.strip_prefix('#') else {
                return schema;
            };
            match self.doc.pointer(pointer) {
                Some(target) => schema = target,
                None => return schema,
            }
        }
        schema
    }

    /// The path template and method that `method path` is an operation of.
    pub fn find(&self, method: &str, path: &str) -> Option<Matched> {
        let method = method.to_ascii_lowercase();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.templates
            .iter()
            .filter(|t| t.segments.len() == segments.len())
            .filter(|t| {
                t.segments
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.as_deref().is_none_or(|lit| lit == *s) && !s.is_empty())
            })
            .find(|t| self.operation(&t.path, &method).is_some())
            .map(|t| Matched {
                template: t.path.clone(),
                method,
            })
    }

    /// The operation object.
    pub fn operation(&self, template: &str, method: &str) -> Option<&Value> {
        self.doc.get("paths")?.get(template)?.get(method)
    }

    /// The operation's parameters (path-level ones included), resolved.
    pub fn parameters(&self, template: &str, method: &str) -> Vec<&Value> {
        let item = self.doc.get("paths").and_then(|p| p.get(template));
        let mut out = Vec::new();
        for list in [
            item.and_then(|i| i.get("parameters")),
            item.and_then(|i| i.get(method))
                .and_then(|o| o.get("parameters")),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(list) = list.as_array() {
                out.extend(list.iter().map(|p| self.resolve(p)));
            }
        }
        out
    }

    /// The request body schema for `content_type` (`None` if the operation takes none).
    pub fn request_schema(
        &self,
        template: &str,
        method: &str,
        content_type: &str,
    ) -> Option<&Value> {
        let body = self.resolve(self.operation(template, method)?.get("requestBody")?);
        let content = body.get("content")?;
        content.get(content_type).and_then(|c| c.get("schema"))
    }

    /// Whether the operation declares a request body at all, and whether it is required.
    pub fn request_body(&self, template: &str, method: &str) -> Option<(bool, Vec<String>)> {
        let body = self.resolve(self.operation(template, method)?.get("requestBody")?);
        let required = body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let types = body
            .get("content")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        Some((required, types))
    }

    /// Validates `value` against `schema`; returns the problems found (empty = valid).
    pub fn validate(&self, schema: &Value, value: &Value, strict: Strictness) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", strict, 0, &mut errors);
        errors
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        strict: Strictness,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        if depth > 48 {
            return;
        }
        let schema = self.resolve(schema);
        if value.is_null()
            && schema
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            // Each branch alone sees only its own properties, so judge declared keys on the
            // union instead.
            for branch in all {
                self.check(branch, value, at, Strictness::Spec, depth + 1, errors);
            }
            if strict == Strictness::Declared {
                self.check_declared(schema, value, at, errors);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                if let Some(chosen) = self.discriminated(schema, value) {
                    self.check(chosen, value, at, strict, depth + 1, errors);
                } else {
                    let mut best: Option<Vec<String>> = None;
                    for branch in branches {
                        let mut errs = Vec::new();
                        self.check(branch, value, at, strict, depth + 1, &mut errs);
                        if errs.is_empty() {
                            best = Some(errs);
                            break;
                        }
                        if best.as_ref().is_none_or(|b| errs.len() < b.len()) {
                            best = Some(errs);
                        }
                    }
                    if let Some(errs) = best.filter(|e| !e.is_empty()) {
                        errors.push(format!(
                            "{at}: matches no `{key}` branch; closest: {}",
                            errs.join("; ")
                        ));
                    }
                }
            }
        }
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            let ok = match kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "null" => value.is_null(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{at}: expected {kind}, got {}", type_name(value)));
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                errors.push(format!(
                    "{at}: {value} is not one of {}",
                    Value::Array(options.clone())
                ));
            }
        }
        if let Some(obj) = value.as_object() {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(name) {
                        errors.push(format!("{at}: missing required property `{name}`"));
                    }
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (key, v) in obj {
                if let Some(prop) = props.and_then(|p| p.get(key)) {
                    self.check(prop, v, &format!("{at}.{key}"), strict, depth + 1, errors);
                    continue;
                }
                match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: unknown property `{key}`"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        self.check(extra, v, &format!("{at}.{key}"), strict, depth + 1, errors);
                    }
                    Some(_) => {}
                    None => {
                        let has_combinators = ["allOf", "anyOf", "oneOf"]
                            .iter()
                            .any(|k| schema.get(*k).is_some());
                        if strict == Strictness::Declared && props.is_some() && !has_combinators {
                            errors.push(format!("{at}: property `{key}` is not in the schema"));
                        }
                    }
                }
            }
        }
        if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
            for (i, v) in list.iter().enumerate() {
                self.check(items, v, &format!("{at}[{i}]"), strict, depth + 1, errors);
            }
        }
    }

    /// With `allOf` at this level: keys declared by none of the branches (nor the schema).
    fn check_declared(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(obj) = value.as_object() else {
            return;
        };
        let mut declared: Vec<String> = Vec::new();
        let mut open = false;
        let mut collect = |s: &Value| {
            let s = self.resolve(s);
            if let Some(p) = s.get("properties").and_then(Value::as_object) {
                declared.extend(p.keys().cloned());
            }
            if matches!(
                s.get("additionalProperties"),
                Some(Value::Object(_)) | Some(Value::Bool(true))
            ) {
                open = true;
            }
        };
        collect(schema);
        for branch in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect(branch);
        }
        if open || declared.is_empty() {
            return;
        }
        for key in obj.keys() {
            if !declared.contains(key) {
                errors.push(format!("{at}: property `{key}` is not in the schema"));
            }
        }
    }

    fn discriminated<'a>(&'a self, schema: &'a Value, value: &Value) -> Option<&'a Value> {
        let disc = schema.get("discriminator")?;
        let prop = disc.get("propertyName")?.as_str()?;
        let tag = value.get(prop)?.as_str()?;
        let reference = disc.get("mapping")?.get(tag)?.as_str()?;
        self.doc.pointer(reference.strip_prefix('#')?)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Document {
        Document::new(json!({
            "openapi": "3.0.3",
            "paths": {
                "/a/{id}": {"get": {}, "parameters": [{"name": "id", "in": "path"}]},
                "/a/ca": {"get": {}},
                "/b": {"post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}}
            },
            "components": {"schemas": {
                "B": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["x", "y"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "binding": {"anyOf": [{"$ref": "#/components/schemas/K1"}, {"$ref": "#/components/schemas/K2"}],
                                "discriminator": {"propertyName": "type", "mapping": {"k1": "#/components/schemas/K1", "k2": "#/components/schemas/K2"}}}
                }},
                "K1": {"type": "object", "required": ["type", "a"], "properties": {"type": {"type": "string"}, "a": {"type": "string"}}},
                "K2": {"type": "object", "required": ["type", "b"], "properties": {"type": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false}
            }}
        }))
    }

    #[test]
    fn literal_segments_win() {
        let d = doc();
        assert_eq!(d.find("GET", "/a/ca").expect("ca").template, "/a/ca");
        assert_eq!(d.find("GET", "/a/123").expect("id").template, "/a/{id}");
        assert!(d.find("POST", "/a/123").is_none());
        assert!(d.find("GET", "/a/").is_none());
    }

    #[test]
    fn validates_bodies() {
        let d = doc();
        let schema = d
            .request_schema("/b", "post", "application/json")
            .expect("schema")
            .clone();
        let ok =
            json!({"name": "n", "kind": "x", "tags": ["t"], "binding": {"type": "k2", "b": 1}});
        assert!(d.validate(&schema, &ok, Strictness::Declared).is_empty());
        let bad = json!({"kind": "z", "tags": [1], "binding": {"type": "k2", "b": "s", "c": 1}, "extra": 1});
        let errs = d.validate(&schema, &bad, Strictness::Declared).join("\n");
        assert!(errs.contains("missing required property `name`"), "{errs}");
        assert!(errs.contains("\"z\" is not one of"), "{errs}");
        assert!(errs.contains("$.tags[0]: expected string"), "{errs}");
        assert!(errs.contains("$.binding.b: expected integer"), "{errs}");
        assert!(errs.contains("$.binding: unknown property `c`"), "{errs}");
        assert!(
            errs.contains("property `extra` is not in the schema"),
            "{errs}"
        );
        assert!(d
            .validate(&schema, &json!({"name": "n", "extra": 1}), Strictness::Spec)
            .is_empty());
    }
}
