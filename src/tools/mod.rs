//! Tool discovery inside the sandbox: `tools.search` and `tools.describe.tool`
//! (executor-behaviour.md §7.3, §8.8, §8.10).
//!
//! Pure and platform-free. The host builds a [`SearchIndex`] per catalog (or loads one stored with
//! [`SearchIndex::to_bytes`]), ranks with [`search_all`], and describes a tool from its stored
//! schemas and `$defs` closure with [`describe_tool`] — nothing here reads a spec.

mod describe;
mod search;
mod typescript;
pub mod validate;

pub use describe::{
    describe_args, describe_builtin, describe_tool, not_found, schema_previews, suggestions,
    DescribeArgsError, DescribeError, DescribeResult, ToolSchemas, MAX_SUGGESTIONS, TOOL_ERROR_TS,
    TOOL_FILE_TS, TOOL_HTTP_META_TS,
};
pub use search::{
    matches_list_query, normalize, search_all, SearchArgsError, SearchIndex, SearchItem,
    SearchPage, SearchRequest, ToolEntry, DEFAULT_LIMIT, MAX_QUERY_TOKENS,
};
pub use typescript::{type_name, Renderer, MAX_DEFINITIONS, MAX_DEPTH, MAX_EXPRESSION};

#[cfg(test)]
mod tests;
