//! Tool-call argument validation against a tool's input schema (executor-behaviour.md §14 #22:
//! upstream sent malformed calls upstream; we answer `invalid_tool_arguments` before any request).
//!
//! A small JSON Schema validator sized for OpenAPI-derived input schemas. Supported keywords:
//! `type` (a name or a list; `integer` means a number without a fractional part), `nullable`
//! (OpenAPI 3.0: `null` passes whatever else the schema says), `enum`, `const`, `required`,
//! `properties`, `additionalProperties` (boolean or schema), `minProperties`/`maxProperties`,
//! `items` (schema or tuple list), `prefixItems`, `minItems`/`maxItems`, `uniqueItems` (arrays of
//! at most [`MAX_UNIQUE_ITEMS`] items), `minLength`/`maxLength` (in Unicode scalar values),
//! `minimum`/`maximum`, `exclusiveMinimum`/`exclusiveMaximum` (the OpenAPI 3.0 boolean form and
//! the numeric form), `multipleOf`, `allOf`, `anyOf`, `oneOf`, `not`, boolean schemas, and `$ref`
//! to `#/$defs/<Name>` (also `#/components/schemas/<Name>` and `#/definitions/<Name>`, with an
//! optional pointer into the definition) resolved from the supplied defs map.
//!
//! Deliberately not checked — the upstream API stays the final judge:
//! * `pattern` and `patternProperties` (no regex engine in the Worker). When
//!   `patternProperties` is present, `additionalProperties` is not enforced either, since we
//!   cannot tell which keys the patterns admit.
//! * `format`, `if`/`then`/`else`, `dependentRequired`/`dependentSchemas`, `contains`,
//!   `propertyNames`, `unevaluated*`, `discriminator`, and refs that do not point into the defs.
//! * `oneOf` is checked like `anyOf` (at least one branch must match): OpenAPI `oneOf` branches
//!   often overlap (objects that allow extra properties), and rejecting a call that matches two
//!   branches would block valid requests.
//! * A `required` property whose schema is `readOnly` is not demanded: OpenAPI says read-only
//!   properties are only required in responses.
//!
//! Bounded work: at most [`MAX_ISSUES`] issues are reported; the walk stops after
//! [`MAX_STEPS`] schema/value visits or [`MAX_DEPTH`] nested schema levels (what is left is
//! accepted); a `$ref` that comes back to itself without consuming any of the value (a ref
//! cycle) is cut. Issue messages name types and constraints, never argument values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Issues reported at most; validation stops once this many were found.
pub const MAX_ISSUES: usize = 20;
/// Schema/value visits before validation gives up (and accepts the rest).
pub const MAX_STEPS: usize = 50_000;
/// Nested schema levels followed at most.
pub const MAX_DEPTH: usize = 96;
/// `uniqueItems` is only checked for arrays up to this length (the check is quadratic).
pub const MAX_UNIQUE_ITEMS: usize = 256;

/// One reason the arguments do not match the schema. `path` is a JSON Pointer into the
/// arguments (`/body/name`; `""` for the arguments themselves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

/// Checks `value` against `schema`, resolving `$ref`s in `defs`. An empty list means valid.
pub fn validate(schema: &Value, defs: &Map<String, Value>, value: &Value) -> Vec<Issue> {
    let mut validator = Validator {
        defs,
        steps: 0,
        active_refs: Vec::new(),
    };
    let mut path = Vec::new();
    let mut issues = Issues::new(MAX_ISSUES);
    validator.check(schema, value, &mut path, 0, &mut issues);
    issues.list
}

/// A short summary of issues for an error message: the first one, and how many more.
pub fn summarize(issues: &[Issue]) -> String {
    let Some(first) = issues.first() else {
        return "the arguments are valid".to_owned();
    };
    let at = if first.path.is_empty() {
        "arguments".to_owned()
    } else {
        first.path.clone()
    };
    match issues.len() {
        1 => format!("{at}: {}", first.message),
        n => format!("{at}: {} (and {} more)", first.message, n - 1),
    }
}

struct Issues {
    list: Vec<Issue>,
    cap: usize,
}

impl Issues {
    fn new(cap: usize) -> Issues {
        Issues {
            list: Vec::new(),
            cap,
        }
    }

    fn full(&self) -> bool {
        self.list.len() >= self.cap
    }

    fn push(&mut self, path: &[String], message: impl Into<String>) {
        if !self.full() {
            self.list.push(Issue {
                path: pointer(path),
                message: message.into(),
            });
        }
    }
}

fn pointer(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        out.push('/');
        out.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    out
}

struct Validator<'s, 'v> {
    defs: &'s Map<String, Value>,
    steps: usize,
    /// `$ref`s being followed, with the value each was entered for: entering the same ref for
    /// the same value again is a cycle that would never consume input.
    active_refs: Vec<(&'v Value, &'s str)>,
}

impl<'s, 'v> Validator<'s, 'v> {
    fn exhausted(&mut self) -> bool {
        self.steps += 1;
        self.steps > MAX_STEPS
    }

    fn check(
        &mut self,
        schema: &'s Value,
        value: &'v Value,
        path: &mut Vec<String>,
        depth: usize,
        out: &mut Issues,
    ) {
        if out.full() || depth > MAX_DEPTH || self.exhausted() {
            return;
        }
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                out.push(path, "no value is allowed here");
                return;
            }
            Value::Object(schema) => schema,
            // Not a schema: nothing to check against.
            _ => return,
        };
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(Value::String(reference)) = schema.get("$ref") {
            self.check_ref(reference, value, path, depth, out);
        }
        if let Some(types) = schema.get("type") {
            if !type_matches(types, value) {
                out.push(
                    path,
                    format!("expected {}, got {}", describe_types(types), kind(value)),
                );
                // Every other keyword would only repeat the mismatch.
                return;
            }
        }
        if let Some(Value::Array(allowed)) = schema.get("enum") {
            if !allowed.iter().any(|a| json_eq(a, value)) {
                out.push(path, format!("must be one of {}", list_values(allowed)));
            }
        }
        if let Some(expected) = schema.get("const") {
            if !json_eq(expected, value) {
                out.push(path, format!("must equal {}", short_json(expected)));
            }
        }
        match value {
            Value::String(text) => string_checks(schema, text, path, out),
            Value::Number(_) => number_checks(schema, value, path, out),
            Value::Object(object) => self.object_checks(schema, object, path, depth, out),
            Value::Array(items) => self.array_checks(schema, items, path, depth, out),
            Value::Bool(_) | Value::Null => {}
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for branch in all {
                self.check(branch, value, path, depth + 1, out);
            }
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = schema.get(keyword) {
                self.check_any(keyword, branches, value, path, depth, out);
            }
        }
        if let Some(not) = schema.get("not") {
            let mut probe = Issues::new(1);
            self.check(not, value, path, depth + 1, &mut probe);
            if probe.list.is_empty() && self.steps <= MAX_STEPS {
                out.push(path, "must not match the schema under `not`");
            }
        }
    }

    fn check_ref(
        &mut self,
        reference: &'s str,
        value: &'v Value,
        path: &mut Vec<String>,
        depth: usize,
        out: &mut Issues,
    ) {
        let Some(target) = resolve_ref(self.defs, reference) else {
            // External or unknown refs: nothing to check against.
            return;
        };
        let cycle = self
            .active_refs
            .iter()
            .any(|(v, r)| std::ptr::eq(*v, value) && *r == reference);
        if cycle {
            return;
        }
        self.active_refs.push((value, reference));
        self.check(target, value, path, depth + 1, out);
        self.active_refs.pop();
    }

    /// `anyOf` (and `oneOf`, see the module doc): valid when one branch matches. Otherwise one
    /// issue here, plus the issues of the closest branch when exactly one branch had the right
    /// shape at this level (so the caller learns what to fix inside it).
    fn check_any(
        &mut self,
        keyword: &str,
        branches: &'s [Value],
        value: &'v Value,
        path: &mut Vec<String>,
        depth: usize,
        out: &mut Issues,
    ) {
        if branches.is_empty() {
            return;
        }
        let here = pointer(path);
        let mut shaped: Vec<Vec<Issue>> = Vec::new();
        for branch in branches {
            let mut probe = Issues::new(MAX_ISSUES);
            self.check(branch, value, path, depth + 1, &mut probe);
            if probe.list.is_empty() || self.steps > MAX_STEPS {
                return;
            }
            // A branch whose issues are all deeper than `here` matched this level's shape.
            if probe.list.iter().all(|i| i.path != here) {
                shaped.push(probe.list);
            }
        }
        out.push(
            path,
            format!(
                "does not match any of the {} schemas allowed here",
                branches.len()
            ) + if keyword == "oneOf" {
                " (oneOf)"
            } else {
                " (anyOf)"
            },
        );
        if let [only] = shaped.as_slice() {
            for issue in only {
                if out.full() {
                    break;
                }
                out.list.push(issue.clone());
            }
        }
    }

    fn object_checks(
        &mut self,
        schema: &'s Map<String, Value>,
        object: &'v Map<String, Value>,
        path: &mut Vec<String>,
        depth: usize,
        out: &mut Issues,
    ) {
        let properties = match schema.get("properties") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if object.contains_key(name) {
                    continue;
                }
                let read_only = properties
                    .and_then(|p| p.get(name))
                    .is_some_and(|s| self.is_read_only(s));
                if !read_only {
                    out.push(path, format!("missing required property \"{name}\""));
                }
            }
        }
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
            if (object.len() as u64) < min {
                out.push(path, format!("must have at least {min} properties"));
            }
        }
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
            if object.len() as u64 > max {
                out.push(path, format!("must have at most {max} properties"));
            }
        }
        let additional = if schema.contains_key("patternProperties") {
            None
        } else {
            schema.get("additionalProperties")
        };
        for (key, child) in object {
            if out.full() {
                return;
            }
            let child_schema = match properties.and_then(|p| p.get(key)) {
                Some(s) => s,
                None => match additional {
                    Some(Value::Bool(false)) => {
                        out.push(path, format!("unexpected property \"{key}\""));
                        continue;
                    }
                    Some(s @ Value::Object(_)) => s,
                    _ => continue,
                },
            };
            path.push(key.clone());
            self.check(child_schema, child, path, depth + 1, out);
            path.pop();
        }
    }

    fn is_read_only(&self, schema: &'s Value) -> bool {
        let mut schema = schema;
        // Follow a short chain of refs; cycles end at the hop limit.
        for _ in 0..8 {
            if schema.get("readOnly") == Some(&Value::Bool(true)) {
                return true;
            }
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => match resolve_ref(self.defs, r) {
                    Some(target) => schema = target,
                    None => return false,
                },
                None => return false,
            }
        }
        false
    }

    fn array_checks(
        &mut self,
        schema: &'s Map<String, Value>,
        items: &'v [Value],
        path: &mut Vec<String>,
        depth: usize,
        out: &mut Issues,
    ) {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                out.push(path, format!("must have at least {min} items"));
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if items.len() as u64 > max {
                out.push(path, format!("must have at most {max} items"));
            }
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) && items.len() <= MAX_UNIQUE_ITEMS
        {
            let duplicate = items
                .iter()
                .enumerate()
                .any(|(i, a)| items.iter().skip(i + 1).any(|b| json_eq(a, b)));
            if duplicate {
                out.push(path, "items must be unique");
            }
        }
        // Tuple forms: `prefixItems` (2020-12) or `items` as a list (draft 4–7); the rest of
        // the items then follow `items` (2020-12) or `additionalItems` (older drafts).
        let (tuple, rest) = match (schema.get("prefixItems"), schema.get("items")) {
            (Some(Value::Array(prefix)), rest) => (prefix.as_slice(), rest),
            (_, Some(Value::Array(prefix))) => (prefix.as_slice(), schema.get("additionalItems")),
            (_, rest) => (&[][..], rest),
        };
        for (index, item) in items.iter().enumerate() {
            if out.full() {
                return;
            }
            let item_schema = match tuple.get(index) {
                Some(s) => s,
                None => match rest {
                    Some(s) => s,
                    None => break,
                },
            };
            path.push(index.to_string());
            self.check(item_schema, item, path, depth + 1, out);
            path.pop();
        }
    }
}

/// The schema a local `$ref` names, if it points into the defs.
fn resolve_ref<'s>(defs: &'s Map<String, Value>, reference: &str) -> Option<&'s Value> {
    let rest = ["#/$defs/", "#/components/schemas/", "#/definitions/"]
        .iter()
        .find_map(|prefix| reference.strip_prefix(prefix))?;
    let mut tokens = rest.split('/').map(unescape_token);
    let name = tokens.next()?;
    let mut target = defs.get(&name)?;
    for token in tokens {
        target = match target {
            Value::Object(map) => map.get(&token)?,
            Value::Array(list) => list.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(target)
}

/// A JSON Pointer token: `~1` ⇒ `/`, `~0` ⇒ `~`, then percent-decoding (refs are URI
/// fragments, so names with spaces arrive as `%20`).
fn unescape_token(token: &str) -> String {
    let token = token.replace("~1", "/").replace("~0", "~");
    if !token.contains('%') {
        return token;
    }
    String::from_utf8(crate::net::percent_decode_bytes(&token)).unwrap_or(token)
}

fn string_checks(schema: &Map<String, Value>, text: &str, path: &[String], out: &mut Issues) {
    let min = schema.get("minLength").and_then(Value::as_u64);
    let max = schema.get("maxLength").and_then(Value::as_u64);
    if min.is_none() && max.is_none() {
        return;
    }
    let length = text.chars().count() as u64;
    if let Some(min) = min.filter(|m| length < *m) {
        out.push(path, format!("must be at least {min} characters long"));
    }
    if let Some(max) = max.filter(|m| length > *m) {
        out.push(path, format!("must be at most {max} characters long"));
    }
}

fn number_checks(schema: &Map<String, Value>, value: &Value, path: &[String], out: &mut Issues) {
    let Some(n) = value.as_f64() else {
        return;
    };
    let num = |key: &str| schema.get(key).and_then(Value::as_f64);
    let flag = |key: &str| schema.get(key) == Some(&Value::Bool(true));
    if let Some(min) = num("minimum") {
        // OpenAPI 3.0: `exclusiveMinimum: true` turns `minimum` into a strict bound.
        if flag("exclusiveMinimum") {
            if n <= min {
                out.push(path, format!("must be greater than {}", show_number(min)));
            }
        } else if n < min {
            out.push(path, format!("must be at least {}", show_number(min)));
        }
    }
    if let Some(max) = num("maximum") {
        if flag("exclusiveMaximum") {
            if n >= max {
                out.push(path, format!("must be less than {}", show_number(max)));
            }
        } else if n > max {
            out.push(path, format!("must be at most {}", show_number(max)));
        }
    }
    if let Some(min) = num("exclusiveMinimum") {
        if n <= min {
            out.push(path, format!("must be greater than {}", show_number(min)));
        }
    }
    if let Some(max) = num("exclusiveMaximum") {
        if n >= max {
            out.push(path, format!("must be less than {}", show_number(max)));
        }
    }
    if let Some(step) = num("multipleOf").filter(|s| *s > 0.0) {
        let ratio = n / step;
        if ratio.is_finite() && (ratio - ratio.round()).abs() > 1e-9 * ratio.abs().max(1.0) {
            out.push(path, format!("must be a multiple of {}", show_number(step)));
        }
    }
}

fn show_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_name_matches(name: &str, value: &Value) -> bool {
    match name {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => is_integer(value),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        // Unknown type names constrain nothing.
        _ => true,
    }
}

fn type_matches(types: &Value, value: &Value) -> bool {
    match types {
        Value::String(name) => type_name_matches(name, value),
        Value::Array(names) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            names.is_empty() || names.iter().any(|n| type_name_matches(n, value))
        }
        _ => true,
    }
}

fn describe_types(types: &Value) -> String {
    match types {
        Value::String(name) => name.clone(),
        Value::Array(names) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            names.join(" or ")
        }
        _ => "a valid value".to_owned(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, a)| y.get(k).is_some_and(|b| json_eq(a, b)))
        }
        _ => a == b,
    }
}

/// Schema values for messages (they come from the spec, not from the arguments).
fn short_json(value: &Value) -> String {
    const MAX: usize = 80;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        return text;
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

fn list_values(values: &[Value]) -> String {
    const SHOWN: usize = 10;
    let mut shown: Vec<String> = values.iter().take(SHOWN).map(short_json).collect();
    if values.len() > SHOWN {
        shown.push(format!("… ({} more)", values.len() - SHOWN));
    }
    shown.join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(schema: Value, value: Value) -> Vec<Issue> {
        validate(&schema, &Map::new(), &value)
    }

    fn paths(issues: &[Issue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn types_and_integers() {
        assert!(check(json!({"type": "integer"}), json!(3)).is_empty());
        assert!(check(json!({"type": "integer"}), json!(3.0)).is_empty());
        assert_eq!(
            check(json!({"type": "integer"}), json!(3.5))[0].message,
            "expected integer, got number"
        );
        assert!(check(json!({"type": "number"}), json!(3)).is_empty());
        assert!(check(json!({"type": ["string", "null"]}), json!(null)).is_empty());
        assert_eq!(
            check(json!({"type": ["string", "null"]}), json!(1))[0].message,
            "expected string or null, got integer"
        );
        assert_eq!(
            check(json!({"type": "object"}), json!("x"))[0].message,
            "expected object, got string"
        );
        assert!(check(json!({"type": "whatever"}), json!(1)).is_empty());
        assert!(check(json!(true), json!(1)).is_empty());
        assert_eq!(check(json!(false), json!(1)).len(), 1);
    }

    #[test]
    fn nullable_openapi_30() {
        let schema = json!({"type": "string", "nullable": true, "minLength": 2});
        assert!(check(schema.clone(), json!(null)).is_empty());
        assert_eq!(check(schema, json!("a")).len(), 1);
        assert_eq!(check(json!({"type": "string"}), json!(null)).len(), 1);
    }

    #[test]
    fn objects_required_and_additional() {
        let schema = json!({
            "type": "object",
            "properties": {"body": {"type": "object",
                "properties": {"name": {"type": "string"}, "id": {"type": "integer", "readOnly": true}},
                "required": ["name", "id"]}},
            "required": ["body"],
            "additionalProperties": false
        });
        let issues = check(schema.clone(), json!({"name": "x"}));
        assert_eq!(paths(&issues), ["", ""]);
        assert_eq!(issues[0].message, "missing required property \"body\"");
        assert_eq!(issues[1].message, "unexpected property \"name\"");

        let issues = check(schema.clone(), json!({"body": {"name": 3}}));
        assert_eq!(paths(&issues), ["/body/name"]);
        assert_eq!(issues[0].message, "expected string, got integer");
        // `id` is readOnly: not demanded in a request.
        assert!(check(schema, json!({"body": {"name": "Rex"}})).is_empty());

        let typed = json!({"type": "object", "additionalProperties": {"type": "integer"}});
        assert_eq!(paths(&check(typed, json!({"a": 1, "b": "x"}))), ["/b"]);
        let sized = json!({"minProperties": 1, "maxProperties": 1});
        assert_eq!(check(sized.clone(), json!({})).len(), 1);
        assert_eq!(check(sized, json!({"a": 1, "b": 2})).len(), 1);
        // Patterns are not evaluated, so extra keys are not judged either.
        let patterned = json!({"patternProperties": {"^x-": {}}, "additionalProperties": false});
        assert!(check(patterned, json!({"x-a": 1, "b": 2})).is_empty());
    }

    #[test]
    fn pointer_escaping() {
        let schema = json!({"properties": {"a/b": {"properties": {"c~d": {"type": "string"}}}}});
        let issues = check(schema, json!({"a/b": {"c~d": 1}}));
        assert_eq!(paths(&issues), ["/a~1b/c~0d"]);
    }

    #[test]
    fn enum_and_const() {
        let schema = json!({"enum": ["available", "sold", 1]});
        assert!(check(schema.clone(), json!("sold")).is_empty());
        assert!(check(schema.clone(), json!(1.0)).is_empty());
        assert_eq!(
            check(schema, json!("gone"))[0].message,
            "must be one of \"available\", \"sold\", 1"
        );
        assert!(check(json!({"const": {"a": [1]}}), json!({"a": [1]})).is_empty());
        assert_eq!(check(json!({"const": "x"}), json!("y")).len(), 1);
    }

    #[test]
    fn arrays() {
        let schema = json!({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3, "uniqueItems": true});
        assert!(check(schema.clone(), json!([1, 2])).is_empty());
        assert_eq!(check(schema.clone(), json!([])).len(), 1);
        assert_eq!(check(schema.clone(), json!([1, 2, 3, 4])).len(), 1);
        assert_eq!(check(schema.clone(), json!([1, 1])).len(), 1);
        assert_eq!(paths(&check(schema, json!([1, "x"]))), ["/1"]);
        let tuple =
            json!({"items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false});
        assert!(check(tuple.clone(), json!(["a", 1])).is_empty());
        assert_eq!(paths(&check(tuple.clone(), json!([1, 1]))), ["/0"]);
        assert_eq!(paths(&check(tuple, json!(["a", 1, 2]))), ["/2"]);
        let prefix = json!({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}});
        assert_eq!(paths(&check(prefix, json!(["a", 1, "b"]))), ["/2"]);
    }

    #[test]
    fn strings_and_numbers() {
        let s = json!({"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[0-9]+$"});
        assert!(
            check(s.clone(), json!("héé")).is_empty(),
            "counts characters, skips pattern"
        );
        assert_eq!(
            check(s.clone(), json!("a"))[0].message,
            "must be at least 2 characters long"
        );
        assert_eq!(
            check(s, json!("abcd"))[0].message,
            "must be at most 3 characters long"
        );
        let n = json!({"type": "number", "minimum": 1, "maximum": 10});
        assert!(check(n.clone(), json!(1)).is_empty());
        assert!(check(n.clone(), json!(10)).is_empty());
        assert_eq!(check(n.clone(), json!(0))[0].message, "must be at least 1");
        assert_eq!(check(n, json!(11))[0].message, "must be at most 10");
        let strict30 =
            json!({"minimum": 1, "exclusiveMinimum": true, "maximum": 5, "exclusiveMaximum": true});
        assert_eq!(check(strict30.clone(), json!(1)).len(), 1);
        assert_eq!(check(strict30.clone(), json!(5)).len(), 1);
        assert!(check(strict30, json!(3)).is_empty());
        let strict31 = json!({"exclusiveMinimum": 1, "exclusiveMaximum": 5});
        assert_eq!(
            check(strict31.clone(), json!(1))[0].message,
            "must be greater than 1"
        );
        assert_eq!(
            check(strict31.clone(), json!(5))[0].message,
            "must be less than 5"
        );
        assert!(check(strict31, json!(1.5)).is_empty());
        assert!(check(json!({"multipleOf": 0.1}), json!(0.3)).is_empty());
        assert_eq!(check(json!({"multipleOf": 2}), json!(3)).len(), 1);
    }

    #[test]
    fn combinators() {
        let all = json!({"allOf": [{"required": ["a"]}, {"required": ["b"]}]});
        assert_eq!(check(all, json!({})).len(), 2);
        let any = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        assert!(check(any.clone(), json!(1)).is_empty());
        let issues = check(any, json!(true));
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("does not match any of the 2"));
        // Overlapping oneOf branches are accepted (checked like anyOf).
        let one = json!({"oneOf": [{"type": "object"}, {"required": ["a"]}]});
        assert!(check(one, json!({"a": 1})).is_empty());
        // The one branch with the right shape explains what is wrong inside it.
        let shaped = json!({"oneOf": [{"type": "string"},
            {"type": "object", "properties": {"n": {"type": "integer"}}}]});
        let issues = check(shaped, json!({"n": "x"}));
        assert_eq!(paths(&issues), ["", "/n"]);
        assert_eq!(
            check(json!({"not": {"type": "string"}}), json!("x")).len(),
            1
        );
        assert!(check(json!({"not": {"type": "string"}}), json!(1)).is_empty());
    }

    #[test]
    fn refs_resolve_from_defs() {
        let defs = json!({
            "NewPet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "owner": {"$ref": "#/$defs/Owner"}}},
            "Owner": {"type": "object", "properties": {"age": {"type": "integer"}}},
            "Has Space": {"type": "string"}
        });
        let defs = defs.as_object().unwrap();
        let schema = json!({"type": "object", "properties": {"body": {"$ref": "#/$defs/NewPet"}}});
        assert!(validate(&schema, defs, &json!({"body": {"name": "Rex"}})).is_empty());
        let issues = validate(&schema, defs, &json!({"body": {"owner": {"age": "x"}}}));
        assert_eq!(paths(&issues), ["/body", "/body/owner/age"]);
        let legacy = json!({"$ref": "#/components/schemas/Owner/properties/age"});
        assert_eq!(validate(&legacy, defs, &json!("x")).len(), 1);
        assert_eq!(
            validate(&json!({"$ref": "#/$defs/Has%20Space"}), defs, &json!(1)).len(),
            1
        );
        // Unknown refs constrain nothing.
        assert!(validate(&json!({"$ref": "#/$defs/Missing"}), defs, &json!(1)).is_empty());
        assert!(validate(&json!({"$ref": "other.json#/X"}), defs, &json!(1)).is_empty());
    }

    #[test]
    fn ref_cycles_and_recursion_terminate() {
        let defs = json!({
            "A": {"$ref": "#/$defs/B"},
            "B": {"allOf": [{"$ref": "#/$defs/A"}], "type": "integer"},
            "Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}, "v": {"type": "integer"}}}
        });
        let defs = defs.as_object().unwrap();
        assert!(validate(&json!({"$ref": "#/$defs/A"}), defs, &json!(1)).is_empty());
        assert_eq!(
            validate(&json!({"$ref": "#/$defs/A"}), defs, &json!("x")).len(),
            1
        );
        let tree = json!({"children": [{"children": [{"v": "bad"}]}]});
        let issues = validate(&json!({"$ref": "#/$defs/Node"}), defs, &tree);
        assert_eq!(paths(&issues), ["/children/0/children/0/v"]);
    }

    #[test]
    fn issues_are_capped_and_work_is_bounded() {
        let schema = json!({"type": "array", "items": {"type": "string"}});
        let many: Vec<u32> = (0..1000).collect();
        assert_eq!(check(schema, json!(many)).len(), MAX_ISSUES);

        // An exponential schema (each level has two anyOf branches that both fail deep down)
        // stops at the step budget instead of running for ages.
        let mut defs = Map::new();
        for i in 0..40 {
            let next = format!("#/$defs/L{}", i + 1);
            defs.insert(
                format!("L{i}"),
                json!({"anyOf": [{"$ref": next}, {"allOf": [{"$ref": next}]}]}),
            );
        }
        defs.insert("L40".into(), json!({"type": "string"}));
        let started = std::time::Instant::now();
        let _ = validate(&json!({"$ref": "#/$defs/L0"}), &defs, &json!(1));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn messages_never_echo_argument_values() {
        let schema = json!({"type": "object", "properties": {"k": {"enum": ["a"]}, "n": {"type": "integer"}},
            "additionalProperties": false});
        let issues = check(schema, json!({"k": "SECRET-CANARY", "n": "SECRET-CANARY"}));
        assert_eq!(issues.len(), 2);
        for issue in issues {
            assert!(!issue.message.contains("SECRET-CANARY"), "{issue:?}");
        }
    }

    #[test]
    fn summary() {
        let issues = vec![
            Issue {
                path: "/body/name".into(),
                message: "expected string, got integer".into(),
            },
            Issue {
                path: "".into(),
                message: "x".into(),
            },
        ];
        assert_eq!(
            summarize(&issues),
            "/body/name: expected string, got integer (and 1 more)"
        );
        assert_eq!(summarize(&issues[1..]), "arguments: x");
    }
}
