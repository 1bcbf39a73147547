//! Operations ⇒ tool definitions (executor-behaviour.md §8.1.2–§8.1.4).
//!
//! Two passes over the document: the first reads only `(method, path, operationId, tags,
//! x-executor-toolPath)` of every operation to fix the names (collision rounds need all of them);
//! the second builds one definition at a time, in name order, and hands it to the caller, so at
//! most one operation's schemas are alive at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::binding::{
    ByteEncoding, ByteFieldHint, EncodingBinding, MediaTypeBinding, OperationBinding,
    ParameterBinding, ParameterLocation, RequestBodyBinding, ResponseBinding, ServerBinding,
};
use super::document::OpenApiDocument;
use super::naming::{assign_names, operation_heads, HttpMethod, OperationHead};
use super::raw::{self, RawObject};
use super::schema::rewrite_refs;

/// One derived tool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDefinition {
    /// `group.leaf`, unique within the document.
    pub name: String,
    pub description: String,
    /// Arguments as a JSON Schema object; `None` when the operation takes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    pub binding: OperationBinding,
    pub annotations: ToolAnnotations,
}

/// Default approval behaviour; policies may override it (executor-behaviour.md §9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_approval: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_elicit: Option<bool>,
}

impl ToolAnnotations {
    /// Reads stored annotations.
    pub fn parse(text: &str) -> Result<ToolAnnotations, String> {
        const NAMES: &[&str] = &["requiresApproval", "approvalDescription", "mayElicit"];
        let f = crate::json_fields::Fields::parse(text, NAMES, false)?;
        Ok(ToolAnnotations {
            requires_approval: f.opt_bool("requiresApproval")?,
            approval_description: f.opt_string("approvalDescription")?,
            may_elicit: f.opt_bool("mayElicit")?,
        })
    }
}

/// A tool's name and the operation behind it, without schemas (cheap for every operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolPlan {
    pub name: String,
    pub method: HttpMethod,
    /// The spec's path key (before any `x-executor-pathTemplate` override).
    pub path: String,
    /// `operationId`, or the `<method>_<path>` id derived when it is absent.
    pub operation_id: String,
}

/// Paragraph appended to the description of tools whose result is a file.
const FILE_NOTE: &str = "Returns a file: on success `result.data` is a ToolFile (base64 `data`, \
`mimeType`, `byteLength`). Hand it to the user with `emit(result.data)` rather than printing it.";

fn planned(doc: &OpenApiDocument) -> Vec<(OperationHead, String)> {
    let heads = operation_heads(doc);
    let names = assign_names(&heads);
    let mut plans: Vec<(OperationHead, String)> = heads.into_iter().zip(names).collect();
    crate::sort::sort_by(&mut plans, |(_, a), (_, b)| raw::cmp_utf16(a, b));
    plans
}

/// Every tool's name and operation, sorted by name. Useful for counts and for the
/// added/removed lists of a spec refresh.
pub fn plan_tools(doc: &OpenApiDocument) -> Vec<ToolPlan> {
    planned(doc)
        .into_iter()
        .map(|(head, name)| ToolPlan {
            name,
            method: head.method,
            path: head.path,
            operation_id: head.operation_id,
        })
        .collect()
}

/// Builds every tool definition, in name order, handing each to `sink` as soon as it is built.
/// Returns how many were produced (the operation count).
pub fn derive_tools(doc: &OpenApiDocument, mut sink: impl FnMut(ToolDefinition)) -> usize {
    let mut count = 0;
    for tool in tool_iter(doc) {
        count += 1;
        sink(tool);
    }
    count
}

/// The pull form of [`derive_tools`]: each definition is built when `next` is called, so a
/// caller can await between definitions (the store flushes rows to D1 in chunks).
pub fn tool_iter(doc: &OpenApiDocument) -> impl Iterator<Item = ToolDefinition> + '_ {
    let doc_servers = doc.top("servers").map(parse_servers).unwrap_or_default();
    planned(doc)
        .into_iter()
        .filter_map(move |(head, name)| build(doc, &doc_servers, &head, name))
}

/// All definitions at once (convenient for small specs and tests).
pub fn derive_all_tools(doc: &OpenApiDocument) -> Vec<ToolDefinition> {
    let mut tools = Vec::new();
    derive_tools(doc, |tool| tools.push(tool));
    tools
}

// ---------------------------------------------------------------------------------------------
// Servers

#[derive(Debug, Clone, Default)]
pub(crate) struct ServerInfo {
    pub url: String,
    pub description: Option<String>,
    /// Declaration order; `default` is `None` when the spec gives none.
    pub variables: Vec<(String, VariableInfo)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct VariableInfo {
    pub default: Option<String>,
    pub values: Vec<String>,
    pub description: Option<String>,
}

pub(crate) fn parse_servers(raw_servers: &str) -> Vec<ServerInfo> {
    raw::array_items(raw_servers)
        .unwrap_or_default()
        .into_iter()
        .filter_map(RawObject::parse)
        .filter_map(|server| {
            let url = server.str("url")?;
            let variables = server
                .object("variables")
                .map(|vars| {
                    vars.iter()
                        .filter_map(|(name, var)| {
                            let var = RawObject::parse(var)?;
                            Some((
                                name.to_owned(),
                                VariableInfo {
                                    default: var.get("default").and_then(raw::as_text),
                                    values: var
                                        .array("enum")
                                        .unwrap_or_default()
                                        .into_iter()
                                        .filter_map(raw::as_text)
                                        .collect(),
                                    description: var.str("description"),
                                },
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(ServerInfo {
                url,
                description: server.str("description"),
                variables,
            })
        })
        .collect()
}

impl ServerInfo {
    /// The URL with every variable replaced by its default.
    pub(crate) fn resolved_url(&self) -> String {
        let mut url = self.url.clone();
        for (name, var) in &self.variables {
            if let Some(default) = &var.default {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
        url
    }

    fn binding(&self) -> ServerBinding {
        ServerBinding {
            url: self.url.clone(),
            variables: self
                .variables
                .iter()
                .filter_map(|(name, var)| Some((name.clone(), var.default.clone()?)))
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters, bodies, responses

struct Parameter {
    binding: ParameterBinding,
    schema: Option<Value>,
}

fn parameters(doc: &OpenApiDocument, lists: [Option<Vec<&str>>; 2]) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = Vec::new();
    for raw_param in lists.into_iter().flatten().flatten() {
        let Some(param) = doc.deref(raw_param).and_then(RawObject::parse) else {
            continue;
        };
        let (Some(name), Some(location)) = (
            param.str("name"),
            param
                .str("in")
                .as_deref()
                .and_then(ParameterLocation::parse),
        ) else {
            continue;
        };
        let required =
            location == ParameterLocation::Path || param.bool("required").unwrap_or(false);
        let schema = match param.get("schema") {
            Some(schema) => raw::parse_value(schema),
            // `content` instead of `schema`: the first media type's schema.
            None => param.object("content").and_then(|content| {
                content.iter().find_map(|(_, media)| {
                    RawObject::parse(media)?
                        .get("schema")
                        .and_then(raw::parse_value)
                })
            }),
        };
        let parameter = Parameter {
            binding: ParameterBinding {
                name,
                location,
                required,
                style: param.str("style"),
                explode: param.bool("explode"),
                allow_reserved: param.bool("allowReserved"),
            },
            schema,
        };
        let same = |p: &&mut Parameter| {
            p.binding.location == parameter.binding.location
                && p.binding.name == parameter.binding.name
        };
        match out.iter_mut().find(same) {
            Some(slot) => *slot = parameter,
            None => out.push(parameter),
        }
    }
    out
}

struct Body {
    binding: RequestBodyBinding,
    /// Schema of the default (first) media type.
    schema: Option<Value>,
}

fn request_body(doc: &OpenApiDocument, operation: &RawObject<'_>) -> Option<Body> {
    let body = doc
        .deref(operation.get("requestBody")?)
        .and_then(RawObject::parse)?;
    let content = body.object("content")?;
    let mut media_types = Vec::new();
    let mut schema = None;
    for (i, (media_type, media)) in content.iter().enumerate() {
        let media = RawObject::parse(media).unwrap_or_default();
        if i == 0 {
            schema = media.get("schema").and_then(raw::parse_value);
        }
        let encoding = media
            .object("encoding")
            .map(|encoding| {
                encoding
                    .iter()
                    .filter_map(|(field, e)| {
                        let e = RawObject::parse(e)?;
                        Some((
                            field.to_owned(),
                            EncodingBinding {
                                content_type: e.str("contentType"),
                                style: e.str("style"),
                                explode: e.bool("explode"),
                                allow_reserved: e.bool("allowReserved"),
                            },
                        ))
                    })
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default();
        media_types.push(MediaTypeBinding {
            media_type: media_type.to_owned(),
            encoding,
        });
    }
    if media_types.is_empty() {
        return None;
    }
    Some(Body {
        binding: RequestBodyBinding {
            required: body.bool("required").unwrap_or(false),
            media_types,
        },
        schema,
    })
}

/// `type/subtype` lowercased, without parameters.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json_media(media_type: &str) -> bool {
    essence(media_type).contains("json")
}

fn is_2xx(status: &str) -> bool {
    status.len() == 3 && status.starts_with('2')
}

struct Response<'a> {
    status: String,
    media_type: String,
    schema: &'a str,
}

fn choose_response<'a>(
    doc: &'a OpenApiDocument,
    operation: &RawObject<'a>,
) -> Option<Response<'a>> {
    let responses = operation.object("responses")?;
    let mut statuses: Vec<&str> = responses
        .iter()
        .map(|(status, _)| status)
        .filter(|s| is_2xx(s))
        .collect();
    crate::sort::sort_by(&mut statuses, |a, b| raw::cmp_utf16(a, b));
    if responses.get("default").is_some() {
        statuses.push("default");
    }
    for status in statuses {
        let Some(response) = responses
            .get(status)
            .and_then(|r| doc.deref(r))
            .and_then(RawObject::parse)
        else {
            continue;
        };
        let Some(content) = response.object("content") else {
            continue;
        };
        let candidates: Vec<(&str, &'a str)> = content
            .iter()
            .filter_map(|(media_type, media)| {
                Some((media_type, RawObject::parse(media)?.get("schema")?))
            })
            .collect();
        let preferred = candidates
            .iter()
            .find(|(m, _)| essence(m) == "application/json")
            .or_else(|| {
                candidates
                    .iter()
                    .find(|(m, _)| essence(m).ends_with("+json"))
            })
            .or_else(|| candidates.iter().find(|(m, _)| is_json_media(m)))
            .or_else(|| candidates.first());
        if let Some((media_type, schema)) = preferred {
            return Some(Response {
                status: status.to_owned(),
                media_type: (*media_type).to_owned(),
                schema,
            });
        }
    }
    None
}

fn type_includes(schema: &RawObject<'_>, wanted: &str) -> bool {
    match schema.get("type") {
        Some(t) if t.starts_with('[') => raw::string_list(t).iter().any(|t| t == wanted),
        Some(t) => raw::as_string(t).is_some_and(|t| t == wanted),
        None => false,
    }
}

fn is_binary_string(doc: &OpenApiDocument, schema: &str) -> bool {
    let Some(schema) = doc.deref(schema).and_then(RawObject::parse) else {
        return false;
    };
    type_includes(&schema, "string")
        && schema
            .str("format")
            .is_some_and(|f| f == "binary" || f == "byte")
}

fn file_hints(doc: &OpenApiDocument, response: &Response<'_>) -> (bool, Option<ByteFieldHint>) {
    if !is_json_media(&response.media_type) {
        return (is_binary_string(doc, response.schema), None);
    }
    let Some(schema) = doc.deref(response.schema).and_then(RawObject::parse) else {
        return (false, None);
    };
    let Some(properties) = schema.object("properties") else {
        return (false, None);
    };
    let Some(data) = properties.get("data") else {
        return (false, None);
    };
    if !is_binary_string(doc, data) {
        return (false, None);
    }
    let described = |raw: &str| {
        RawObject::parse(raw)
            .and_then(|o| o.str("description"))
            .is_some_and(|d| d.to_ascii_lowercase().contains("base64url"))
    };
    let base64url = described(data) || doc.deref(data).is_some_and(described);
    let size_field = properties.get("size").and_then(|size| {
        let size = doc.deref(size).and_then(RawObject::parse)?;
        (type_includes(&size, "integer") || type_includes(&size, "number"))
            .then(|| "size".to_owned())
    });
    (
        false,
        Some(ByteFieldHint {
            field: "data".to_owned(),
            encoding: if base64url {
                ByteEncoding::Base64url
            } else {
                ByteEncoding::Base64
            },
            size_field,
        }),
    )
}

/// JSON Schema of the `ToolFile` value file-returning tools produce (executor-behaviour.md §7.4).
pub fn tool_file_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "_tag": {"type": "string", "const": "ToolFile"},
            "name": {"type": "string"},
            "mimeType": {"type": "string"},
            "encoding": {"type": "string", "const": "base64"},
            "data": {"type": "string"},
            "byteLength": {"type": "number"}
        },
        "required": ["_tag", "mimeType", "encoding", "data", "byteLength"]
    })
}

// ---------------------------------------------------------------------------------------------
// Assembly

fn non_blank(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

fn server_property(servers: &[ServerInfo]) -> Option<Value> {
    let mut variables = Map::new();
    for server in servers {
        for (name, var) in &server.variables {
            let Some(default) = &var.default else {
                continue;
            };
            if variables.contains_key(name) {
                continue;
            }
            let mut schema = Map::new();
            schema.insert("type".into(), json!("string"));
            schema.insert("default".into(), json!(default));
            if !var.values.is_empty() {
                schema.insert("enum".into(), json!(var.values));
            }
            if let Some(description) = &var.description {
                schema.insert("description".into(), json!(description));
            }
            variables.insert(name.clone(), Value::Object(schema));
        }
    }
    if servers.len() <= 1 && variables.is_empty() {
        return None;
    }
    let mut properties = Map::new();
    if servers.len() > 1 {
        let urls: Vec<&str> = servers.iter().map(|s| s.url.as_str()).collect();
        properties.insert(
            "url".into(),
            json!({"type": "string", "enum": urls, "default": urls.first()}),
        );
    }
    if !variables.is_empty() {
        properties.insert(
            "variables".into(),
            json!({"type": "object", "properties": variables}),
        );
    }
    Some(json!({"type": "object", "properties": properties}))
}

fn build(
    doc: &OpenApiDocument,
    doc_servers: &[ServerInfo],
    head: &OperationHead,
    name: String,
) -> Option<ToolDefinition> {
    let item = RawObject::parse(doc.deref(doc.path_item(&head.path)?)?)?;
    let operation = item.object(head.method.as_str())?;

    let non_empty = |servers: Vec<ServerInfo>| (!servers.is_empty()).then_some(servers);
    let servers = operation
        .get("servers")
        .map(parse_servers)
        .and_then(non_empty)
        .or_else(|| item.get("servers").map(parse_servers).and_then(non_empty))
        .unwrap_or_else(|| doc_servers.to_vec());

    let params = parameters(
        doc,
        [item.array("parameters"), operation.array("parameters")],
    );
    let body = request_body(doc, &operation);
    let response = choose_response(doc, &operation);

    let path_template =
        non_blank(operation.str("x-executor-pathTemplate")).unwrap_or_else(|| head.path.clone());

    // Input schema.
    let mut properties = Map::new();
    let mut required: Vec<String> = Vec::new();
    for param in &params {
        let name = &param.binding.name;
        if properties.contains_key(name) {
            continue;
        }
        let mut schema = param
            .schema
            .clone()
            .unwrap_or_else(|| json!({"type": "string"}));
        rewrite_refs(&mut schema);
        properties.insert(name.clone(), schema);
        if param.binding.required {
            required.push(name.clone());
        }
    }
    if !properties.contains_key("server") {
        if let Some(server) = server_property(&servers) {
            properties.insert("server".into(), server);
        }
    }
    if let Some(body) = &body {
        let mut schema = body
            .schema
            .clone()
            .unwrap_or_else(|| json!({"type": "object"}));
        rewrite_refs(&mut schema);
        properties.insert("body".into(), schema);
        if body.binding.required && !required.iter().any(|r| r == "body") {
            required.push("body".into());
        }
        let media: Vec<&str> = body
            .binding
            .media_types
            .iter()
            .map(|m| m.media_type.as_str())
            .collect();
        if media.len() > 1 {
            properties.insert(
                "contentType".into(),
                json!({"type": "string", "enum": media, "default": media.first()}),
            );
        }
    }
    let input_schema = (!properties.is_empty()).then(|| {
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), json!(required));
        }
        schema.insert("additionalProperties".into(), json!(false));
        Value::Object(schema)
    });

    // Output schema and response hints.
    let mut output_schema = None;
    let response_body = response.map(|response| {
        let (binary_response, byte_field) = file_hints(doc, &response);
        let binding = ResponseBinding {
            status: response.status.clone(),
            media_type: response.media_type.clone(),
            binary_response,
            byte_field,
        };
        output_schema = if binding.returns_file() {
            Some(tool_file_schema())
        } else {
            raw::parse_value(response.schema).map(|mut schema| {
                rewrite_refs(&mut schema);
                schema
            })
        };
        binding
    });
    let returns_file = response_body
        .as_ref()
        .is_some_and(ResponseBinding::returns_file);

    let mut description = non_blank(operation.str("description"))
        .or_else(|| non_blank(operation.str("summary")))
        .unwrap_or_else(|| format!("{} {}", head.method.upper(), path_template));
    if returns_file {
        description.push_str("\n\n");
        description.push_str(FILE_NOTE);
    }

    let annotations = if head.method.requires_approval() {
        ToolAnnotations {
            requires_approval: Some(true),
            approval_description: Some(format!("{} {}", head.method.upper(), path_template)),
            may_elicit: None,
        }
    } else {
        ToolAnnotations::default()
    };

    Some(ToolDefinition {
        name,
        description,
        input_schema,
        output_schema,
        binding: OperationBinding {
            method: head.method,
            path_template,
            servers: servers.iter().map(ServerInfo::binding).collect(),
            parameters: params.into_iter().map(|p| p.binding).collect(),
            request_body: body.map(|b| b.binding),
            response_body,
        },
        annotations,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plugins::openapi::parse;

    /// Specs as text: `json!` would sort the keys, and media-type order matters.
    fn tools(spec: impl ToString) -> Vec<ToolDefinition> {
        let doc = parse(spec.to_string()).unwrap();
        derive_all_tools(&doc)
    }

    #[test]
    fn parameters_merge_resolve_and_force_path_required() {
        let tools = tools(json!({
            "openapi": "3.0.0",
            "servers": [{"url": "https://a.example/{region}", "variables": {"region": {"default": "eu", "enum": ["eu", "us"]}, "nodefault": {}}}],
            "paths": {"/things/{id}": {
                "parameters": [
                    {"$ref": "#/components/parameters/Id"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    {"name": "bad"}
                ],
                "get": {
                    "operationId": "getThing", "tags": ["things"],
                    "parameters": [
                        {"name": "limit", "in": "query", "required": true, "style": "form", "explode": false, "schema": {"$ref": "#/components/schemas/Limit"}},
                        {"name": "X-Trace", "in": "header"},
                        {"name": "id", "in": "query", "schema": {"type": "boolean"}}
                    ],
                    "responses": {"200": {"$ref": "#/components/responses/Thing"}}
                }
            }},
            "components": {
                "parameters": {"Id": {"name": "id", "in": "path", "schema": {"type": "string"}}},
                "responses": {"Thing": {"description": "x", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}},
                "schemas": {"Limit": {"type": "integer"}, "Thing": {"type": "object"}}
            }
        }));
        assert_eq!(tools.len(), 1);
        let tool = &tools[0];
        assert_eq!(tool.name, "things.getThing");
        assert_eq!(tool.description, "GET /things/{id}");
        assert_eq!(
            tool.input_schema,
            Some(json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "limit": {"$ref": "#/$defs/Limit"},
                    "X-Trace": {"type": "string"},
                    "server": {"type": "object", "properties": {"variables": {"type": "object", "properties": {
                        "region": {"type": "string", "default": "eu", "enum": ["eu", "us"]}}}}}
                },
                "required": ["id", "limit"],
                "additionalProperties": false
            }))
        );
        assert_eq!(tool.output_schema, Some(json!({"$ref": "#/$defs/Thing"})));
        let binding = serde_json::to_value(&tool.binding).unwrap();
        assert_eq!(
            binding,
            json!({
                "method": "get",
                "pathTemplate": "/things/{id}",
                "servers": [{"url": "https://a.example/{region}", "variables": {"region": "eu"}}],
                "parameters": [
                    {"name": "id", "in": "path", "required": true},
                    {"name": "limit", "in": "query", "required": true, "style": "form", "explode": false},
                    {"name": "X-Trace", "in": "header", "required": false},
                    {"name": "id", "in": "query", "required": false}
                ],
                "responseBody": {"status": "200", "mediaType": "application/json"}
            })
        );
        assert_eq!(tool.annotations, ToolAnnotations::default());
        let round_trip = OperationBinding::parse(&binding.to_string()).unwrap();
        assert_eq!(round_trip, tool.binding);
    }

    #[test]
    fn bodies_media_order_and_annotations() {
        let tools = tools(
            r##"{
            "openapi": "3.0.0",
            "servers": [{"url": "https://one"}, {"url": "https://two"}],
            "paths": {"/upload": {"post": {
                "summary": "Upload it",
                "x-executor-pathTemplate": "/v2/upload",
                "requestBody": {"required": true, "content": {
                    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Form"},
                        "encoding": {"file": {"contentType": "image/png"}}},
                    "application/json": {"schema": {"type": "object"}}
                }},
                "responses": {
                    "default": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "201": {"content": {"text/plain": {"schema": {"type": "string"}},
                                        "application/problem+json": {"schema": {"type": "array"}}}}
                }
            }}},
            "components": {"schemas": {"Form": {"type": "object"}}}
        }"##,
        );
        let tool = &tools[0];
        assert_eq!(tool.name, "upload.postUpload");
        assert_eq!(tool.description, "Upload it");
        let input = tool.input_schema.as_ref().unwrap();
        assert_eq!(input["properties"]["body"], json!({"$ref": "#/$defs/Form"}));
        assert_eq!(
            input["properties"]["contentType"],
            json!({"type": "string", "enum": ["multipart/form-data", "application/json"], "default": "multipart/form-data"})
        );
        assert_eq!(
            input["properties"]["server"]["properties"]["url"],
            json!({"type": "string", "enum": ["https://one", "https://two"], "default": "https://one"})
        );
        assert_eq!(input["required"], json!(["body"]));
        assert_eq!(tool.output_schema, Some(json!({"type": "array"})));
        assert_eq!(
            tool.annotations,
            ToolAnnotations {
                requires_approval: Some(true),
                approval_description: Some("POST /v2/upload".into()),
                may_elicit: None
            }
        );
        let body = tool.binding.request_body.as_ref().unwrap();
        assert!(body.required);
        assert_eq!(body.media_types[0].media_type, "multipart/form-data");
        assert_eq!(
            body.media_types[0].encoding["file"].content_type.as_deref(),
            Some("image/png")
        );
        let response = tool.binding.response_body.as_ref().unwrap();
        assert_eq!(
            (response.status.as_str(), response.media_type.as_str()),
            ("201", "application/problem+json")
        );
    }

    #[test]
    fn file_responses() {
        let tools = tools(json!({
            "openapi": "3.0.0",
            "paths": {
                "/download": {"get": {"operationId": "download", "responses": {"200": {"content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}}},
                "/encoded": {"get": {"operationId": "encoded", "responses": {"200": {"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Blob"}}}}}}},
                "/text": {"get": {"operationId": "text", "responses": {"200": {"content": {
                    "text/plain": {"schema": {"type": "string"}}}}}}},
                "/none": {"delete": {"operationId": "remove", "responses": {"204": {"description": "gone"}}}}
            },
            "components": {"schemas": {"Blob": {"type": "object", "properties": {
                "data": {"type": "string", "format": "byte", "description": "Base64url-encoded bytes"},
                "size": {"type": "integer"}}}}}
        }));
        let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
        // An operationId equal to its group falls back to `<method><rest of path>` (§8.1.3).
        assert_eq!(
            names,
            [
                "download.getOperation",
                "encoded.getOperation",
                "none.remove",
                "text.getOperation"
            ]
        );
        let download = &tools[0];
        assert!(
            download
                .binding
                .response_body
                .as_ref()
                .unwrap()
                .binary_response
        );
        assert_eq!(download.output_schema, Some(tool_file_schema()));
        assert!(download.description.contains("emit(result.data)"));
        assert!(download.input_schema.is_none());
        let encoded = tools[1].binding.response_body.as_ref().unwrap();
        assert_eq!(
            encoded.byte_field,
            Some(ByteFieldHint {
                field: "data".into(),
                encoding: ByteEncoding::Base64url,
                size_field: Some("size".into())
            })
        );
        assert!(tools[2].binding.response_body.is_none());
        assert!(tools[2].output_schema.is_none());
        assert!(!tools[3]
            .binding
            .response_body
            .as_ref()
            .unwrap()
            .returns_file());
        assert_eq!(tools[3].output_schema, Some(json!({"type": "string"})));
    }

    #[test]
    fn path_item_references_resolve() {
        let tools = tools(json!({
            "openapi": "3.1.0",
            "paths": {"/shared": {"$ref": "#/components/pathItems/Shared"}, "/gone": {"$ref": "#/nowhere"}},
            "components": {"pathItems": {"Shared": {"get": {"operationId": "readShared", "tags": ["s"]}}}}
        }));
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].name, "s.readShared");
        assert_eq!(tools[0].binding.path_template, "/shared");
    }

    #[test]
    fn server_precedence_and_parameter_named_server() {
        let tools = tools(json!({
            "openapi": "3.0.0",
            "servers": [{"url": "https://doc"}],
            "paths": {
                "/a": {"servers": [{"url": "https://path1"}, {"url": "https://path2"}],
                       "get": {"operationId": "first", "parameters": [{"name": "server", "in": "query"}]},
                       "put": {"operationId": "second", "servers": [{"url": "https://op"}]}},
                "/c": {"get": {"operationId": "third"}}
            }
        }));
        let by_name: BTreeMap<_, _> = tools.iter().map(|t| (t.name.as_str(), t)).collect();
        let first = by_name["a.first"];
        assert_eq!(first.binding.servers.len(), 2);
        assert_eq!(
            first.input_schema.as_ref().unwrap()["properties"]["server"],
            json!({"type": "string"})
        );
        assert_eq!(by_name["a.second"].binding.servers[0].url, "https://op");
        assert!(by_name["a.second"].input_schema.is_none());
        assert_eq!(by_name["c.third"].binding.servers[0].url, "https://doc");
    }
}
