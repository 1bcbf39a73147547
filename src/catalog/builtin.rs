//! The built-in static tools (executor-behaviour.md §8.9): always listed, owned by the static
//! `executor` integration, connection `coreTools`, owner `user`.
//!
//! This module is their metadata (listing, search, describe, policies); `core_tools` runs them.
//! Every listed tool runs (the OAuth ones in `oauth_tools`; the MCP and GraphQL ones call their
//! plugins' services).

/// Integration slug of the built-in tools.
pub const INTEGRATION: &str = crate::integrations::BUILT_IN_SLUG;
/// The pseudo-connection every built-in tool is listed under.
pub const CONNECTION: &str = "coreTools";

/// One built-in tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticTool {
    /// The name under `executor.` (`coreTools.connections.list`).
    pub name: &'static str,
    pub plugin_id: &'static str,
    pub description: &'static str,
    /// `requiresApproval` by annotation.
    pub requires_approval: bool,
    pub approval_description: Option<&'static str>,
}

impl StaticTool {
    /// `executor.<name>`: the address, the policy target id and the search path alike.
    pub fn address(&self) -> String {
        format!("{INTEGRATION}.{}", self.name)
    }
}

const fn tool(
    name: &'static str,
    plugin_id: &'static str,
    description: &'static str,
) -> StaticTool {
    StaticTool {
        name,
        plugin_id,
        description,
        requires_approval: false,
        approval_description: None,
    }
}

/// A tool that asks for approval unless a policy says otherwise.
const fn gated(
    name: &'static str,
    plugin_id: &'static str,
    description: &'static str,
    approval_description: Option<&'static str>,
) -> StaticTool {
    StaticTool {
        name,
        plugin_id,
        description,
        requires_approval: true,
        approval_description,
    }
}

const CORE: &str = "core-tools";

/// Every built-in tool, in listing order (core tools, then openapi, mcp, graphql).
pub const STATIC_TOOLS: &[StaticTool] = &[
    tool(
        "coreTools.integrations.list",
        CORE,
        "List the integrations installed in this workspace: slug, description and the plugin \
         kind that owns each one. Connections hold the credentials for them.",
    ),
    tool(
        "coreTools.integrations.detect",
        CORE,
        "Given a URL, ask each plugin whether it recognises it (an OpenAPI document, a GraphQL \
         endpoint, an MCP server, …) and return the most confident matches.",
    ),
    tool(
        "coreTools.connections.list",
        CORE,
        "List the saved connections you can use, optionally narrowed by integration or owner. \
         Each entry carries the address prefix its tools live under; credential values are \
         never included.",
    ),
    gated(
        "coreTools.connections.create",
        CORE,
        "Save a connection for an integration from items a credential provider already holds \
         (`from: {provider, id}`, or `inputs` per template variable), never from a secret \
         value, and produce its tools; a `none` template takes neither. A connection with the \
         same owner, integration and name is replaced. For a secret the user must type, use \
         `connections.createHandoff`.",
        None,
    ),
    tool(
        "coreTools.connections.createHandoff",
        CORE,
        "Make a console link where the user can add a connection for an integration \
         themselves, typing the credential in the browser instead of the chat. Answers the \
         link and what to tell the user.",
    ),
    gated(
        "coreTools.connections.remove",
        CORE,
        "Delete a saved connection, identified by owner, integration and name, together with \
         the tools it produced.",
        None,
    ),
    gated(
        "coreTools.connections.refresh",
        CORE,
        "Rebuild the tools of a saved connection from its integration, replacing the ones \
         stored for it.",
        None,
    ),
    tool(
        "coreTools.providers.list",
        CORE,
        "List the credential provider keys (where secrets are stored, not API vendors). Use \
         `providers.items` to browse one of them.",
    ),
    tool(
        "coreTools.providers.items",
        CORE,
        "Browse the items a credential provider holds so one can be referenced by id. Only ids \
         and labels come back, never values.",
    ),
    tool(
        "coreTools.oauth.clients.list",
        CORE,
        "List the OAuth clients (apps) visible to you. Metadata only: client secrets are never \
         returned.",
    ),
    gated(
        "coreTools.oauth.clients.create",
        CORE,
        "Register a public OAuth client (no secret) for later `oauth.start` calls.",
        None,
    ),
    tool(
        "coreTools.oauth.clients.createHandoff",
        CORE,
        "Make a console link where the user can register an OAuth client, entering its secret \
         in the browser.",
    ),
    gated(
        "coreTools.oauth.clients.registerDynamic",
        CORE,
        "Register an OAuth client with the authorization server through RFC 7591 dynamic \
         client registration and save it for `oauth.start`.",
        None,
    ),
    gated(
        "coreTools.oauth.clients.remove",
        CORE,
        "Delete an OAuth client by owner and slug. Connections minted with it stay.",
        None,
    ),
    tool(
        "coreTools.oauth.probe",
        CORE,
        "Discover the OAuth authorization server behind an issuer or protected-resource URL, \
         to fill in a client registration.",
    ),
    gated(
        "coreTools.oauth.start",
        CORE,
        "Begin an OAuth flow that mints a connection: either connects at once (client \
         credentials) or returns a URL for the user to authorise in a browser.",
        None,
    ),
    tool(
        "coreTools.oauth.cancel",
        CORE,
        "Abandon an OAuth authorization flow that is still waiting, by its state.",
    ),
    tool(
        "coreTools.policies.list",
        CORE,
        "List the tool policies (approve, require_approval, block) of the workspace and your \
         own, in the order they are evaluated.",
    ),
    gated(
        "coreTools.policies.create",
        CORE,
        "Add a tool policy: a pattern over tool ids (`<integration>.*`, \
         `executor.coreTools.connections.*`, `*`) and the action for matching tools. It goes \
         on top of its owner's rules unless `position` is given.",
        None,
    ),
    gated(
        "coreTools.policies.update",
        CORE,
        "Change the pattern or the action of a tool policy, by id and owner.",
        None,
    ),
    gated(
        "coreTools.policies.remove",
        CORE,
        "Delete a tool policy, by id and owner.",
        None,
    ),
    tool(
        "openapi.previewSpec",
        "openapi",
        "Read an OpenAPI document (URL or text) and summarise it without saving anything: \
         title, servers, security schemes and the operations it would become.",
    ),
    gated(
        "openapi.addSpec",
        "openapi",
        "Install an OpenAPI document (URL or text) as an integration under `slug`; its \
         operations become tools once a connection exists (`connections.createHandoff`).",
        Some("Add an OpenAPI integration"),
    ),
    tool(
        "mcp.probeEndpoint",
        "mcp",
        "Check whether a URL speaks MCP and whether it needs OAuth, before adding it.",
    ),
    tool(
        "mcp.getServer",
        "mcp",
        "Show the stored settings of an installed MCP server integration, by slug.",
    ),
    gated(
        "mcp.addServer",
        "mcp",
        "Install a remote MCP server as an integration; its tools appear per connection.",
        Some("Add an MCP server"),
    ),
    tool(
        "graphql.getIntegration",
        "graphql",
        "Show the stored settings of an installed GraphQL integration, by slug.",
    ),
    gated(
        "graphql.addIntegration",
        "graphql",
        "Install a GraphQL endpoint as an integration, introspecting its schema into tools.",
        Some("Add a GraphQL integration"),
    ),
];

/// The built-in tool with this address (`executor.<name>`).
pub fn find(address: &str) -> Option<&'static StaticTool> {
    let name = address.strip_prefix(INTEGRATION)?.strip_prefix('.')?;
    STATIC_TOOLS.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_address() {
        assert_eq!(STATIC_TOOLS.len(), 28);
        let t = find("executor.openapi.addSpec");
        assert_eq!(
            t.map(|t| (t.plugin_id, t.approval_description)),
            Some(("openapi", Some("Add an OpenAPI integration")))
        );
        assert!(find("executor.nope").is_none());
        assert!(find("coreTools.policies.list").is_none());
        assert!(find("executorx.coreTools.policies.list").is_none());
    }
}
