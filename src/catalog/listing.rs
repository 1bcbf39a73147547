//! `GET /api/tools` and `GET /api/tools/schema` (executor-behaviour.md §3.2 tool metadata, §3.5).

use serde::Serialize;
use serde_json::{Map, Value};

use super::address::ToolAddress;
use super::builtin::{self, StaticTool};
use super::core_tools;
use super::seams;
use super::store::{self, CatalogError, RowFilter, ToolRow};
use crate::app::Services;
use crate::auth::Principal;
use crate::logging;
use crate::owner::Owner;
use crate::plugins::openapi::OrderedMap;
use crate::tools::{matches_list_query, schema_previews};

/// One `GET /api/tools` item. The last four fields are always present, `null` when unset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolMetadata {
    pub address: String,
    pub owner: Owner,
    pub integration: String,
    pub connection: String,
    pub name: String,
    pub plugin_id: String,
    pub description: String,
    pub may_elicit: Option<bool>,
    pub requires_approval: Option<bool>,
    pub approval_description: Option<String>,
    #[serde(rename = "static")]
    pub is_static: Option<bool>,
}

impl ToolMetadata {
    fn from_row(row: ToolRow) -> ToolMetadata {
        let annotations = row.annotations();
        ToolMetadata {
            address: format!("tools.{}", row.target_id()),
            owner: row.owner,
            integration: row.integration,
            connection: row.connection,
            name: row.name,
            plugin_id: row.plugin_id,
            description: row.description,
            may_elicit: annotations.may_elicit,
            requires_approval: annotations.requires_approval,
            approval_description: annotations.approval_description,
            is_static: None,
        }
    }

    fn from_static(tool: &StaticTool) -> ToolMetadata {
        ToolMetadata {
            address: tool.address(),
            owner: Owner::User,
            integration: builtin::INTEGRATION.to_owned(),
            connection: builtin::CONNECTION.to_owned(),
            name: tool.name.to_owned(),
            plugin_id: tool.plugin_id.to_owned(),
            description: tool.description.to_owned(),
            may_elicit: None,
            requires_approval: tool.requires_approval.then_some(true),
            approval_description: tool.approval_description.map(str::to_owned),
            is_static: Some(true),
        }
    }

    /// The policy target id: dynamic addresses without `tools.`, built-ins as they are.
    fn target_id(&self) -> &str {
        self.address.strip_prefix("tools.").unwrap_or(&self.address)
    }
}

/// `GET /api/tools` query parameters.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub integration: Option<String>,
    pub owner: Option<Owner>,
    pub connection: Option<String>,
    /// Plain case-insensitive substring of `name + " " + description`.
    pub query: Option<String>,
    /// `false` hides tools whose effective policy is `block`.
    pub include_blocked: bool,
}

/// Re-produces stale connections first; failures only cost freshness (§8.7: best effort).
pub(super) async fn refresh_before_reading(services: Services<'_>, principal: &Principal) {
    if let Err(e) = seams::refresh_stale(services, principal).await {
        logging::warn(&format!(
            "catalog: refreshing stale connections failed: {e:?}"
        ));
    }
}

/// `GET /api/tools`: the caller's connection tools (creation order), then the built-in tools.
/// Costs the stale-connection refresh, one query, and one more for policies when blocked tools
/// are hidden.
pub async fn list_tools(
    services: Services<'_>,
    principal: &Principal,
    filter: &ListFilter,
) -> Result<Vec<ToolMetadata>, CatalogError> {
    refresh_before_reading(services, principal).await;
    let rows = store::visible_tools(
        services.sql,
        principal,
        &RowFilter {
            integration: filter.integration.as_deref(),
            owner: filter.owner,
            connection: filter.connection.as_deref(),
        },
    )
    .await?;
    let statics = builtin::STATIC_TOOLS.iter().filter(|_| {
        filter
            .integration
            .as_deref()
            .is_none_or(|i| i == builtin::INTEGRATION)
            && filter.owner.is_none_or(|o| o == Owner::User)
            && filter
                .connection
                .as_deref()
                .is_none_or(|c| c == builtin::CONNECTION)
    });
    let mut tools: Vec<ToolMetadata> = rows
        .into_iter()
        .map(ToolMetadata::from_row)
        .chain(statics.map(ToolMetadata::from_static))
        .collect();
    if let Some(query) = filter.query.as_deref() {
        tools.retain(|t| matches_list_query(&t.name, Some(&t.description), query));
    }
    if !filter.include_blocked && !tools.is_empty() {
        let policies = seams::load_policies(services.sql, principal).await?;
        tools.retain(|t| {
            !matches!(
                policies
                    .resolve(t.target_id(), t.requires_approval == Some(true))
                    .action,
                seams::Action::Block
            )
        });
    }
    Ok(tools)
}

/// `ToolSchemaView`: every field but `address` omitted when absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSchemaView {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_definitions: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_type_script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_type_script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_script_definitions: Option<OrderedMap<String>>,
}

/// A built-in tool's view: its schemas and plain previews when it is runnable (inline schemas,
/// so never `schemaDefinitions`), metadata only otherwise.
fn static_schema_view(tool: &StaticTool) -> ToolSchemaView {
    let runnable = core_tools::runnable(tool);
    let input_schema = runnable.map(|core| core.input_schema());
    let output_schema = runnable.map(|core| core.output_schema());
    let (input_ts, output_ts, ts_defs) =
        schema_previews(input_schema.as_ref(), output_schema.as_ref(), &Map::new());
    ToolSchemaView {
        address: tool.address(),
        name: Some(tool.name.to_owned()),
        description: Some(tool.description.to_owned()),
        input_schema,
        output_schema,
        schema_definitions: None,
        input_type_script: input_ts,
        output_type_script: output_ts,
        type_script_definitions: Some(OrderedMap(ts_defs)).filter(|d| !d.0.is_empty()),
    }
}

/// `GET /api/tools/schema?address=`: one query for a connection tool (its row and the `$defs`
/// its operation lists), none for a built-in. `None` when the caller has no such tool.
pub async fn tool_schema(
    services: Services<'_>,
    principal: &Principal,
    address: &str,
) -> Result<Option<ToolSchemaView>, CatalogError> {
    let dynamic = match ToolAddress::parse(address) {
        ToolAddress::Static(id) => return Ok(builtin::find(&id).map(static_schema_view)),
        ToolAddress::Dynamic(dynamic) => dynamic,
    };
    let Some(row) = store::tool_schema(services.sql, principal, &dynamic).await? else {
        return Ok(None);
    };
    let (input_ts, output_ts, ts_defs) = schema_previews(
        row.input_schema.as_ref(),
        row.output_schema.as_ref(),
        &row.defs,
    );
    Ok(Some(ToolSchemaView {
        address: dynamic.address(),
        name: Some(row.name),
        description: Some(row.description).filter(|d| !d.is_empty()),
        input_schema: row.input_schema,
        output_schema: row.output_schema,
        schema_definitions: Some(row.defs).filter(|d| !d.is_empty()),
        input_type_script: input_ts,
        output_type_script: output_ts,
        type_script_definitions: Some(OrderedMap(ts_defs)).filter(|d| !d.0.is_empty()),
    }))
}
