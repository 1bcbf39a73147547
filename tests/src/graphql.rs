//! A loopback GraphQL endpoint for the e2e suite, served by the [`crate::upstream`] stand-in at
//! `POST /graphql`: it answers the introspection query with a fixed tiny schema and the
//! operations the Worker's GraphQL tools send (`query Hello`, `query Notes`, `mutation AddNote`),
//! recognised by their operation name. Anything else gets a GraphQL `errors` array. Like the
//! rest of the stand-in it never echoes request headers.

use serde_json::{json, Value};

fn named(kind: &str, name: &str) -> Value {
    json!({"kind": kind, "name": name, "ofType": null})
}

fn non_null(inner: Value) -> Value {
    json!({"kind": "NON_NULL", "name": null, "ofType": inner})
}

fn field(name: &str, description: &str, args: Value, ty: Value) -> Value {
    json!({"name": name, "description": description, "args": args, "type": ty,
           "isDeprecated": false, "deprecationReason": null})
}

fn arg(name: &str, ty: Value) -> Value {
    json!({"name": name, "description": null, "type": ty, "defaultValue": null})
}

/// The introspection answer: `hello(name)`, `notes`, `addNote(text)`.
pub fn introspection() -> Value {
    let string = || named("SCALAR", "String");
    json!({"data": {"__schema": {
        "queryType": {"name": "Query"},
        "mutationType": {"name": "Mutation"},
        "subscriptionType": null,
        "types": [
            {"kind": "OBJECT", "name": "Query", "description": null, "fields": [
                field("hello", "Greets someone by name.", json!([arg("name", non_null(string()))]), string()),
                field("notes", "Lists the notes.", json!([]), json!({"kind": "LIST", "name": null, "ofType": named("OBJECT", "Note")}))
            ], "inputFields": null, "enumValues": null},
            {"kind": "OBJECT", "name": "Mutation", "description": null, "fields": [
                field("addNote", "Adds a note.", json!([arg("text", non_null(string()))]), named("OBJECT", "Note"))
            ], "inputFields": null, "enumValues": null},
            {"kind": "OBJECT", "name": "Note", "description": "A note.", "fields": [
                field("id", "", json!([]), non_null(named("SCALAR", "ID"))),
                field("text", "", json!([]), string())
            ], "inputFields": null, "enumValues": null},
            {"kind": "SCALAR", "name": "String", "description": null, "fields": null, "inputFields": null, "enumValues": null},
            {"kind": "SCALAR", "name": "ID", "description": null, "fields": null, "inputFields": null, "enumValues": null}
        ]
    }}})
}

/// The answer to one `POST /graphql` body (status, JSON), given the notes stored so far.
pub fn answer(body: &[u8], notes: &mut Vec<Value>) -> (u16, Value) {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({"errors": [{"message": "body is not JSON"}]}));
    };
    let query = request["query"].as_str().unwrap_or_default();
    let variables = &request["variables"];
    if query.contains("__schema") {
        return (200, introspection());
    }
    if query.starts_with("query Hello(") {
        let name = variables["name"].as_str().unwrap_or("nobody");
        return (200, json!({"data": {"hello": format!("Hello, {name}!")}}));
    }
    if query.starts_with("query Notes ") {
        return (200, json!({"data": {"notes": notes}}));
    }
    if query.starts_with("mutation AddNote(") {
        let note = json!({"id": format!("n{}", notes.len() + 1), "text": variables["text"]});
        notes.push(note.clone());
        return (200, json!({"data": {"addNote": note}}));
    }
    (
        200,
        json!({"data": null, "errors": [{"message": "unknown operation"}]}),
    )
}
