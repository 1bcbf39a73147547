//! Introspection results ⇒ tools (executor-behaviour.md §8.2): one tool per non-`__` field of the
//! Query and Mutation roots, an input schema from the field's arguments (input objects and enums
//! as shared `$defs`), and a fixed operation document with a generated, bounded selection set.
//!
//! Bounds (a 2,000-type schema must not explode): the selection set goes three levels deep
//! (levels 0–2), takes at most [`MAX_FIELDS_PER_LEVEL`] fields per object and at most
//! [`MAX_SELECTION_FIELDS`] fields in all; fields that need arguments and recursion cycles are
//! skipped; a schema yields at most [`MAX_TOOLS`] tools.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::plugins::openapi::ToolAnnotations;

/// Deepest selection level (0 = the root field's own selection).
pub const MAX_DEPTH: usize = 3;
/// Fields taken from one object type at one level.
pub const MAX_FIELDS_PER_LEVEL: usize = 12;
/// Fields in one generated selection set, all levels together (our bound; upstream has only
/// the per-level cap, which allows 12³ leaves).
pub const MAX_SELECTION_FIELDS: usize = 150;
/// Definitions one tool lists (recursive filter inputs can reach every input type).
pub const MAX_DEFS_PER_TOOL: usize = 64;
/// Tools one schema yields (query fields first, then mutations, each in schema order).
pub const MAX_TOOLS: usize = 5_000;

/// The standard introspection query, with descriptions, arguments, input fields and enum values.
/// `TypeRef` goes seven wrappers deep, as every common client does.
pub const INTROSPECTION_QUERY: &str = "query IntrospectionQuery { __schema { queryType { name } \
mutationType { name } types { kind name description fields(includeDeprecated: true) { name \
description args { name description type { ...TypeRef } defaultValue } type { ...TypeRef } } \
inputFields { name description type { ...TypeRef } defaultValue } enumValues(includeDeprecated: \
true) { name description } } } } fragment TypeRef on __Type { kind name ofType { kind name \
ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
ofType { kind name } } } } } } } }";

/// Why an introspection result could not become tools (`GraphqlIntrospectionError` /
/// `GraphqlExtractionError` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// Not an introspection result at all.
    Introspection(String),
    /// An introspection result without usable roots.
    Extraction(String),
}

impl SchemaError {
    pub fn tag(&self) -> &'static str {
        match self {
            SchemaError::Introspection(_) => "GraphqlIntrospectionError",
            SchemaError::Extraction(_) => "GraphqlExtractionError",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            SchemaError::Introspection(m) | SchemaError::Extraction(m) => m,
        }
    }
}

// The introspection result is walked as a `serde_json::Value` rather than through derived
// structs: a dozen `Deserialize` impls cost ~20 KB of gzip in the Worker (ARCHITECTURE.md, size).
// Missing or mistyped members read as absent; the server's own result is trusted for shape.

/// A parsed introspection result: the `__schema` object.
#[derive(Debug, Clone)]
pub struct Schema(Value);

/// Member `key` of `v` as a string.
fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// Member `key` of `v` as a list (absent, `null` or not a list: empty).
fn list<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A field, argument or input field's name (`""` if missing).
fn name(v: &Value) -> &str {
    text(v, "name").unwrap_or_default()
}

fn kind(v: &Value) -> &str {
    text(v, "kind").unwrap_or_default()
}

/// A `TypeRef`'s wrapped type.
fn of_type(ty: &Value) -> Option<&Value> {
    ty.get("ofType").filter(|t| t.is_object())
}

/// The `type` of a field, argument or input field.
fn ty(v: &Value) -> &Value {
    v.get("type").unwrap_or(&Value::Null)
}

/// The named type under the list/non-null wrappers.
fn named(ty: &Value) -> &str {
    let mut ty = ty;
    // Introspection nests seven wrappers; the bound keeps a hostile document from looping long.
    for _ in 0..32 {
        if let Some(name) = text(ty, "name") {
            return name;
        }
        match of_type(ty) {
            Some(inner) => ty = inner,
            None => break,
        }
    }
    ""
}

/// The type as GraphQL writes it (`[String!]!`).
fn render(ty: &Value) -> String {
    match (kind(ty), of_type(ty)) {
        ("NON_NULL", Some(inner)) => format!("{}!", render(inner)),
        ("LIST", Some(inner)) => format!("[{}]", render(inner)),
        _ => name(ty).to_owned(),
    }
}

/// Required: non-null and without a default.
fn required(v: &Value) -> bool {
    kind(ty(v)) == "NON_NULL" && v.get("defaultValue").is_none_or(Value::is_null)
}

fn description(v: &Value) -> Option<&str> {
    text(v, "description")
}

/// Parses an introspection result: `{"data": {"__schema": …}}` (what a server answers) or
/// `{"__schema": …}`.
pub fn parse_introspection(text: &str) -> Result<Schema, SchemaError> {
    let mut envelope: Value = serde_json::from_str(text)
        .map_err(|e| SchemaError::Introspection(format!("Invalid introspection JSON: {e}")))?;
    let schema = if envelope.get("__schema").is_some_and(Value::is_object) {
        envelope["__schema"].take()
    } else if envelope.get("data").is_some_and(Value::is_object) {
        match envelope["data"].get_mut("__schema") {
            Some(schema) if schema.is_object() => schema.take(),
            _ => {
                return Err(SchemaError::Introspection(
                    "Introspection result has no `data.__schema`".into(),
                ))
            }
        }
    } else {
        return Err(SchemaError::Introspection(
            "Introspection result has no `__schema`".into(),
        ));
    };
    let root = |key: &str| {
        schema
            .get(key)
            .and_then(|r| r.get("name"))
            .is_some_and(Value::is_string)
    };
    if !root("queryType") && !root("mutationType") {
        return Err(SchemaError::Extraction(
            "The schema has neither a query nor a mutation root type".into(),
        ));
    }
    Ok(Schema(schema))
}

/// How one tool is called: what [`super::invoke`] needs, stored as the operation row's binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlBinding {
    /// `query` or `mutation`.
    pub kind: String,
    pub field: String,
    /// The whole operation document.
    pub document: String,
    /// Declared argument names (only these become variables).
    pub args: Vec<String>,
}

impl GraphqlBinding {
    /// Reads a stored binding.
    pub fn parse(text: &str) -> Result<GraphqlBinding, String> {
        let f =
            crate::json_fields::Fields::parse(text, &["kind", "field", "document", "args"], false)?;
        Ok(GraphqlBinding {
            kind: f.string("kind")?,
            field: f.string("field")?,
            document: f.string("document")?,
            args: f.strings("args")?,
        })
    }
}

/// One derived tool.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlTool {
    pub name: String,
    pub description: String,
    pub input_schema: Option<Value>,
    pub annotations: Option<ToolAnnotations>,
    pub binding: GraphqlBinding,
    /// `$defs` the input schema reaches, transitively, sorted.
    pub defs: Vec<String>,
}

/// Everything a schema yields.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub tools: Vec<GraphqlTool>,
    /// Every INPUT_OBJECT and ENUM as a JSON Schema, by type name.
    pub defs: BTreeMap<String, Value>,
}

struct Index<'s> {
    types: BTreeMap<&'s str, &'s Value>,
}

impl<'s> Index<'s> {
    fn kind(&self, name: &str) -> &str {
        self.types.get(name).map_or("", |t| kind(t))
    }
}

/// Derives the tools and `$defs` of a parsed schema.
pub fn derive(schema: &Schema) -> Derived {
    let schema = &schema.0;
    let types = list(schema, "types");
    let index = Index {
        types: types
            .iter()
            .filter_map(|t| text(t, "name").map(|n| (n, t)))
            .collect(),
    };
    let mut derived = Derived::default();
    for t in types {
        let Some(name) = text(t, "name").filter(|n| !n.starts_with("__")) else {
            continue;
        };
        let mut def = match kind(t) {
            "INPUT_OBJECT" => object_schema(&index, list(t, "inputFields")),
            "ENUM" => {
                let values: Vec<Value> = list(t, "enumValues")
                    .iter()
                    .map(|v| Value::String(self::name(v).to_owned()))
                    .collect();
                json!({"type": "string", "enum": values})
            }
            _ => continue,
        };
        describe(&mut def, description(t));
        derived.defs.insert(name.to_owned(), def);
    }
    for (kind, key) in [("query", "queryType"), ("mutation", "mutationType")] {
        let Some(root) = schema
            .get(key)
            .and_then(|r| text(r, "name"))
            .and_then(|r| index.types.get(r))
        else {
            continue;
        };
        // A root listing a field twice (no real server does; a hostile one may) keeps the first:
        // tool names key unique storage rows, so a repeat would fail the whole generation.
        let mut seen = BTreeSet::new();
        for field in list(root, "fields") {
            let field_name = name(field);
            if field_name.is_empty()
                || field_name.starts_with("__")
                || derived.tools.len() >= MAX_TOOLS
                || !seen.insert(field_name)
            {
                continue;
            }
            derived.tools.push(tool(&index, &derived.defs, kind, field));
        }
    }
    derived
}

/// `{"type": "object", "properties", "required"}` from arguments or input fields.
fn object_schema(index: &Index<'_>, values: &[Value]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for v in values {
        let mut schema = value_schema(index, ty(v));
        describe(&mut schema, description(v));
        properties.insert(name(v).to_owned(), schema);
        if self::required(v) {
            required.push(Value::String(name(v).to_owned()));
        }
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    schema
}

fn describe(schema: &mut Value, description: Option<&str>) {
    if let (Some(d), Value::Object(map)) = (description.filter(|d| !d.is_empty()), schema) {
        map.insert("description".into(), Value::String(d.to_owned()));
    }
}

/// The JSON Schema of an argument or input field type.
fn value_schema(index: &Index<'_>, ty: &Value) -> Value {
    match (kind(ty), of_type(ty)) {
        ("NON_NULL", Some(inner)) => value_schema(index, inner),
        ("LIST", Some(inner)) => json!({"type": "array", "items": value_schema(index, inner)}),
        _ => {
            let name = name(ty);
            match name {
                "String" | "ID" => json!({"type": "string"}),
                "Int" => json!({"type": "integer"}),
                "Float" => json!({"type": "number"}),
                "Boolean" => json!({"type": "boolean"}),
                _ => match index.kind(name) {
                    "ENUM" | "INPUT_OBJECT" => json!({"$ref": format!("#/$defs/{name}")}),
                    "SCALAR" => {
                        json!({"type": "string", "description": format!("Custom scalar: {name}")})
                    }
                    _ => json!({"type": "object"}),
                },
            }
        }
    }
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn tool(
    index: &Index<'_>,
    defs: &BTreeMap<String, Value>,
    kind: &str,
    field: &Value,
) -> GraphqlTool {
    let field_name = name(field);
    let args = list(field, "args");
    let mut reached = BTreeSet::new();
    for arg in args {
        reach(index, named(ty(arg)), &mut reached);
    }
    let input_schema = (!args.is_empty()).then(|| object_schema(index, args));
    let mut document = format!("{kind} {}", capitalised(field_name));
    if !args.is_empty() {
        let variables: Vec<String> = args
            .iter()
            .map(|a| format!("${}: {}", name(a), render(ty(a))))
            .collect();
        document.push_str(&format!("({})", variables.join(", ")));
    }
    document.push_str(" { ");
    document.push_str(field_name);
    if !args.is_empty() {
        let call_args: Vec<String> = args
            .iter()
            .map(|a| format!("{}: ${}", name(a), name(a)))
            .collect();
        document.push_str(&format!("({})", call_args.join(", ")));
    }
    let mut budget = MAX_SELECTION_FIELDS;
    let mut stack = Vec::new();
    if let Some(selection) = selection(index, named(ty(field)), 0, &mut stack, &mut budget) {
        document.push(' ');
        document.push_str(&selection);
    }
    document.push_str(" }");
    let description = description(field)
        .filter(|d| !d.trim().is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("GraphQL {kind}: {field_name} -> {}", render(ty(field))));
    let annotations = (kind == "mutation").then(|| ToolAnnotations {
        requires_approval: Some(true),
        approval_description: Some(format!("mutation {field_name}")),
        may_elicit: None,
    });
    GraphqlTool {
        name: format!("{kind}.{field_name}"),
        description,
        input_schema,
        annotations,
        binding: GraphqlBinding {
            kind: kind.to_owned(),
            field: field_name.to_owned(),
            document,
            args: args.iter().map(|a| name(a).to_owned()).collect(),
        },
        defs: reached
            .into_iter()
            .filter(|name| defs.contains_key(name))
            .collect(),
    }
}

/// Adds `name` and the input types it reaches to `reached`, nearest first, up to
/// [`MAX_DEFS_PER_TOOL`] (deeper ones stay unchecked by our validator; the server checks them).
fn reach(index: &Index<'_>, name: &str, reached: &mut BTreeSet<String>) {
    let mut pending = std::collections::VecDeque::from([name.to_owned()]);
    while let Some(name) = pending.pop_front() {
        if reached.len() >= MAX_DEFS_PER_TOOL {
            return;
        }
        let Some(t) = index.types.get(name.as_str()) else {
            continue;
        };
        if !matches!(kind(t), "INPUT_OBJECT" | "ENUM") || !reached.insert(name) {
            continue;
        }
        for f in list(t, "inputFields") {
            pending.push_back(named(ty(f)).to_owned());
        }
    }
}

/// The selection set of type `name` at `depth` (`None` for leaves, which take none).
fn selection(
    index: &Index<'_>,
    name: &str,
    depth: usize,
    stack: &mut Vec<String>,
    budget: &mut usize,
) -> Option<String> {
    let t = index.types.get(name)?;
    match kind(t) {
        "OBJECT" | "INTERFACE" => {}
        "UNION" => return Some("{ __typename }".into()),
        _ => return None,
    }
    stack.push(name.to_owned());
    let mut parts = Vec::new();
    for field in list(t, "fields") {
        if parts.len() >= MAX_FIELDS_PER_LEVEL || *budget == 0 {
            break;
        }
        let field_name = self::name(field);
        // A field with a required argument cannot be selected without a value for it.
        let needs_args = list(field, "args").iter().any(required);
        if field_name.is_empty() || field_name.starts_with("__") || needs_args {
            continue;
        }
        let inner = named(ty(field));
        match index.kind(inner) {
            "OBJECT" | "INTERFACE" | "UNION" => {
                if depth + 1 >= MAX_DEPTH || stack.iter().any(|s| s == inner) {
                    continue;
                }
                *budget -= 1;
                match selection(index, inner, depth + 1, stack, budget) {
                    Some(sub) => parts.push(format!("{field_name} {sub}")),
                    None => *budget += 1,
                }
            }
            _ => {
                *budget -= 1;
                parts.push(field_name.to_owned());
            }
        }
    }
    stack.pop();
    if parts.is_empty() {
        // Every object has `__typename`; an empty selection is not valid GraphQL.
        parts.push("__typename".into());
    }
    Some(format!("{{ {} }}", parts.join(" ")))
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
