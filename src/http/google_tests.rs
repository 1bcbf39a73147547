#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};

use crate::http::testing::TestWorld;
use crate::net::http::{OutboundRequest, OutboundResponse};
use crate::plugins::google::discovery::tests::tasks_document;

const ROOT: &str = "https://tasks.example.com/";
const DOC_URL: &str = "https://tasks.example.com/discovery/v1/apis/tasks/v1/rest";
const CANARY: &str = "canary-google-7d13aa";

async fn post(world: &TestWorld, path: &str, body: Value) -> (u16, Value) {
    let r = world.call("POST", path, Some(&body)).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

async fn get(world: &TestWorld, path: &str) -> (u16, Value) {
    let r = world.call("GET", path, None).await;
    (r.status, r.json_body().unwrap_or(Value::Null))
}

fn json_response(status: u16, body: Value) -> OutboundResponse {
    OutboundResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// Serves the Discovery document and a tiny tasks API; answers record what they saw.
fn serve(world: &TestWorld) -> Rc<RefCell<Vec<OutboundRequest>>> {
    world.http.serve(
        DOC_URL,
        "application/json",
        tasks_document(ROOT).to_string(),
    );
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    world.http.on(move |request| {
        let path = request
            .url
            .strip_prefix("https://tasks.example.com/tasks/v1/")?;
        log.borrow_mut().push(request.clone());
        let authorized = request
            .headers
            .iter()
            .any(|(n, v)| n == "authorization" && v == &format!("Bearer {CANARY}"));
        if !authorized {
            return Some(json_response(
                401,
                json!({"error": {"message": "no token"}}),
            ));
        }
        Some(
            match (request.method.as_str(), path.split('?').next().unwrap()) {
                ("GET", "lists/L1/tasks") => {
                    json_response(200, json!({"items": [{"id": "t1", "title": "milk"}]}))
                }
                ("GET", "lists/L1/tasks/T1/comments") => {
                    json_response(200, json!({"comments": [{"name": "c1", "text": "hi"}]}))
                }
                ("POST", "lists/L1/tasks") => {
                    let mut task: Value =
                        serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
                    task["id"] = json!("t2");
                    json_response(200, task)
                }
                _ => json_response(404, json!({"error": {"message": "no such route"}})),
            },
        )
    });
    seen
}

async fn execute(world: &TestWorld, code: &str) -> Value {
    let (status, body) = post(world, "/api/executions", json!({ "code": code })).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(CANARY), "{body}");
    body
}

#[tokio::test]
async fn add_by_url_then_call_from_execute() {
    let world = TestWorld::new();
    let seen = serve(&world);
    let (status, body) = post(
        &world,
        "/api/google/bundles",
        json!({"urls": [DOC_URL], "slug": "tasks"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"slug": "tasks", "toolCount": 7}));
    let (status, again) = post(
        &world,
        "/api/google/bundles",
        json!({"urls": [DOC_URL], "slug": "tasks"}),
    )
    .await;
    assert_eq!(
        (status, again["_tag"].clone()),
        (409, json!("IntegrationAlreadyExistsError"))
    );

    assert_eq!(
        get(&world, "/api/google/integrations/tasks").await.1,
        json!({"slug": "tasks", "description": "Google APIs", "kind": "google", "canRemove": true, "canRefresh": true})
    );
    let (_, config) = get(&world, "/api/google/integrations/tasks/config").await;
    assert_eq!(
        config,
        json!({"googleDiscoveryUrls": [DOC_URL], "baseUrl": null, "headers": null, "queryParams": null,
               "authenticationTemplate": [{"slug": "googleOAuth2", "kind": "oauth2",
                   "authorizationUrl": "https://accounts.google.com/o/oauth2/v2/auth",
                   "tokenUrl": "https://oauth2.googleapis.com/token",
                   "scopes": ["email", "https://www.googleapis.com/auth/tasks", "https://www.googleapis.com/auth/tasks.readonly"]}]})
    );
    assert_eq!(
        get(&world, "/api/google/integrations/nope").await,
        (200, Value::Null)
    );
    let (_, list) = get(&world, "/api/integrations").await;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slug"] == "tasks")
        .unwrap()
        .clone();
    assert_eq!(
        (entry["kind"].clone(), entry["name"].clone()),
        (json!("google"), json!("Google"))
    );
    assert_eq!(entry["displayUrl"], DOC_URL);
    assert_eq!(entry["authMethods"][0]["kind"], "oauth");

    // A bearer-token connection on the OAuth method (the OAuth flow would mint the same).
    let (status, body) = post(
        &world,
        "/api/connections",
        json!({"owner": "org", "name": "main", "integration": "tasks", "template": "googleOAuth2", "value": CANARY}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, tools) = get(&world, "/api/tools").await;
    let google: Vec<&Value> = tools
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["pluginId"] == "google")
        .collect();
    assert_eq!(google.len(), 7);
    assert!(google
        .iter()
        .any(|t| t["address"] == "tools.tasks.org.main.tasks.tasks.comments.list"));

    let found = execute(
        &world,
        "return await tools.search({ query: 'comments on a task' });",
    )
    .await;
    assert!(
        found
            .to_string()
            .contains("tasks.org.main.tasks.tasks.comments.list"),
        "{found}"
    );
    let described = execute(
        &world,
        "return await tools.describe.tool({ path: 'tasks.org.main.tasks.tasks.insert' });",
    )
    .await;
    assert!(
        described.to_string().contains("tasks_v1_Task"),
        "{described}"
    );

    let listed = execute(
        &world,
        "return await tools.tasks.org.main.tasks.tasks.list({ tasklist: 'L1', labels: ['home', 'urgent'], showCompleted: false });",
    )
    .await;
    assert_eq!(listed["structured"]["result"]["ok"], true, "{listed}");
    assert_eq!(
        listed["structured"]["result"]["data"],
        json!({"items": [{"id": "t1", "title": "milk"}]})
    );
    let comments = execute(
        &world,
        "return await tools.tasks.org.main.tasks.tasks.comments.list({ parent: 'lists/L1/tasks/T1' });",
    )
    .await;
    assert_eq!(
        comments["structured"]["result"]["data"]["comments"][0]["text"], "hi",
        "{comments}"
    );
    {
        let seen = seen.borrow();
        assert_eq!(
            seen[0].url,
            "https://tasks.example.com/tasks/v1/lists/L1/tasks?labels=home&labels=urgent&showCompleted=false"
        );
        // `{+parent}` keeps its slashes.
        assert_eq!(
            seen[1].url,
            "https://tasks.example.com/tasks/v1/lists/L1/tasks/T1/comments"
        );
    }

    // A POST pauses for approval and runs once when accepted.
    let paused = execute(
        &world,
        "return await tools.tasks.org.main.tasks.tasks.insert({ tasklist: 'L1', body: { title: 'bread', labels: ['shop'] } });",
    )
    .await;
    assert_eq!(paused["status"], "paused", "{paused}");
    assert_eq!(seen.borrow().len(), 2);
    let id = paused["structured"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, done) = post(
        &world,
        &format!("/api/executions/{id}/resume"),
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["structured"]["result"]["data"],
        json!({"title": "bread", "labels": ["shop"], "id": "t2"}),
        "{done}"
    );
    assert_eq!(seen.borrow().len(), 3);

    // Upstream errors are typed results.
    let missing = execute(
        &world,
        "return await tools.tasks.org.main.tasks.tasks.list({ tasklist: 'nope' });",
    )
    .await;
    assert_eq!(
        missing["structured"]["result"]["error"]["code"], "upstream_http_error",
        "{missing}"
    );

    // Refresh re-fetches the stored URL; nothing changed.
    let (status, refreshed) =
        post(&world, "/api/google/integrations/tasks/bundle", json!({})).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        refreshed,
        json!({"slug": "tasks", "toolCount": 7, "addedTools": [], "removedTools": []})
    );
    let (_, tools) = get(&world, "/api/tools").await;
    assert_eq!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["pluginId"] == "google")
            .count(),
        7
    );

    // Removal takes the tools and stored operations with it.
    let r = world
        .call("DELETE", "/api/google/integrations/tasks", None)
        .await;
    assert_eq!(r.status, 204);
    let rows = world
        .sql
        .query(crate::store::Statement::new(
            "SELECT COUNT(*) AS n FROM plugin_storage WHERE plugin_id = 'google'",
            vec![],
        ))
        .await;
    use crate::store::Sql;
    let _ = &rows;
    assert_eq!(rows.unwrap()[0]["n"], 0);
    let (_, tools) = get(&world, "/api/tools").await;
    assert!(tools
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["pluginId"] != "google"));
}

#[tokio::test]
async fn add_inline_and_update_config() {
    let world = TestWorld::new();
    let (status, body) = post(
        &world,
        "/api/google/bundles",
        json!({"documents": [tasks_document(ROOT).to_string()], "name": "My tasks"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["slug"], "google");
    assert!(
        world.http.requests.borrow().is_empty(),
        "no fetch for inline documents"
    );
    let (_, view) = get(&world, "/api/google/integrations/google").await;
    assert_eq!(view["canRefresh"], false);
    let (_, config) = get(&world, "/api/google/integrations/google/config").await;
    assert_eq!(config["googleDiscoveryUrls"], Value::Null);

    let (status, body) = post(
        &world,
        "/api/google/integrations/google/config",
        json!({"authenticationTemplate": [{"type": "apiKey", "queryParams": {"key": [{"type": "variable", "name": "token"}]}}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let slugs: Vec<&str> = body["authenticationTemplate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs.len(), 2);
    assert_eq!(slugs[0], "googleOAuth2");

    // An inline bundle has nothing to re-fetch.
    let (status, body) = post(&world, "/api/google/integrations/google/bundle", json!({})).await;
    assert_eq!(
        (status, body["_tag"].clone()),
        (400, json!("OpenApiParseError")),
        "{body}"
    );
    // New inline documents replace it.
    let mut smaller = tasks_document(ROOT);
    smaller["resources"]["tasks"]["resources"] = json!({});
    let (status, body) = post(
        &world,
        "/api/google/integrations/google/bundle",
        json!({"documents": [smaller]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["removedTools"], json!(["tasks.tasks.comments.list"]));
    assert_eq!(body["toolCount"], 6);
}

#[tokio::test]
async fn bad_input_is_a_typed_400_and_writes_nothing() {
    let world = TestWorld::new();
    for body in [
        json!({}),
        json!({"urls": ["https://www.googleapis.com/drive/v3/files"]}),
        json!({"urls": ["ftp://example.com/x"]}),
        json!({"documents": ["{not json"]}),
        json!({"documents": [{"name": "x"}]}),
        json!({"urls": ["https://unreachable.example.com/discovery/rest"]}),
        json!({"documents": [tasks_document(ROOT)], "slug": "bad slug"}),
    ] {
        let (status, answer) = post(&world, "/api/google/bundles", body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
    }
    let (_, list) = get(&world, "/api/integrations").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let stored = world
        .sql
        .query(crate::store::Statement::new(
            "SELECT COUNT(*) AS n FROM plugin_storage",
            vec![],
        ))
        .await;
    use crate::store::Sql;
    let _ = &stored;
    assert_eq!(stored.unwrap()[0]["n"], 0);
}

#[tokio::test]
async fn detection_recognises_discovery_documents() {
    let world = TestWorld::new();
    serve(&world);
    let (_, found) = post(&world, "/api/integrations/detect", json!({"url": DOC_URL})).await;
    assert_eq!(
        found,
        json!([{"kind": "google", "confidence": "high", "endpoint": DOC_URL, "name": "Tasks API", "slug": "tasks_api"}])
    );
    // A Google Discovery URL that cannot be fetched here is still likely one.
    let (_, found) = post(
        &world,
        "/api/integrations/detect",
        json!({"url": "https://drive.googleapis.com/$discovery/rest?version=v3"}),
    )
    .await;
    assert_eq!(
        found,
        json!([{"kind": "google", "confidence": "medium",
                "endpoint": "https://www.googleapis.com/discovery/v1/apis/drive/v3/rest",
                "name": "Google", "slug": "google"}])
    );
    let (_, found) = post(
        &world,
        "/api/integrations/detect",
        json!({"url": "https://tasks.example.com/other"}),
    )
    .await;
    assert_eq!(found, json!([]));
}
