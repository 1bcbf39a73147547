//! Introspection results ⇒ tools (executor-behaviour.md §8.2): one tool per non-`__` field of the
//! Query and Mutation roots, an input schema from the field's arguments (input objects and enums
//! as shared `$defs`), and a fixed operation document with a generated, bounded selection set.
//!
//! Bounds (a 2,000-type schema must not explode): the selection set goes three levels deep
//! (levels 0–2), takes at most [`MAX_FIELDS_PER_LEVEL`] fields per object and at most
//! [`MAX_SELECTION_FIELDS`] fields in all; fields that need arguments and recursion cycles are
//! skipped; a schema yields at most [`MAX_TOOLS`] tools.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
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

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    data: Option<Box<Envelope>>,
    #[serde(default, rename = "__schema")]
    schema: Option<Schema>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    #[serde(default)]
    query_type: Option<Named>,
    #[serde(default)]
    mutation_type: Option<Named>,
    #[serde(default)]
    types: Vec<FullType>,
}

#[derive(Debug, Clone, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FullType {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    fields: Option<Vec<Field>>,
    #[serde(default)]
    input_fields: Option<Vec<InputValue>>,
    #[serde(default)]
    enum_values: Option<Vec<EnumValue>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Field {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    args: Vec<InputValue>,
    #[serde(rename = "type")]
    ty: TypeRef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputValue {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(rename = "type")]
    ty: TypeRef,
    #[serde(default)]
    default_value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct EnumValue {
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeRef {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    of_type: Option<Box<TypeRef>>,
}

impl TypeRef {
    /// The named type under the list/non-null wrappers.
    fn named(&self) -> &str {
        match (&self.name, &self.of_type) {
            (Some(name), _) => name,
            (None, Some(inner)) => inner.named(),
            (None, None) => "",
        }
    }

    /// The type as GraphQL writes it (`[String!]!`).
    fn render(&self) -> String {
        match (self.kind.as_str(), &self.of_type) {
            ("NON_NULL", Some(inner)) => format!("{}!", inner.render()),
            ("LIST", Some(inner)) => format!("[{}]", inner.render()),
            _ => self.name.clone().unwrap_or_default(),
        }
    }
}

/// Parses an introspection result: `{"data": {"__schema": …}}` (what a server answers) or
/// `{"__schema": …}`.
pub fn parse_introspection(text: &str) -> Result<Schema, SchemaError> {
    let envelope: Envelope = serde_json::from_str(text)
        .map_err(|e| SchemaError::Introspection(format!("Invalid introspection JSON: {e}")))?;
    let schema = match envelope {
        Envelope {
            schema: Some(schema),
            ..
        } => schema,
        Envelope {
            data: Some(inner), ..
        } => inner.schema.ok_or_else(|| {
            SchemaError::Introspection("Introspection result has no `data.__schema`".into())
        })?,
        _ => {
            return Err(SchemaError::Introspection(
                "Introspection result has no `__schema`".into(),
            ))
        }
    };
    if schema.query_type.is_none() && schema.mutation_type.is_none() {
        return Err(SchemaError::Extraction(
            "The schema has neither a query nor a mutation root type".into(),
        ));
    }
    Ok(schema)
}

/// How one tool is called: what [`super::invoke`] needs, stored as the operation row's binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    types: BTreeMap<&'s str, &'s FullType>,
}

impl<'s> Index<'s> {
    fn kind(&self, name: &str) -> &str {
        self.types.get(name).map(|t| t.kind.as_str()).unwrap_or("")
    }
}

/// Derives the tools and `$defs` of a parsed schema.
pub fn derive(schema: &Schema) -> Derived {
    let index = Index {
        types: schema
            .types
            .iter()
            .filter_map(|t| t.name.as_deref().map(|n| (n, t)))
            .collect(),
    };
    let mut derived = Derived::default();
    for t in &schema.types {
        let Some(name) = t.name.as_deref().filter(|n| !n.starts_with("__")) else {
            continue;
        };
        match t.kind.as_str() {
            "INPUT_OBJECT" => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for f in t.input_fields.as_deref().unwrap_or_default() {
                    let mut schema = value_schema(&index, &f.ty);
                    describe(&mut schema, f.description.as_deref());
                    properties.insert(f.name.clone(), schema);
                    if f.ty.kind == "NON_NULL" && f.default_value.is_none() {
                        required.push(Value::String(f.name.clone()));
                    }
                }
                let mut def = json!({"type": "object", "properties": properties});
                if !required.is_empty() {
                    def["required"] = Value::Array(required);
                }
                describe(&mut def, t.description.as_deref());
                derived.defs.insert(name.to_owned(), def);
            }
            "ENUM" => {
                let values: Vec<Value> = t
                    .enum_values
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|v| Value::String(v.name.clone()))
                    .collect();
                let mut def = json!({"type": "string", "enum": values});
                describe(&mut def, t.description.as_deref());
                derived.defs.insert(name.to_owned(), def);
            }
            _ => {}
        }
    }
    let roots = [
        ("query", schema.query_type.as_ref()),
        ("mutation", schema.mutation_type.as_ref()),
    ];
    for (kind, root) in roots {
        let Some(root) = root.and_then(|r| index.types.get(r.name.as_str())) else {
            continue;
        };
        for field in root.fields.as_deref().unwrap_or_default() {
            if field.name.starts_with("__") || derived.tools.len() >= MAX_TOOLS {
                continue;
            }
            derived.tools.push(tool(&index, &derived.defs, kind, field));
        }
    }
    derived
}

fn describe(schema: &mut Value, description: Option<&str>) {
    if let (Some(d), Value::Object(map)) = (description.filter(|d| !d.is_empty()), schema) {
        map.insert("description".into(), Value::String(d.to_owned()));
    }
}

/// The JSON Schema of an argument or input field type.
fn value_schema(index: &Index<'_>, ty: &TypeRef) -> Value {
    match (ty.kind.as_str(), &ty.of_type) {
        ("NON_NULL", Some(inner)) => value_schema(index, inner),
        ("LIST", Some(inner)) => json!({"type": "array", "items": value_schema(index, inner)}),
        _ => {
            let name = ty.name.as_deref().unwrap_or_default();
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
    field: &Field,
) -> GraphqlTool {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut reached = BTreeSet::new();
    for arg in &field.args {
        let mut schema = value_schema(index, &arg.ty);
        describe(&mut schema, arg.description.as_deref());
        properties.insert(arg.name.clone(), schema);
        if arg.ty.kind == "NON_NULL" && arg.default_value.is_none() {
            required.push(Value::String(arg.name.clone()));
        }
        reach(index, arg.ty.named(), &mut reached);
    }
    let input_schema = (!field.args.is_empty()).then(|| {
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        schema
    });
    let variables: Vec<String> = field
        .args
        .iter()
        .map(|a| format!("${}: {}", a.name, a.ty.render()))
        .collect();
    let call_args: Vec<String> = field
        .args
        .iter()
        .map(|a| format!("{}: ${}", a.name, a.name))
        .collect();
    let mut document = format!("{kind} {}", capitalised(&field.name));
    if !variables.is_empty() {
        document.push_str(&format!("({})", variables.join(", ")));
    }
    document.push_str(" { ");
    document.push_str(&field.name);
    if !call_args.is_empty() {
        document.push_str(&format!("({})", call_args.join(", ")));
    }
    let mut budget = MAX_SELECTION_FIELDS;
    let mut stack = Vec::new();
    if let Some(selection) = selection(index, field.ty.named(), 0, &mut stack, &mut budget) {
        document.push(' ');
        document.push_str(&selection);
    }
    document.push_str(" }");
    let description = field
        .description
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("GraphQL {kind}: {} -> {}", field.name, field.ty.render()));
    let annotations = (kind == "mutation").then(|| ToolAnnotations {
        requires_approval: Some(true),
        approval_description: Some(format!("mutation {}", field.name)),
        may_elicit: None,
    });
    GraphqlTool {
        name: format!("{kind}.{}", field.name),
        description,
        input_schema,
        annotations,
        binding: GraphqlBinding {
            kind: kind.to_owned(),
            field: field.name.clone(),
            document,
            args: field.args.iter().map(|a| a.name.clone()).collect(),
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
        if !matches!(t.kind.as_str(), "INPUT_OBJECT" | "ENUM") || !reached.insert(name) {
            continue;
        }
        for f in t.input_fields.as_deref().unwrap_or_default() {
            pending.push_back(f.ty.named().to_owned());
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
    match t.kind.as_str() {
        "OBJECT" | "INTERFACE" => {}
        "UNION" => return Some("{ __typename }".into()),
        _ => return None,
    }
    stack.push(name.to_owned());
    let mut parts = Vec::new();
    for field in t.fields.as_deref().unwrap_or_default() {
        if parts.len() >= MAX_FIELDS_PER_LEVEL || *budget == 0 {
            break;
        }
        // A field with a required argument cannot be selected without a value for it.
        let needs_args = field
            .args
            .iter()
            .any(|a| a.ty.kind == "NON_NULL" && a.default_value.is_none());
        if field.name.starts_with("__") || needs_args {
            continue;
        }
        let inner = field.ty.named();
        match index.kind(inner) {
            "OBJECT" | "INTERFACE" | "UNION" => {
                if depth + 1 >= MAX_DEPTH || stack.iter().any(|s| s == inner) {
                    continue;
                }
                *budget -= 1;
                match selection(index, inner, depth + 1, stack, budget) {
                    Some(sub) => parts.push(format!("{} {sub}", field.name)),
                    None => *budget += 1,
                }
            }
            _ => {
                *budget -= 1;
                parts.push(field.name.clone());
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
