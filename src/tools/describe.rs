//! `tools.describe.tool({ path })` (executor-behaviour.md §7.3, §8.8).

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::search::{search_all, SearchIndex, SearchRequest};
use super::typescript::Renderer;

/// The definitions every real tool's preview carries (their text is part of the contract).
pub const TOOL_ERROR_TS: &str =
    "{ code: string; message: string; status?: number; details?: unknown; retryable?: boolean }";
pub const TOOL_HTTP_META_TS: &str = "{ status: number; headers: { [k: string]: string; } }";
pub const TOOL_FILE_TS: &str = "{ _tag: \"ToolFile\"; name?: string; mimeType: string; encoding: \"base64\"; data: string; byteLength: number; }";

/// How many suggestions a `tool_not_found` answer carries at most.
pub const MAX_SUGGESTIONS: usize = 5;

/// What describe needs to know about one tool.
#[derive(Debug, Clone, Copy)]
pub struct ToolSchemas<'a> {
    /// Address without the leading `tools.`.
    pub path: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub input_schema: Option<&'a Value>,
    pub output_schema: Option<&'a Value>,
    /// The `$defs` the schemas reference (a closure is enough; extra entries are ignored).
    pub defs: &'a Map<String, Value>,
}

/// `error` of a failed describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DescribeError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<String>>,
}

/// The value `tools.describe.tool` resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeResult {
    pub path: String,
    pub name: String,
    pub description: Option<String>,
    pub input_type_script: Option<String>,
    pub output_type_script: Option<String>,
    /// Named types in order (serialised as an object in this order).
    pub type_script_definitions: Option<Vec<(String, String)>>,
    pub error: Option<DescribeError>,
}

struct OrderedDefs<'a>(&'a [(String, String)]);

impl Serialize for OrderedDefs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for DescribeResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("DescribeResult", 7)?;
        s.serialize_field("path", &self.path)?;
        s.serialize_field("name", &self.name)?;
        if let Some(d) = &self.description {
            s.serialize_field("description", d)?;
        }
        if let Some(t) = &self.input_type_script {
            s.serialize_field("inputTypeScript", t)?;
        }
        if let Some(t) = &self.output_type_script {
            s.serialize_field("outputTypeScript", t)?;
        }
        if let Some(defs) = &self.type_script_definitions {
            s.serialize_field("typeScriptDefinitions", &OrderedDefs(defs))?;
        }
        if let Some(e) = &self.error {
            s.serialize_field("error", e)?;
        }
        s.end()
    }
}

impl DescribeResult {
    /// As the JSON value the sandbox receives (key order kept, text form).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Why `tools.describe.tool` arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescribeArgsError {
    #[error("tools.describe.tool expects an object argument like {{ path: \"...\" }}")]
    NotAnObject,
    #[error("tools.describe.tool: `path` must be a non-empty string")]
    BadPath,
    #[error(
        "tools.describe.tool: `includeSchemas` is not supported; the result always carries \
         TypeScript previews"
    )]
    IncludeSchemas,
}

/// Validates the sandbox argument and returns the path.
pub fn describe_args(args: &Value) -> Result<String, DescribeArgsError> {
    let Value::Object(map) = args else {
        return Err(DescribeArgsError::NotAnObject);
    };
    if map.contains_key("includeSchemas") {
        return Err(DescribeArgsError::IncludeSchemas);
    }
    match map.get("path") {
        Some(Value::String(p)) if !p.trim().is_empty() => Ok(p.clone()),
        _ => Err(DescribeArgsError::BadPath),
    }
}

/// Describes a real (integration) tool: input as-is, output wrapped in the ToolResult union, and
/// the three shared definitions appended.
pub fn describe_tool(tool: &ToolSchemas<'_>) -> DescribeResult {
    let mut renderer = Renderer::new(tool.defs);
    let input = tool.input_schema.map(|s| renderer.render(s));
    let data = tool
        .output_schema
        .map(|s| renderer.render(s))
        .unwrap_or_else(|| "unknown".to_owned());
    let output = format!(
        "{{ ok: true; data: {data}; http?: ToolHttpMeta }} | {{ ok: false; error: ToolError }}"
    );
    let mut defs = renderer.into_definitions();
    for (name, text) in [
        ("ToolError", TOOL_ERROR_TS),
        ("ToolHttpMeta", TOOL_HTTP_META_TS),
        ("ToolFile", TOOL_FILE_TS),
    ] {
        if let Some(slot) = defs.iter_mut().find(|(n, _)| n == name) {
            slot.1 = text.to_owned();
        } else {
            defs.push((name.to_owned(), text.to_owned()));
        }
    }
    DescribeResult {
        path: tool.path.to_owned(),
        name: tool.name.to_owned(),
        description: tool.description.map(str::to_owned),
        input_type_script: input,
        output_type_script: Some(output),
        type_script_definitions: Some(defs),
        error: None,
    }
}

/// Plain previews (no ToolResult wrapping, no shared definitions), as `GET /api/tools/schema`
/// shows them: `(inputTypeScript, outputTypeScript, typeScriptDefinitions)`.
pub fn schema_previews(
    input_schema: Option<&Value>,
    output_schema: Option<&Value>,
    defs: &Map<String, Value>,
) -> (Option<String>, Option<String>, Vec<(String, String)>) {
    let mut renderer = Renderer::new(defs);
    let input = input_schema.map(|s| renderer.render(s));
    let output = output_schema.map(|s| renderer.render(s));
    (input, output, renderer.into_definitions())
}

/// Suggestions for an unknown path: the last segment searched within the first segment as a
/// namespace, else across everything; at most [`MAX_SUGGESTIONS`] paths.
pub fn suggestions(
    indexes: &[&SearchIndex],
    path: &str,
    exclude: impl Fn(&str) -> bool,
) -> Vec<String> {
    let path = path.strip_prefix("tools.").unwrap_or(path);
    let last = path.rsplit('.').next().unwrap_or(path);
    let first = path.split('.').next().unwrap_or(path);
    let mut request = SearchRequest {
        query: last.to_owned(),
        namespace: Some(first.to_owned()),
        limit: MAX_SUGGESTIONS,
        offset: 0,
    };
    let mut page = search_all(indexes, &request, &exclude);
    if page.items.is_empty() {
        request.namespace = None;
        page = search_all(indexes, &request, &exclude);
    }
    page.items.into_iter().map(|item| item.path).collect()
}

/// The `tool_not_found` answer (`suggestions` omitted when there are none).
pub fn not_found(path: &str, suggestions: Vec<String>) -> DescribeResult {
    DescribeResult {
        path: path.to_owned(),
        name: path.to_owned(),
        error: Some(DescribeError {
            code: "tool_not_found",
            message: format!("Tool not found: {path}"),
            suggestions: (!suggestions.is_empty()).then_some(suggestions),
        }),
        ..DescribeResult::default()
    }
}

/// Descriptions of the engine's own discovery functions (`search`, `describe.tool`,
/// `executor.sources.list`), which are not catalog tools. `None` for any other path.
pub fn describe_builtin(path: &str) -> Option<DescribeResult> {
    let path = path.strip_prefix("tools.").unwrap_or(path);
    let (description, input, output) = match path {
        "search" => (
            "Find tools by keywords. Ranks every visible tool by how well its path, name, \
             integration and description match; narrow with `namespace` (an integration slug or \
             path prefix) and page with `limit`/`offset`.",
            "{ query?: string; namespace?: string; limit?: number; offset?: number; }",
            "{ items: { path: string; name: string; description?: string; integration: string; \
             score: number; }[]; total: number; hasMore: boolean; nextOffset: number | null; }",
        ),
        "describe.tool" => (
            "Show one tool's arguments and result as TypeScript types, with the named types they \
             use. An unknown path answers with a `tool_not_found` error and suggestions.",
            "{ path: string; }",
            "{ path: string; name: string; description?: string; inputTypeScript?: string; \
             outputTypeScript?: string; typeScriptDefinitions?: { [k: string]: string; }; \
             error?: { code: \"tool_not_found\"; message: string; suggestions?: string[]; }; }",
        ),
        "executor.sources.list" => (
            "List the installed integrations (tool sources) with their tool counts, sorted by \
             name; `query` keeps those whose slug, description and kind contain every word.",
            "{ query?: string; limit?: number; offset?: number; }",
            "{ items: { id: string; name: string; description?: string; kind: string; \
             canRemove?: boolean; canRefresh?: boolean; toolCount: number; }[]; total: number; \
             hasMore: boolean; nextOffset: number | null; }",
        ),
        _ => return None,
    };
    Some(DescribeResult {
        path: path.to_owned(),
        name: path.to_owned(),
        description: Some(description.to_owned()),
        input_type_script: Some(input.to_owned()),
        output_type_script: Some(output.to_owned()),
        type_script_definitions: None,
        error: None,
    })
}
