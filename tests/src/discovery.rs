//! A loopback Google-Discovery-style API for the e2e suite, served by the [`crate::upstream`]
//! stand-in: the tasks-like Discovery document of `tests/fixtures/discovery/tasks.v1.json` (its
//! `rootUrl` pointed at the stand-in) and the API it describes under `/tasks/v1/`. Calls need
//! `Authorization: Bearer …` (any non-empty token), as Google's do; the stand-in never echoes it.

use serde_json::{json, Value};

/// The fixture with `rootUrl` = `root_url` (which ends with `/`).
pub fn document(root_url: &str) -> std::io::Result<Value> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/discovery/tasks.v1.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    doc["rootUrl"] = json!(root_url);
    Ok(doc)
}

/// The answer (status, JSON) to `method /tasks/v1/<rest>`, given the tasks stored so far.
pub fn answer(
    method: &str,
    rest: &str,
    authorization: Option<&str>,
    body: &[u8],
    tasks: &mut Vec<Value>,
) -> (u16, Value) {
    let bearer = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|t| !t.is_empty());
    if !bearer {
        return (
            401,
            json!({"error": {"code": 401, "message": "Request is missing a bearer token."}}),
        );
    }
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["status"]) => (200, json!({"up": true})),
        ("GET", ["users", "@me", "lists"]) => {
            (200, json!({"items": [{"id": "L1", "title": "Shopping"}]}))
        }
        ("GET", ["lists", list, "tasks"]) => {
            let items: Vec<&Value> = tasks.iter().filter(|t| t["list"] == *list).collect();
            (200, json!({ "items": items }))
        }
        ("POST", ["lists", list, "tasks"]) => {
            let Ok(mut task) = serde_json::from_slice::<Value>(body) else {
                return (
                    400,
                    json!({"error": {"code": 400, "message": "body is not JSON"}}),
                );
            };
            task["id"] = json!(format!("t{}", tasks.len() + 1));
            task["list"] = json!(list);
            tasks.push(task.clone());
            (200, task)
        }
        ("GET", ["lists", list, "tasks", task, "comments"]) => (
            200,
            json!({"comments": [{"name": format!("lists/{list}/tasks/{task}/comments/c1"), "text": "first"}]}),
        ),
        _ => (
            404,
            json!({"error": {"code": 404, "message": "Requested entity was not found."}}),
        ),
    }
}
