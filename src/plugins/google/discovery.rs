//! Google Discovery documents ⇒ one OpenAPI 3.1 document (executor-behaviour.md §8.4).
//!
//! Pure: URLs and parsed documents in, OpenAPI JSON text out. The conversion walks
//! `serde_json::Value`s and *moves* schemas and parameters out of the Discovery document instead
//! of cloning them, so a multi-MB document is held once (its `Value`) plus what has already been
//! moved into the OpenAPI tree; each document is dropped as soon as it is converted. Everything
//! after the conversion (tool names, schemas, invocation, approvals) is the OpenAPI pipeline's.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::plugins::openapi::{AuthTemplate, OAuth2Template, OpenApiError};

/// Slug of the one auth method every Google integration declares.
pub const OAUTH_SLUG: &str = "googleOAuth2";
pub const AUTHORIZATION_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Largest Discovery document accepted (Google's biggest are a few MB).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Most documents in one bundle.
pub const MAX_DOCUMENTS: usize = 32;
/// Most methods in one bundle; past it the add fails instead of building a huge catalog.
pub const MAX_METHODS: usize = 10_000;
/// Most parameters in one converted bundle. Document-level parameters are copied into every
/// method, so a small hostile document (many shared parameters × many methods) could otherwise
/// expand into gigabytes; Google's own bundles stay far below.
pub const MAX_PARAMETERS: usize = 100_000;
/// Deepest `resources` nesting and schema nesting followed (real documents stay under 6).
const MAX_DEPTH: usize = 32;

const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";

fn invalid(message: impl Into<String>) -> OpenApiError {
    OpenApiError::Parse(message.into())
}

/// Normalises one bundle URL (§8.4): `https://www.googleapis.com/discovery/v1/apis/<s>/<v>/rest`
/// stays, `https://<s>.googleapis.com/$discovery/rest?version=<v>` becomes that form (`<x>-json`
/// hosts name service `<x>`). Other `http(s)` URLs are taken verbatim — a deliberate extension
/// for self-hosted Discovery documents and loopback tests; the SSRF guard still decides whether
/// they may be fetched. Credentials and fragments are refused everywhere.
pub fn normalise_url(input: &str) -> Result<String, OpenApiError> {
    let text = input.trim();
    let bad = |why: &str| invalid(format!("Invalid Google Discovery URL {text:?}: {why}"));
    let url = crate::net::parse_url(text).map_err(|_| bad("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http(s) URLs are fetched"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials in the URL are not allowed"));
    }
    if url.fragment().is_some() {
        return Err(bad("fragments are not allowed"));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !host.ends_with("googleapis.com") {
        return Ok(url.to_string());
    }
    if url.scheme() != "https" {
        return Err(bad("Google APIs are fetched over https"));
    }
    let canonical = |service: &str, version: &str| {
        format!("https://www.googleapis.com/discovery/v1/apis/{service}/{version}/rest")
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
    if host == "www.googleapis.com" {
        return match segments.as_slice() {
            ["discovery", "v1", "apis", service, version, "rest"]
                if url.query().is_none() && segment_ok(service) && segment_ok(version) =>
            {
                Ok(canonical(service, version))
            }
            _ => Err(bad("expected …/discovery/v1/apis/<service>/<version>/rest")),
        };
    }
    let service = host.trim_end_matches(".googleapis.com");
    let service = service.strip_suffix("-json").unwrap_or(service);
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match (segments.as_slice(), pairs.as_slice()) {
        (["$discovery", "rest"], [(key, version)])
            if key == "version" && segment_ok(service) && segment_ok(version) =>
        {
            Ok(canonical(service, version))
        }
        _ => Err(bad(
            "expected https://<service>.googleapis.com/$discovery/rest?version=<version>",
        )),
    }
}

/// Whether `doc` looks like a Discovery document (for detection).
pub fn is_discovery(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("discovery#restDescription")
        || (doc.get("discoveryVersion").is_some()
            && doc.get("rootUrl").is_some()
            && (doc.get("resources").is_some() || doc.get("methods").is_some()))
}

/// What a bundle became.
#[derive(Debug)]
pub struct Converted {
    /// The OpenAPI 3.1 document as JSON text.
    pub text: String,
    /// Compacted OAuth scopes of all documents.
    pub scopes: Vec<String>,
    /// The documents' titles, in order.
    pub titles: Vec<String>,
    pub method_count: usize,
}

/// Converts the documents (consumed, one at a time) into one OpenAPI 3.1 document.
pub fn convert(docs: Vec<Value>) -> Result<Converted, OpenApiError> {
    if docs.is_empty() {
        return Err(invalid(
            "A Google bundle needs at least one Discovery document",
        ));
    }
    if docs.len() > MAX_DOCUMENTS {
        return Err(invalid(format!(
            "A Google bundle holds at most {MAX_DOCUMENTS} Discovery documents"
        )));
    }
    let mut out = Out {
        paths: Map::new(),
        schemas: Map::new(),
        scopes: BTreeSet::new(),
        scope_descriptions: Map::new(),
        methods: 0,
        parameters: 0,
    };
    let mut titles = Vec::new();
    for (index, doc) in docs.into_iter().enumerate() {
        titles.push(out.document(index, doc)?);
    }
    let scopes = compact_scopes(&out.scopes);
    let mut flow_scopes = Map::new();
    for scope in &out.scopes {
        let description = out.scope_descriptions.remove(scope).unwrap_or(json!(""));
        flow_scopes.insert(scope.clone(), description);
    }
    let document = json!({
        "openapi": "3.1.0",
        "info": {"title": "Google", "version": "1.0.0", "description": titles.join(", ")},
        "servers": [{"url": "https://www.googleapis.com/"}],
        "paths": Value::Object(out.paths),
        "components": {
            "schemas": Value::Object(out.schemas),
            "securitySchemes": {OAUTH_SLUG: {"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": AUTHORIZATION_URL, "tokenUrl": TOKEN_URL,
                "scopes": Value::Object(flow_scopes)}}}}
        }
    });
    let text = serde_json::to_string(&document)
        .map_err(|e| invalid(format!("Could not encode the converted document: {e}")))?;
    Ok(Converted {
        text,
        scopes,
        titles,
        method_count: out.methods,
    })
}

/// The auth method every Google integration declares (§8.4), with the bundle's scopes.
pub fn auth_template(scopes: Vec<String>) -> AuthTemplate {
    AuthTemplate::OAuth2(OAuth2Template {
        slug: OAUTH_SLUG.to_owned(),
        authorization_url: AUTHORIZATION_URL.to_owned(),
        token_url: TOKEN_URL.to_owned(),
        scopes,
    })
}

/// Drops scopes user consent cannot grant, renames the userinfo scopes, and drops Gmail /
/// Calendar / Drive sub-scopes when their broad parent is requested (§8.4). Sorted.
pub fn compact_scopes(scopes: &BTreeSet<String>) -> Vec<String> {
    let broad = |parent: &str| scopes.contains(parent);
    let mut out = BTreeSet::new();
    for scope in scopes {
        let short = scope.strip_prefix(SCOPE_PREFIX);
        let kept = match short {
            Some("chat.bot" | "chat.import" | "keep" | "keep.readonly") => None,
            Some(s) if s.starts_with("chat.app.") => None,
            Some("userinfo.email") => Some("email".to_owned()),
            Some("userinfo.profile") => Some("profile".to_owned()),
            Some(s) if s.starts_with("gmail.") && broad("https://mail.google.com/") => None,
            Some(s) if s.starts_with("calendar.") && broad(&format!("{SCOPE_PREFIX}calendar")) => {
                None
            }
            Some(s) if s.starts_with("drive.") && broad(&format!("{SCOPE_PREFIX}drive")) => None,
            _ => Some(scope.clone()),
        };
        out.extend(kept);
    }
    out.into_iter().collect()
}

struct Out {
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
    scopes: BTreeSet<String>,
    scope_descriptions: Map<String, Value>,
    methods: usize,
    parameters: usize,
}

/// What every method of one document shares.
struct DocContext {
    /// `<service>_<version>` (sanitised): prefix of the document's schema names.
    prefix: String,
    /// `rootUrl + servicePath`.
    base_url: String,
    title: String,
    /// Document-level parameters (each method's own win).
    parameters: Map<String, Value>,
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// Letters, digits, `_`, `.` and `-`; anything else becomes `_`.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Out {
    /// Converts one document; answers its title.
    fn document(&mut self, index: usize, doc: Value) -> Result<String, OpenApiError> {
        let Value::Object(mut doc) = doc else {
            return Err(invalid(format!(
                "Discovery document {} is not a JSON object",
                index + 1
            )));
        };
        let missing =
            |field: &str| invalid(format!("Discovery document {} has no `{field}`", index + 1));
        let name = take_str(&mut doc, "name").ok_or_else(|| missing("name"))?;
        let version = take_str(&mut doc, "version").ok_or_else(|| missing("version"))?;
        let root_url = take_str(&mut doc, "rootUrl").ok_or_else(|| missing("rootUrl"))?;
        let service_path = take_str(&mut doc, "servicePath").unwrap_or_default();
        let title = take_str(&mut doc, "title").unwrap_or_else(|| name.clone());
        let context = DocContext {
            prefix: sanitise(&format!("{name}_{version}")),
            base_url: format!("{root_url}{service_path}"),
            title: title.clone(),
            parameters: match doc.remove("parameters") {
                Some(Value::Object(p)) => p,
                _ => Map::new(),
            },
        };
        if let Some(Value::Object(scopes)) = doc
            .get_mut("auth")
            .and_then(|a| a.get_mut("oauth2"))
            .and_then(|o| o.get_mut("scopes"))
            .map(Value::take)
        {
            for (scope, about) in scopes {
                let description = about.get("description").cloned().unwrap_or(json!(""));
                self.scope_descriptions
                    .entry(scope.clone())
                    .or_insert(description);
                self.scopes.insert(scope);
            }
        }
        if let Some(Value::Object(schemas)) = doc.remove("schemas") {
            for (schema_name, schema) in schemas {
                let key = format!("{}_{}", context.prefix, sanitise(&schema_name));
                let converted = convert_schema(schema, &context.prefix, 0);
                self.schemas.insert(key, converted);
            }
        }
        let methods = doc.remove("methods");
        let resources = doc.remove("resources");
        drop(doc);
        self.resource(&context, methods, resources, 0)?;
        Ok(title)
    }

    fn resource(
        &mut self,
        context: &DocContext,
        methods: Option<Value>,
        resources: Option<Value>,
        depth: usize,
    ) -> Result<(), OpenApiError> {
        if depth > MAX_DEPTH {
            return Err(invalid(format!(
                "Discovery resources of {} nest deeper than {MAX_DEPTH} levels",
                context.title
            )));
        }
        if let Some(Value::Object(methods)) = methods {
            for (key, method) in methods {
                if let Value::Object(method) = method {
                    self.method(context, &key, method)?;
                }
            }
        }
        if let Some(Value::Object(resources)) = resources {
            for (_, resource) in resources {
                let Value::Object(mut resource) = resource else {
                    continue;
                };
                let methods = resource.remove("methods");
                let nested = resource.remove("resources");
                self.resource(context, methods, nested, depth + 1)?;
            }
        }
        Ok(())
    }

    fn method(
        &mut self,
        context: &DocContext,
        key: &str,
        mut method: Map<String, Value>,
    ) -> Result<(), OpenApiError> {
        self.methods += 1;
        if self.methods > MAX_METHODS {
            return Err(invalid(format!(
                "The bundle has more than {MAX_METHODS} methods; add fewer documents"
            )));
        }
        let id = take_str(&mut method, "id").unwrap_or_else(|| format!("{}.{key}", context.prefix));
        let Some(path) =
            take_str(&mut method, "path").or_else(|| take_str(&mut method, "flatPath"))
        else {
            return Err(invalid(format!("Discovery method {id} has no `path`")));
        };
        let http = take_str(&mut method, "httpMethod")
            .unwrap_or_else(|| "GET".to_owned())
            .to_ascii_lowercase();
        if !matches!(
            http.as_str(),
            "get" | "post" | "put" | "patch" | "delete" | "head" | "options"
        ) {
            return Err(invalid(format!(
                "Discovery method {id} has an unsupported httpMethod"
            )));
        }
        let template = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };

        // Parameters: the method's own, then the document-level ones it does not override.
        let mut own = match method.remove("parameters") {
            Some(Value::Object(p)) => p,
            _ => Map::new(),
        };
        for (name, shared) in &context.parameters {
            if !own.contains_key(name) {
                own.insert(name.clone(), shared.clone());
            }
        }
        // Path parameters first, in `parameterOrder`, so the input schema reads naturally.
        let order: Vec<String> = method
            .get("parameterOrder")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        self.parameters += own.len();
        if self.parameters > MAX_PARAMETERS {
            return Err(invalid(format!(
                "The bundle has more than {MAX_PARAMETERS} method parameters; add fewer documents"
            )));
        }
        let mut listed = BTreeSet::new();
        let mut names: Vec<String> = order
            .into_iter()
            .filter(|n| own.contains_key(n) && listed.insert(n.clone()))
            .collect();
        for name in own.keys() {
            if !listed.contains(name) {
                names.push(name.clone());
            }
        }
        let mut parameters = Vec::with_capacity(names.len());
        for name in names {
            let Some(Value::Object(param)) = own.remove(&name) else {
                continue;
            };
            parameters.push(parameter(&name, param, &template, &context.prefix));
        }

        let schema_ref = |value: Option<Value>| -> Option<Value> {
            let name = value?.get("$ref")?.as_str()?.to_owned();
            Some(
                json!({"$ref": format!("#/components/schemas/{}_{}", context.prefix, sanitise(&name))}),
            )
        };
        let request = schema_ref(method.remove("request"));
        let response = schema_ref(method.remove("response"));
        let media_download = method.get("supportsMediaDownload") == Some(&Value::Bool(true));
        let scopes: Vec<Value> = match method.remove("scopes") {
            Some(Value::Array(scopes)) => scopes.into_iter().filter(Value::is_string).collect(),
            _ => Vec::new(),
        };

        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(id));
        operation.insert("x-executor-toolPath".into(), json!(id));
        operation.insert("x-executor-pathTemplate".into(), json!(template));
        operation.insert("tags".into(), json!([context.title]));
        if let Some(description) = take_str(&mut method, "description") {
            operation.insert("description".into(), json!(description));
        }
        operation.insert("servers".into(), json!([{"url": context.base_url}]));
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(schema) = request {
            operation.insert(
                "requestBody".into(),
                json!({"required": false, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let responses = match (response, media_download) {
            (Some(schema), _) => json!({"200": {"description": "Successful response",
                "content": {"application/json": {"schema": schema}}}}),
            (None, true) => json!({"200": {"description": "The media",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}),
            (None, false) => json!({"200": {"description": "Successful response",
                "content": {"application/json": {"schema": {}}}}}),
        };
        operation.insert("responses".into(), responses);
        if !scopes.is_empty() {
            operation.insert("security".into(), json!([{OAUTH_SLUG: scopes}]));
            operation.insert("x-google-scopes".into(), Value::Array(scopes));
        }

        // The path key drops the `+` of reserved expansions; the template keeps it. Keys that
        // collide (the same path and verb in two documents) get the tool path appended — the
        // request path always comes from `x-executor-pathTemplate`.
        let mut path_key = template.replace("{+", "{");
        let taken = |paths: &Map<String, Value>, k: &str| {
            paths.get(k).and_then(|item| item.get(&http)).is_some()
        };
        if taken(&self.paths, &path_key) {
            path_key = format!("{path_key}#{id}");
        }
        let item = self
            .paths
            .entry(path_key)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(http, Value::Object(operation));
        }
        Ok(())
    }
}

/// One Discovery parameter as an OpenAPI parameter object.
fn parameter(name: &str, mut param: Map<String, Value>, template: &str, prefix: &str) -> Value {
    let location = match param.remove("location").as_ref().and_then(Value::as_str) {
        Some("path") => "path",
        Some("header") => "header",
        _ => "query",
    };
    let repeated = param.remove("repeated") == Some(Value::Bool(true));
    let required = location == "path" || param.get("required") == Some(&Value::Bool(true));
    let description = take_str(&mut param, "description");
    param.remove("required");
    let mut schema = convert_schema(Value::Object(param), prefix, 0);
    if repeated {
        schema = json!({"type": "array", "items": schema});
    }
    // The input schema is built from parameter schemas, so the description goes there too.
    if let (Some(description), Value::Object(fields)) = (&description, &mut schema) {
        fields
            .entry("description")
            .or_insert_with(|| json!(description));
    }
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("in".into(), json!(location));
    out.insert("required".into(), json!(required));
    if let Some(description) = description {
        out.insert("description".into(), json!(description));
    }
    out.insert("schema".into(), schema);
    if location == "query" {
        out.insert("style".into(), json!("form"));
        out.insert("explode".into(), json!(repeated));
    }
    if location == "path" && template.contains(&format!("{{+{name}}}")) {
        out.insert("allowReserved".into(), json!(true));
    }
    Value::Object(out)
}

/// A Discovery default (always a string) as the schema's type.
fn typed_default(default: Value, ty: Option<&str>) -> Value {
    let Value::String(text) = &default else {
        return default;
    };
    match ty {
        Some("boolean") => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => default,
        },
        Some("integer") => text.parse::<i64>().map(Value::from).unwrap_or(default),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or(default),
        _ => default,
    }
}

/// A Discovery schema as JSON Schema: `$ref`s point at `components.schemas` under the
/// document's prefix, per-property `required: true` becomes the parent's `required` list,
/// `type: "any"` becomes no type, string-typed numbers and defaults get their real types.
/// Unknown keywords (`id`, `annotations`, `enumDescriptions`, …) are dropped.
fn convert_schema(schema: Value, prefix: &str, depth: usize) -> Value {
    let Value::Object(mut schema) = schema else {
        return json!({});
    };
    if depth > MAX_DEPTH {
        return json!({});
    }
    let mut out = Map::new();
    if let Some(name) = schema.get("$ref").and_then(Value::as_str) {
        out.insert(
            "$ref".into(),
            json!(format!("#/components/schemas/{prefix}_{}", sanitise(name))),
        );
        if let Some(description) = take_str(&mut schema, "description") {
            out.insert("description".into(), json!(description));
        }
        return Value::Object(out);
    }
    let ty = take_str(&mut schema, "type").filter(|t| t != "any");
    for key in ["title", "description", "format", "pattern"] {
        if let Some(text) = take_str(&mut schema, key) {
            out.insert(key.into(), json!(text));
        }
    }
    for key in ["readOnly", "deprecated"] {
        if let Some(flag @ Value::Bool(_)) = schema.remove(key) {
            out.insert(key.into(), flag);
        }
    }
    if let Some(values @ Value::Array(_)) = schema.remove("enum") {
        out.insert("enum".into(), values);
    }
    for key in ["minimum", "maximum"] {
        let number = match schema.remove(key) {
            Some(Value::Number(n)) => Some(Value::Number(n)),
            Some(Value::String(s)) => s
                .parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)),
            _ => None,
        };
        if let Some(number) = number {
            out.insert(key.into(), number);
        }
    }
    if let Some(default) = schema.remove("default") {
        out.insert("default".into(), typed_default(default, ty.as_deref()));
    }
    if let Some(items) = schema.remove("items") {
        out.insert("items".into(), convert_schema(items, prefix, depth + 1));
    }
    let mut required: Vec<Value> = match schema.remove("required") {
        Some(Value::Array(names)) => names.into_iter().filter(Value::is_string).collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(properties)) = schema.remove("properties") {
        let mut converted = Map::new();
        for (name, property) in properties {
            if property.get("required") == Some(&Value::Bool(true)) {
                required.push(json!(name));
            }
            converted.insert(name, convert_schema(property, prefix, depth + 1));
        }
        out.insert("properties".into(), Value::Object(converted));
    }
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    match schema.remove("additionalProperties") {
        Some(flag @ Value::Bool(_)) => {
            out.insert("additionalProperties".into(), flag);
        }
        Some(extra @ Value::Object(_)) => {
            out.insert(
                "additionalProperties".into(),
                convert_schema(extra, prefix, depth + 1),
            );
        }
        _ => {}
    }
    if let Some(ty) = ty {
        out.insert("type".into(), json!(ty));
    }
    Value::Object(out)
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
pub(crate) mod tests;
