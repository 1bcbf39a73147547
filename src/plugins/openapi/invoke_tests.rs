//! Host tests of [`invoke`] against a scripted upstream: petstore golden cases (wire 49–51, 99)
//! and the serialisation rules of §8.1.5 on small inline specs.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::*;
use crate::http::testing::ScriptedHttp;
use crate::plugins::openapi::{
    defs_blob, derive_all_tools, derive_auth_templates, parse, ApiKeyTemplate, OAuth2Template,
    Placement, ToolDefinition,
};
use crate::test_support::{read_shared, wire};

/// A credential value that must never show up in anything `invoke` returns.
pub(crate) const CANARY: &str = "pet-CANARY-7f3a9c1e5b";

/// One tool of a spec with its call settings (also used by `crate::security_matrix`).
pub(crate) struct Setup {
    tool: ToolDefinition,
    defs: Map<String, Value>,
    pub(crate) base_url: Option<String>,
    headers: BTreeMap<String, String>,
    query_params: BTreeMap<String, String>,
    auth: Option<AuthTemplate>,
    credentials: BTreeMap<String, Option<SecretValue>>,
    pub(crate) allow_local_network: bool,
}

impl Setup {
    fn from_spec(spec: &str, tool: &str) -> Setup {
        let doc = parse(spec.to_owned()).unwrap();
        let tool = derive_all_tools(&doc)
            .into_iter()
            .find(|t| t.name == tool)
            .unwrap_or_else(|| panic!("no tool {tool}"));
        let defs: Map<String, Value> = serde_json::from_str(&defs_blob(&doc)).unwrap();
        let auth = derive_auth_templates(&doc).into_iter().next();
        Setup {
            tool,
            defs,
            base_url: None,
            headers: BTreeMap::new(),
            query_params: BTreeMap::new(),
            auth,
            credentials: BTreeMap::new(),
            allow_local_network: true,
        }
    }

    /// A petstore tool with the derived `apikey-0` template and the canary as its `token`.
    pub(crate) fn petstore(tool: &str) -> Setup {
        let mut setup =
            Setup::from_spec(&read_shared("fixtures/openapi/petstore.openapi.json"), tool);
        setup
            .credentials
            .insert("token".into(), Some(SecretValue::new(CANARY)));
        setup
    }

    fn call(&self) -> OpenApiCall<'_> {
        OpenApiCall {
            integration: "petstore",
            connection: "main",
            binding: &self.tool.binding,
            input_schema: self.tool.input_schema.as_ref(),
            defs: &self.defs,
            base_url: self.base_url.as_deref(),
            headers: &self.headers,
            query_params: &self.query_params,
            auth: self.auth.as_ref(),
            credentials: &self.credentials,
            timeout_ms: 30_000,
            allow_local_network: self.allow_local_network,
        }
    }

    pub(crate) async fn run(&self, http: &ScriptedHttp, args: Value) -> Value {
        match invoke(http, &self.call(), Some(args)).await {
            InvokeOutcome::Result(value) => {
                assert!(
                    !value.to_string().contains(CANARY),
                    "credential leaked into the result: {value}"
                );
                value
            }
            InvokeOutcome::Internal { cause } => panic!("unexpected internal failure: {cause}"),
        }
    }
}

pub(crate) fn respond(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> OutboundResponse {
    OutboundResponse {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.into(),
    }
}

/// Answers every request with the same response.
fn always(http: &ScriptedHttp, response: OutboundResponse) {
    http.on(move |_| Some(response.clone()));
}

fn header<'r>(request: &'r OutboundRequest, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn only_request(http: &ScriptedHttp) -> OutboundRequest {
    let requests = http.requests.borrow();
    assert_eq!(requests.len(), 1, "{:?}", *requests);
    requests[0].clone()
}

fn error_code(result: &Value) -> &str {
    result["error"]["code"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Petstore golden cases

#[tokio::test]
async fn list_pets_matches_wire_49_and_99() {
    let recorded = wire("49-mcp-call-execute-petstore-listPets.json");
    let expected = &recorded["response"]["body"]["result"]["structuredContent"]["result"]["res"];
    let http = ScriptedHttp::default();
    let headers: Vec<(String, String)> = expected["http"]["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let body = expected["data"].to_string();
    http.on(move |r| {
        (r.url == "http://127.0.0.1:8901/pets?limit=2").then(|| OutboundResponse {
            status: 200,
            headers: headers.clone(),
            body: body.clone().into_bytes(),
        })
    });
    let setup = Setup::petstore("pets.listPets");
    let result = setup.run(&http, json!({"limit": 2})).await;
    assert_eq!(&result, expected);

    // The upstream request of wire 99: `GET /pets?limit=2`, `User-Agent: executor`, the key.
    let request = only_request(&http);
    assert_eq!(request.method, "GET");
    assert_eq!(header(&request, "user-agent"), Some("executor"));
    assert_eq!(header(&request, "x-api-key"), Some(CANARY));
    assert_eq!(request.body, None);
    assert_eq!(request.max_body_bytes, MAX_RESPONSE_BYTES);
    assert_eq!(request.timeout_ms, 30_000);
}

#[tokio::test]
async fn inventory_sends_the_key_and_matches_wire_50() {
    let recorded = wire("50-mcp-call-execute-petstore-inventory-with-secret.json");
    let expected = &recorded["response"]["body"]["result"]["structuredContent"]["result"];
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(
            200,
            &[
                ("content-length", "49"),
                ("content-type", "application/json"),
                ("date", "Thu, 26 Nov 2026 14:04:37 GMT"),
                ("server", "BaseHTTP/0.6 Python/3.11.7"),
            ],
            expected["data"].to_string(),
        ),
    );
    let setup = Setup::petstore("store.getInventory");
    assert_eq!(setup.tool.input_schema, None);
    let result = setup.run(&http, json!({})).await;
    assert_eq!(&result, expected);
    let request = only_request(&http);
    assert_eq!(request.url, "http://127.0.0.1:8901/store/inventory");
    assert_eq!(header(&request, "x-api-key"), Some(CANARY));
}

#[tokio::test]
async fn get_pet_404_matches_wire_51() {
    let recorded = wire("51-mcp-call-execute-petstore-404.json");
    let expected = &recorded["response"]["body"]["result"]["structuredContent"]["result"];
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(
            404,
            &[("content-type", "application/json")],
            r#"{"code": 404, "message": "pet not found"}"#,
        ),
    );
    let setup = Setup::petstore("pets.getPet");
    let result = setup.run(&http, json!({"petId": 999})).await;
    assert_eq!(&result, expected);
    assert_eq!(only_request(&http).url, "http://127.0.0.1:8901/pets/999");
}

#[tokio::test]
async fn create_pet_sends_a_json_body() {
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(
            201,
            &[("content-type", "application/json")],
            r#"{"id":3,"name":"Rex"}"#,
        ),
    );
    let setup = Setup::petstore("pets.createPet");
    let result = setup
        .run(&http, json!({"body": {"name": "Rex", "tag": "dog"}}))
        .await;
    assert_eq!(result["ok"], json!(true));
    assert_eq!(result["data"], json!({"id": 3, "name": "Rex"}));
    assert_eq!(result["http"]["status"], json!(201));
    let request = only_request(&http);
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "http://127.0.0.1:8901/pets");
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let sent: Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(sent, json!({"name": "Rex", "tag": "dog"}));
}

#[tokio::test]
async fn delete_pet_204_is_null_data() {
    let http = ScriptedHttp::default();
    always(&http, respond(204, &[], Vec::new()));
    let setup = Setup::petstore("pets.deletePet");
    let result = setup.run(&http, json!({"petId": 7})).await;
    assert_eq!(
        result,
        json!({"ok": true, "data": null, "http": {"status": 204, "headers": {}}})
    );
    let request = only_request(&http);
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.url, "http://127.0.0.1:8901/pets/7");
}

// ---------------------------------------------------------------------------------------------
// Argument checks

#[tokio::test]
async fn invalid_arguments_send_nothing() {
    let http = ScriptedHttp::default();
    always(&http, respond(200, &[], "{}"));
    // Wire 54's call shape: the body's fields at the top level (upstream sent an empty body).
    let setup = Setup::petstore("pets.createPet");
    let result = setup
        .run(
            &http,
            json!({"name": "Rex", "tag": "dog", "contentType": null}),
        )
        .await;
    assert_eq!(error_code(&result), "invalid_tool_arguments");
    assert_eq!(result["ok"], json!(false));
    let issues = result["error"]["details"]["issues"].as_array().unwrap();
    let messages: Vec<&str> = issues
        .iter()
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "missing required property \"body\"",
            "unexpected property \"name\"",
            "unexpected property \"tag\""
        ]
    );
    assert!(result["error"]["message"].as_str().unwrap().starts_with(
        "Invalid arguments for POST /pets: arguments: missing required property \"body\""
    ));

    // Wrong types inside the body, resolved through `#/$defs/NewPet`.
    let result = setup.run(&http, json!({"body": {"name": 5}})).await;
    assert_eq!(
        result["error"]["details"]["issues"],
        json!([{"path": "/body/name", "message": "expected string, got integer"}])
    );

    // A path parameter of the wrong type, and arguments that are not an object.
    let get = Setup::petstore("pets.getPet");
    let result = get.run(&http, json!({"petId": null})).await;
    assert_eq!(
        result["error"]["details"]["issues"],
        json!([{"path": "/petId", "message": "expected integer, got null"}])
    );
    let result = get.run(&http, json!({"petId": "abc"})).await;
    assert_eq!(
        result["error"]["details"]["issues"][0]["path"],
        json!("/petId")
    );
    let result = get.run(&http, json!([1])).await;
    assert_eq!(
        result["error"]["details"]["issues"],
        json!([{"path": "", "message": "expected the arguments to be an object, got array"}])
    );
    assert!(http.requests.borrow().is_empty());
}

#[tokio::test]
async fn absent_arguments_are_an_empty_object() {
    let http = ScriptedHttp::default();
    http.serve("http://127.0.0.1:8901/pets", "application/json", "[]");
    let setup = Setup::petstore("pets.listPets");
    let outcome = invoke(&http, &setup.call(), None).await;
    assert!(matches!(&outcome, InvokeOutcome::Result(v) if v["ok"] == json!(true)));
    let outcome = invoke(&http, &setup.call(), Some(Value::Null)).await;
    assert!(matches!(&outcome, InvokeOutcome::Result(v) if v["ok"] == json!(true)));
    // An optional argument given as null is "not given".
    let outcome = invoke(&http, &setup.call(), Some(json!({"limit": null}))).await;
    assert!(matches!(&outcome, InvokeOutcome::Result(v) if v["ok"] == json!(true)));
    assert!(http
        .requests
        .borrow()
        .iter()
        .all(|r| r.url == "http://127.0.0.1:8901/pets"));
    assert_eq!(http.requests.borrow()[0].url, "http://127.0.0.1:8901/pets");
}

#[tokio::test]
async fn missing_path_parameter_is_a_typed_failure_without_schema() {
    let http = ScriptedHttp::default();
    let mut setup = Setup::petstore("pets.getPet");
    setup.tool.input_schema = None;
    let result = setup.run(&http, json!({})).await;
    assert_eq!(error_code(&result), "invalid_tool_arguments");
    assert_eq!(
        result["error"]["details"]["issues"],
        json!([{"path": "/petId", "message": "missing value for path parameter \"petId\""}])
    );
    // Without a schema the container spellings work (§8.1.5 step 2).
    always(
        &http,
        respond(200, &[("content-type", "application/json")], "{}"),
    );
    let result = setup.run(&http, json!({"path": {"petId": 4}})).await;
    assert_eq!(result["ok"], json!(true));
    assert_eq!(only_request(&http).url, "http://127.0.0.1:8901/pets/4");
}

// ---------------------------------------------------------------------------------------------
// Credentials

#[tokio::test]
async fn missing_credential_is_connection_value_missing_and_sends_nothing() {
    let http = ScriptedHttp::default();
    for credentials in [
        BTreeMap::new(),
        BTreeMap::from([("token".to_owned(), None)]),
        BTreeMap::from([("token".to_owned(), Some(SecretValue::new("  ")))]),
    ] {
        let mut setup = Setup::petstore("pets.listPets");
        setup.credentials = credentials;
        let result = setup.run(&http, json!({})).await;
        assert_eq!(error_code(&result), "connection_value_missing");
        let error = &result["error"];
        assert_eq!(error["retryable"], json!(false));
        assert_eq!(error["details"]["category"], json!("authentication"));
        assert_eq!(
            error["details"]["credential"],
            json!({"kind": "secret", "missing": ["token"]})
        );
        assert_eq!(
            error["details"]["source"],
            json!({"id": "petstore", "connection": "main"})
        );
        let recovery = &error["details"]["recovery"];
        assert_eq!(
            recovery["createConnectionTool"],
            json!("executor.coreTools.connections.createHandoff")
        );
        assert_eq!(
            recovery["startOAuthTool"],
            json!("executor.coreTools.oauth.start")
        );
        assert_eq!(
            recovery["listConnectionsTool"],
            json!("executor.coreTools.connections.list")
        );
        assert!(recovery["connectionInstructions"].is_string());
        assert!(recovery["oauthInstructions"].is_string());
        assert!(error["message"].as_str().unwrap().contains("\"main\""));
    }
    assert!(http.requests.borrow().is_empty());
}

#[tokio::test]
async fn oauth2_sends_a_bearer_token_or_reports_it_missing() {
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(200, &[("content-type", "application/json")], "[]"),
    );
    let mut setup = Setup::petstore("pets.listPets");
    setup.auth = Some(AuthTemplate::OAuth2(OAuth2Template {
        slug: "oauth-x".into(),
        authorization_url: "https://auth.example.com/authorize".into(),
        token_url: "https://auth.example.com/token".into(),
        scopes: vec![],
    }));
    let result = setup.run(&http, json!({})).await;
    assert_eq!(result["ok"], json!(true));
    let request = only_request(&http);
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    assert_eq!(header(&request, "x-api-key"), None);

    setup.credentials.clear();
    let result = setup.run(&http, json!({})).await;
    assert_eq!(error_code(&result), "oauth_connection_missing");
    assert_eq!(
        result["error"]["details"]["credential"]["kind"],
        json!("oauth")
    );
    assert_eq!(http.requests.borrow().len(), 1);
}

#[tokio::test]
async fn apikey_placements_static_values_and_override_order() {
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(200, &[("content-type", "application/json")], "[]"),
    );
    let mut setup = Setup::petstore("pets.listPets");
    setup.auth = Some(AuthTemplate::ApiKey(ApiKeyTemplate {
        slug: "apikey-0".into(),
        label: None,
        placements: vec![
            Placement {
                carrier: Carrier::Header,
                name: "Authorization".into(),
                prefix: "Token ".into(),
                variable: None,
                literal: None,
            },
            Placement {
                carrier: Carrier::Query,
                name: "api_key".into(),
                prefix: String::new(),
                variable: Some("secondary".into()),
                literal: None,
            },
            Placement {
                carrier: Carrier::Header,
                name: "X-Client".into(),
                prefix: String::new(),
                variable: None,
                literal: Some("executor-cf".into()),
            },
        ],
    }));
    setup.credentials.insert(
        "secondary".into(),
        Some(SecretValue::new("second-CANARY-value\n")),
    );
    setup.headers.insert("X-Static".into(), "s1".into());
    setup
        .headers
        .insert("authorization".into(), "overridden-by-auth".into());
    setup
        .headers
        .insert("User-Agent".into(), "custom-agent".into());
    setup
        .query_params
        .insert("api_key".into(), "overridden".into());
    setup.query_params.insert("v".into(), "2".into());
    let result = setup.run(&http, json!({"limit": 5, "tag": "a b"})).await;
    assert_eq!(result["ok"], json!(true));
    let request = only_request(&http);
    // Static query first, then parameters, then auth (replacing the static `api_key`).
    assert_eq!(
        request.url,
        "http://127.0.0.1:8901/pets?v=2&limit=5&tag=a+b&api_key=second-CANARY-value"
    );
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Token {CANARY}").as_str())
    );
    assert_eq!(header(&request, "x-client"), Some("executor-cf"));
    assert_eq!(header(&request, "x-static"), Some("s1"));
    assert_eq!(header(&request, "user-agent"), Some("custom-agent"));
    let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "authorization").count(), 1);

    // A missing second input is reported by name, and nothing is sent.
    setup.credentials.remove("secondary");
    let result = setup.run(&http, json!({})).await;
    assert_eq!(error_code(&result), "connection_value_missing");
    assert_eq!(
        result["error"]["details"]["credential"]["missing"],
        json!(["secondary"])
    );
    assert_eq!(http.requests.borrow().len(), 1);
}

#[tokio::test]
async fn rejected_credentials_are_connection_rejected() {
    for status in [401u16, 403] {
        let http = ScriptedHttp::default();
        always(
            &http,
            respond(
                status,
                &[("content-type", "application/json")],
                r#"{"error":{"message":"bad key"}}"#,
            ),
        );
        let setup = Setup::petstore("pets.listPets");
        let result = setup.run(&http, json!({})).await;
        assert_eq!(
            result,
            json!({"ok": false, "error": {
                "code": "connection_rejected",
                "status": status,
                "retryable": false,
                "message": format!("Upstream rejected credentials for \"petstore\" with HTTP {status}. Re-authenticate or update the connection \"main\" before retrying this tool."),
                "details": {
                    "category": "authentication",
                    "source": {"id": "petstore", "connection": "main"},
                    "credential": {"kind": "upstream", "label": "Upstream authorization"},
                    "upstream": {"status": status, "details": {"error": {"message": "bad key"}}},
                    "recovery": auth_recovery(),
                }
            }})
        );
    }
}

#[tokio::test]
async fn the_credential_never_leaves_in_results() {
    // An upstream that echoes the key everywhere it can.
    let echo =
        format!("{{\"message\":\"key {CANARY} is not allowed\",\"{CANARY}\":[\"{CANARY}\"]}}");
    let setup = Setup::petstore("pets.listPets");
    for status in [200u16, 401, 500] {
        let http = ScriptedHttp::default();
        always(
            &http,
            respond(
                status,
                &[("content-type", "application/json"), ("x-echo", CANARY)],
                echo.clone(),
            ),
        );
        // `run` asserts the canary is absent from the result.
        let result = setup.run(&http, json!({})).await;
        assert!(result.to_string().contains("[redacted]"), "{result}");
        // …while the request really carried it.
        assert_eq!(header(&only_request(&http), "x-api-key"), Some(CANARY));
    }
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(
            500,
            &[("content-type", "text/plain")],
            format!("bad {CANARY}"),
        ),
    );
    let result = setup.run(&http, json!({})).await;
    assert_eq!(result["error"]["message"], json!("bad [redacted]"));

    // A query placement: network failures name the URL without its query string.
    let mut in_query = Setup::petstore("pets.listPets");
    in_query.auth = Some(AuthTemplate::ApiKey(ApiKeyTemplate {
        slug: "apikey-q".into(),
        label: None,
        placements: vec![Placement {
            carrier: Carrier::Query,
            name: "key".into(),
            prefix: String::new(),
            variable: None,
            literal: None,
        }],
    }));
    let http = ScriptedHttp::default(); // answers nothing: a network error naming the raw URL
    let result = in_query.run(&http, json!({"limit": 1})).await;
    assert_eq!(error_code(&result), "upstream_unreachable");
    assert_eq!(result["error"]["retryable"], json!(true));
    assert!(result["error"]["message"]
        .as_str()
        .unwrap()
        .contains("http://127.0.0.1:8901/pets"));
    assert!(only_request(&http).url.contains(CANARY));
}

// ---------------------------------------------------------------------------------------------
// Network policy

#[tokio::test]
async fn redirect_into_loopback_is_blocked_with_a_typed_error() {
    let http = ScriptedHttp::default();
    http.on(|r| {
        r.url.starts_with("https://pets.example.com/").then(|| {
            respond(
                302,
                &[("location", "http://127.0.0.1:8901/pets")],
                Vec::new(),
            )
        })
    });
    let mut setup = Setup::petstore("pets.listPets");
    setup.base_url = Some("https://pets.example.com".into());
    setup.allow_local_network = false;
    let result = setup.run(&http, json!({"limit": 1})).await;
    assert_eq!(error_code(&result), "outbound_blocked");
    assert_eq!(result["error"]["retryable"], json!(false));
    assert_eq!(
        result["error"]["details"],
        json!({"url": "http://127.0.0.1:8901/pets", "reason": "Local and private network addresses are not allowed", "setting": "ALLOW_LOCAL_NETWORK"})
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("ALLOW_LOCAL_NETWORK"), "{message}");
    // Only the first hop went out.
    assert_eq!(
        only_request(&http).url,
        "https://pets.example.com/pets?limit=1"
    );

    // The spec's own loopback server is refused before any request (wire 107's setting).
    let http = ScriptedHttp::default();
    let mut setup = Setup::petstore("pets.listPets");
    setup.allow_local_network = false;
    let result = setup.run(&http, json!({})).await;
    assert_eq!(error_code(&result), "outbound_blocked");
    assert!(http.requests.borrow().is_empty());
}

#[tokio::test]
async fn timeouts_are_typed_and_retryable() {
    struct Slow;
    #[async_trait::async_trait(?Send)]
    impl HttpClient for Slow {
        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
            Err(FetchError::Timeout {
                url: request.url,
                timeout_ms: request.timeout_ms,
            })
        }
    }
    let setup = Setup::petstore("pets.listPets");
    let outcome = invoke(&Slow, &setup.call(), Some(json!({"limit": 1}))).await;
    let InvokeOutcome::Result(result) = outcome else {
        panic!("typed result expected")
    };
    assert_eq!(
        result,
        json!({"ok": false, "error": {
            "code": "upstream_timeout",
            "message": "Request to http://127.0.0.1:8901/pets timed out after 30000 ms",
            "retryable": true,
        }})
    );
}

// ---------------------------------------------------------------------------------------------
// Serialisation rules on a small spec

const LAB: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "Lab", "version": "1"},
  "servers": [
    {"url": "https://{region}.api.example.com/{version}",
     "variables": {"region": {"default": "us", "enum": ["us", "eu", "evil.com/x"]}, "version": {"default": "v1"}}},
    {"url": "https://backup.example.com"}
  ],
  "paths": {
    "/items/{id}": {
      "get": {
        "operationId": "getItem", "tags": ["items"],
        "parameters": [
          {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
          {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}},
          {"name": "csv", "in": "query", "explode": false, "schema": {"type": "array", "items": {"type": "string"}}},
          {"name": "spaced", "in": "query", "style": "spaceDelimited", "explode": false, "schema": {"type": "array", "items": {"type": "string"}}},
          {"name": "piped", "in": "query", "style": "pipeDelimited", "explode": false, "schema": {"type": "array", "items": {"type": "string"}}},
          {"name": "filter", "in": "query", "schema": {"type": "object"}},
          {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
          {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
          {"name": "X-Tags", "in": "header", "schema": {"type": "array", "items": {"type": "string"}}},
          {"name": "session", "in": "cookie", "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
      }
    },
    "/files/{+path}": {
      "get": {
        "operationId": "getFile", "tags": ["files"],
        "parameters": [{"name": "path", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
      }
    },
    "/exports": {
      "get": {
        "operationId": "getExport", "tags": ["exports"],
        "responses": {"200": {"description": "export", "content": {"application/json": {"schema": {
          "type": "object", "properties": {"data": {"type": "string", "format": "byte"}, "size": {"type": "integer"}}}}}}}
      }
    },
    "/forms": {
      "post": {
        "operationId": "submitForm", "tags": ["forms"],
        "requestBody": {"required": true, "content": {
          "application/x-www-form-urlencoded": {
            "schema": {"type": "object"},
            "encoding": {
              "meta": {"style": "deepObject", "explode": true},
              "colors": {"style": "pipeDelimited", "explode": false},
              "point": {"style": "form", "explode": true}
            }
          },
          "multipart/form-data": {
            "schema": {"type": "object"},
            "encoding": {"raw": {"contentType": "application/xml"}}
          },
          "text/plain": {"schema": {"type": "string"}},
          "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
        }},
        "responses": {"204": {"description": "done"}}
      }
    }
  }
}"#;

fn ok_json(http: &ScriptedHttp) {
    always(
        http,
        respond(200, &[("content-type", "application/json")], "{}"),
    );
}

#[tokio::test]
async fn servers_variables_and_base_url() {
    let http = ScriptedHttp::default();
    ok_json(&http);
    let mut setup = Setup::from_spec(LAB, "items.getItem");
    assert!(setup.auth.is_none());

    setup.run(&http, json!({"id": "a"})).await;
    setup
        .run(
            &http,
            json!({"id": "a", "server": {"variables": {"region": "eu", "version": ""}}}),
        )
        .await;
    setup
        .run(
            &http,
            json!({"id": "a", "server": {"url": "https://backup.example.com"}}),
        )
        .await;
    setup.base_url = Some("https://override.example.com/base/".into());
    setup
        .run(
            &http,
            json!({"id": "a", "server": {"url": "https://backup.example.com"}}),
        )
        .await;
    let urls: Vec<String> = http
        .requests
        .borrow()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    assert_eq!(
        urls,
        [
            "https://us.api.example.com/v1/items/a",
            "https://eu.api.example.com/v1/items/a",
            "https://backup.example.com/items/a",
            "https://override.example.com/base/items/a",
        ]
    );

    // A variable value cannot move the request to another host.
    setup.base_url = None;
    let result = setup
        .run(
            &http,
            json!({"id": "a", "server": {"variables": {"region": "evil.com/x"}}}),
        )
        .await;
    assert_eq!(error_code(&result), "invalid_tool_arguments");
    assert_eq!(
        result["error"]["details"]["issues"][0]["path"],
        json!("/server/variables/region")
    );
    assert_eq!(http.requests.borrow().len(), 4);
}

#[tokio::test]
async fn no_servers_and_no_base_url_is_a_typed_failure() {
    let spec = r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
      "paths": {"/a": {"get": {"operationId": "a", "tags": ["t"], "responses": {"200": {"description": "ok"}}}}}}"#;
    let http = ScriptedHttp::default();
    let setup = Setup::from_spec(spec, "t.a");
    let result = setup.run(&http, json!({})).await;
    assert_eq!(error_code(&result), "base_url_missing");
    let relative = spec.replace("\"paths\"", "\"servers\": [{\"url\": \"/api\"}], \"paths\"");
    let result = Setup::from_spec(&relative, "t.a")
        .run(&http, json!({}))
        .await;
    assert_eq!(error_code(&result), "base_url_missing");
    assert!(http.requests.borrow().is_empty());
}

#[tokio::test]
async fn query_styles_headers_and_cookies() {
    let http = ScriptedHttp::default();
    ok_json(&http);
    let setup = Setup::from_spec(LAB, "items.getItem");
    let result = setup
        .run(
            &http,
            json!({
                "id": "a b/c?",
                "ids": [1, 2],
                "csv": ["x", "y"],
                "spaced": ["p", "q"],
                "piped": ["m", "n"],
                "filter": {"k": 1},
                "flag": false,
                "X-Trace": " t-1 ",
                "X-Tags": ["a", "b"],
                "session": "cookie-value"
            }),
        )
        .await;
    assert_eq!(result["ok"], json!(true));
    let request = only_request(&http);
    assert_eq!(
        request.url,
        "https://us.api.example.com/v1/items/a%20b%2Fc%3F?ids=1&ids=2&csv=x%2Cy&spaced=p+q&piped=m%7Cn&filter=%7B%22k%22%3A1%7D&flag=false"
    );
    assert_eq!(header(&request, "x-trace"), Some("t-1"));
    assert_eq!(header(&request, "x-tags"), Some("a,b"));
    assert_eq!(header(&request, "cookie"), None);
    assert!(!request
        .headers
        .iter()
        .any(|(_, v)| v.contains("cookie-value")));

    let result = setup
        .run(&http, json!({"id": "x", "X-Trace": "a\r\nInjected: 1"}))
        .await;
    assert_eq!(error_code(&result), "invalid_tool_arguments");
    let result = setup.run(&http, json!({"id": ".."})).await;
    assert_eq!(error_code(&result), "invalid_tool_arguments");
    assert_eq!(http.requests.borrow().len(), 1);
}

#[tokio::test]
async fn reserved_expansion_and_binary_responses() {
    let http = ScriptedHttp::default();
    http.on(|r| {
        r.url.ends_with("/report.pdf").then(|| {
            respond(
                200,
                &[
                    ("content-type", "application/octet-stream"),
                    ("content-disposition", "attachment; filename=\"r.pdf\""),
                ],
                b"%PDF-1.7 fake".to_vec(),
            )
        })
    });
    http.on(|_| {
        Some(respond(
            200,
            &[("content-type", "image/png")],
            vec![1, 2, 3],
        ))
    });
    let setup = Setup::from_spec(LAB, "files.getFile");
    let result = setup
        .run(&http, json!({"path": "docs/2024/report.pdf"}))
        .await;
    assert_eq!(
        http.requests.borrow()[0].url,
        "https://us.api.example.com/v1/files/docs/2024/report.pdf"
    );
    assert_eq!(
        result["data"],
        json!({"_tag": "ToolFile", "name": "r.pdf", "mimeType": "application/pdf", "encoding": "base64",
               "data": "JVBERi0xLjcgZmFrZQ==", "byteLength": 13})
    );
    let result = setup.run(&http, json!({"path": "x.png"})).await;
    assert_eq!(result["data"]["mimeType"], json!("image/png"));
    assert_eq!(result["data"]["byteLength"], json!(3));
    assert!(result["data"].get("name").is_none());
}

#[tokio::test]
async fn byte_field_responses_become_files() {
    let http = ScriptedHttp::default();
    always(
        &http,
        respond(
            200,
            &[("content-type", "application/json")],
            r#"{"data": "aGVsbG8gd29ybGQ=", "size": 11}"#,
        ),
    );
    let setup = Setup::from_spec(LAB, "exports.getExport");
    assert!(setup
        .tool
        .binding
        .response_body
        .as_ref()
        .unwrap()
        .byte_field
        .is_some());
    let result = setup.run(&http, json!({})).await;
    assert_eq!(
        result["data"],
        json!({"_tag": "ToolFile", "mimeType": "text/plain", "encoding": "base64",
               "data": "aGVsbG8gd29ybGQ=", "byteLength": 11})
    );
}

#[tokio::test]
async fn form_urlencoded_bodies_follow_field_encodings() {
    let http = ScriptedHttp::default();
    always(&http, respond(204, &[], Vec::new()));
    let setup = Setup::from_spec(LAB, "forms.submitForm");
    let result = setup
        .run(
            &http,
            json!({"body": {
                "name": "Acme & Co",
                "tags": ["a", "b"],
                "colors": ["red", "blue"],
                "meta": {"plan": "pro", "seats": [1, 2]},
                "point": {"x": 1, "y": 2},
                "nested": {"a": 1},
                "skip": null
            }}),
        )
        .await;
    assert_eq!(result["data"], Value::Null);
    let request = only_request(&http);
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = String::from_utf8(request.body.unwrap()).unwrap();
    assert_eq!(
        body,
        "colors=red%7Cblue&meta%5Bplan%5D=pro&meta%5Bseats%5D%5B0%5D=1&meta%5Bseats%5D%5B1%5D=2\
         &name=Acme+%26+Co&nested=%7B%22a%22%3A1%7D&x=1&y=2&tags=a&tags=b"
    );
}

#[tokio::test]
async fn multipart_text_and_octet_stream_bodies() {
    let http = ScriptedHttp::default();
    always(&http, respond(204, &[], Vec::new()));
    let setup = Setup::from_spec(LAB, "forms.submitForm");
    setup
        .run(
            &http,
            json!({"contentType": "multipart/form-data", "body": {
                "title": "hi",
                "count": 2,
                "meta": {"a": 1},
                "raw": "<x/>",
                "upload": {"_tag": "ToolFile", "name": "a.txt", "mimeType": "text/plain", "encoding": "base64", "data": "aGk="}
            }}),
        )
        .await;
    let request = only_request(&http);
    let content_type = header(&request, "content-type").unwrap().to_owned();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap()
        .to_owned();
    let body = String::from_utf8(request.body.unwrap()).unwrap();
    let expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\n2\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{{\"a\":1}}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"raw\"; filename=\"blob\"\r\nContent-Type: application/xml\r\n\r\n<x/>\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhi\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
         --{b}--\r\n",
        b = boundary
    );
    assert_eq!(body, expected);

    http.requests.borrow_mut().clear();
    setup
        .run(
            &http,
            json!({"contentType": "text/plain", "body": "plain words"}),
        )
        .await;
    setup
        .run(
            &http,
            json!({"contentType": "application/octet-stream", "body": [0, 255, 16]}),
        )
        .await;
    let requests = http.requests.borrow();
    assert_eq!(header(&requests[0], "content-type"), Some("text/plain"));
    assert_eq!(requests[0].body.as_deref(), Some(&b"plain words"[..]));
    assert_eq!(
        header(&requests[1], "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(requests[1].body.as_deref(), Some(&[0u8, 255, 16][..]));
}

// ---------------------------------------------------------------------------------------------
// Response helpers

#[test]
fn upstream_message_order() {
    let m = |v: Value| upstream_message(&v, 418);
    assert_eq!(m(json!({"error": {"message": "a"}, "message": "b"})), "a");
    assert_eq!(m(json!({"message": "b", "errorMessage": "c"})), "b");
    assert_eq!(
        m(json!({"errorMessage": "c", "errors": [{"detail": "d"}]})),
        "c"
    );
    assert_eq!(
        m(json!({"errors": [{"title": ""}, {"message": "e", "title": "t"}], "detail": "f"})),
        "e"
    );
    assert_eq!(m(json!({"detail": "f", "title": "g"})), "f");
    assert_eq!(m(json!({"title": "g", "description": "h"})), "g");
    assert_eq!(m(json!({"description": "h"})), "h");
    assert_eq!(m(json!({"other": 1})), "{\"other\":1}");
    assert_eq!(m(json!("plain text")), "plain text");
    assert_eq!(m(json!("")), "Upstream returned HTTP 418");
    assert_eq!(m(Value::Null), "Upstream returned HTTP 418");
    assert_eq!(m(json!(5)), "Upstream returned HTTP 418");
    let long = m(json!({"x": "y".repeat(5000)}));
    assert_eq!(long.chars().count(), MESSAGE_CAP + 1);
    assert!(long.ends_with('…'));
}

#[tokio::test]
async fn non_json_errors_and_json_fallback() {
    let http = ScriptedHttp::default();
    http.on(|r| {
        r.url
            .ends_with("limit=1")
            .then(|| respond(500, &[("content-type", "text/html")], "<h1>down</h1>"))
    });
    http.on(|_| {
        Some(respond(
            200,
            &[
                ("content-type", "application/json"),
                ("set-cookie", "a=1"),
                ("Set-Cookie", "b=2"),
            ],
            "not json",
        ))
    });
    let setup = Setup::petstore("pets.listPets");
    let result = setup.run(&http, json!({"limit": 1})).await;
    assert_eq!(
        result,
        json!({"ok": false, "error": {"code": "upstream_http_error", "status": 500, "message": "<h1>down</h1>", "details": "<h1>down</h1>"}})
    );
    let result = setup.run(&http, json!({})).await;
    assert_eq!(result["data"], json!("not json"));
    assert_eq!(result["http"]["headers"]["set-cookie"], json!("a=1, b=2"));
}

#[test]
fn sniffing_and_helpers() {
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
    assert_eq!(sniff(b"GIF89a..."), "image/gif");
    assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
    assert_eq!(sniff(b"PK\x03\x04rest"), "application/zip");
    assert_eq!(sniff("héllo\n".as_bytes()), "text/plain");
    assert_eq!(sniff(&[0, 1, 2]), "application/octet-stream");
    assert_eq!(sniff(&[]), "application/octet-stream");
    assert_eq!(
        disposition_filename("attachment; filename*=UTF-8''na%C3%AFve.txt; filename=\"x\""),
        Some("naïve.txt".into())
    );
    assert_eq!(disposition_filename("inline"), None);
    assert_eq!(percent_encode("a b/ü?&=", false), "a%20b%2F%C3%BC%3F%26%3D");
    assert_eq!(percent_encode("a b/ü?&=", true), "a%20b/%C3%BC?&=");
    assert_eq!(js_string(&json!(2.0)), "2");
    assert_eq!(js_string(&json!(2.5)), "2.5");
    assert_eq!(js_string(&json!([1, null, "x"])), "1,,x");
    assert_eq!(header_value("  v \r\n"), Some("v".into()));
    assert_eq!(header_value("a\nb"), None);
}
