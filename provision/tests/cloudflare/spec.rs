//! Checking requests against Cloudflare's OpenAPI document (loaded once per test process).
//!
//! For every request: the operation exists (method + path template; Access paths match the
//! `/{accounts_or_zones}/{account_or_zone_id}/…` templates), every query parameter is one
//! the operation declares, a required body is present with a content type the operation
//! accepts, and a JSON body — or the `metadata` part of the script upload — validates against
//! the request schema (types, enums, required properties, discriminated bindings, no
//! undeclared properties). Allow-listed quirks of the document: `PUT /workers/domains`
//! reuses its response schema as the request schema (only `hostname`, `service` and a zone
//! are required; `override_existing_origin` is accepted); module parts of the script upload
//! are keyed by module name instead of a `files` array; asset-upload part names are hashes.

use std::path::PathBuf;
use std::sync::OnceLock;

use provision::openapi::{Document, Strictness};
use serde_json::{json, Value};

/// Where the fixture lives, relative to the project root (override: `CLOUDFLARE_OPENAPI_GZ`).
pub fn fixture_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CLOUDFLARE_OPENAPI_GZ") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/openapi/cloudflare-api.openapi.json.gz")
}

/// The document, or `None` (with a notice) when the fixture is missing.
pub fn document() -> Option<&'static Document> {
    static DOC: OnceLock<Option<Document>> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = fixture_path();
        if !path.is_file() {
            eprintln!(
                "notice: {} is missing; requests are not checked against the OpenAPI document",
                path.display()
            );
            return None;
        }
        Some(Document::load(&path).expect("the Cloudflare OpenAPI document loads"))
    })
    .as_ref()
}

/// A request as the spec check sees it.
pub struct Request<'a> {
    pub method: &'a str,
    /// Below `/client/v4`.
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub content_type: Option<&'a str>,
    pub json: Option<&'a Value>,
    /// For multipart bodies: part names with the parsed `metadata` part, if any.
    pub parts: Option<&'a [(String, Option<Value>)]>,
}

/// Problems of `req` against the document (empty = conforms). Without the document: none.
pub fn check(req: &Request<'_>) -> Vec<String> {
    let Some(doc) = document() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Some(matched) = doc.find(req.method, req.path) else {
        return vec![format!(
            "{} {}: no such operation in the OpenAPI document",
            req.method, req.path
        )];
    };
    let (t, m) = (matched.template.as_str(), matched.method.as_str());
    if t.starts_with("/{accounts_or_zones}") && !req.path.starts_with("/accounts/") {
        out.push(format!("{t}: Access calls must use `/accounts/…`"));
    }
    let params = doc.parameters(t, m);
    for (key, _) in req.query {
        let declared = params.iter().any(|p| {
            p.get("in").and_then(Value::as_str) == Some("query")
                && p.get("name").and_then(Value::as_str) == Some(key.as_str())
        });
        if !declared {
            out.push(format!(
                "{} {t}: undeclared query parameter `{key}`",
                req.method
            ));
        }
    }
    for p in &params {
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        if p.get("in").and_then(Value::as_str) == Some("query") && required {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            if !req.query.iter().any(|(k, _)| k == name) {
                out.push(format!(
                    "{} {t}: missing required query parameter `{name}`",
                    req.method
                ));
            }
        }
    }
    let body = doc.request_body(t, m);
    let essence = req
        .content_type
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_string());
    match (&body, &essence) {
        (Some((true, _)), None) => {
            out.push(format!("{} {t}: the request body is required", req.method));
        }
        (None, Some(ct)) if req.json.is_some() || req.parts.is_some() => {
            out.push(format!(
                "{} {t}: takes no request body, got {ct}",
                req.method
            ));
        }
        (Some((_, types)), Some(ct)) if !types.contains(ct) => {
            out.push(format!(
                "{} {t}: content type `{ct}` is not one of {types:?}",
                req.method
            ));
        }
        _ => {}
    }
    let Some(ct) = essence else {
        return out;
    };
    if let Some(value) = req.json {
        if let Some(schema) = doc.request_schema(t, m, &ct) {
            let schema = relaxed(doc, m, t, schema);
            for e in doc.validate(&schema, value, Strictness::Declared) {
                out.push(format!("{} {t}: {e}", req.method));
            }
        }
    }
    if let Some(parts) = req.parts {
        if let Some(schema) = doc.request_schema(t, m, &ct) {
            let schema = doc.resolve(schema);
            if t.ends_with("/workers/assets/upload") {
                return out;
            }
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !parts.iter().any(|(n, _)| n == name) {
                    out.push(format!(
                        "{} {t}: missing multipart part `{name}`",
                        req.method
                    ));
                }
            }
            for (name, parsed) in parts {
                let Some(prop) = schema.get("properties").and_then(|p| p.get(name)) else {
                    continue;
                };
                match parsed {
                    Some(value) => {
                        for e in doc.validate(prop, value, Strictness::Declared) {
                            out.push(format!("{} {t} part `{name}`: {e}", req.method));
                        }
                    }
                    None => out.push(format!(
                        "{} {t}: part `{name}` is not valid JSON",
                        req.method
                    )),
                }
            }
        }
    }
    out
}

/// The schema with the allow-listed quirks applied.
fn relaxed(doc: &Document, method: &str, template: &str, schema: &Value) -> Value {
    let mut schema = doc.resolve(schema).clone();
    if method == "put" && template == "/accounts/{account_id}/workers/domains" {
        schema["required"] = json!(["hostname", "service"]);
        schema["properties"]["override_existing_origin"] = json!({ "type": "boolean" });
    }
    schema
}
