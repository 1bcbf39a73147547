//! Request-level protections shared by `/api` and `/mcp`: the body size cap (checked by the edge
//! against `Content-Length` before reading and while reading, and again by the router on the
//! bytes it got) and the `/api` cross-site request checks (`Origin`, `Content-Type`).
//!
//! Body caps (SECURITY.md "Body and spec size limits"):
//! - `/api` routes that take an OpenAPI document, Google Discovery documents or a GraphQL
//!   introspection result inline:
//!   [`MAX_SPEC_BODY_BYTES`] (a spec of [`MAX_SPEC_BYTES`] plus JSON string escaping);
//! - every other `/api` route: [`MAX_API_BODY_BYTES`];
//! - `/mcp`: [`MAX_MCP_BODY_BYTES`] (the MCP TypeScript SDK's own transport limit).
//!
//! Over the cap: `/api` answers `413 {"_tag":"RequestTooLargeError","limitBytes",…}`, `/mcp` a
//! JSON-RPC error with HTTP 413; nothing of the request is processed.

use serde_json::json;

use super::error::ApiError;
use super::{Request, Response};
use crate::mcp::jsonrpc::McpFailure;
pub use crate::plugins::openapi::store::MAX_SPEC_BYTES;

/// Body cap of ordinary JSON `/api` routes: room for the largest code a paused execution can
/// keep (`executions::MAX_PAUSED_ROW_BYTES`).
pub const MAX_API_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Body cap of the `/api` routes that take a spec or introspection result inline.
pub const MAX_SPEC_BODY_BYTES: usize = MAX_SPEC_BYTES + MAX_SPEC_BYTES / 4;
/// Body cap of `/mcp` requests.
pub const MAX_MCP_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The body cap for a request to `path` with `method`.
pub fn body_limit(method: &str, path: &str) -> usize {
    if path == "/mcp" || path.starts_with("/mcp/") {
        return MAX_MCP_BODY_BYTES;
    }
    let spec_route = method.eq_ignore_ascii_case("POST")
        && match path.strip_prefix("/api/") {
            Some(
                "openapi/preview" | "openapi/specs" | "graphql/integrations" | "google/bundles",
            ) => true,
            Some(rest) => {
                (rest.starts_with("openapi/integrations/") && rest.ends_with("/spec"))
                    || (rest.starts_with("google/integrations/") && rest.ends_with("/bundle"))
            }
            None => false,
        };
    if spec_route {
        MAX_SPEC_BODY_BYTES
    } else {
        MAX_API_BODY_BYTES
    }
}

/// A `Content-Length` over the cap (an unparsable one is left to the reader, which counts).
pub fn declared_too_large(request: &Request, limit: usize) -> bool {
    request
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

fn shown(limit: usize) -> String {
    if limit.is_multiple_of(1024 * 1024) {
        format!("{} MiB", limit / (1024 * 1024))
    } else {
        format!("{limit} bytes")
    }
}

/// The answer to a body over `limit`, in the shape of the surface that was asked.
pub fn too_large(path: &str, limit: usize, now_ms: f64) -> Response {
    let message = format!("The request body is larger than {}.", shown(limit));
    if path == "/mcp" || path.starts_with("/mcp/") {
        return crate::mcp::jsonrpc::with_cors(
            McpFailure::PayloadTooLarge { message }.into_response(),
        );
    }
    ApiError::tagged(
        413,
        "RequestTooLargeError",
        json!({ "limitBytes": limit, "message": message }),
    )
    .into_response(now_ms)
}

/// The router's own check on the bytes it was given (the edge stops earlier; host tests and
/// any other entry point get the same answer).
pub fn check_body(request: &Request, now_ms: f64) -> Option<Response> {
    let limit = body_limit(&request.method, &request.path);
    (request.body.len() > limit).then(|| too_large(&request.path, limit, now_ms))
}

/// Cross-site request checks for a state-changing `/api` request (POST, PUT, PATCH, DELETE):
/// an `Origin` header, when present, must be this deployment's (the same rule as `/mcp`, see
/// [`crate::mcp::envelope::origin_allowed`]); a non-empty body must be declared
/// `application/json`. Together they refuse what a hostile page can make a browser send with
/// the user's Access cookie: cross-origin `fetch` and form posts (which always carry `Origin`
/// and can only use form or text content types without a preflight). Clients that are not
/// browsers (the service token, `provision`, curl) send no `Origin` and pass.
pub fn check_cross_site(request: &Request, public_site_url: Option<&str>) -> Result<(), ApiError> {
    if !matches!(request.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        return Ok(());
    }
    if !crate::mcp::envelope::origin_allowed(request, public_site_url) {
        return Err(ApiError::tagged(
            403,
            "ForbiddenOriginError",
            json!({ "message": "Cross-origin requests may not change anything: the Origin is not this deployment's." }),
        ));
    }
    if !request.body.is_empty() && !is_json(request.header("content-type")) {
        return Err(ApiError::tagged(
            415,
            "UnsupportedMediaTypeError",
            json!({ "message": "Request bodies must be sent with Content-Type: application/json." }),
        ));
    }
    Ok(())
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn post(path: &str) -> Request {
        Request::new("POST", &format!("https://x.example{path}"))
    }

    #[test]
    fn limits_per_route() {
        assert_eq!(body_limit("POST", "/mcp"), MAX_MCP_BODY_BYTES);
        assert_eq!(body_limit("POST", "/api/executions"), MAX_API_BODY_BYTES);
        assert_eq!(body_limit("POST", "/api/policies"), MAX_API_BODY_BYTES);
        for spec in [
            "/api/openapi/preview",
            "/api/openapi/specs",
            "/api/openapi/integrations/petstore/spec",
            "/api/graphql/integrations",
            "/api/google/bundles",
            "/api/google/integrations/tasks/bundle",
        ] {
            assert_eq!(body_limit("POST", spec), MAX_SPEC_BODY_BYTES, "{spec}");
        }
        assert_eq!(
            body_limit("POST", "/api/openapi/integrations/petstore/config"),
            MAX_API_BODY_BYTES
        );
        assert_eq!(
            body_limit("PATCH", "/api/openapi/specs"),
            MAX_API_BODY_BYTES
        );
        // The biggest fixture (GitHub, ~13 MB) fits inline with room for escaping.
        const _: () = assert!(MAX_SPEC_BODY_BYTES > 2 * 13_001_822);
        const _: () = assert!(MAX_API_BODY_BYTES > crate::executions::MAX_PAUSED_ROW_BYTES + 1024);
    }

    #[test]
    fn over_the_cap_is_a_typed_413_on_both_surfaces() {
        let mut request = post("/api/policies");
        request.body = vec![b' '; MAX_API_BODY_BYTES + 1];
        let answer = check_body(&request, 0.0).unwrap();
        assert_eq!(answer.status, 413);
        let body = answer.json_body().unwrap();
        assert_eq!(body["_tag"], "RequestTooLargeError");
        assert_eq!(body["limitBytes"], MAX_API_BODY_BYTES);
        assert!(body["message"].as_str().unwrap().contains("2 MiB"));
        request.body.pop();
        assert!(check_body(&request, 0.0).is_none());

        let mut request = post("/mcp");
        request.body = vec![b' '; MAX_MCP_BODY_BYTES + 1];
        let answer = check_body(&request, 0.0).unwrap();
        assert_eq!(answer.status, 413);
        let body = answer.json_body().unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["code"], crate::mcp::jsonrpc::INVALID_REQUEST);
        assert!(body["error"]["message"].as_str().unwrap().contains("4 MiB"));
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn declared_length_is_checked_before_reading() {
        let request = post("/api/policies").with_header("content-length", "2097153");
        assert!(declared_too_large(&request, MAX_API_BODY_BYTES));
        let request = post("/api/policies").with_header("content-length", "2097152");
        assert!(!declared_too_large(&request, MAX_API_BODY_BYTES));
        let request = post("/api/policies").with_header("content-length", "nonsense");
        assert!(!declared_too_large(&request, MAX_API_BODY_BYTES));
    }

    #[test]
    fn cross_site_writes_are_refused() {
        let json_post = |origin: Option<&str>| {
            let r = post("/api/policies")
                .with_header("content-type", "application/json; charset=utf-8")
                .with_body(b"{}".to_vec());
            match origin {
                Some(o) => r.with_header("origin", o),
                None => r,
            }
        };
        // No Origin (not a browser) and the same origin pass.
        assert!(check_cross_site(&json_post(None), None).is_ok());
        assert!(check_cross_site(&json_post(Some("https://x.example")), None).is_ok());
        assert!(check_cross_site(
            &json_post(Some("https://console.example")),
            Some("https://console.example")
        )
        .is_ok());
        for hostile in [
            "https://evil.example",
            "null",
            "http://x.example",
            "https://x.example.evil.example",
        ] {
            let answer = check_cross_site(&json_post(Some(hostile)), None)
                .unwrap_err()
                .into_response(0.0);
            assert_eq!(answer.status, 403, "{hostile}");
            assert_eq!(answer.json_body().unwrap()["_tag"], "ForbiddenOriginError");
        }
        // Every state-changing method; reads are never refused.
        for method in ["PUT", "PATCH", "DELETE"] {
            let mut r = json_post(Some("https://evil.example"));
            r.method = method.into();
            assert!(check_cross_site(&r, None).is_err(), "{method}");
        }
        let mut get = json_post(Some("https://evil.example"));
        get.method = "GET".into();
        assert!(check_cross_site(&get, None).is_ok());

        // A body must be declared JSON (form and text posts need no preflight).
        for ctype in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
        ] {
            let mut r = post("/api/policies").with_body(b"{}".to_vec());
            if let Some(c) = ctype {
                r = r.with_header("content-type", c);
            }
            let answer = check_cross_site(&r, None).unwrap_err().into_response(0.0);
            assert_eq!(answer.status, 415, "{ctype:?}");
            assert_eq!(
                answer.json_body().unwrap()["_tag"],
                "UnsupportedMediaTypeError"
            );
        }
        // No body (DELETE, refresh): no content type needed.
        assert!(check_cross_site(&post("/api/connections/org/x/main/refresh"), None).is_ok());
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[tokio::test]
    async fn through_the_router_nothing_is_written() {
        use crate::http::testing::{TestWorld, TEST_USER_HEADER};
        let world = TestWorld::new();
        async fn policies(world: &TestWorld) -> serde_json::Value {
            world
                .call("GET", "/api/policies", None)
                .await
                .json_body()
                .unwrap()
        }
        let before = policies(&world).await;
        let policy = serde_json::json!({"owner": "org", "pattern": "a.*", "action": "block"});
        let request = |origin: Option<&str>, body: Vec<u8>| {
            let r = Request::new("POST", "http://127.0.0.1:8787/api/policies")
                .with_header(TEST_USER_HEADER, "dev")
                .with_header("content-type", "application/json")
                .with_body(body);
            match origin {
                Some(o) => r.with_header("origin", o),
                None => r,
            }
        };
        // Too large: padded with whitespace, so it would be a valid policy otherwise.
        let mut padded = serde_json::to_vec(&policy).unwrap();
        padded.resize(MAX_API_BODY_BYTES + 1, b' ');
        let answer = world.send_request(request(None, padded)).await;
        assert_eq!(answer.status, 413);
        // Cross-origin.
        let body = serde_json::to_vec(&policy).unwrap();
        let answer = world
            .send_request(request(Some("https://evil.example"), body.clone()))
            .await;
        assert_eq!(answer.status, 403);
        // Form-encoded text from the same origin.
        let mut form = request(Some("http://127.0.0.1:8787"), body.clone());
        form.headers.retain(|(n, _)| n != "content-type");
        form = form.with_header("content-type", "text/plain");
        assert_eq!(world.send_request(form).await.status, 415);
        assert_eq!(policies(&world).await, before);

        // The console (same origin) and clients without Origin get through.
        let answer = world
            .send_request(request(Some("http://127.0.0.1:8787"), body.clone()))
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.json_body());
        let answer = world.send_request(request(None, body)).await;
        assert_eq!(answer.status, 200);
    }
}
