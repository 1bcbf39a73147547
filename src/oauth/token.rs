//! The token endpoint (RFC 6749 §4.1.3, §4.4, §6): a form-encoded POST through
//! [`guarded_fetch`], answered as a [`TokenSet`] whose values are [`SecretValue`]s. Client
//! authentication is `client_secret_post` (or none for public clients). Responses are read as
//! `serde_json::Value` (or a form body, which some providers still send).

use serde_json::Value;

use crate::app::Services;
use crate::crypto::SecretValue;
use crate::net::http::{guarded_fetch, FetchError, OutboundRequest};

/// Largest token response read.
const MAX_BODY: usize = 256 * 1024;

/// What a successful token response carried.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: SecretValue,
    pub refresh_token: Option<SecretValue>,
    /// Seconds, when the server said.
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
}

impl TokenSet {
    /// Epoch ms of expiry, when known.
    pub fn expires_at(&self, now_ms: i64) -> Option<i64> {
        self.expires_in
            .map(|s| now_ms.saturating_add(s.saturating_mul(1000)))
    }
}

/// Why the token endpoint gave no tokens. Never carries a token or secret.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    /// An OAuth error response (`error` = `invalid_grant`, `invalid_client`, …).
    Grant {
        error: String,
        description: Option<String>,
    },
    /// A non-success status without an OAuth error body.
    Status(u16),
    Fetch(FetchError),
    /// A success status whose body has no usable `access_token`.
    Malformed,
}

impl TokenError {
    /// Whether the grant itself is dead (re-authorisation is the only way on).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Grant { error, .. } if error == "invalid_grant")
    }

    pub fn message(&self) -> String {
        match self {
            TokenError::Grant {
                error,
                description: Some(d),
            } => format!("The authorization server refused the request: {error} ({d})"),
            TokenError::Grant { error, .. } => {
                format!("The authorization server refused the request: {error}")
            }
            TokenError::Status(s) => format!("The token endpoint answered HTTP {s}"),
            TokenError::Fetch(e) => format!("The token endpoint could not be reached: {e}"),
            TokenError::Malformed => "The token endpoint's answer has no access token".into(),
        }
    }
}

/// Form-encodes `params`.
pub fn form(params: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        out.append_pair(k, v);
    }
    out.finish()
}

/// POSTs `params` to `token_url` and reads the answer.
pub async fn exchange(
    services: Services<'_>,
    token_url: &str,
    params: &[(&str, &str)],
) -> Result<TokenSet, TokenError> {
    let request = OutboundRequest {
        method: "POST".into(),
        url: token_url.into(),
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("accept".into(), "application/json".into()),
        ],
        body: Some(form(params).into_bytes()),
        timeout_ms: super::HTTP_TIMEOUT_MS,
        max_body_bytes: MAX_BODY,
    };
    let response = guarded_fetch(services.http, request, services.config.allow_local_network)
        .await
        .map_err(TokenError::Fetch)?;
    let body = parse_body(&response.body);
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        return Err(TokenError::Grant {
            error: super::clip(error),
            description: body
                .get("error_description")
                .and_then(Value::as_str)
                .map(super::clip),
        });
    }
    if !(200..300).contains(&response.status) {
        return Err(TokenError::Status(response.status));
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let access_token = text("access_token").ok_or(TokenError::Malformed)?;
    let expires_in = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    Ok(TokenSet {
        access_token: SecretValue::new(access_token),
        refresh_token: text("refresh_token").map(SecretValue::new),
        expires_in,
        scope: text("scope"),
    })
}

/// A JSON object body, else a form-encoded one as an object of strings, else `{}`.
fn parse_body(body: &[u8]) -> serde_json::Map<String, Value> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return map;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Default::default();
    };
    url::form_urlencoded::parse(text.trim().as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found while writing the `oauth_response` fuzz target: a huge `expires_in` overflowed the
    /// expiry sum (a panic in debug builds, a wrapped past date in release).
    #[test]
    fn a_huge_expires_in_saturates() {
        let tokens = TokenSet {
            access_token: SecretValue::new("t"),
            refresh_token: None,
            expires_in: Some(i64::MAX),
            scope: None,
        };
        assert_eq!(tokens.expires_at(1_700_000_000_000), Some(i64::MAX));
    }
}
