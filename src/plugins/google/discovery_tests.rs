#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::*;
use crate::plugins::openapi::{derive_all_tools, parse, ParameterLocation, ToolDefinition};

/// The tasks-like fixture (nested resources, `{+parent}`, request `$ref`s, a repeated query
/// parameter, scopes), shared with the e2e suite's loopback server.
pub(crate) const TASKS: &str = include_str!("../../../tests/fixtures/discovery/tasks.v1.json");

pub(crate) fn tasks_document(root_url: &str) -> Value {
    let mut doc: Value = serde_json::from_str(TASKS).unwrap();
    doc["rootUrl"] = json!(root_url);
    doc
}

fn tools() -> Vec<ToolDefinition> {
    let converted = convert(vec![tasks_document("https://tasks.example.com/")]).unwrap();
    derive_all_tools(&parse(converted.text).unwrap())
}

fn tool<'a>(tools: &'a [ToolDefinition], name: &str) -> &'a ToolDefinition {
    tools.iter().find(|t| t.name == name).unwrap()
}

#[test]
fn urls_normalise_to_the_canonical_form() {
    let canonical = "https://www.googleapis.com/discovery/v1/apis/drive/v3/rest";
    assert_eq!(normalise_url(canonical).unwrap(), canonical);
    assert_eq!(
        normalise_url(" https://drive.googleapis.com/$discovery/rest?version=v3 ").unwrap(),
        canonical
    );
    assert_eq!(
        normalise_url("https://calendar-json.googleapis.com/$discovery/rest?version=v3").unwrap(),
        "https://www.googleapis.com/discovery/v1/apis/calendar/v3/rest"
    );
    for bad in [
        "http://www.googleapis.com/discovery/v1/apis/drive/v3/rest",
        "https://www.googleapis.com/discovery/v1/apis/drive/v3/rest?x=1",
        "https://www.googleapis.com/drive/v3/files",
        "https://drive.googleapis.com/$discovery/rest?version=v3&key=k",
        "https://drive.googleapis.com/$discovery/rest",
        "https://u:p@example.com/rest",
        "https://example.com/rest#x",
        "ftp://example.com/rest",
        "not a url",
    ] {
        let e = normalise_url(bad).unwrap_err();
        assert!(matches!(e, OpenApiError::Parse(_)), "{bad}: {e:?}");
    }
    // Non-Google URLs are taken as they are (self-hosted documents, loopback tests).
    assert_eq!(
        normalise_url("http://127.0.0.1:9/discovery/v1/apis/tasks/v1/rest").unwrap(),
        "http://127.0.0.1:9/discovery/v1/apis/tasks/v1/rest"
    );
}

#[test]
fn scopes_are_compacted() {
    let scopes: BTreeSet<String> = [
        "https://mail.google.com/",
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/drive",
        "https://www.googleapis.com/auth/drive.file",
        "https://www.googleapis.com/auth/chat.bot",
        "https://www.googleapis.com/auth/chat.app.spaces",
        "https://www.googleapis.com/auth/keep",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        compact_scopes(&scopes),
        [
            "email",
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/drive",
            "profile"
        ]
    );
}

#[test]
fn methods_become_tools_named_by_method_id() {
    let tools = tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tasks.getStatus",
            "tasks.tasklists.insert",
            "tasks.tasklists.list",
            "tasks.tasks.comments.list",
            "tasks.tasks.delete",
            "tasks.tasks.insert",
            "tasks.tasks.list",
        ]
    );
    let converted = convert(vec![tasks_document("https://tasks.example.com/")]).unwrap();
    assert_eq!(converted.method_count, 7);
    assert_eq!(converted.titles, ["Tasks API"]);
    assert_eq!(
        converted.scopes,
        [
            "email",
            "https://www.googleapis.com/auth/tasks",
            "https://www.googleapis.com/auth/tasks.readonly"
        ]
    );
}

#[test]
fn parameters_bodies_and_outputs() {
    let tools = tools();
    let list = tool(&tools, "tasks.tasks.list");
    assert_eq!(list.description, "Lists the tasks of a list.");
    assert_eq!(
        list.binding.path_template,
        "/tasks/v1/lists/{tasklist}/tasks"
    );
    assert_eq!(list.binding.servers[0].url, "https://tasks.example.com/");
    assert!(list.annotations.requires_approval.is_none());
    let input = list.input_schema.as_ref().unwrap();
    assert_eq!(input["required"], json!(["tasklist"]));
    assert_eq!(
        input["properties"]["labels"],
        json!({"type": "array", "items": {"type": "string"},
               "description": "Only tasks with all of these labels."})
    );
    assert_eq!(
        input["properties"]["showCompleted"],
        json!({"type": "boolean", "default": true})
    );
    // The method's own `fields` wins over the document-level one.
    assert_eq!(
        input["properties"]["fields"]["description"],
        "Fields of each task to return."
    );
    assert_eq!(input["properties"]["prettyPrint"]["type"], "boolean");
    let labels = list
        .binding
        .parameters
        .iter()
        .find(|p| p.name == "labels")
        .unwrap();
    assert_eq!(
        (labels.location, labels.explode, labels.style.as_deref()),
        (ParameterLocation::Query, Some(true), Some("form"))
    );
    assert_eq!(
        list.output_schema.as_ref().unwrap(),
        &json!({"$ref": "#/$defs/tasks_v1_Tasks"})
    );

    let comments = tool(&tools, "tasks.tasks.comments.list");
    assert_eq!(
        comments.binding.path_template,
        "/tasks/v1/{+parent}/comments"
    );
    let parent = &comments.binding.parameters[0];
    assert_eq!(
        (parent.name.as_str(), parent.required, parent.allow_reserved),
        ("parent", true, Some(true))
    );

    let insert = tool(&tools, "tasks.tasks.insert");
    assert_eq!(insert.annotations.requires_approval, Some(true));
    assert_eq!(
        insert.annotations.approval_description.as_deref(),
        Some("POST /tasks/v1/lists/{tasklist}/tasks")
    );
    let input = insert.input_schema.as_ref().unwrap();
    assert_eq!(
        input["properties"]["body"],
        json!({"$ref": "#/$defs/tasks_v1_Task"})
    );
    assert_eq!(input["required"], json!(["tasklist"]));
    let delete = tool(&tools, "tasks.tasks.delete");
    assert_eq!(delete.annotations.requires_approval, Some(true));
    assert_eq!(
        tool(&tools, "tasks.getStatus").output_schema,
        Some(json!({}))
    );
}

#[test]
fn schemas_are_converted_under_the_document_prefix() {
    let converted = convert(vec![tasks_document("https://tasks.example.com/")]).unwrap();
    let doc: Value = serde_json::from_str(&converted.text).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["tasks_v1_TaskList"],
        json!({"type": "object", "description": "A named list of tasks.", "required": ["title"],
               "properties": {
                   "id": {"type": "string", "description": "Identifier of the list."},
                   "title": {"type": "string", "description": "Title of the list."},
                   "updated": {"type": "string", "format": "date-time", "readOnly": true}}})
    );
    let task = &schemas["tasks_v1_Task"]["properties"];
    assert_eq!(task["metadata"], json!({}));
    assert_eq!(
        task["extra"],
        json!({"type": "object", "additionalProperties": {"type": "string"}})
    );
    assert_eq!(
        schemas["tasks_v1_Tasks"]["properties"]["items"]["items"],
        json!({"$ref": "#/components/schemas/tasks_v1_Task"})
    );
    let security = &doc["paths"]["/tasks/v1/users/@me/lists"]["post"]["security"];
    assert_eq!(
        security,
        &json!([{"googleOAuth2": ["https://www.googleapis.com/auth/tasks"]}])
    );
}

#[test]
fn bundles_merge_documents_and_disambiguate_colliding_paths() {
    let mut other = tasks_document("https://other.example.com/");
    other["name"] = json!("tasks2");
    let converted = convert(vec![tasks_document("https://tasks.example.com/"), other]).unwrap();
    let tools = derive_all_tools(&parse(converted.text).unwrap());
    assert_eq!(tools.len(), 14);
    // Method ids are the names, so the second document's ids collide with the first's and the
    // OpenAPI naming rounds make them unique.
    let names: BTreeSet<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 14);
    let servers: BTreeSet<&str> = tools
        .iter()
        .map(|t| t.binding.servers[0].url.as_str())
        .collect();
    assert_eq!(
        servers.into_iter().collect::<Vec<_>>(),
        ["https://other.example.com/", "https://tasks.example.com/"]
    );
}

#[test]
fn broken_documents_are_parse_errors() {
    for (doc, needle) in [
        (json!([]), "not a JSON object"),
        (json!({"version": "v1", "rootUrl": "https://x/"}), "`name`"),
        (json!({"name": "x", "rootUrl": "https://x/"}), "`version`"),
        (json!({"name": "x", "version": "v1"}), "`rootUrl`"),
        (
            json!({"name": "x", "version": "v1", "rootUrl": "https://x/",
                   "methods": {"m": {"id": "x.m", "httpMethod": "GET"}}}),
            "has no `path`",
        ),
    ] {
        let e = convert(vec![doc]).unwrap_err();
        assert!(
            matches!(&e, OpenApiError::Parse(m) if m.contains(needle)),
            "{e:?}"
        );
    }
    assert!(convert(Vec::new()).is_err());
}

#[test]
fn a_large_synthetic_document_converts_in_bounded_time() {
    // 40 resources × 50 methods with a few schemas each: about the size of Google's biggest.
    let mut resources = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in 0..40 {
        let mut methods = serde_json::Map::new();
        for m in 0..50 {
            methods.insert(
                format!("m{m}"),
                json!({"id": format!("big.r{r}.m{m}"), "path": format!("v1/r{r}/{{+name}}/m{m}"),
                       "httpMethod": if m % 2 == 0 { "GET" } else { "POST" },
                       "description": "x".repeat(200),
                       "parameters": {"name": {"type": "string", "location": "path", "required": true},
                                      "pageSize": {"type": "integer", "location": "query"}},
                       "request": {"$ref": format!("S{r}")}, "response": {"$ref": format!("S{r}")},
                       "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}),
            );
        }
        resources.insert(format!("r{r}"), json!({"methods": methods}));
        schemas.insert(
            format!("S{r}"),
            json!({"id": format!("S{r}"), "type": "object", "properties": {
                "a": {"type": "string"}, "b": {"type": "array", "items": {"$ref": format!("S{r}")}}}}),
        );
    }
    let doc = json!({"name": "big", "version": "v1", "rootUrl": "https://big.example.com/",
                     "schemas": schemas, "resources": resources});
    let bytes = doc.to_string().len();
    let started = std::time::Instant::now();
    let converted = convert(vec![doc]).unwrap();
    let parsed = parse(converted.text).unwrap();
    let count = crate::plugins::openapi::plan_tools(&parsed).len();
    eprintln!(
        "synthetic discovery: {bytes} bytes, {count} tools, convert+parse+plan {:?}",
        started.elapsed()
    );
    assert_eq!(count, 2000);
}

/// Found while writing the `google_discovery` fuzz target: document-level parameters are copied
/// into every method, so a small document (many shared parameters × many methods) expanded into
/// gigabytes. The bundle's parameters are now bounded.
#[test]
fn shared_parameters_times_methods_are_bounded() {
    let parameters: serde_json::Map<String, Value> = (0..400)
        .map(|i| {
            (
                format!("p{i}"),
                json!({"type": "string", "location": "query"}),
            )
        })
        .collect();
    let methods: serde_json::Map<String, Value> = (0..400)
        .map(|i| (format!("m{i}"), json!({"path": format!("m{i}")})))
        .collect();
    let doc = json!({"name": "big", "version": "v1", "rootUrl": "https://big.example/",
        "parameters": parameters, "methods": methods});
    let error = convert(vec![doc]).unwrap_err();
    assert!(error.to_string().contains("parameters"), "{error}");
}
