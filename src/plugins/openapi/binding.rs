//! What invoking one operation needs (executor-behaviour.md §8.1.4 binding, §8.1.5).
//!
//! Kept small on purpose — one binding is stored per tool row — so it holds no schemas and no
//! descriptions: only locations, serialisation styles, media types and response hints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::naming::HttpMethod;

/// How to turn a tool call into an HTTP request and its response into a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerBinding {
    pub url: String,
    /// Variable name ⇒ default value (variables without a default are dropped).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestBodyBinding {
    pub required: bool,
    pub media_types: Vec<MediaTypeBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaTypeBinding {
    pub media_type: String,
    /// Per-property encoding for form and multipart bodies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encoding: BTreeMap<String, EncodingBinding>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByteFieldHint {
    /// Always `data` today.
    pub field: String,
    pub encoding: ByteEncoding,
    /// A sibling numeric property holding the byte length (`size`), when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteEncoding {
    Base64,
    Base64url,
}
