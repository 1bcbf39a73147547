//! Access JWT parsing and claim checks (executor-behaviour.md §10.2).
//!
//! Only the compact JWS form with `alg: RS256` is accepted: `none`, `HS*` and everything else are
//! rejected before any key is looked up. Claims are checked with a clock tolerance of zero.
//! Error messages never contain the token or any part of it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::config::AccessConfig;

/// The only signature algorithm accepted.
pub const RS256: &str = "RS256";

/// Tokens larger than this are refused unread (Access assertions are a few KiB).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Why a request carries no usable identity. Every variant means "unauthenticated" (401); the
/// distinction is for logs and tests only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Access assertion on the request")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported token algorithm `{0}` (only RS256 is accepted)")]
    UnsupportedAlgorithm(String),
    #[error("token header has no key id (kid)")]
    MissingKeyId,
    #[error("token was signed by an unknown key")]
    UnknownKey,
    #[error("signing key could not be used: {0}")]
    InvalidKey(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not yet valid (nbf)")]
    NotYetValid,
    #[error("token audience does not match ACCESS_AUD")]
    WrongAudience,
    #[error("token issuer does not match the Access team domain")]
    WrongIssuer,
    #[error("token claim `{0}` is missing")]
    MissingClaim(&'static str),
    #[error("token claim `{0}` has the wrong type")]
    InvalidClaim(&'static str),
    #[error("Access signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

/// The protected header of a JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtHeader {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A parsed, not yet verified, token.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtParts {
    pub header: JwtHeader,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Keeps attacker-chosen header values short when they appear in an error message.
fn clip(value: &str) -> String {
    const MAX: usize = 32;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let mut clipped: String = value.chars().take(MAX).collect();
        clipped.push('…');
        clipped
    }
}

fn decode_segment(segment: &str, what: &'static str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthError::Malformed(what))
}

fn json_object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthError::Malformed(what)),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<String>, AuthError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::Malformed(what)),
    }
}

/// Splits and decodes a compact JWS (`header.payload.signature`, base64url without padding) and
/// rejects every algorithm but RS256. The signature is not checked here.
pub fn parse_jwt(token: &str) -> Result<JwtParts, AuthError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed("token is too large"));
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(AuthError::Malformed("expected three dot-separated parts"));
    };

    let header = json_object(
        &decode_segment(header_b64, "header is not base64url")?,
        "header is not a JSON object",
    )?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err(AuthError::Malformed("header `alg` is not a string")),
        None => return Err(AuthError::Malformed("header has no `alg`")),
    };
    if alg != RS256 {
        return Err(AuthError::UnsupportedAlgorithm(clip(&alg)));
    }
    // Critical extensions we do not understand must make the token invalid (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(AuthError::Malformed("unsupported `crit` header"));
    }
    let kid = optional_string(&header, "kid", "header `kid` is not a string")?;
    let typ = optional_string(&header, "typ", "header `typ` is not a string")?;

    let claims = json_object(
        &decode_segment(payload_b64, "payload is not base64url")?,
        "payload is not a JSON object",
    )?;
    let signature = decode_segment(signature_b64, "signature is not base64url")?;
    if signature.is_empty() {
        return Err(AuthError::Malformed("signature is empty"));
    }

    Ok(JwtParts {
        header: JwtHeader { alg, kid, typ },
        claims,
        signing_input: format!("{header_b64}.{payload_b64}"),
        signature,
    })
}

fn numeric_date(claims: &Map<String, Value>, key: &'static str) -> Result<Option<f64>, AuthError> {
    match claims.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(AuthError::InvalidClaim(key)),
        Some(_) => Err(AuthError::InvalidClaim(key)),
    }
}

/// Checks `iss` (exact), `aud` (string or array containing `access.aud`), `exp` (required;
/// expired when `now >= exp`), `nbf` (when present; not yet valid when `now < nbf`) and the type
/// of `iat`. Clock tolerance is zero.
pub fn check_claims(
    claims: &Map<String, Value>,
    access: &AccessConfig,
    now_secs: i64,
) -> Result<(), AuthError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if !access.issuer.is_empty() && *iss == access.issuer => {}
        _ => return Err(AuthError::WrongIssuer),
    }

    // Fail closed: an empty expected audience never matches (upstream's jose would skip the check).
    let audience_ok = !access.aud.is_empty()
        && match claims.get("aud") {
            Some(Value::String(aud)) => *aud == access.aud,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|aud| aud.as_str() == Some(access.aud.as_str())),
            _ => false,
        };
    if !audience_ok {
        return Err(AuthError::WrongAudience);
    }

    let now = now_secs as f64;
    let exp = numeric_date(claims, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
    if now >= exp {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now < nbf {
            return Err(AuthError::NotYetValid);
        }
    }
    numeric_date(claims, "iat")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn token(header: Value, claims: Value) -> String {
        format!(
            "{}.{}.{}",
            b64(&header),
            b64(&claims),
            URL_SAFE_NO_PAD.encode(b"sig")
        )
    }

    fn access() -> AccessConfig {
        AccessConfig {
            team_domain: "team.cloudflareaccess.com".into(),
            aud: "aud-tag".into(),
            certs_url: "https://team.cloudflareaccess.com/cdn-cgi/access/certs".into(),
            issuer: "https://team.cloudflareaccess.com".into(),
        }
    }

    fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("object expected"),
        }
    }

    const NOW: i64 = 1_700_000_000;

    fn good_claims() -> Value {
        json!({
            "iss": "https://team.cloudflareaccess.com",
            "aud": ["aud-tag"],
            "exp": NOW + 60,
            "nbf": NOW - 60,
            "iat": NOW - 60,
            "email": "a@b.c",
        })
    }

    fn with(mut base: Value, key: &str, value: Value) -> Map<String, Value> {
        base[key] = value;
        obj(base)
    }

    fn without(base: Value, key: &str) -> Map<String, Value> {
        let mut map = obj(base);
        map.remove(key);
        map
    }

    #[test]
    fn parses_an_rs256_token() {
        let t = token(
            json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
            json!({"sub": "x"}),
        );
        let parts = parse_jwt(&t).unwrap();
        assert_eq!(parts.header.alg, "RS256");
        assert_eq!(parts.header.kid.as_deref(), Some("k1"));
        assert_eq!(parts.header.typ.as_deref(), Some("JWT"));
        assert_eq!(parts.claims["sub"], "x");
        assert_eq!(parts.signature, b"sig");
        let dot = t.rfind('.').unwrap();
        assert_eq!(parts.signing_input, &t[..dot]);
    }

    #[test]
    fn rejects_other_algorithms() {
        let claims = json!({"sub": "x"});
        let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims));
        assert_eq!(
            parse_jwt(&none),
            Err(AuthError::UnsupportedAlgorithm("none".into()))
        );
        let hs = token(json!({"alg": "HS256", "kid": "k"}), claims.clone());
        assert_eq!(
            parse_jwt(&hs),
            Err(AuthError::UnsupportedAlgorithm("HS256".into()))
        );
        let lower = token(json!({"alg": "rs256"}), claims.clone());
        assert!(matches!(
            parse_jwt(&lower),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
        let missing = token(json!({"kid": "k"}), claims.clone());
        assert!(matches!(parse_jwt(&missing), Err(AuthError::Malformed(_))));
        let crit = token(
            json!({"alg": "RS256", "crit": ["b64"], "b64": false}),
            claims,
        );
        assert!(matches!(parse_jwt(&crit), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn rejects_garbage_and_wrong_shapes() {
        for bad in [
            "abc.def.ghi",
            "abc.def",
            "a.b.c.d",
            "onlyonepart",
            "",
            "..",
            "!!!.???.***",
        ] {
            let err = parse_jwt(bad).unwrap_err();
            assert!(
                matches!(err, AuthError::Malformed(_) | AuthError::Missing),
                "{bad:?} => {err:?}"
            );
        }
        let header = b64(&json!({"alg": "RS256"}));
        let two_parts = format!("{header}.{}", b64(&json!({})));
        assert!(matches!(
            parse_jwt(&two_parts),
            Err(AuthError::Malformed(_))
        ));
        // Payload is JSON but not an object.
        let array = format!("{header}.{}.c2ln", b64(&json!([1, 2])));
        assert!(matches!(parse_jwt(&array), Err(AuthError::Malformed(_))));
        // Padding is not base64url-without-padding.
        let padded = format!("{header}.{}.c2lnbg==", b64(&json!({})));
        assert!(matches!(parse_jwt(&padded), Err(AuthError::Malformed(_))));
        // Empty signature.
        let empty_sig = format!("{header}.{}.", b64(&json!({})));
        assert!(matches!(
            parse_jwt(&empty_sig),
            Err(AuthError::Malformed(_))
        ));
        // Oversized.
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(parse_jwt(&huge), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn errors_never_echo_the_token() {
        let secretish = "eyJhbGciOiJSUzI1NiJ9SECRETSECRET";
        for t in [
            format!("{secretish}.x.y"),
            format!("{secretish}.{secretish}"),
            token(json!({"alg": format!("HS256{secretish}")}), json!({})),
        ] {
            let msg = parse_jwt(&t).unwrap_err().to_string();
            assert!(!msg.contains("SECRETSECRET"), "{msg}");
        }
    }

    #[test]
    fn accepts_valid_claims() {
        assert_eq!(check_claims(&obj(good_claims()), &access(), NOW), Ok(()));
        // aud as a plain string, and an array with other entries.
        let c = with(good_claims(), "aud", json!("aud-tag"));
        assert_eq!(check_claims(&c, &access(), NOW), Ok(()));
        let c = with(good_claims(), "aud", json!(["other", "aud-tag"]));
        assert_eq!(check_claims(&c, &access(), NOW), Ok(()));
        // nbf and iat are optional.
        let c = without(good_claims(), "nbf");
        assert_eq!(check_claims(&c, &access(), NOW), Ok(()));
        let c = without(good_claims(), "iat");
        assert_eq!(check_claims(&c, &access(), NOW), Ok(()));
        // nbf == now is valid; exp one second ahead is valid.
        let c = with(good_claims(), "nbf", json!(NOW));
        assert_eq!(check_claims(&c, &access(), NOW), Ok(()));
        let c = with(good_claims(), "exp", json!(NOW + 1));
        assert_eq!(check_claims(&c, &access(), NOW), Ok(()));
    }

    #[test]
    fn time_claims() {
        let c = with(good_claims(), "exp", json!(NOW));
        assert_eq!(check_claims(&c, &access(), NOW), Err(AuthError::Expired));
        let c = with(good_claims(), "exp", json!(NOW - 3600));
        assert_eq!(check_claims(&c, &access(), NOW), Err(AuthError::Expired));
        let c = with(good_claims(), "nbf", json!(NOW + 1));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::NotYetValid)
        );
        let c = without(good_claims(), "exp");
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::MissingClaim("exp"))
        );
        let c = with(good_claims(), "exp", json!("9999999999"));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::InvalidClaim("exp"))
        );
        let c = with(good_claims(), "nbf", json!(null));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::InvalidClaim("nbf"))
        );
        let c = with(good_claims(), "iat", json!("yesterday"));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::InvalidClaim("iat"))
        );
    }

    #[test]
    fn audience_and_issuer() {
        let c = with(good_claims(), "aud", json!(["other"]));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongAudience)
        );
        let c = with(good_claims(), "aud", json!("other"));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongAudience)
        );
        let c = with(good_claims(), "aud", json!([]));
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongAudience)
        );
        let c = without(good_claims(), "aud");
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongAudience)
        );
        let mut empty_aud = access();
        empty_aud.aud.clear();
        let c = with(good_claims(), "aud", json!(""));
        assert_eq!(
            check_claims(&c, &empty_aud, NOW),
            Err(AuthError::WrongAudience)
        );

        let c = with(
            good_claims(),
            "iss",
            json!("https://evil.cloudflareaccess.com"),
        );
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongIssuer)
        );
        let c = with(
            good_claims(),
            "iss",
            json!("https://team.cloudflareaccess.com/"),
        );
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongIssuer)
        );
        let c = without(good_claims(), "iss");
        assert_eq!(
            check_claims(&c, &access(), NOW),
            Err(AuthError::WrongIssuer)
        );
    }
}
