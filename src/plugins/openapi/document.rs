//! `parse`: text ⇒ an indexed, lazily read OpenAPI document (executor-behaviour.md §8.1.1).
//!
//! Memory: the document owns the JSON text and keeps only byte ranges into it — of the top-level
//! members, of every `paths` entry and of every `components.<kind>.<name>` entry. Nothing else is
//! parsed until the derivation asks for it, one path item or one component at a time. A JSON spec
//! therefore costs its text plus a small index (a few hundred KB for the 13 MB GitHub spec). YAML
//! is converted to JSON text first (see [`super::yaml`]), then indexed the same way.

use std::collections::BTreeMap;
use std::ops::Range;

use super::error::OpenApiError;
use super::raw::{self, RawObject};
use super::yaml;

/// Upper bound on the JSON text a YAML document may expand to (aliases included).
const YAML_JSON_LIMIT: usize = 48 * 1024 * 1024;

/// How many `$ref` hops are followed before giving up (cycles, chains).
const MAX_REF_HOPS: usize = 8;

/// Named members of one JSON object, as ranges into the document text.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpanIndex {
    entries: Vec<(String, Range<usize>)>,
    lookup: BTreeMap<String, usize>,
}

impl SpanIndex {
    fn build(base: &str, object: RawObject<'_>) -> Self {
        let mut index = SpanIndex::default();
        for (name, value) in object.into_members() {
            if let Some(span) = raw::span_of(base, value) {
                index.lookup.insert(name.clone(), index.entries.len());
                index.entries.push((name, span));
            }
        }
        index
    }

    fn get(&self, name: &str) -> Option<Range<usize>> {
        let i = *self.lookup.get(name)?;
        self.entries.get(i).map(|(_, span)| span.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A parsed OpenAPI 3.x document.
///
/// Owns the (JSON) text; everything else is an index into it. Cheap to keep around while tools
/// are derived; drop it to release the text.
#[derive(Debug)]
pub struct OpenApiDocument {
    text: String,
    version: String,
    top: SpanIndex,
    /// `paths` entries, sorted in JavaScript string order.
    paths: SpanIndex,
    /// `components.<kind>` ⇒ its entries.
    components: BTreeMap<String, SpanIndex>,
    from_yaml: bool,
}

/// Parses spec text: JSON when it starts with `{` or `[` (falling back to YAML), else YAML.
///
/// Errors: unparsable text or a non-object ⇒ [`OpenApiError::Parse`]; Swagger 2.0, a missing or
/// non-3.x `openapi` field, or no `paths` object ⇒ [`OpenApiError::Extraction`].
pub fn parse(mut text: String) -> Result<OpenApiDocument, OpenApiError> {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    let trimmed = text.trim_start_matches([' ', '\t', '\r', '\n']);
    if trimmed.is_empty() {
        return Err(OpenApiError::parse("the document is empty"));
    }
    if trimmed.starts_with(['{', '[']) {
        match index(&text) {
            Ok(parts) => return finish(text, parts, false),
            Err(IndexError::Invalid(error)) => {
                // Not JSON: YAML is a superset with flow syntax (`{openapi: 3.0.0}`).
                return match yaml::to_json(&text, YAML_JSON_LIMIT) {
                    Ok(json) => from_json_text(json, true),
                    Err(_) => Err(OpenApiError::parse(format!("invalid JSON: {error}"))),
                };
            }
            Err(other) => return Err(other.into_error()),
        }
    }
    let json = yaml::to_json(&text, YAML_JSON_LIMIT).map_err(OpenApiError::parse)?;
    drop(text);
    from_json_text(json, true)
}

fn from_json_text(json: String, from_yaml: bool) -> Result<OpenApiDocument, OpenApiError> {
    match index(&json) {
        Ok(parts) => finish(json, parts, from_yaml),
        Err(IndexError::Invalid(error)) => {
            Err(OpenApiError::parse(format!("invalid JSON: {error}")))
        }
        Err(other) => Err(other.into_error()),
    }
}

struct Parts {
    version: String,
    top: SpanIndex,
    paths: SpanIndex,
    components: BTreeMap<String, SpanIndex>,
}

enum IndexError {
    /// The text is not JSON at all.
    Invalid(serde_json::Error),
    /// JSON, but the wrong shape.
    Shape(OpenApiError),
}

impl IndexError {
    fn into_error(self) -> OpenApiError {
        match self {
            IndexError::Invalid(e) => OpenApiError::parse(format!("invalid JSON: {e}")),
            IndexError::Shape(e) => e,
        }
    }
}

fn describe_kind(raw: &str) -> &'static str {
    match raw.trim_start().chars().next() {
        Some('[') => "an array",
        Some('"') => "a string",
        Some('t' | 'f') => "a boolean",
        Some('n') => "null",
        _ => "a number",
    }
}

fn index(text: &str) -> Result<Parts, IndexError> {
    let top_object = match RawObject::parse_checked(text) {
        Ok(object) => object,
        Err(error) if error.is_data() => {
            // Valid JSON of another type (serde reports a type mismatch as a data error).
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                return Err(IndexError::Shape(OpenApiError::parse(format!(
                    "expected a JSON or YAML object at the top level, found {}",
                    describe_kind(text)
                ))));
            }
            return Err(IndexError::Invalid(error));
        }
        Err(error) => return Err(IndexError::Invalid(error)),
    };

    if let Some(swagger) = top_object.get("swagger").and_then(raw::as_text) {
        return Err(IndexError::Shape(OpenApiError::extraction(format!(
            "This is a Swagger {swagger} document; only OpenAPI 3.x documents are supported. \
             Convert it to OpenAPI 3 (for example with swagger2openapi) and try again."
        ))));
    }
    let version =
        match top_object.get("openapi").and_then(raw::as_text) {
            Some(v) if v == "3" || v.starts_with("3.") => v,
            Some(v) => {
                return Err(IndexError::Shape(OpenApiError::extraction(format!(
                "Unsupported OpenAPI version \"{v}\"; only OpenAPI 3.x documents are supported."
            ))))
            }
            None => return Err(IndexError::Shape(OpenApiError::extraction(
                "The document has no \"openapi\" version field; only OpenAPI 3.x documents are \
                 supported.",
            ))),
        };
    let Some(paths_raw) = top_object.get("paths") else {
        return Err(IndexError::Shape(OpenApiError::extraction(
            "The OpenAPI document has no \"paths\" object, so it defines no operations.",
        )));
    };
    let Some(paths_object) = RawObject::parse(paths_raw) else {
        return Err(IndexError::Shape(OpenApiError::extraction(format!(
            "The OpenAPI document's \"paths\" must be an object, found {}.",
            describe_kind(paths_raw)
        ))));
    };
    let mut path_members = paths_object.into_members();
    crate::sort::sort_by(&mut path_members, |(a, _), (b, _)| raw::cmp_utf16(a, b));
    let mut paths = SpanIndex::default();
    for (name, value) in path_members {
        if let Some(span) = raw::span_of(text, value) {
            paths.lookup.insert(name.clone(), paths.entries.len());
            paths.entries.push((name, span));
        }
    }

    let mut components = BTreeMap::new();
    if let Some(components_object) = top_object.get("components").and_then(RawObject::parse) {
        for (kind, value) in components_object.into_members() {
            if let Some(object) = RawObject::parse(value) {
                components.insert(kind, SpanIndex::build(text, object));
            }
        }
    }
    let top = SpanIndex::build(text, top_object);
    Ok(Parts {
        version,
        top,
        paths,
        components,
    })
}

fn finish(text: String, parts: Parts, from_yaml: bool) -> Result<OpenApiDocument, OpenApiError> {
    Ok(OpenApiDocument {
        text,
        version: parts.version,
        top: parts.top,
        paths: parts.paths,
        components: parts.components,
        from_yaml,
    })
}

impl OpenApiDocument {
    /// The `openapi` field, e.g. `3.0.3`.
    pub fn openapi_version(&self) -> &str {
        &self.version
    }

    /// The document as JSON text (the input itself for JSON, the conversion for YAML). This is
    /// what to store as the spec blob.
    pub fn json_text(&self) -> &str {
        &self.text
    }

    /// Gives the JSON text back (see [`OpenApiDocument::json_text`]).
    pub fn into_json_text(self) -> String {
        self.text
    }

    /// Whether the input was YAML.
    pub fn was_yaml(&self) -> bool {
        self.from_yaml
    }

    fn slice(&self, span: Range<usize>) -> Option<&str> {
        self.text.get(span)
    }

    /// A top-level member (`info`, `servers`, `security`, …) as raw JSON.
    pub(crate) fn top(&self, key: &str) -> Option<&str> {
        self.slice(self.top.get(key)?)
    }

    /// Path templates with their raw path items, in JavaScript string order.
    pub(crate) fn paths(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.paths
            .entries
            .iter()
            .filter_map(|(name, span)| Some((name.as_str(), self.slice(span.clone())?)))
    }

    pub(crate) fn path_item(&self, path: &str) -> Option<&str> {
        self.slice(self.paths.get(path)?)
    }

    /// `components.<kind>` entries in declaration order.
    pub(crate) fn components(&self, kind: &str) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.components
            .get(kind)
            .into_iter()
            .flat_map(|index| index.entries.iter())
            .filter_map(|(name, span)| Some((name.as_str(), self.slice(span.clone())?)))
    }

    pub(crate) fn component(&self, kind: &str, name: &str) -> Option<&str> {
        self.slice(self.components.get(kind)?.get(name)?)
    }

    /// Byte length of the raw `components.<kind>` section (an allocation hint).
    pub(crate) fn components_len(&self, kind: &str) -> usize {
        let Some(index) = self.components.get(kind) else {
            return 0;
        };
        let start = index.entries.iter().map(|(_, s)| s.start).min();
        let end = index.entries.iter().map(|(_, s)| s.end).max();
        match (start, end) {
            (Some(start), Some(end)) => end.saturating_sub(start),
            _ => 0,
        }
    }

    /// Resolves a local JSON pointer (`#/components/schemas/Pet`); external refs resolve to
    /// nothing.
    pub(crate) fn resolve_pointer(&self, pointer: &str) -> Option<&str> {
        let path = pointer.strip_prefix('#')?;
        if path.is_empty() {
            return Some(&self.text);
        }
        let path = path.strip_prefix('/')?;
        let tokens: Vec<String> = path.split('/').map(raw::unescape_pointer_token).collect();
        let (first, rest) = tokens.split_first()?;
        match first.as_str() {
            "paths" => {
                let (name, rest) = rest.split_first()?;
                raw::navigate(self.path_item(name)?, rest)
            }
            "components" => match rest {
                [kind, name, rest @ ..] => raw::navigate(self.component(kind, name)?, rest),
                _ => raw::navigate(self.top("components")?, rest),
            },
            other => raw::navigate(self.top(other)?, rest),
        }
    }

    /// Follows `$ref` (local pointers only) from `raw` until a non-reference object; `None` for
    /// unresolvable or external references.
    pub(crate) fn deref<'a>(&'a self, mut raw: &'a str) -> Option<&'a str> {
        for _ in 0..MAX_REF_HOPS {
            if !raw.trim_start().starts_with('{') {
                return Some(raw);
            }
            let object = RawObject::parse(raw)?;
            let Some(reference) = object.str("$ref") else {
                return Some(raw);
            };
            raw = self.resolve_pointer(&reference)?;
        }
        None
    }

    /// Number of path items.
    pub fn path_count(&self) -> usize {
        self.paths.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse_str(text: &str) -> Result<OpenApiDocument, OpenApiError> {
        parse(text.to_owned())
    }

    #[test]
    fn indexes_paths_in_order_and_resolves_pointers() {
        let doc = parse_str(
            r##"{"openapi": "3.1.0", "paths": {"/b": {"get": {}}, "/a": {"$ref": "#/x"}},
               "components": {"schemas": {"P": {"type": "object"}, "Q": {"$ref": "#/components/schemas/P"}},
                              "parameters": {"id": {"name": "id", "in": "path"}}}}"##,
        )
        .unwrap();
        assert_eq!(doc.openapi_version(), "3.1.0");
        let paths: Vec<_> = doc.paths().map(|(p, _)| p).collect();
        assert_eq!(paths, ["/a", "/b"]);
        assert_eq!(
            doc.resolve_pointer("#/components/schemas/P"),
            Some(r#"{"type": "object"}"#)
        );
        assert_eq!(doc.resolve_pointer("#/paths/~1b/get"), Some("{}"));
        assert_eq!(
            doc.resolve_pointer("#/components/parameters/id/in"),
            Some(r#""path""#)
        );
        assert_eq!(
            doc.deref(r##"{"$ref": "#/components/schemas/Q"}"##),
            Some(r#"{"type": "object"}"#)
        );
        assert_eq!(doc.deref(r#"{"$ref": "other.yaml#/P"}"#), None);
        assert_eq!(doc.resolve_pointer("#/nothing"), None);
    }

    #[test]
    fn reference_cycles_end() {
        let doc = parse_str(
            r##"{"openapi": "3.0.0", "paths": {}, "components": {"parameters":
               {"a": {"$ref": "#/components/parameters/b"}, "b": {"$ref": "#/components/parameters/a"}}}}"##,
        )
        .unwrap();
        assert_eq!(
            doc.deref(r##"{"$ref": "#/components/parameters/a"}"##),
            None
        );
    }

    #[test]
    fn typed_errors() {
        let e = parse_str("{not json").unwrap_err();
        assert_eq!(e.tag(), "OpenApiParseError");
        assert!(
            e.message()
                .starts_with("Failed to parse OpenAPI document: "),
            "{e}"
        );
        assert!(e.message().contains("line 1"), "{e}");

        let e = parse_str(r#"{"swagger": "2.0", "paths": {}}"#).unwrap_err();
        assert_eq!(e.tag(), "OpenApiExtractionError");
        assert!(e.message().contains("only OpenAPI 3.x"), "{e}");

        let e = parse_str(r#"{"openapi": "3.0.0"}"#).unwrap_err();
        assert_eq!(e, OpenApiError::Extraction(e.message()));
        assert!(e.message().contains("\"paths\""), "{e}");

        let e = parse_str(r#"{"info": {}, "paths": {}}"#).unwrap_err();
        assert_eq!(e.tag(), "OpenApiExtractionError");

        let e = parse_str(r#"{"openapi": "2.5", "paths": {}}"#).unwrap_err();
        assert_eq!(e.tag(), "OpenApiExtractionError");

        let e = parse_str(r#"{"openapi": "3.0.0", "paths": []}"#).unwrap_err();
        assert_eq!(e.tag(), "OpenApiExtractionError");

        let e = parse_str("[1, 2]").unwrap_err();
        assert_eq!(e.tag(), "OpenApiParseError");
        assert!(e.message().contains("found an array"), "{e}");

        let e = parse_str("just some words").unwrap_err();
        assert_eq!(e.tag(), "OpenApiParseError");
        assert!(e.message().contains("object"), "{e}");

        let e = parse_str("  \n").unwrap_err();
        assert_eq!(e.tag(), "OpenApiParseError");

        let e = parse_str("openapi: 3.0.0\npaths:\n  /a: [\n").unwrap_err();
        assert_eq!(e.tag(), "OpenApiParseError");
        assert!(e.message().contains("YAML"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for text in [
            "[".repeat(200_000),
            "{\"a\":".repeat(100_000),
            format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000)),
            format!(
                "openapi: 3.0.0\npaths: {}1{}\n",
                "[".repeat(50_000),
                "]".repeat(50_000)
            ),
            (0..3000)
                .map(|i| format!("{}- a\n", " ".repeat(i)))
                .collect(),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.tag(), "OpenApiParseError", "{e}");
        }
    }

    #[test]
    fn yaml_and_flow_yaml_parse() {
        let doc = parse_str("openapi: 3.0.1\npaths:\n  /x:\n    get: {}\n").unwrap();
        assert!(doc.was_yaml());
        assert_eq!(doc.openapi_version(), "3.0.1");
        assert_eq!(doc.path_count(), 1);
        let doc = parse_str("{openapi: 3.0.1, paths: {}}").unwrap();
        assert!(doc.was_yaml());
        // YAML turns `3.1` into a number; it still counts.
        let doc = parse_str("openapi: 3.1\npaths: {}\n").unwrap();
        assert_eq!(doc.openapi_version(), "3.1");
    }
}
