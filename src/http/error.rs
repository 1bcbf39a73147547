//! The one place where `/api` errors become HTTP responses (executor-behaviour.md §2): typed
//! `_tag` JSON errors, the `text/plain` 401, empty-body 404 for unknown routes, and opaque 500s
//! whose cause goes only to the log under a trace id.

use serde_json::{json, Map, Value};

use super::Response;
use crate::config::ConfigError;
use crate::logging;
use crate::store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    /// A typed error: `{"_tag": tag, ...fields}` with `status`.
    Tagged {
        status: u16,
        tag: &'static str,
        fields: Map<String, Value>,
    },
    /// The request does not fit the route's schema (bad JSON, missing field, bad parameter).
    BadRequest { message: String },
    /// No such `/api` route: 404 with an empty body.
    RouteNotFound,
    /// Protected routes without a valid identity: `401 text/plain Unauthorized`.
    Unauthorized,
    /// `GET /api/account/me` without a valid identity: `401 {"_tag":"AccountUnauthorized"}`.
    AccountUnauthorized,
    /// The Worker is misconfigured; the message names the variables, never their values.
    Config(String),
    /// Anything that is not the caller's fault. The cause is logged, never returned.
    Internal(String),
}

impl ApiError {
    pub fn tagged(status: u16, tag: &'static str, fields: Value) -> ApiError {
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        ApiError::Tagged {
            status,
            tag,
            fields,
        }
    }

    /// `404 {"_tag":"IntegrationNotFoundError","slug":…}`.
    pub fn integration_not_found(slug: &str) -> ApiError {
        ApiError::tagged(404, "IntegrationNotFoundError", json!({ "slug": slug }))
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(cause.to_string())
    }

    /// Renders the response. `now_ms` stamps trace ids.
    pub fn into_response(self, now_ms: f64) -> Response {
        match self {
            ApiError::Tagged {
                status,
                tag,
                mut fields,
            } => {
                fields.insert("_tag".into(), Value::String(tag.into()));
                Response::json(status, &Value::Object(fields))
            }
            ApiError::BadRequest { message } => Response::json(
                400,
                &json!({ "_tag": "HttpApiSchemaError", "message": message }),
            ),
            ApiError::RouteNotFound => Response::empty(404),
            ApiError::Unauthorized => {
                Response::text(401, "text/plain; charset=utf-8", "Unauthorized")
            }
            ApiError::AccountUnauthorized => {
                Response::json(401, &json!({ "_tag": "AccountUnauthorized" }))
            }
            ApiError::Config(message) => {
                logging::error(&format!("configuration error: {message}"));
                Response::json(
                    500,
                    &json!({ "_tag": "ConfigurationError", "message": message }),
                )
            }
            ApiError::Internal(cause) => {
                let trace_id = crate::ids::trace_id(now_ms);
                logging::error(&format!("internal error trace_id={trace_id}: {cause}"));
                Response::json(
                    500,
                    &json!({ "_tag": "InternalError", "traceId": trace_id }),
                )
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::Config(e.to_string())
    }
}

/// Parses a JSON request body with `parse` (a [`crate::json_fields`] reader), answering a
/// schema error on failure.
pub fn parse_body<T>(body: &[u8], parse: fn(&str) -> Result<T, String>) -> Result<T, ApiError> {
    parse(body_text(body)?).map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// Parses a JSON request body as a plain value (routes that walk it themselves).
pub fn parse_value(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_str(body_text(body)?)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// The body as text: present and UTF-8. JSON is UTF-8 (RFC 8259 §8.1); the whole body is checked
/// because the readers skip members they do not keep without decoding them, so invalid bytes
/// inside an ignored member would otherwise pass as a valid (no-op) request.
pub fn body_text(body: &[u8]) -> Result<&str, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("expected a JSON request body"));
    }
    std::str::from_utf8(body).map_err(|_| ApiError::bad_request("invalid request body: not UTF-8"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bodies_must_be_utf8_even_in_ignored_fields() {
        fn patch(text: &str) -> Result<Option<String>, String> {
            crate::json_fields::Fields::parse(text, &["name"], false)?.opt_string("name")
        }
        let bad = parse_body(b"{\"other\":\"\xc3\x28\"}", patch).unwrap_err();
        assert_eq!(bad.into_response(0.0).status, 400);
        assert_eq!(
            parse_body(br#"{"other":"fine","name":"x"}"#, patch).unwrap(),
            Some("x".to_owned())
        );
    }

    #[test]
    fn shapes_match_the_wire_conventions() {
        let r = ApiError::tagged(404, "IntegrationNotFoundError", json!({"slug": "x"}))
            .into_response(0.0);
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json_body().unwrap(),
            json!({"_tag": "IntegrationNotFoundError", "slug": "x"})
        );

        let r = ApiError::Unauthorized.into_response(0.0);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (401, b"Unauthorized".as_slice())
        );
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));

        let r = ApiError::RouteNotFound.into_response(0.0);
        assert_eq!((r.status, r.body.len()), (404, 0));

        let r = ApiError::AccountUnauthorized.into_response(0.0);
        assert_eq!(
            r.json_body().unwrap(),
            json!({"_tag": "AccountUnauthorized"})
        );
    }

    #[test]
    fn internal_errors_hide_the_cause() {
        let r = ApiError::internal("db exploded: secret detail").into_response(1_700_000_000_000.0);
        assert_eq!(r.status, 500);
        let body = r.json_body().unwrap();
        assert_eq!(body["_tag"], "InternalError");
        assert!(body["traceId"].as_str().unwrap().starts_with("cloudflare-"));
        assert!(!String::from_utf8_lossy(&r.body).contains("secret detail"));
    }

    #[test]
    fn schema_errors_are_400_with_a_message() {
        fn any(text: &str) -> Result<(), String> {
            crate::json_fields::Fields::parse(text, &[], false).map(|_| ())
        }
        let e = parse_body(b"{nope", any).unwrap_err().into_response(0.0);
        assert_eq!(e.status, 400);
        assert_eq!(e.json_body().unwrap()["_tag"], "HttpApiSchemaError");
        let e = parse_body(b"", any).unwrap_err().into_response(0.0);
        assert_eq!(e.status, 400);
    }
}
