//! `POST /openapi/preview` (executor-behaviour.md §3.4.1, wire 08) and the document's `info`.

use serde::Serialize;

use super::auth::{
    analyse, AuthStrategy, HeaderPreset, OAuth2Preset, OrderedMap, SecuritySchemeSummary,
};
use super::document::OpenApiDocument;
use super::naming::operation_heads;
use super::raw::{self, RawObject};
use super::tools::parse_servers;

/// `SpecPreviewSummary`. There is deliberately no per-operation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecPreview {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub servers: Vec<ServerSummary>,
    pub operation_count: usize,
    /// Operation tags, unique, sorted.
    pub tags: Vec<String>,
    pub security_schemes: Vec<SecuritySchemeSummary>,
    pub auth_strategies: Vec<AuthStrategy>,
    pub header_presets: Vec<HeaderPreset>,
    pub oauth2_presets: Vec<OAuth2Preset>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSummary {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Only variables with a default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<OrderedMap<ServerVariableSummary>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerVariableSummary {
    pub default: String,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `info.title`, `info.description`, `info.version` (for the preview and for the defaults of an
/// integration's name and description, §8.1.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DocumentInfo {
    pub title: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
}

pub fn info(doc: &OpenApiDocument) -> DocumentInfo {
    let Some(info) = doc.top("info").and_then(RawObject::parse) else {
        return DocumentInfo::default();
    };
    let text = |key: &str| info.get(key).and_then(raw::as_text);
    DocumentInfo {
        title: text("title"),
        description: text("description"),
        version: text("version"),
    }
}

/// The preview of a parsed document.
pub fn preview(doc: &OpenApiDocument) -> SpecPreview {
    let info = info(doc);
    let servers = doc
        .top("servers")
        .map(parse_servers)
        .unwrap_or_default()
        .into_iter()
        .map(|server| {
            let variables: Vec<(String, ServerVariableSummary)> = server
                .variables
                .into_iter()
                .filter_map(|(name, var)| {
                    Some((
                        name,
                        ServerVariableSummary {
                            default: var.default?,
                            values: (!var.values.is_empty()).then_some(var.values),
                            description: var.description,
                        },
                    ))
                })
                .collect();
            ServerSummary {
                url: server.url,
                description: server.description,
                variables: (!variables.is_empty()).then_some(OrderedMap(variables)),
            }
        })
        .collect();
    let heads = operation_heads(doc);
    let mut tags: Vec<String> = heads.iter().flat_map(|h| h.tags.iter().cloned()).collect();
    crate::sort::sort_by(&mut tags, |a, b| raw::cmp_utf16(a, b));
    tags.dedup();
    let auth = analyse(doc);
    SpecPreview {
        title: info.title,
        description: info.description,
        version: info.version,
        servers,
        operation_count: heads.len(),
        tags,
        security_schemes: auth.schemes,
        auth_strategies: auth.strategies,
        header_presets: auth.header_presets,
        oauth2_presets: auth.oauth2_presets,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plugins::openapi::parse;
    use serde_json::json;

    #[test]
    fn servers_and_info() {
        let doc = parse(
            "openapi: 3.0.0\ninfo:\n  title: T\n  version: 1.0\nservers:\n  - url: https://{env}.x\n    description: main\n    variables:\n      env: {default: prod, enum: [prod, dev]}\n      other: {description: no default}\n  - url: /relative\npaths:\n  /a:\n    get: {tags: [b, a, b]}\n".to_owned(),
        )
        .unwrap();
        let preview = serde_json::to_value(preview(&doc)).unwrap();
        assert_eq!(
            preview,
            json!({
                "title": "T", "version": "1.0",
                "servers": [{"url": "https://{env}.x", "description": "main",
                             "variables": {"env": {"default": "prod", "enum": ["prod", "dev"]}}},
                            {"url": "/relative"}],
                "operationCount": 1, "tags": ["a", "b"],
                "securitySchemes": [], "authStrategies": [], "headerPresets": [], "oauth2Presets": []
            })
        );
    }
}
