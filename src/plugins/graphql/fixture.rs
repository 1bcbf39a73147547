//! Introspection results for tests: a small hand-made schema and a large synthetic one.

use serde_json::{json, Value};

fn named(kind: &str, name: &str) -> Value {
    json!({"kind": kind, "name": name, "ofType": null})
}

fn non_null(inner: Value) -> Value {
    json!({"kind": "NON_NULL", "name": null, "ofType": inner})
}

fn list(inner: Value) -> Value {
    json!({"kind": "LIST", "name": null, "ofType": inner})
}

fn arg(name: &str, ty: Value) -> Value {
    json!({"name": name, "description": null, "type": ty, "defaultValue": null})
}

fn field(name: &str, args: Vec<Value>, ty: Value) -> Value {
    json!({"name": name, "description": null, "args": args, "type": ty})
}

/// A tiny schema: `hello(name)`, `user(id)`, `users(filter, role)`; `createUser(input)`.
pub fn small() -> Value {
    json!({"data": {"__schema": {
        "queryType": {"name": "Query"},
        "mutationType": {"name": "Mutation"},
        "types": [
            {"kind": "OBJECT", "name": "Query", "fields": [
                {"name": "hello", "description": "Says hello.", "args": [arg("name", non_null(named("SCALAR", "String")))], "type": named("SCALAR", "String")},
                field("user", vec![arg("id", non_null(named("SCALAR", "ID")))], named("OBJECT", "User")),
                field("users", vec![arg("filter", named("INPUT_OBJECT", "UserFilter")), arg("role", named("ENUM", "Role"))], list(non_null(named("OBJECT", "User")))),
                field("__hidden", vec![], named("SCALAR", "String"))
            ]},
            {"kind": "OBJECT", "name": "Mutation", "fields": [
                field("createUser", vec![arg("input", non_null(named("INPUT_OBJECT", "CreateUserInput")))], non_null(named("OBJECT", "User")))
            ]},
            {"kind": "OBJECT", "name": "User", "fields": [
                field("id", vec![], non_null(named("SCALAR", "ID"))),
                field("name", vec![], named("SCALAR", "String")),
                field("role", vec![], named("ENUM", "Role")),
                field("joined", vec![], named("SCALAR", "DateTime")),
                field("friends", vec![], list(named("OBJECT", "User"))),
                field("posts", vec![arg("first", non_null(named("SCALAR", "Int")))], list(named("OBJECT", "Post"))),
                field("best", vec![], named("OBJECT", "Post"))
            ]},
            {"kind": "OBJECT", "name": "Post", "fields": [
                field("title", vec![], named("SCALAR", "String")),
                field("author", vec![], named("OBJECT", "User")),
                field("meta", vec![], named("OBJECT", "Meta"))
            ]},
            {"kind": "OBJECT", "name": "Meta", "fields": [
                field("score", vec![], named("SCALAR", "Float")),
                field("tags", vec![], named("OBJECT", "Tags"))
            ]},
            {"kind": "OBJECT", "name": "Tags", "fields": [field("all", vec![], named("SCALAR", "String"))]},
            {"kind": "INPUT_OBJECT", "name": "UserFilter", "inputFields": [
                arg("nameContains", named("SCALAR", "String")),
                arg("role", named("ENUM", "Role"))
            ]},
            {"kind": "INPUT_OBJECT", "name": "CreateUserInput", "description": "A new user.", "inputFields": [
                arg("name", non_null(named("SCALAR", "String"))),
                arg("role", named("ENUM", "Role"))
            ]},
            {"kind": "ENUM", "name": "Role", "enumValues": [{"name": "ADMIN"}, {"name": "MEMBER"}]},
            {"kind": "SCALAR", "name": "DateTime"},
            {"kind": "SCALAR", "name": "String"},
            {"kind": "SCALAR", "name": "ID"},
            {"kind": "SCALAR", "name": "Int"},
            {"kind": "SCALAR", "name": "Float"},
            {"kind": "OBJECT", "name": "__Schema", "fields": []}
        ]
    }}})
}

/// `types` object types of `fields` fields each, every one linking to other types (so naive
/// selection would grow as fields^depth), plus `roots` query and mutation fields.
pub fn large(types: usize, fields: usize, roots: usize) -> Value {
    let mut all = Vec::new();
    for t in 0..types {
        let mut fs = Vec::new();
        for f in 0..fields {
            let ty = if f % 3 == 0 {
                named("SCALAR", "String")
            } else {
                list(named("OBJECT", &format!("Type{}", (t * 7 + f) % types)))
            };
            fs.push(field(&format!("field{f}"), vec![], ty));
        }
        all.push(json!({"kind": "OBJECT", "name": format!("Type{t}"), "description": "A synthetic type.", "fields": fs}));
        all.push(
            json!({"kind": "INPUT_OBJECT", "name": format!("Input{t}"), "inputFields": [
                arg("a", named("SCALAR", "String")),
                arg("next", named("INPUT_OBJECT", &format!("Input{}", (t + 1) % types)))
            ]}),
        );
    }
    let root_fields = |prefix: &str| -> Vec<Value> {
        (0..roots)
            .map(|r| {
                field(
                    &format!("{prefix}{r}"),
                    vec![
                        arg(
                            "input",
                            named("INPUT_OBJECT", &format!("Input{}", r % types)),
                        ),
                        arg("id", non_null(named("SCALAR", "ID"))),
                    ],
                    named("OBJECT", &format!("Type{}", r % types)),
                )
            })
            .collect()
    };
    all.push(json!({"kind": "OBJECT", "name": "Query", "fields": root_fields("get")}));
    all.push(json!({"kind": "OBJECT", "name": "Mutation", "fields": root_fields("set")}));
    all.push(named("SCALAR", "String"));
    all.push(named("SCALAR", "ID"));
    json!({"data": {"__schema": {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}, "types": all}}})
}
