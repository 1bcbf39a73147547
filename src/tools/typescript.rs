//! JSON Schema → compact one-line TypeScript type expressions (executor-behaviour.md §8.8).
//!
//! `#/$defs/<Name>` refs become named types; their bodies are rendered on demand, transitively,
//! into a definitions list. Rendering is bounded: nesting deeper than [`MAX_DEPTH`] becomes
//! `unknown`, at most [`MAX_DEFINITIONS`] named types are rendered (further refs become `unknown`),
//! and one expression stops growing past [`MAX_EXPRESSION`] bytes.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Inline nesting depth before a schema renders as `unknown`.
pub const MAX_DEPTH: usize = 12;
/// Named types rendered per preview.
pub const MAX_DEFINITIONS: usize = 200;
/// Bytes of one rendered expression before nested parts render as `unknown`.
pub const MAX_EXPRESSION: usize = 64 * 1024;

const DEFS: &str = "#/$defs/";

/// Renders schemas against one `$defs` map, collecting the named types they reach.
pub struct Renderer<'d> {
    defs: &'d Map<String, Value>,
    /// Definition name → TypeScript identifier, for every definition seen so far.
    names: HashMap<&'d str, String>,
    /// Rendered definitions, in discovery order.
    rendered: Vec<(String, String)>,
    pending: Vec<&'d str>,
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A definition name as a TypeScript identifier: kept when already valid, otherwise PascalCased
/// from its alphanumeric runs (`simple-user` → `SimpleUser`).
pub fn type_name(name: &str) -> String {
    if is_identifier(name) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn push_property_key(out: &mut String, key: &str) {
    if is_identifier(key) {
        out.push_str(key);
    } else {
        out.push_str(&Value::String(key.to_owned()).to_string());
    }
}

impl<'d> Renderer<'d> {
    pub fn new(defs: &'d Map<String, Value>) -> Self {
        Renderer {
            defs,
            names: HashMap::new(),
            rendered: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// One schema as a type expression.
    pub fn render(&mut self, schema: &Value) -> String {
        let mut out = String::new();
        self.write(schema, 0, &mut out);
        out
    }

    /// Renders every definition reached so far (transitively) and returns them in discovery order.
    pub fn into_definitions(mut self) -> Vec<(String, String)> {
        while let Some(name) = self.pending.pop() {
            let Some(schema) = self.defs.get(name) else {
                continue;
            };
            let mut out = String::new();
            self.write(schema, 0, &mut out);
            let ident = self.names.get(name).cloned().unwrap_or_default();
            self.rendered.push((ident, out));
        }
        self.rendered
    }

    fn reference(&mut self, target: &str) -> Option<String> {
        let name = target.strip_prefix(DEFS)?;
        if name.contains('/') {
            return None;
        }
        let (key, _) = self.defs.get_key_value(name)?;
        if let Some(ident) = self.names.get(key.as_str()) {
            return Some(ident.clone());
        }
        if self.names.len() >= MAX_DEFINITIONS {
            return None;
        }
        let mut ident = type_name(key);
        while self.names.values().any(|v| *v == ident) {
            ident.push('_');
        }
        self.names.insert(key.as_str(), ident.clone());
        // Render breadth-first-ish in discovery order: pending is a stack, so insert at the front.
        self.pending.insert(0, key.as_str());
        Some(ident)
    }

    fn write(&mut self, schema: &Value, depth: usize, out: &mut String) {
        if depth > MAX_DEPTH || out.len() > MAX_EXPRESSION {
            out.push_str("unknown");
            return;
        }
        let map = match schema {
            Value::Object(map) => map,
            Value::Bool(false) => {
                out.push_str("never");
                return;
            }
            _ => {
                out.push_str("unknown");
                return;
            }
        };
        let nullable = map.get("nullable") == Some(&Value::Bool(true));
        let start = out.len();
        self.write_non_null(map, depth, out);
        if nullable && &out[start..] != "null" && &out[start..] != "unknown" {
            out.push_str(" | null");
        }
    }

    fn write_non_null(&mut self, map: &Map<String, Value>, depth: usize, out: &mut String) {
        if let Some(Value::String(target)) = map.get("$ref") {
            match self.reference(target) {
                Some(ident) => out.push_str(&ident),
                None => out.push_str("unknown"),
            }
            return;
        }
        if let Some(value) = map.get("const") {
            out.push_str(&value.to_string());
            return;
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            if values.is_empty() {
                out.push_str("never");
            }
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(" | ");
                }
                out.push_str(&value.to_string());
            }
            return;
        }
        for (key, sep) in [("allOf", " & "), ("oneOf", " | "), ("anyOf", " | ")] {
            if let Some(Value::Array(parts)) = map.get(key) {
                if parts.is_empty() {
                    continue;
                }
                self.write_combination(parts, sep, depth, out);
                // A schema with both a combinator and its own properties: intersect them.
                if map.contains_key("properties") {
                    out.push_str(" & ");
                    self.write_object(map, depth, out);
                }
                return;
            }
        }
        match map.get("type") {
            Some(Value::String(t)) => self.write_type(t, map, depth, out),
            Some(Value::Array(types)) if !types.is_empty() => {
                for (i, t) in types.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" | ");
                    }
                    match t.as_str() {
                        Some(t) => self.write_type(t, map, depth, out),
                        None => out.push_str("unknown"),
                    }
                }
            }
            _ if map.contains_key("properties") => self.write_object(map, depth, out),
            _ if map.contains_key("items") => self.write_type("array", map, depth, out),
            _ => out.push_str("unknown"),
        }
    }

    fn write_combination(&mut self, parts: &[Value], sep: &str, depth: usize, out: &mut String) {
        let multiple = parts.len() > 1;
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            let start = out.len();
            self.write(part, depth + 1, out);
            if multiple && needs_parens(&out[start..]) {
                out.insert(start, '(');
                out.push(')');
            }
        }
    }

    fn write_type(&mut self, t: &str, map: &Map<String, Value>, depth: usize, out: &mut String) {
        match t {
            "string" => out.push_str("string"),
            "integer" | "number" => out.push_str("number"),
            "boolean" => out.push_str("boolean"),
            "null" => out.push_str("null"),
            "array" => {
                let start = out.len();
                match map.get("items") {
                    Some(items @ Value::Object(_)) => self.write(items, depth + 1, out),
                    _ => out.push_str("unknown"),
                }
                if needs_parens(&out[start..]) {
                    out.insert(start, '(');
                    out.push(')');
                }
                out.push_str("[]");
            }
            "object" => self.write_object(map, depth, out),
            _ => out.push_str("unknown"),
        }
    }

    fn write_object(&mut self, map: &Map<String, Value>, depth: usize, out: &mut String) {
        let properties = map.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let additional = map.get("additionalProperties");
        let has_properties = properties.is_some_and(|p| !p.is_empty());
        out.push('{');
        if let Some(properties) = properties {
            for (key, schema) in properties {
                out.push(' ');
                push_property_key(out, key);
                if !required.contains(&key.as_str()) {
                    out.push('?');
                }
                out.push_str(": ");
                self.write(schema, depth + 1, out);
                out.push(';');
            }
        }
        match additional {
            Some(Value::Bool(false)) => {}
            Some(schema @ Value::Object(_)) => {
                out.push_str(" [k: string]: ");
                self.write(schema, depth + 1, out);
                out.push(';');
            }
            _ if !has_properties => out.push_str(" [k: string]: unknown;"),
            _ => {}
        }
        out.push_str(" }");
    }
}

/// Whether a rendered expression is a top-level union or intersection (needs parentheses inside
/// an array or another combination).
fn needs_parens(expr: &str) -> bool {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for c in expr.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            '|' | '&' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}
