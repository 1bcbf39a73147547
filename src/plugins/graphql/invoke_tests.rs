#![allow(clippy::unwrap_used)]

use super::*;
use crate::http::testing::ScriptedHttp;
use crate::net::http::OutboundResponse;
use crate::plugins::graphql::{derive, fixture, parse_introspection, Derived};
use crate::plugins::openapi::Placement;

const CANARY: &str = "canary-gql-secret-7d1f";

struct Setup {
    derived: Derived,
    defs: Map<String, Value>,
    headers: BTreeMap<String, String>,
    query: BTreeMap<String, String>,
    auth: GraphqlAuth,
    credentials: BTreeMap<String, Option<SecretValue>>,
}

impl Setup {
    fn new() -> Setup {
        let derived = derive(&parse_introspection(&fixture::small().to_string()).unwrap());
        let defs = derived.defs.clone().into_iter().collect();
        Setup {
            derived,
            defs,
            headers: BTreeMap::from([("x-static".to_owned(), "s".to_owned())]),
            query: BTreeMap::from([("v".to_owned(), "2".to_owned())]),
            auth: GraphqlAuth::ApiKey(ApiKeyTemplate {
                slug: "header".into(),
                label: None,
                placements: vec![Placement {
                    carrier: Carrier::Header,
                    name: "X-Api-Key".into(),
                    prefix: "Key ".into(),
                    variable: None,
                    literal: None,
                }],
            }),
            credentials: BTreeMap::from([("token".to_owned(), Some(SecretValue::new(CANARY)))]),
        }
    }

    async fn run(&self, http: &ScriptedHttp, tool: &str, args: Value) -> Value {
        let tool = self.derived.tools.iter().find(|t| t.name == tool).unwrap();
        let call = GraphqlCall {
            integration: "gql",
            connection: "main",
            endpoint: "https://api.example.com/graphql?v=1&keep=yes",
            binding: &tool.binding,
            input_schema: tool.input_schema.as_ref(),
            defs: &self.defs,
            headers: &self.headers,
            query_params: &self.query,
            auth: Some(&self.auth),
            credentials: &self.credentials,
            timeout_ms: 5_000,
            allow_local_network: false,
        };
        match invoke(http, &call, Some(args)).await {
            InvokeOutcome::Result(value) => {
                assert!(!value.to_string().contains(CANARY), "leak: {value}");
                value
            }
            InvokeOutcome::Internal { cause } => panic!("{cause}"),
        }
    }
}

fn answer_with(http: &ScriptedHttp, status: u16, body: &str) {
    let body = body.to_owned();
    http.on(move |_| {
        Some(OutboundResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.clone().into_bytes(),
        })
    });
}

#[tokio::test]
async fn a_query_posts_its_document_and_variables() {
    let setup = Setup::new();
    let http = ScriptedHttp::default();
    answer_with(&http, 200, r#"{"data": {"hello": "hi ada"}}"#);
    let result = setup
        .run(
            &http,
            "query.hello",
            json!({"name": "ada", "variables": {"extra": 1}, "other": true}),
        )
        .await;
    assert_eq!(result, json!({"ok": true, "data": {"hello": "hi ada"}}));
    let requests = http.requests.borrow();
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.example.com/graphql?keep=yes&v=2");
    let body: Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"query": "query Hello($name: String!) { hello(name: $name) }",
               "variables": {"name": "ada", "extra": 1}})
    );
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("x-api-key").unwrap(), format!("Key {CANARY}"));
    assert_eq!(header("x-static").as_deref(), Some("s"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
}

#[tokio::test]
async fn arguments_are_validated_first() {
    let setup = Setup::new();
    let http = ScriptedHttp::default();
    let result = setup.run(&http, "query.hello", json!({})).await;
    assert_eq!(result["error"]["code"], "invalid_tool_arguments");
    let result = setup
        .run(
            &http,
            "mutation.createUser",
            json!({"input": {"name": "x", "role": "KING"}}),
        )
        .await;
    assert_eq!(result["error"]["code"], "invalid_tool_arguments");
    assert!(http.requests.borrow().is_empty());
}

#[tokio::test]
async fn graphql_errors_become_typed_failures() {
    let setup = Setup::new();
    let http = ScriptedHttp::default();
    answer_with(
        &http,
        200,
        &format!(
            r#"{{"data": null, "errors": [{{"message": "no such user (key {CANARY})"}}, {{"message": "second"}}]}}"#
        ),
    );
    let result = setup.run(&http, "query.user", json!({"id": "1"})).await;
    assert_eq!(result["ok"], false);
    assert_eq!(result["error"]["code"], "graphql_errors");
    assert_eq!(result["error"]["message"], "no such user (key [redacted])");
    assert_eq!(
        result["error"]["details"]["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn http_failures_are_mapped() {
    let setup = Setup::new();
    let http = ScriptedHttp::default();
    answer_with(&http, 401, r#"{"message": "bad key"}"#);
    let result = setup.run(&http, "query.user", json!({"id": "1"})).await;
    assert_eq!(result["error"]["code"], "connection_rejected");
    assert_eq!(result["error"]["status"], 401);

    let http = ScriptedHttp::default();
    answer_with(&http, 502, "upstream down");
    let result = setup.run(&http, "query.user", json!({"id": "1"})).await;
    assert_eq!(result["error"]["code"], "graphql_http_error");
    assert_eq!(result["error"]["status"], 502);
}

#[tokio::test]
async fn a_missing_credential_is_reported_without_a_request() {
    let mut setup = Setup::new();
    setup.credentials.clear();
    let http = ScriptedHttp::default();
    let result = setup.run(&http, "query.user", json!({"id": "1"})).await;
    assert_eq!(result["error"]["code"], "connection_value_missing");
    assert!(http.requests.borrow().is_empty());

    setup.auth = GraphqlAuth::OAuth2(GraphqlOAuth2 {
        slug: "oauth2".into(),
        header: None,
        prefix: None,
    });
    let result = setup.run(&http, "query.user", json!({"id": "1"})).await;
    assert_eq!(result["error"]["code"], "oauth_connection_missing");
}

#[tokio::test]
async fn oauth2_renders_header_and_prefix() {
    let mut setup = Setup::new();
    setup.auth = GraphqlAuth::OAuth2(GraphqlOAuth2 {
        slug: "oauth2".into(),
        header: Some("X-Token".into()),
        prefix: Some("tok ".into()),
    });
    let http = ScriptedHttp::default();
    answer_with(&http, 200, r#"{"data": {"user": null}}"#);
    setup.run(&http, "query.user", json!({"id": "1"})).await;
    let requests = http.requests.borrow();
    assert!(requests[0]
        .headers
        .iter()
        .any(|(n, v)| n == "X-Token" && v == &format!("tok {CANARY}")));
}
