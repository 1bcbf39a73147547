//! Route-level tests of `/api/connections…` and `/api/providers…` through the router.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::auth::Principal;
use crate::connections::service::{self, ConnectionKey};
use crate::http::testing::TestWorld;
use crate::http::Response;
use crate::owner::Owner;
use crate::store::{Sql, Statement};

fn petstore_config() -> Value {
    json!({
        "sourceUrl": null,
        "authenticationTemplate": [
            {"slug": "apikey-0", "kind": "apikey", "placements": [{"carrier": "header", "name": "X-API-Key"}]},
            {"slug": "anon", "kind": "none"}
        ]
    })
}

async fn world() -> TestWorld {
    let world = TestWorld::new();
    world
        .add_integration("petstore", "openapi", Some(&petstore_config()))
        .await;
    world
}

fn body(response: &Response) -> Value {
    response.json_body().unwrap_or(Value::Null)
}

/// Wire 20's request.
fn wire20_request(value: &str) -> Value {
    json!({
        "owner": "org",
        "name": "main",
        "integration": "petstore",
        "template": "apikey-0",
        "value": value,
        "identityLabel": "baseline key"
    })
}

fn wire20_response() -> Value {
    json!({
        "owner": "org",
        "name": "main",
        "integration": "petstore",
        "template": "apikey-0",
        "provider": "encrypted",
        "address": "tools.petstore.org.main",
        "identityLabel": "baseline key",
        "description": null,
        "expiresAt": null,
        "oauthClient": null,
        "oauthClientOwner": null,
        "oauthScope": null
    })
}

fn principal(world: &TestWorld, user: &str) -> Principal {
    let mut p = crate::auth::dev_principal(&world.config);
    p.account_id = user.into();
    p
}

async fn credentials_as(
    world: &TestWorld,
    user: &str,
    owner: Owner,
    name: &str,
) -> Option<Vec<(String, Option<String>)>> {
    let key = ConnectionKey {
        owner,
        integration: "petstore".into(),
        name: name.into(),
    };
    service::resolve_credentials(world.services(), &principal(world, user), &key)
        .await
        .ok()
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| (k, v.map(|v| v.expose().to_string())))
                .collect()
        })
}

async fn count(world: &TestWorld, sql: &'static str) -> i64 {
    let rows = world.sql.query(Statement::new(sql, vec![])).await.unwrap();
    rows[0]["n"].as_i64().unwrap()
}

#[tokio::test]
async fn wire_20_to_24_shapes() {
    let w = world().await;
    let r = w
        .call("POST", "/api/connections", Some(&wire20_request("k-123")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(body(&r), wire20_response());
    // Key order as upstream.
    assert!(String::from_utf8_lossy(&r.body).starts_with(r#"{"owner":"org","name":"main","#));

    let r = w.call("GET", "/api/connections", None).await;
    assert_eq!((r.status, body(&r)), (200, json!([wire20_response()])));

    let r = w
        .call("GET", "/api/connections/org/petstore/main", None)
        .await;
    assert_eq!((r.status, body(&r)), (200, wire20_response()));

    let r = w.call("GET", "/api/providers", None).await;
    assert_eq!((r.status, body(&r)), (200, json!(["encrypted"])));

    let r = w.call("GET", "/api/providers/encrypted/items", None).await;
    assert_eq!(
        (r.status, body(&r)),
        (
            200,
            json!([{"id": "connection:org:petstore:main:token", "name": "connection:org:petstore:main:token"}])
        )
    );
    let r = w.call("GET", "/api/providers/vault/items", None).await;
    assert_eq!((r.status, body(&r)), (200, json!([])));

    let r = w
        .call("GET", "/api/connections/org/petstore/missing", None)
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            404,
            json!({"_tag": "ConnectionNotFoundError", "owner": "org", "integration": "petstore", "name": "missing"})
        )
    );
}

#[tokio::test]
async fn only_routes_that_seal_or_open_secrets_use_the_key() {
    let w = world().await;
    let mut none = wire20_request("v");
    none["template"] = json!("anon");
    none["values"] = json!({});
    none.as_object_mut().unwrap().remove("value");
    let r = w.call("POST", "/api/connections", Some(&none)).await;
    assert_eq!(r.status, 200);
    for (method, path, body) in [
        ("GET", "/api/connections", None),
        ("GET", "/api/connections/org/petstore/main", None),
        (
            "PATCH",
            "/api/connections/org/petstore/main",
            Some(json!({"description": "d"})),
        ),
        ("POST", "/api/connections/org/petstore/main/refresh", None),
        ("GET", "/api/providers", None),
        ("GET", "/api/providers/encrypted/items", None),
        ("DELETE", "/api/connections/org/petstore/main", None),
    ] {
        let r = w.call(method, path, body.as_ref()).await;
        assert_eq!(r.status, 200, "{method} {path}");
    }
    assert_eq!(w.keyring.uses.get(), 0, "no route above needs the key");
    w.call("POST", "/api/connections", Some(&wire20_request("v")))
        .await;
    assert_eq!(w.keyring.uses.get(), 1, "sealing one value derives once");
}

#[tokio::test]
async fn exactly_one_origin_else_400() {
    let w = world().await;
    // Wire 21.
    let two = json!({"owner": "org", "name": "bad", "integration": "petstore",
        "template": "apikey-0", "value": "x", "values": {"token": "y"}});
    let none =
        json!({"owner": "org", "name": "bad", "integration": "petstore", "template": "apikey-0"});
    let three = json!({"owner": "org", "name": "bad", "integration": "petstore", "template": "apikey-0",
        "value": "x", "values": {}, "from": {"provider": "encrypted", "id": "i"}});
    for request in [two, none, three] {
        let r = w.call("POST", "/api/connections", Some(&request)).await;
        assert_eq!(r.status, 400, "{request}");
        assert_eq!(body(&r)["_tag"], "HttpApiSchemaError");
    }
    for raw in [&b"{not json"[..], b"", b"[]", b"null"] {
        let r = w
            .send_raw(Some("dev"), "POST", "/api/connections", Some(raw))
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(body(&r)["_tag"], "HttpApiSchemaError");
    }
    let r = w.call("GET", "/api/connections", None).await;
    assert_eq!(body(&r), json!([]), "nothing was written");
}

#[tokio::test]
async fn unknown_or_built_in_integration_is_404() {
    let w = world().await;
    for slug in ["nope", "executor"] {
        let mut request = wire20_request("v");
        request["integration"] = json!(slug);
        let r = w.call("POST", "/api/connections", Some(&request)).await;
        assert_eq!(
            (r.status, body(&r)),
            (
                404,
                json!({"_tag": "IntegrationNotFoundError", "slug": slug})
            )
        );
    }
    assert_eq!(
        count(&w, "SELECT COUNT(*) AS n FROM plugin_storage").await,
        0
    );
}

#[tokio::test]
async fn name_is_normalised_on_post_only() {
    let w = world().await;
    let mut request = wire20_request("v");
    request["name"] = json!("My API token");
    let r = w.call("POST", "/api/connections", Some(&request)).await;
    assert_eq!(r.status, 200);
    assert_eq!(body(&r)["name"], "myApiToken");
    assert_eq!(body(&r)["address"], "tools.petstore.org.myApiToken");

    // Paths use the stored name verbatim (percent-decoded, never normalised).
    let r = w
        .call(
            "GET",
            "/api/connections/org/petstore/My%20API%20token",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .call("GET", "/api/connections/org/petstore/myApiToken", None)
        .await;
    assert_eq!(r.status, 200);
    let r = w
        .call("GET", "/api/connections/%6Frg/petstore/myApiToken", None)
        .await;
    assert_eq!(r.status, 200, "path parameters are percent-decoded");

    let r = w.call("GET", "/api/providers/encrypted/items", None).await;
    assert_eq!(
        body(&r)[0]["id"],
        "connection:org:petstore:myApiToken:token"
    );
}

#[tokio::test]
async fn post_upserts_the_same_owner_integration_name() {
    let w = world().await;
    let mut first = wire20_request("old");
    first["description"] = json!("kept");
    w.call("POST", "/api/connections", Some(&first)).await;

    let mut second = wire20_request("new");
    second["identityLabel"] = json!("second key");
    let r = w.call("POST", "/api/connections", Some(&second)).await;
    assert_eq!(r.status, 200);
    assert_eq!(body(&r)["identityLabel"], "second key");
    assert_eq!(
        body(&r)["description"],
        "kept",
        "description changes only if given"
    );
    let r = w.call("GET", "/api/connections", None).await;
    assert_eq!(body(&r).as_array().unwrap().len(), 1);
    assert_eq!(
        credentials_as(&w, "dev", Owner::Org, "main").await,
        Some(vec![("token".into(), Some("new".into()))])
    );

    let mut third = wire20_request("new");
    third["description"] = Value::Null;
    third.as_object_mut().unwrap().remove("identityLabel");
    let r = w.call("POST", "/api/connections", Some(&third)).await;
    assert_eq!(body(&r)["description"], Value::Null);
    assert_eq!(body(&r)["identityLabel"], Value::Null);

    // A user connection with the same name is a different connection.
    let mut mine = wire20_request("u");
    mine["owner"] = json!("user");
    let r = w.call("POST", "/api/connections", Some(&mine)).await;
    assert_eq!(body(&r)["address"], "tools.petstore.user.main");
    let r = w.call("GET", "/api/connections", None).await;
    assert_eq!(body(&r).as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn org_secrets_live_in_the_org_partition_and_user_rows_stay_private() {
    let w = world().await;
    // Alice creates the org connection; Bob can resolve it (upstream's defect, §14 #2, fixed).
    let r = w
        .send(
            Some("alice"),
            "POST",
            "/api/connections",
            Some(&wire20_request("org-key")),
        )
        .await;
    assert_eq!(r.status, 200);
    let rows = w
        .sql
        .query(Statement::new(
            "SELECT owner, subject, plugin_id, collection, key FROM plugin_storage",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(
        Value::Array(rows.into_iter().map(Value::Object).collect()),
        json!([{"owner": "org", "subject": "", "plugin_id": "encryptedSecrets",
            "collection": "secrets", "key": "connection:org:petstore:main:token"}])
    );
    assert_eq!(
        credentials_as(&w, "bob", Owner::Org, "main").await,
        Some(vec![("token".into(), Some("org-key".into()))])
    );

    // Alice's user connection: invisible to Bob everywhere.
    let mut mine = wire20_request("alice-key");
    mine["owner"] = json!("user");
    mine["name"] = json!("personal");
    let r = w
        .send(Some("alice"), "POST", "/api/connections", Some(&mine))
        .await;
    assert_eq!(r.status, 200);
    let names = |r: &Response| -> Vec<String> {
        body(r)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["address"].as_str().unwrap().to_string())
            .collect()
    };
    let r = w.send(Some("alice"), "GET", "/api/connections", None).await;
    assert_eq!(
        names(&r),
        ["tools.petstore.org.main", "tools.petstore.user.personal"]
    );
    let r = w.send(Some("bob"), "GET", "/api/connections", None).await;
    assert_eq!(names(&r), ["tools.petstore.org.main"]);
    let r = w
        .send(
            Some("bob"),
            "GET",
            "/api/connections/user/petstore/personal",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    for (method, path) in [
        ("PATCH", "/api/connections/user/petstore/personal"),
        ("DELETE", "/api/connections/user/petstore/personal"),
        ("POST", "/api/connections/user/petstore/personal/refresh"),
    ] {
        let r = w
            .send(
                Some("bob"),
                method,
                path,
                Some(&json!({"description": "x"})),
            )
            .await;
        assert_eq!(r.status, 404, "{method} {path}");
    }
    assert_eq!(
        credentials_as(&w, "bob", Owner::User, "personal").await,
        None
    );
    assert_eq!(
        credentials_as(&w, "alice", Owner::User, "personal").await,
        Some(vec![("token".into(), Some("alice-key".into()))])
    );
    let items = |r: &Response| -> Vec<String> {
        body(r)
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let r = w
        .send(Some("bob"), "GET", "/api/providers/encrypted/items", None)
        .await;
    assert_eq!(items(&r), ["connection:org:petstore:main:token"]);
    let r = w
        .send(Some("alice"), "GET", "/api/providers/encrypted/items", None)
        .await;
    assert_eq!(
        items(&r),
        [
            "connection:org:petstore:main:token",
            "connection:user:petstore:personal:token"
        ]
    );
}

#[tokio::test]
async fn list_filters() {
    let w = world().await;
    w.add_integration("zoo", "openapi", None).await;
    w.call("POST", "/api/connections", Some(&wire20_request("a")))
        .await;
    let mut zoo = wire20_request("b");
    zoo["integration"] = json!("zoo");
    zoo["owner"] = json!("user");
    w.call("POST", "/api/connections", Some(&zoo)).await;
    let addresses = |r: Response| -> Vec<String> {
        body(&r)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["address"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        addresses(
            w.call("GET", "/api/connections?integration=zoo", None)
                .await
        ),
        ["tools.zoo.user.main"]
    );
    assert_eq!(
        addresses(w.call("GET", "/api/connections?owner=org", None).await),
        ["tools.petstore.org.main"]
    );
    assert_eq!(
        addresses(
            w.call("GET", "/api/connections?owner=org&integration=zoo", None)
                .await
        ),
        Vec::<String>::new()
    );
    let r = w.call("GET", "/api/connections?owner=team", None).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn patch_absent_keeps_null_clears() {
    let w = world().await;
    w.call("POST", "/api/connections", Some(&wire20_request("v")))
        .await;
    // Wire 88.
    let r = w
        .call(
            "PATCH",
            "/api/connections/org/petstore/main",
            Some(&json!({"description": "petstore key"})),
        )
        .await;
    let mut expected = wire20_response();
    expected["description"] = json!("petstore key");
    assert_eq!((r.status, body(&r)), (200, expected.clone()));

    let r = w
        .call(
            "PATCH",
            "/api/connections/org/petstore/main",
            Some(&json!({"identityLabel": null})),
        )
        .await;
    expected["identityLabel"] = Value::Null;
    assert_eq!((r.status, body(&r)), (200, expected.clone()));

    let r = w
        .call(
            "PATCH",
            "/api/connections/org/petstore/main",
            Some(&json!({})),
        )
        .await;
    assert_eq!((r.status, body(&r)), (200, expected));

    let r = w
        .call(
            "PATCH",
            "/api/connections/org/petstore/main",
            Some(&json!({"description": 5})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = w
        .call(
            "PATCH",
            "/api/connections/org/petstore/other",
            Some(&json!({"description": "x"})),
        )
        .await;
    assert_eq!(body(&r)["_tag"], "ConnectionNotFoundError");
}

async fn insert_tool(w: &TestWorld, connection: &str, name: &str) {
    w.exec(
        "INSERT INTO tool (row_id, tenant, owner, subject, integration, connection, plugin_id, \
         name, description, created_at, updated_at) \
         VALUES (?1, 'default', 'org', '', 'petstore', ?2, 'openapi', ?3, ?4, 1, 1)",
        vec![
            crate::ids::uuid_v4().into(),
            connection.into(),
            name.into(),
            format!("{name} does things").into(),
        ],
    )
    .await;
    w.exec(
        "INSERT INTO definition (row_id, tenant, owner, subject, integration, connection, \
         plugin_id, name, schema, created_at) \
         VALUES (?1, 'default', 'org', '', 'petstore', ?2, 'openapi', ?3, '{}', 1)",
        vec![
            crate::ids::uuid_v4().into(),
            connection.into(),
            format!("Def{name}").into(),
        ],
    )
    .await;
}

#[tokio::test]
async fn delete_removes_the_connection_and_its_tool_rows() {
    let w = world().await;
    w.call("POST", "/api/connections", Some(&wire20_request("v")))
        .await;
    let mut other = wire20_request("v2");
    other["name"] = json!("other");
    w.call("POST", "/api/connections", Some(&other)).await;
    insert_tool(&w, "main", "listPets").await;
    insert_tool(&w, "main", "getPet").await;
    insert_tool(&w, "other", "listPets").await;

    let r = w
        .call("DELETE", "/api/connections/org/petstore/main", None)
        .await;
    assert_eq!((r.status, body(&r)), (200, json!({"removed": true})));
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) AS n FROM tool WHERE connection = 'main'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) AS n FROM definition WHERE connection = 'main'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) AS n FROM tool WHERE connection = 'other'"
        )
        .await,
        1
    );
    // Provider secrets are not deleted (as upstream).
    assert_eq!(
        count(&w, "SELECT COUNT(*) AS n FROM plugin_storage").await,
        2
    );
    let r = w
        .call("GET", "/api/connections/org/petstore/main", None)
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .call("DELETE", "/api/connections/org/petstore/main", None)
        .await;
    assert_eq!(body(&r)["_tag"], "ConnectionNotFoundError");
}

#[tokio::test]
async fn refresh_answers_the_connection_tools() {
    let w = world().await;
    w.call("POST", "/api/connections", Some(&wire20_request("v")))
        .await;
    let r = w
        .call("POST", "/api/connections/org/petstore/main/refresh", None)
        .await;
    assert_eq!((r.status, body(&r)), (200, json!([])));
    // Production replaces the connection's rows wholesale: this integration has no stored
    // operations (its row was inserted by hand), so a stray row does not survive a refresh.
    // (`src/http/openapi/tests.rs` covers production from a real spec.)
    insert_tool(&w, "main", "listPets").await;
    let r = w
        .call("POST", "/api/connections/org/petstore/main/refresh", None)
        .await;
    assert_eq!((r.status, body(&r)), (200, json!([])));
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) AS n FROM definition WHERE connection = 'main'"
        )
        .await,
        0
    );
    let r = w
        .call("POST", "/api/connections/org/petstore/nope/refresh", None)
        .await;
    assert_eq!(body(&r)["_tag"], "ConnectionNotFoundError");

    // The integration vanished under the connection.
    w.exec("DELETE FROM integration WHERE slug = 'petstore'", vec![])
        .await;
    let r = w
        .call("POST", "/api/connections/org/petstore/main/refresh", None)
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            404,
            json!({"_tag": "IntegrationNotFoundError", "slug": "petstore"})
        )
    );
}

#[tokio::test]
async fn owner_path_parameter_must_be_org_or_user() {
    let w = world().await;
    for (method, path) in [
        ("GET", "/api/connections/team/petstore/main"),
        ("PATCH", "/api/connections/Org/petstore/main"),
        ("DELETE", "/api/connections/x/petstore/main"),
        ("POST", "/api/connections/foo/petstore/main/refresh"),
    ] {
        let r = w.call(method, path, Some(&json!({}))).await;
        assert_eq!(r.status, 400, "{method} {path}");
        assert_eq!(body(&r)["_tag"], "HttpApiSchemaError");
    }
    let mut bad = wire20_request("v");
    bad["owner"] = json!("team");
    let r = w.call("POST", "/api/connections", Some(&bad)).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn every_route_needs_identity() {
    let w = world().await;
    for (method, path) in [
        ("GET", "/api/connections"),
        ("POST", "/api/connections"),
        ("GET", "/api/connections/org/petstore/main"),
        ("PATCH", "/api/connections/org/petstore/main"),
        ("DELETE", "/api/connections/org/petstore/main"),
        ("POST", "/api/connections/org/petstore/main/refresh"),
        ("GET", "/api/connections/bogus/petstore/main"),
        ("GET", "/api/providers"),
        ("GET", "/api/providers/encrypted/items"),
    ] {
        let r = w.send(None, method, path, Some(&wire20_request("v"))).await;
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.body, b"Unauthorized");
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    }
    assert_eq!(count(&w, "SELECT COUNT(*) AS n FROM connection").await, 0);
}

#[tokio::test]
async fn credential_input_rules() {
    let w = world().await;
    let base =
        json!({"owner": "org", "name": "n", "integration": "petstore", "template": "apikey-0"});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };

    let r = w
        .call(
            "POST",
            "/api/connections",
            Some(&with(json!({"values": {}}))),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            400,
            json!({"_tag": "InvalidConnectionInputError",
                "message": "A connection must supply at least one credential input."})
        )
    );
    // A `none` template needs no inputs.
    let r = w
        .call(
            "POST",
            "/api/connections",
            Some(&with(json!({"values": {}, "template": "anon"}))),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)["template"].clone()),
        (200, json!("anon"))
    );

    let r = w
        .call(
            "POST",
            "/api/connections",
            Some(&with(json!({"from": {"provider": "vault", "id": "x"}}))),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)),
        (
            409,
            json!({"_tag": "CredentialProviderNotRegisteredError", "provider": "vault"})
        )
    );

    // `from` an existing encrypted item: no new secret row, the item is referenced.
    w.call("POST", "/api/connections", Some(&wire20_request("shared")))
        .await;
    let r = w
        .call(
            "POST",
            "/api/connections",
            Some(&with(json!({"name": "alias", "from":
                {"provider": "encrypted", "id": "connection:org:petstore:main:token"}}))),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)["provider"].clone()),
        (200, json!("encrypted"))
    );
    assert_eq!(
        credentials_as(&w, "dev", Owner::Org, "alias").await,
        Some(vec![("token".into(), Some("shared".into()))])
    );

    // Several pasted values, one item each.
    let r = w
        .call(
            "POST",
            "/api/connections",
            Some(&with(
                json!({"name": "multi", "values": {"user": "u", "pass": "p"}}),
            )),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        credentials_as(&w, "dev", Owner::Org, "multi").await,
        Some(vec![
            ("pass".into(), Some("p".into())),
            ("user".into(), Some("u".into()))
        ])
    );
}

/// The canary: a stored value never appears in any response body, and storage holds only
/// ciphertext.
#[tokio::test]
async fn canary_secret_never_leaves() {
    const CANARY: &str = "canary-s3cr3t-7f3a9c2e1b";
    let w = world().await;
    let mut bodies: Vec<(String, Response)> = Vec::new();
    let mut call = async |user: &str, method: &str, path: &str, body: Option<Value>| {
        let r = w.send(Some(user), method, path, body.as_ref()).await;
        bodies.push((format!("{method} {path}"), r.clone()));
        r
    };

    let r = call(
        "dev",
        "POST",
        "/api/connections",
        Some(wire20_request(CANARY)),
    )
    .await;
    assert_eq!(r.status, 200);
    let mut user = wire20_request(CANARY);
    user["owner"] = json!("user");
    user["values"] = json!({"token": CANARY, "other": CANARY});
    user.as_object_mut().unwrap().remove("value");
    call("dev", "POST", "/api/connections", Some(user)).await;
    // Bad requests that carry the canary must not echo it.
    let mut bad = wire20_request(CANARY);
    bad["values"] = json!({"token": CANARY});
    call("dev", "POST", "/api/connections", Some(bad)).await;
    let mut bad = wire20_request(CANARY);
    bad["value"] = json!([CANARY]);
    call("dev", "POST", "/api/connections", Some(bad)).await;
    let mut bad = wire20_request(CANARY);
    bad["values"] = json!({"token": [CANARY]});
    bad.as_object_mut().unwrap().remove("value");
    call("dev", "POST", "/api/connections", Some(bad)).await;
    let mut bad = wire20_request(CANARY);
    bad["integration"] = json!("nope");
    call("dev", "POST", "/api/connections", Some(bad)).await;
    let mut bad = wire20_request(CANARY);
    bad["owner"] = json!(CANARY);
    call("dev", "POST", "/api/connections", Some(bad)).await;

    for user in ["dev", "bob"] {
        for (method, path, body) in [
            ("GET", "/api/connections", None),
            ("GET", "/api/connections?integration=petstore", None),
            ("GET", "/api/connections/org/petstore/main", None),
            ("GET", "/api/connections/user/petstore/main", None),
            (
                "PATCH",
                "/api/connections/org/petstore/main",
                Some(json!({"description": "d"})),
            ),
            ("POST", "/api/connections/org/petstore/main/refresh", None),
            ("POST", "/api/connections/user/petstore/main/refresh", None),
            ("GET", "/api/providers", None),
            ("GET", "/api/providers/encrypted/items", None),
            ("GET", "/api/integrations", None),
        ] {
            let r = call(user, method, path, body).await;
            assert!(r.status < 500, "{method} {path}: {}", r.status);
        }
    }
    call("dev", "DELETE", "/api/connections/user/petstore/main", None).await;
    call("dev", "DELETE", "/api/connections/org/petstore/main", None).await;

    for (what, r) in &bodies {
        assert!(
            !String::from_utf8_lossy(&r.body).contains(CANARY),
            "{what} leaked the canary: {}",
            String::from_utf8_lossy(&r.body)
        );
        for (name, value) in &r.headers {
            assert!(!value.contains(CANARY), "{what}: header {name}");
        }
    }

    // Storage: only `v1.` ciphertexts, nowhere the plaintext.
    let rows = w
        .sql
        .query(Statement::new(
            "SELECT owner, subject, data FROM plugin_storage ORDER BY key",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let data = row["data"].as_str().unwrap();
        let sealed: String = serde_json::from_str(data).unwrap();
        assert!(sealed.starts_with("v1.") && sealed.split('.').count() == 4);
        assert!(!data.contains(CANARY));
    }
    for table in [
        "SELECT * FROM connection",
        "SELECT * FROM tool",
        "SELECT * FROM integration",
    ] {
        let rows = w.sql.query(Statement::new(table, vec![])).await.unwrap();
        assert!(!serde_json::to_string(&rows).unwrap().contains(CANARY));
    }
    // And the value is really there, for the one consumer that may read it.
    let value = crate::providers::encrypted::resolve(
        &w.sql,
        &w.keyring,
        "default",
        "bob",
        "connection:org:petstore:main:token",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(value.expose(), CANARY);
}
