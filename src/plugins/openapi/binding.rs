//! What invoking one operation needs (executor-behaviour.md §8.1.4 binding, §8.1.5).
//!
//! Kept small on purpose — one binding is stored per tool row — so it holds no schemas and no
//! descriptions: only locations, serialisation styles, media types and response hints.

use std::collections::BTreeMap;

use serde::Serialize;

use super::naming::HttpMethod;
use crate::store::{RowReader, StoreError};

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

// Reading a stored binding back. Hand-written over `serde_json::Value` with the store's
// non-generic [`RowReader`] instead of derived `Deserialize` impls: a stored binding is read on
// every call, and the derived visitors of these eight types cost the Worker ~20 KB of wasm.
// Accepts exactly what the `Serialize` impls above write (absent optional members included).

fn stored(what: &str) -> StoreError {
    StoreError::new("decode row", format!("stored binding: {what}"))
}

fn object<'a>(value: &'a serde_json::Value, what: &str) -> Result<RowReader<'a>, StoreError> {
    RowReader::object(value).ok_or_else(|| stored(what))
}

impl OperationBinding {
    /// Parses the JSON text the `Serialize` impl wrote.
    pub fn from_json_text(text: &str) -> Result<OperationBinding, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        OperationBinding::from_json(&value).map_err(|e| e.to_string())
    }

    /// Reads the JSON value the `Serialize` impl wrote.
    pub fn from_json(value: &serde_json::Value) -> Result<OperationBinding, StoreError> {
        let r = object(value, "expected an object")?;
        let method = r.text("method")?;
        Ok(OperationBinding {
            method: HttpMethod::ALL
                .into_iter()
                .find(|m| m.as_str() == method)
                .ok_or_else(|| stored("unknown method"))?,
            path_template: r.text("pathTemplate")?,
            servers: r
                .array("servers")?
                .iter()
                .map(|s| {
                    let s = object(s, "server is not an object")?;
                    Ok(ServerBinding {
                        url: s.text("url")?,
                        variables: s.text_map("variables")?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            parameters: r
                .array("parameters")?
                .iter()
                .map(ParameterBinding::from_json)
                .collect::<Result<_, _>>()?,
            request_body: match r.opt_object("requestBody")? {
                None => None,
                Some(b) => Some(RequestBodyBinding {
                    required: b.bool("required")?,
                    media_types: b
                        .array("mediaTypes")?
                        .iter()
                        .map(MediaTypeBinding::from_json)
                        .collect::<Result<_, _>>()?,
                }),
            },
            response_body: match r.opt_object("responseBody")? {
                None => None,
                Some(b) => Some(ResponseBinding {
                    status: b.text("status")?,
                    media_type: b.text("mediaType")?,
                    binary_response: b.opt_bool("binaryResponse")?.unwrap_or(false),
                    byte_field: match b.opt_object("byteField")? {
                        None => None,
                        Some(f) => Some(ByteFieldHint {
                            field: f.text("field")?,
                            encoding: match f.text("encoding")?.as_str() {
                                "base64" => ByteEncoding::Base64,
                                "base64url" => ByteEncoding::Base64url,
                                _ => return Err(stored("unknown byte encoding")),
                            },
                            size_field: f.opt_text("sizeField")?,
                        }),
                    },
                }),
            },
        })
    }
}

impl ParameterBinding {
    fn from_json(value: &serde_json::Value) -> Result<ParameterBinding, StoreError> {
        let p = object(value, "parameter is not an object")?;
        Ok(ParameterBinding {
            name: p.text("name")?,
            location: ParameterLocation::parse(&p.text("in")?)
                .ok_or_else(|| stored("unknown parameter location"))?,
            required: p.bool("required")?,
            style: p.opt_text("style")?,
            explode: p.opt_bool("explode")?,
            allow_reserved: p.opt_bool("allowReserved")?,
        })
    }
}

impl MediaTypeBinding {
    fn from_json(value: &serde_json::Value) -> Result<MediaTypeBinding, StoreError> {
        let m = object(value, "media type is not an object")?;
        let mut encoding = BTreeMap::new();
        if let Some(map) = m.opt_object("encoding")? {
            for (name, e) in map.0 {
                let e = object(e, "encoding is not an object")?;
                encoding.insert(
                    name.clone(),
                    EncodingBinding {
                        content_type: e.opt_text("contentType")?,
                        style: e.opt_text("style")?,
                        explode: e.opt_bool("explode")?,
                        allow_reserved: e.opt_bool("allowReserved")?,
                    },
                );
            }
        }
        Ok(MediaTypeBinding {
            media_type: m.text("mediaType")?,
            encoding,
        })
    }
}
