//! Route-level tests of `/api/policies…` through the router (wire 07, 30–36, 85–87).

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::http::testing::{TestWorld, NOW_MS};
use crate::http::Response;
use crate::policies::{self, position, Action, Decision};
use crate::store::{Sql, Statement};
use crate::time::FixedClock;

fn body(response: &Response) -> Value {
    response.json_body().unwrap_or(Value::Null)
}

async fn create(w: &TestWorld, user: &str, owner: &str, pattern: &str, action: &str) -> Value {
    let r = w
        .send(
            Some(user),
            "POST",
            "/api/policies",
            Some(&json!({ "owner": owner, "pattern": pattern, "action": action })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    body(&r)
}

async fn list(w: &TestWorld, user: &str) -> Vec<Value> {
    let r = w.send(Some(user), "GET", "/api/policies", None).await;
    assert_eq!(r.status, 200);
    body(&r).as_array().unwrap().clone()
}

fn patterns(rows: &[Value]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| {
            (
                r["owner"].as_str().unwrap().to_string(),
                r["pattern"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn owned(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(o, p)| (o.to_string(), p.to_string()))
        .collect()
}

async fn row_count(w: &TestWorld) -> i64 {
    let rows = w
        .sql
        .query(Statement::new(
            "SELECT COUNT(*) AS n FROM tool_policy",
            vec![],
        ))
        .await
        .unwrap();
    rows[0]["n"].as_i64().unwrap()
}

/// A created policy has exactly upstream's keys, in upstream's order.
fn assert_policy_shape(v: &Value, owner: &str, pattern: &str, action: &str, position: &str) {
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("pol_"), "{id}");
    let expected = json!({
        "id": id,
        "owner": owner,
        "pattern": pattern,
        "action": action,
        "position": position,
        "createdAt": NOW_MS as i64,
        "updatedAt": NOW_MS as i64,
    });
    assert_eq!(v, &expected);
}

#[tokio::test]
async fn wire_07_and_30_to_36_flow() {
    let w = TestWorld::new();

    // wire 07
    let r = w.call("GET", "/api/policies", None).await;
    assert_eq!(
        (r.status, r.header("content-type"), body(&r)),
        (200, Some("application/json"), json!([]))
    );

    // wire 30: the first org rule gets `a0`.
    let r = w
        .call(
            "POST",
            "/api/policies",
            Some(&json!({"owner": "org", "pattern": "petstore.*.*.pets.deletePet", "action": "block"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(String::from_utf8_lossy(&r.body).starts_with(r#"{"id":"pol_"#));
    let block = body(&r);
    assert_policy_shape(&block, "org", "petstore.*.*.pets.deletePet", "block", "a0");

    // wire 31: the next one goes on top (`Zz`).
    let approve = create(&w, "dev", "org", "petstore.*.*.pets.createPet", "approve").await;
    assert_policy_shape(
        &approve,
        "org",
        "petstore.*.*.pets.createPet",
        "approve",
        "Zz",
    );

    // wire 32: a `tools.`-prefixed pattern is stored without the prefix (upstream kept it and it
    // matched nothing). The user partition's first rule is `a0` again.
    let user_rule = create(&w, "dev", "user", "tools.petstore.*", "block").await;
    assert_policy_shape(&user_rule, "user", "petstore.*", "block", "a0");

    // wire 33: a partial wildcard is a typed 400 (upstream: opaque 500), and nothing is written.
    let before = row_count(&w).await;
    let r = w
        .call(
            "POST",
            "/api/policies",
            Some(&json!({"owner": "org", "pattern": "pet*", "action": "block"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let err = body(&r);
    assert_eq!(err["_tag"], "InvalidToolPolicyError");
    assert_eq!(err["field"], "pattern");
    assert!(err["message"].as_str().unwrap().contains("pet*"));
    assert_eq!(row_count(&w).await, before);

    // wire 34: user rules first, then org by position.
    let rows = list(&w, "dev").await;
    assert_eq!(
        rows,
        vec![user_rule.clone(), approve.clone(), block.clone()]
    );

    // wire 35
    let path = format!("/api/policies/{}", user_rule["id"].as_str().unwrap());
    let r = w
        .call("DELETE", &path, Some(&json!({"owner": "user"})))
        .await;
    assert_eq!((r.status, body(&r)), (200, json!({"removed": true})));
    assert_eq!(list(&w, "dev").await, vec![approve.clone(), block.clone()]);

    // wire 36: updating the removed policy is a typed 404 (upstream: opaque 500).
    let r = w
        .call(
            "PATCH",
            &path,
            Some(&json!({"owner": "user", "position": "a0"})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        body(&r),
        json!({
            "_tag": "PolicyNotFoundError",
            "policyId": user_rule["id"],
            "owner": "user"
        })
    );
    // Removing it again is the same 404.
    let r = w
        .call("DELETE", &path, Some(&json!({"owner": "user"})))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(body(&r)["_tag"], "PolicyNotFoundError");
}

#[tokio::test]
async fn wire_86_87_update_stamps_updated_at() {
    let mut w = TestWorld::new();
    let created = create(
        &w,
        "dev",
        "user",
        "petstore.org.main.pets.getPet",
        "require_approval",
    )
    .await;
    let path = format!("/api/policies/{}", created["id"].as_str().unwrap());

    w.clock = FixedClock(NOW_MS + 17_000.0);
    let r = w
        .call(
            "PATCH",
            &path,
            Some(&json!({"owner": "user", "action": "approve"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let updated = body(&r);
    assert_eq!(
        updated,
        json!({
            "id": created["id"],
            "owner": "user",
            "pattern": "petstore.org.main.pets.getPet",
            "action": "approve",
            "position": "a0",
            "createdAt": NOW_MS as i64,
            "updatedAt": NOW_MS as i64 + 17_000,
        })
    );

    // wire 87: revert.
    let r = w
        .call(
            "PATCH",
            &path,
            Some(&json!({"owner": "user", "action": "require_approval"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(body(&r)["action"], "require_approval");
    assert_eq!(list(&w, "dev").await, vec![body(&r)]);

    // A pattern update is normalised like a create.
    let r = w
        .call(
            "PATCH",
            &path,
            Some(&json!({"owner": "user", "pattern": "tools.petstore.*"})),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)["pattern"].clone()),
        (200, json!("petstore.*"))
    );
}

#[tokio::test]
async fn invalid_values_are_typed_400s_and_write_nothing() {
    let w = TestWorld::new();
    let original = create(&w, "dev", "org", "petstore.*", "block").await;
    let path = format!("/api/policies/{}", original["id"].as_str().unwrap());

    let cases = [
        (
            json!({"owner": "org", "pattern": "*.pets", "action": "block"}),
            "pattern",
        ),
        (
            json!({"owner": "org", "pattern": "a..b", "action": "block"}),
            "pattern",
        ),
        (
            json!({"owner": "org", "pattern": "", "action": "block"}),
            "pattern",
        ),
        (
            json!({"owner": "org", "pattern": "a.*", "action": "allow"}),
            "action",
        ),
        (
            json!({"owner": "org", "pattern": "a.*", "action": "Block"}),
            "action",
        ),
        (
            json!({"owner": "org", "pattern": "a.*", "action": "block", "position": "a00"}),
            "position",
        ),
        (
            json!({"owner": "org", "pattern": "a.*", "action": "block", "position": "first"}),
            "position",
        ),
    ];
    for (request, field) in cases {
        let r = w.call("POST", "/api/policies", Some(&request)).await;
        assert_eq!(r.status, 400, "{request}");
        assert_eq!(body(&r)["_tag"], "InvalidToolPolicyError", "{request}");
        assert_eq!(body(&r)["field"], field, "{request}");
    }
    assert_eq!(row_count(&w).await, 1);

    // An update with one valid and one invalid field changes nothing (not even `updatedAt`).
    for request in [
        json!({"owner": "org", "action": "approve", "pattern": "pet*"}),
        json!({"owner": "org", "action": "approve", "position": "?"}),
        json!({"owner": "org", "pattern": "x.*", "action": "maybe"}),
    ] {
        let r = w.call("PATCH", &path, Some(&request)).await;
        assert_eq!(r.status, 400, "{request}");
        assert_eq!(body(&r)["_tag"], "InvalidToolPolicyError");
    }
    assert_eq!(list(&w, "dev").await, vec![original.clone()]);

    // Structural problems are schema errors.
    for request in [
        json!({"pattern": "a.*", "action": "block"}),
        json!({"owner": "team", "pattern": "a.*", "action": "block"}),
        json!({"owner": "org", "action": "block"}),
        json!({"owner": "org", "pattern": ["a"], "action": "block"}),
    ] {
        let r = w.call("POST", "/api/policies", Some(&request)).await;
        assert_eq!(r.status, 400, "{request}");
        assert_eq!(body(&r)["_tag"], "HttpApiSchemaError", "{request}");
    }
    let r = w
        .send_raw(Some("dev"), "POST", "/api/policies", Some(b"{"))
        .await;
    assert_eq!(r.status, 400);
    let r = w.send_raw(Some("dev"), "DELETE", &path, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(list(&w, "dev").await, vec![original]);
}

#[tokio::test]
async fn positions_order_rules_after_creates_and_moves() {
    let w = TestWorld::new();
    let mut ids = Vec::new();
    for (i, expected) in ["a0", "Zz", "Zy", "Zx"].iter().enumerate() {
        let p = create(&w, "dev", "org", &format!("r{i}.*"), "block").await;
        assert_eq!(p["position"], *expected);
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    let order = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|r| r["pattern"].as_str().unwrap().to_string())
            .collect()
    };
    // Newest on top.
    assert_eq!(
        order(list(&w, "dev").await),
        ["r3.*", "r2.*", "r1.*", "r0.*"]
    );

    // Move r0 to the top (a key before the current smallest).
    let top = position::before(Some("Zx")).unwrap();
    let r = w
        .call(
            "PATCH",
            &format!("/api/policies/{}", ids[0]),
            Some(&json!({"owner": "org", "position": top})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        order(list(&w, "dev").await),
        ["r0.*", "r3.*", "r2.*", "r1.*"]
    );

    // Move r1 between r3 (Zx) and r2 (Zy), as the console does with generateKeyBetween.
    let mid = position::between(Some("Zx"), Some("Zy")).unwrap();
    assert_eq!(mid, "ZxV");
    let r = w
        .call(
            "PATCH",
            &format!("/api/policies/{}", ids[1]),
            Some(&json!({"owner": "org", "position": mid})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        order(list(&w, "dev").await),
        ["r0.*", "r3.*", "r1.*", "r2.*"]
    );

    // A create after the moves still lands on top; an explicit position is kept verbatim.
    let p = create(&w, "dev", "org", "r4.*", "approve").await;
    assert_eq!(p["position"], position::before(Some(&top)).unwrap());
    let r = w
        .call(
            "POST",
            "/api/policies",
            Some(
                &json!({"owner": "org", "pattern": "r5.*", "action": "approve", "position": "b00"}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)["position"].clone()),
        (200, json!("b00"))
    );
    assert_eq!(
        order(list(&w, "dev").await),
        ["r4.*", "r0.*", "r3.*", "r1.*", "r2.*", "r5.*"]
    );
}

#[tokio::test]
async fn user_rules_are_private_to_their_owner() {
    let w = TestWorld::new();
    let alice_rule = create(&w, "alice", "user", "petstore.*", "block").await;
    let bob_rule = create(&w, "bob", "user", "github.*", "approve").await;
    // Each user partition starts its own position sequence.
    assert_eq!(bob_rule["position"], "a0");
    let org_rule = create(&w, "bob", "org", "*", "require_approval").await;

    assert_eq!(
        patterns(&list(&w, "alice").await),
        owned(&[("user", "petstore.*"), ("org", "*")])
    );
    assert_eq!(
        patterns(&list(&w, "bob").await),
        owned(&[("user", "github.*"), ("org", "*")])
    );

    // Bob cannot update or delete Alice's user rule: from his side it does not exist.
    let alice_path = format!("/api/policies/{}", alice_rule["id"].as_str().unwrap());
    let r = w
        .send(
            Some("bob"),
            "PATCH",
            &alice_path,
            Some(&json!({"owner": "user", "action": "approve"})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(body(&r)["_tag"], "PolicyNotFoundError");
    let r = w
        .send(
            Some("bob"),
            "DELETE",
            &alice_path,
            Some(&json!({"owner": "user"})),
        )
        .await;
    assert_eq!(r.status, 404);
    // Naming the wrong owner does not reach it either.
    let r = w
        .send(
            Some("alice"),
            "DELETE",
            &alice_path,
            Some(&json!({"owner": "org"})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(list(&w, "alice").await[0], alice_rule);

    // Org rules are shared: Alice can change Bob's org rule.
    let r = w
        .send(
            Some("alice"),
            "PATCH",
            &format!("/api/policies/{}", org_rule["id"].as_str().unwrap()),
            Some(&json!({"owner": "org", "action": "block"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(list(&w, "bob").await[1]["action"], "block");

    // Resolution sees the same partitions.
    let principal = |user: &str| {
        let mut p = crate::auth::dev_principal(&w.config);
        p.account_id = user.into();
        p
    };
    let alice = policies::load(&w.sql, &principal("alice")).await.unwrap();
    let bob = policies::load(&w.sql, &principal("bob")).await.unwrap();
    assert_eq!(alice.policies().len(), 2);
    assert_eq!(
        bob.resolve("github.org.main.repos.get", false),
        Decision {
            action: Action::Block,
            matched_pattern: Some("*".into())
        },
        "the org block outranks Bob's own approve"
    );
    assert_eq!(
        alice
            .resolve("petstore.org.main.pets.getPet", false)
            .matched_pattern,
        Some("petstore.*".into()),
        "tie between Alice's block and the org block reports Alice's rule"
    );
}

#[tokio::test]
async fn wire_37_scenario_resolves_through_load() {
    let w = TestWorld::new();
    create(&w, "dev", "org", "petstore.*.*.pets.deletePet", "block").await;
    create(&w, "dev", "org", "petstore.*.*.pets.createPet", "approve").await;
    let mut p = crate::auth::dev_principal(&w.config);
    p.account_id = "dev".into();
    let set = policies::load(&w.sql, &p).await.unwrap();
    let resolve =
        |address: &str, annotation: bool| set.resolve(policies::target_id(address), annotation);
    assert_eq!(
        resolve("tools.petstore.org.main.pets.deletePet", true).action,
        Action::Block
    );
    assert_eq!(
        resolve("tools.petstore.org.main.pets.createPet", true),
        Decision {
            action: Action::Approve,
            matched_pattern: Some("petstore.*.*.pets.createPet".into())
        }
    );
    assert_eq!(
        resolve("tools.petstore.org.main.pets.getPet", false),
        Decision {
            action: Action::Approve,
            matched_pattern: None
        }
    );
    assert_eq!(
        resolve("tools.petstore.org.main.pets.updatePet", true).action,
        Action::RequireApproval
    );
}

#[tokio::test]
async fn routes_are_protected_and_scoped() {
    let w = TestWorld::new();
    let r = w.send(None, "GET", "/api/policies", None).await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (401, b"Unauthorized".as_slice())
    );
    let r = w
        .send(
            None,
            "POST",
            "/api/policies",
            Some(&json!({"owner": "org", "pattern": "*", "action": "block"})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(row_count(&w).await, 0);

    // Not routes of this group: empty 404s.
    for (method, path) in [
        ("GET", "/api/policies/pol_x"),
        ("PUT", "/api/policies"),
        ("POST", "/api/policies/pol_x"),
        ("DELETE", "/api/policies/pol_x/extra"),
    ] {
        let r = w.call(method, path, None).await;
        assert_eq!((r.status, r.body.len()), (404, 0), "{method} {path}");
    }

    // Path ids are percent-decoded.
    let p = create(&w, "dev", "org", "a.*", "block").await;
    let id = p["id"].as_str().unwrap();
    let encoded = crate::http::percent_encode(id);
    let r = w
        .call(
            "DELETE",
            &format!("/api/policies/{encoded}"),
            Some(&json!({"owner": "org"})),
        )
        .await;
    assert_eq!(r.status, 200);
}
