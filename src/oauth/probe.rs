//! `POST /oauth/probe` (executor-behaviour.md §3.8): finds the authorization server behind a
//! URL. RFC 9728 protected-resource metadata first — named by a 401's
//! `WWW-Authenticate: Bearer resource_metadata="…"`, else at
//! `/.well-known/oauth-protected-resource` (path-inserted, then at the root) — whose
//! `authorization_servers[0]` becomes the issuer; then RFC 8414 authorization-server metadata and
//! OpenID discovery for that issuer (path-inserted forms first, then the OpenID path-appended
//! form). Every fetch goes through `guarded_fetch`; documents are read as `serde_json::Value`.

use serde_json::{json, Value};

use super::OAuthError;
use crate::app::Services;
use crate::net::http::{guarded_fetch, OutboundRequest, OutboundResponse};

const MAX_BODY: usize = 512 * 1024;
const PRM: &str = "/.well-known/oauth-protected-resource";
const AS_META: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

async fn get(services: Services<'_>, url: &str) -> Option<OutboundResponse> {
    guarded_fetch(
        services.http,
        OutboundRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
            timeout_ms: super::HTTP_TIMEOUT_MS,
            max_body_bytes: MAX_BODY,
        },
        services.config.allow_local_network,
    )
    .await
    .ok()
}

/// A JSON object from a 2xx answer.
async fn document(services: Services<'_>, url: &str) -> Option<Value> {
    let response = get(services, url).await?;
    if !(200..300).contains(&response.status) {
        return None;
    }
    serde_json::from_slice::<Value>(&response.body)
        .ok()
        .filter(Value::is_object)
}

/// `resource_metadata="<url>"` from a `WWW-Authenticate` value.
pub fn resource_metadata_param(header: &str) -> Option<String> {
    let at = header.find("resource_metadata=")?;
    let rest = header[at + "resource_metadata=".len()..].trim_start();
    let value = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.split('"').next()?
    } else {
        rest.split([',', ' ']).next()?
    };
    (!value.is_empty()).then(|| value.to_string())
}

/// `origin` + `well_known` + `path` (path-inserted, RFC 8414 §3.1 / RFC 9728 §3.1), and the
/// root form when the path is not empty.
fn well_known(url: &url::Url, suffix: &str) -> Vec<String> {
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let mut out = Vec::new();
    if !path.is_empty() {
        out.push(format!("{origin}{suffix}{path}"));
    }
    out.push(format!("{origin}{suffix}"));
    out
}

/// The protected-resource metadata for `url`, if the resource publishes any.
async fn protected_resource(services: Services<'_>, url: &url::Url) -> Option<Value> {
    if url.path().starts_with(PRM) {
        return document(services, url.as_str()).await;
    }
    // A resource server names its metadata in the 401 challenge (MCP servers do).
    if let Some(response) = get(services, url.as_str()).await {
        if response.status == 401 {
            if let Some(meta) = response
                .header("www-authenticate")
                .and_then(resource_metadata_param)
            {
                if let Some(doc) = document(services, &meta).await {
                    return Some(doc);
                }
            }
        }
    }
    for candidate in well_known(url, PRM) {
        if let Some(doc) = document(services, &candidate).await {
            return Some(doc);
        }
    }
    None
}

/// Authorization-server metadata for `issuer`.
async fn authorization_server(services: Services<'_>, issuer: &url::Url) -> Option<Value> {
    let path = issuer.path();
    let mut candidates = Vec::new();
    if path.starts_with(AS_META) || path.starts_with(OIDC) {
        candidates.push(issuer.to_string());
    } else {
        candidates.extend(well_known(issuer, AS_META));
        candidates.extend(well_known(issuer, OIDC));
        let trimmed = issuer.as_str().trim_end_matches('/');
        let appended = format!("{trimmed}{OIDC}");
        if !candidates.contains(&appended) {
            candidates.push(appended);
        }
    }
    for candidate in candidates {
        if let Some(doc) = document(services, &candidate).await {
            let has = |k: &str| doc.get(k).and_then(Value::as_str).is_some();
            if has("authorization_endpoint") || has("token_endpoint") {
                return Some(doc);
            }
        }
    }
    None
}

fn strings(doc: &Value, key: &str) -> Option<Vec<String>> {
    doc.get(key).and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// `POST /oauth/probe` ⇒ `{authorizationUrl, tokenUrl, resource, scopesSupported?,
/// registrationEndpoint, tokenEndpointAuthMethodsSupported?}`.
pub async fn probe(services: Services<'_>, url: &str) -> Result<Value, OAuthError> {
    let parsed = crate::net::parse_url(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| OAuthError::Probe("The URL to probe must be an http(s) URL.".into()))?;
    let resource_meta = protected_resource(services, &parsed).await;
    let issuer = resource_meta
        .as_ref()
        .and_then(|m| m.get("authorization_servers"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .and_then(|s| crate::net::parse_url(s).ok())
        .unwrap_or_else(|| parsed.clone());
    let Some(meta) = authorization_server(services, &issuer).await else {
        return Err(OAuthError::Probe(format!(
            "No OAuth authorization server metadata was found for {}.",
            crate::net::ssrf::display_url(url)
        )));
    };
    let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    let resource = resource_meta
        .as_ref()
        .and_then(|m| m.get("resource"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let scopes = strings(&meta, "scopes_supported").or_else(|| {
        resource_meta
            .as_ref()
            .and_then(|m| strings(m, "scopes_supported"))
    });
    let mut out = json!({
        "authorizationUrl": text("authorization_endpoint").unwrap_or_default(),
        "tokenUrl": text("token_endpoint").unwrap_or_default(),
        "resource": resource,
        "registrationEndpoint": text("registration_endpoint"),
    });
    if let Some(scopes) = scopes {
        out["scopesSupported"] = json!(scopes);
    }
    if let Some(methods) = strings(&meta, "token_endpoint_auth_methods_supported") {
        out["tokenEndpointAuthMethodsSupported"] = json!(methods);
    }
    Ok(out)
}
