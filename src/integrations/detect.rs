//! `POST /integrations/detect` (executor-behaviour.md §3.3, §8.6): given a URL, every integration
//! kind with a detector says whether the URL looks like one of its sources.
//!
//! Each detector answers at most one [`Detection`] and never fails: an unreachable or unknown URL
//! is simply no result. OpenAPI (the document parses), GraphQL (introspection answers ⇒ high,
//! a `graphql` host/path token ⇒ low), Google Discovery (a Discovery document ⇒ high, an
//! unfetchable Google Discovery URL ⇒ medium) and MCP (`initialize` answers ⇒ high, an `mcp`
//! token ⇒ low) have detectors.

use serde::Serialize;

use crate::app::Services;

/// Longest URL the route accepts (characters, after trimming).
pub const MAX_URL_CHARS: usize = 2048;

/// How sure a detector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// `IntegrationDetectionResult` on the wire (wire 91).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The plugin that would add it (`openapi`, …).
    pub kind: &'static str,
    pub confidence: Confidence,
    /// The URL to add it from.
    pub endpoint: String,
    pub name: String,
    /// A suggested integration slug.
    pub slug: String,
}

/// Runs every detector on `url` (already trimmed), in a fixed order.
pub async fn detect(services: Services<'_>, url: &str) -> Vec<Detection> {
    let mut found = Vec::new();
    if url.is_empty() {
        return found;
    }
    if let Some(detection) = crate::plugins::openapi::store::detect(services, url).await {
        found.push(detection);
    }
    if let Some(detection) = crate::plugins::graphql::store::detect(services, url).await {
        found.push(detection);
    }
    if let Some(detection) = crate::plugins::google::store::detect(services, url).await {
        found.push(detection);
    }
    if let Some(detection) = crate::plugins::mcp_remote::store::detect(services, url).await {
        found.push(detection);
    }
    found
}

/// A slug suggestion from a display name: lowercase ASCII letters and digits, every other run
/// of characters one `_`, no `_` at either end, at most 64 characters; `fallback` when nothing
/// is left.
pub fn slugify(name: &str, fallback: &str) -> String {
    let mut slug = String::new();
    let mut gap = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !slug.is_empty() {
                slug.push('_');
            }
            gap = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    slug.truncate(64);
    let slug = slug.trim_end_matches('_');
    if slug.is_empty() {
        fallback.to_owned()
    } else {
        slug.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Tiny Petstore", "api"), "tiny_petstore");
        assert_eq!(
            slugify("  GitHub v3 REST API!! ", "api"),
            "github_v3_rest_api"
        );
        assert_eq!(slugify("Ünïcode — only", "api"), "n_code_only");
        assert_eq!(slugify("***", "api"), "api");
        assert_eq!(slugify(&"a".repeat(100), "api").len(), 64);
    }
}
