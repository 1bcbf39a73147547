//! What invoking one operation needs (executor-behaviour.md §8.1.4 binding, §8.1.5).
//!
//! Kept small on purpose — one binding is stored per tool row — so it holds no schemas and no
//! descriptions: only locations, serialisation styles, media types and response hints.

use std::collections::BTreeMap;

use serde::Serialize;

use super::naming::HttpMethod;
use crate::json_fields::Fields;

/// How to turn a tool call into an HTTP request and its response into a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationBinding {
    pub method: HttpMethod,
    /// The request path with `{name}` placeholders (`x-executor-pathTemplate` when given).
    pub path_template: String,
    /// Candidate servers, the first being the default; empty ⇒ only a configured base URL works.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerBinding>,
    /// Path-item and operation parameters merged (operation wins per `in:name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterBinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBodyBinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<ResponseBinding>,
}

/// One server URL template and the defaults of its variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerBinding {
    pub url: String,
    /// Variable name ⇒ default value (variables without a default are dropped).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterLocation {
    Path,
    Query,
    Header,
    /// Declared but never sent (upstream behaviour, executor-behaviour.md §14 #14).
    Cookie,
}

impl ParameterLocation {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "path" => Some(Self::Path),
            "query" => Some(Self::Query),
            "header" => Some(Self::Header),
            "cookie" => Some(Self::Cookie),
            _ => None,
        }
    }
}

/// One parameter: the argument named `name` goes to `location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterBinding {
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParameterLocation,
    /// Always true for path parameters.
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_reserved: Option<bool>,
}

/// The request body's media types in declaration order; the first is the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestBodyBinding {
    pub required: bool,
    pub media_types: Vec<MediaTypeBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaTypeBinding {
    pub media_type: String,
    /// Per-property encoding for form and multipart bodies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encoding: BTreeMap<String, EncodingBinding>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncodingBinding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_reserved: Option<bool>,
}

/// The response the output schema describes, and whether it carries a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseBinding {
    /// `200`, `2XX` or `default`.
    pub status: String,
    pub media_type: String,
    /// A non-JSON media type whose schema is a binary/byte string: the body is a file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary_response: bool,
    /// A JSON object whose `field` holds the file's bytes as base64 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_field: Option<ByteFieldHint>,
}

impl ResponseBinding {
    /// Whether the tool returns a `ToolFile`.
    pub fn returns_file(&self) -> bool {
        self.binary_response || self.byte_field.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ByteFieldHint {
    /// Always `data` today.
    pub field: String,
    pub encoding: ByteEncoding,
    /// A sibling numeric property holding the byte length (`size`), when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteEncoding {
    Base64,
    Base64url,
}

// ---------------------------------------------------------------------------------------------
// Reading stored bindings (by hand: a derived deserializer per shape costs Worker size)

fn items<T>(
    f: &Fields<'_>,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match f.raw(name) {
        None => Ok(Vec::new()),
        Some(_) => f
            .raw_items(name)?
            .into_iter()
            .map(|item| parse(item.get()).map_err(|e| format!("in `{name}`: {e}")))
            .collect(),
    }
}

fn member<T>(
    f: &Fields<'_>,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match f.raw(name).filter(|r| r.get() != "null") {
        Some(raw) => parse(raw.get())
            .map(Some)
            .map_err(|e| format!("in `{name}`: {e}")),
        None => Ok(None),
    }
}

impl OperationBinding {
    /// Reads a stored binding.
    pub fn parse(text: &str) -> Result<OperationBinding, String> {
        const NAMES: &[&str] = &[
            "method",
            "pathTemplate",
            "servers",
            "parameters",
            "requestBody",
            "responseBody",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        let method = f.string("method")?;
        let method = HttpMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == method)
            .ok_or_else(|| {
                let names: Vec<&str> = HttpMethod::ALL.iter().map(|m| m.as_str()).collect();
                crate::json_fields::unknown_variant("method", &method, &names)
            })?;
        Ok(OperationBinding {
            method,
            path_template: f.string("pathTemplate")?,
            servers: items(&f, "servers", ServerBinding::parse)?,
            parameters: items(&f, "parameters", ParameterBinding::parse)?,
            request_body: member(&f, "requestBody", RequestBodyBinding::parse)?,
            response_body: member(&f, "responseBody", ResponseBinding::parse)?,
        })
    }
}

impl ServerBinding {
    fn parse(text: &str) -> Result<ServerBinding, String> {
        let f = Fields::parse(text, &["url", "variables"], false)?;
        let variables = match f.raw("variables") {
            None => BTreeMap::new(),
            Some(_) => f
                .opt_string_map("variables")?
                .ok_or("invalid type for field `variables`: expected an object of strings")?,
        };
        Ok(ServerBinding {
            url: f.string("url")?,
            variables,
        })
    }
}

impl ParameterBinding {
    fn parse(text: &str) -> Result<ParameterBinding, String> {
        const NAMES: &[&str] = &[
            "name",
            "in",
            "required",
            "style",
            "explode",
            "allowReserved",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        let location = f.string("in")?;
        Ok(ParameterBinding {
            name: f.string("name")?,
            location: ParameterLocation::parse(&location).ok_or_else(|| {
                crate::json_fields::unknown_variant(
                    "in",
                    &location,
                    &["path", "query", "header", "cookie"],
                )
            })?,
            required: f.bool("required")?,
            style: f.opt_string("style")?,
            explode: f.opt_bool("explode")?,
            allow_reserved: f.opt_bool("allowReserved")?,
        })
    }
}

impl RequestBodyBinding {
    fn parse(text: &str) -> Result<RequestBodyBinding, String> {
        let f = Fields::parse(text, &["required", "mediaTypes"], false)?;
        Ok(RequestBodyBinding {
            required: f.bool("required")?,
            media_types: f
                .raw_items("mediaTypes")?
                .into_iter()
                .map(|m| MediaTypeBinding::parse(m.get()))
                .collect::<Result<_, _>>()?,
        })
    }
}

impl MediaTypeBinding {
    fn parse(text: &str) -> Result<MediaTypeBinding, String> {
        let f = Fields::parse(text, &["mediaType", "encoding"], false)?;
        let encoding = match f.raw("encoding") {
            None => BTreeMap::new(),
            Some(_) => match f.value("encoding")? {
                serde_json::Value::Object(map) => map
                    .into_iter()
                    .map(|(k, v)| Ok((k, EncodingBinding::parse(&v.to_string())?)))
                    .collect::<Result<_, String>>()?,
                _ => return Err("invalid type for field `encoding`: expected an object".into()),
            },
        };
        Ok(MediaTypeBinding {
            media_type: f.string("mediaType")?,
            encoding,
        })
    }
}

impl EncodingBinding {
    fn parse(text: &str) -> Result<EncodingBinding, String> {
        const NAMES: &[&str] = &["contentType", "style", "explode", "allowReserved"];
        let f = Fields::parse(text, NAMES, false)?;
        Ok(EncodingBinding {
            content_type: f.opt_string("contentType")?,
            style: f.opt_string("style")?,
            explode: f.opt_bool("explode")?,
            allow_reserved: f.opt_bool("allowReserved")?,
        })
    }
}

impl ResponseBinding {
    fn parse(text: &str) -> Result<ResponseBinding, String> {
        const NAMES: &[&str] = &["status", "mediaType", "binaryResponse", "byteField"];
        let f = Fields::parse(text, NAMES, false)?;
        Ok(ResponseBinding {
            status: f.string("status")?,
            media_type: f.string("mediaType")?,
            binary_response: f.bool_or_false("binaryResponse")?,
            byte_field: member(&f, "byteField", ByteFieldHint::parse)?,
        })
    }
}

impl ByteFieldHint {
    fn parse(text: &str) -> Result<ByteFieldHint, String> {
        let f = Fields::parse(text, &["field", "encoding", "sizeField"], false)?;
        Ok(ByteFieldHint {
            field: f.string("field")?,
            encoding: match f.variant("encoding", &["base64", "base64url"])? {
                0 => ByteEncoding::Base64,
                _ => ByteEncoding::Base64url,
            },
            size_field: f.opt_string("sizeField")?,
        })
    }
}
