//! OpenAPI 3.x ⇒ tools (executor-behaviour.md §3.4.1, §8.1).
//!
//! Pure and platform-free: text in, values out. The flow for adding a spec:
//!
//! 1. [`parse`] the text (JSON, or YAML) into an [`OpenApiDocument`]. Typed failures:
//!    [`OpenApiError`] (`OpenApiParseError` / `OpenApiExtractionError` on the wire).
//! 2. [`preview`] for `POST /openapi/preview`; [`info`], [`derive_auth_templates`] and
//!    [`derived_base_url`] for the defaults of `POST /openapi/specs` (§8.1.6).
//! 3. [`derive_tools`] streams one [`ToolDefinition`] at a time, in name order (names are final:
//!    collisions are resolved before the first definition is built). [`plan_tools`] gives just the
//!    names (for counts and refresh diffs).
//! 4. [`defs_blob`] writes the shared `$defs` (`components.schemas`, refs rewritten) as JSON text;
//!    [`DefsIndex`]/[`defs_closure`] read back the definitions one tool's schemas need.
//! 5. [`auth_method_descriptors`] projects stored [`AuthTemplate`]s for `authMethods`.
//!
//! [`store`] is the one part that is not pure: it persists OpenAPI integrations through the
//! storage traits (generations of operation rows, blobs, config) and produces connection tools.
//!
//! Memory: a document costs its JSON text plus a small index; derivation parses one path item or
//! component at a time (see [`OpenApiDocument`]). Ingesting the 13 MB GitHub spec peaks well under the
//! 64 MB budget (`tests/memory`).

mod auth;
mod binding;
mod document;
mod error;
pub mod invoke;
mod naming;
mod preview;
mod raw;
mod schema;
pub mod store;
mod tools;
mod yaml;

pub use auth::{
    auth_method_descriptors, derive_auth_templates, derived_base_url, ApiKeyTemplate,
    AuthMethodDescriptor, AuthMethodKind, AuthStrategy, AuthTemplate, Carrier, DescriptorPlacement,
    HeaderPreset, IdentityScopes, NoneTemplate, OAuth2Preset, OAuth2Template, OAuthDescriptor,
    OAuthFlow, OAuthFlowSummary, OAuthFlowsSummary, OrderedMap, Placement, SecuritySchemeSummary,
};
pub use binding::{
    ByteEncoding, ByteFieldHint, EncodingBinding, MediaTypeBinding, OperationBinding,
    ParameterBinding, ParameterLocation, RequestBodyBinding, ResponseBinding, ServerBinding,
};
pub use document::{parse, OpenApiDocument};
pub use error::{OpenApiError, PARSE_PREFIX};
pub use naming::HttpMethod;
pub use preview::{info, preview, DocumentInfo, ServerSummary, ServerVariableSummary, SpecPreview};
pub use schema::{defs_blob, defs_closure, rewrite_refs, DefsIndex};
pub use tools::{
    derive_all_tools, derive_tools, plan_tools, tool_file_schema, tool_iter, ToolAnnotations,
    ToolDefinition, ToolPlan,
};

/// The YAML → JSON conversion on its own, for the fuzz targets (`crate::fuzzing`), with a
/// small output limit so a fuzz input cannot grow a huge document.
#[cfg(any(test, feature = "fuzzing"))]
pub fn yaml_to_json_for_fuzzing(text: &str) -> Result<String, String> {
    yaml::to_json(text, 4 * 1024 * 1024)
}

#[cfg(test)]
mod fixture_tests;
