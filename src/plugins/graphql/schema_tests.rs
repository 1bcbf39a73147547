#![allow(clippy::unwrap_used)]

use super::*;
use crate::plugins::graphql::fixture;

fn small() -> Derived {
    derive(&parse_introspection(&fixture::small().to_string()).unwrap())
}

#[test]
fn one_tool_per_root_field_without_dunder_fields() {
    let derived = small();
    let names: Vec<&str> = derived.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "query.hello",
            "query.user",
            "query.users",
            "mutation.createUser"
        ]
    );
    assert_eq!(derived.tools[0].description, "Says hello.");
    assert_eq!(derived.tools[1].description, "GraphQL query: user -> User");
    assert_eq!(
        derived.tools[3].description,
        "GraphQL mutation: createUser -> User!"
    );
}

#[test]
fn input_schemas_follow_the_arguments() {
    let derived = small();
    assert_eq!(
        derived.tools[0].input_schema,
        Some(
            json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]})
        )
    );
    assert_eq!(
        derived.tools[2].input_schema,
        Some(json!({"type": "object", "properties": {
            "filter": {"$ref": "#/$defs/UserFilter"}, "role": {"$ref": "#/$defs/Role"}}}))
    );
    assert_eq!(derived.tools[2].defs, ["Role", "UserFilter"]);
    assert_eq!(derived.tools[3].defs, ["CreateUserInput", "Role"]);
    assert_eq!(
        derived.defs["CreateUserInput"],
        json!({"type": "object", "description": "A new user.", "required": ["name"], "properties": {
            "name": {"type": "string"}, "role": {"$ref": "#/$defs/Role"}}})
    );
    assert_eq!(
        derived.defs["Role"],
        json!({"type": "string", "enum": ["ADMIN", "MEMBER"]})
    );
}

#[test]
fn documents_have_bounded_selections() {
    let derived = small();
    assert_eq!(
        derived.tools[0].binding.document,
        "query Hello($name: String!) { hello(name: $name) }"
    );
    // `posts` needs an argument and is skipped; `friends` recurses into User and is skipped;
    // level 2 (`meta`) keeps only leaves, so `tags` is dropped.
    assert_eq!(
        derived.tools[1].binding.document,
        "query User($id: ID!) { user(id: $id) { id name role joined best { title meta { score } } } }"
    );
    assert_eq!(
        derived.tools[3].binding.document,
        "mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { id name role joined best { title meta { score } } } }"
    );
    assert_eq!(derived.tools[3].binding.args, ["input"]);
}

#[test]
fn mutations_require_approval() {
    let derived = small();
    assert_eq!(derived.tools[0].annotations, None);
    let annotations = derived.tools[3].annotations.clone().unwrap();
    assert_eq!(annotations.requires_approval, Some(true));
    assert_eq!(
        annotations.approval_description.as_deref(),
        Some("mutation createUser")
    );
}

#[test]
fn bad_results_are_typed() {
    assert!(matches!(
        parse_introspection("nope"),
        Err(SchemaError::Introspection(_))
    ));
    assert!(matches!(
        parse_introspection(r#"{"data": {}}"#),
        Err(SchemaError::Introspection(_))
    ));
    assert!(matches!(
        parse_introspection(r#"{"__schema": {"types": []}}"#),
        Err(SchemaError::Extraction(_))
    ));
}

#[test]
fn a_large_schema_stays_bounded() {
    let text = fixture::large(2_000, 40, 500).to_string();
    let started = std::time::Instant::now();
    let derived = derive(&parse_introspection(&text).unwrap());
    let took = started.elapsed();
    assert_eq!(derived.tools.len(), 1_000);
    let mut stored = 0;
    for tool in &derived.tools {
        // Level 0: ≤ 12 fields; the whole selection: ≤ MAX_SELECTION_FIELDS field names.
        let fields = tool.binding.document.matches("field").count();
        assert!(fields <= MAX_SELECTION_FIELDS, "{fields} fields");
        assert!(tool.defs.len() <= MAX_DEFS_PER_TOOL);
        stored += tool.binding.document.len()
            + tool
                .input_schema
                .as_ref()
                .map_or(0, |s| s.to_string().len())
            + tool.defs.iter().map(|d| d.len() + 3).sum::<usize>();
    }
    let defs: usize = derived.defs.values().map(|d| d.to_string().len()).sum();
    eprintln!(
        "graphql large schema: introspection {} bytes, {} types, {} tools, tool rows ~{} bytes, defs {} bytes, {:?}",
        text.len(),
        2_000,
        derived.tools.len(),
        stored,
        defs,
        took
    );
    assert!(stored < 8 * 1024 * 1024);
}

/// Found while writing the `graphql_introspection` fuzz target (tool names key unique storage
/// rows, so a repeat failed the whole generation): a root that lists a field twice yields one
/// tool, the first.
#[test]
fn a_root_field_listed_twice_yields_one_tool() {
    let mut schema = fixture::small();
    let fields = schema["data"]["__schema"]["types"][0]["fields"]
        .as_array_mut()
        .unwrap();
    let mut again = fields[0].clone();
    again["description"] = json!("the repeat");
    fields.push(again);
    let derived = derive(&parse_introspection(&schema.to_string()).unwrap());
    let hellos: Vec<&GraphqlTool> = derived
        .tools
        .iter()
        .filter(|t| t.name == "query.hello")
        .collect();
    assert_eq!(hellos.len(), 1);
    assert_eq!(hellos[0].description, "Says hello.");
}
