//! The built-in tools' schemas written as `json!` builders: the source of truth for the static
//! schema texts in [`super::schema_text`] (a test checks they agree). Test-only: the builders
//! cost ~30 KB of wasm, the texts a fraction of that.
#![allow(clippy::too_many_lines)]

use serde_json::{json, Map, Value};

use super::*;
// ---------------------------------------------------------------------------------------------
// Schemas

fn string() -> Value {
    json!({ "type": "string" })
}

fn non_empty_string() -> Value {
    json!({ "type": "string", "minLength": 1 })
}

fn nullable_string() -> Value {
    json!({ "type": ["string", "null"] })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn owner() -> Value {
    json!({ "type": "string", "enum": ["org", "user"] })
}

fn action() -> Value {
    json!({ "type": "string", "enum": ["approve", "require_approval", "block"] })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// A closed object: `properties` (an object literal), the `required` names.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn no_arguments() -> Value {
    object(json!({}), &[])
}

fn integration_schema() -> Value {
    let placement = object(
        json!({
            "carrier": { "type": "string", "enum": ["header", "query"] },
            "name": string(),
            "prefix": string(),
            "variable": string(),
            "literal": string(),
        }),
        &["carrier", "name"],
    );
    let auth_method = object(
        json!({
            "id": string(),
            "label": string(),
            "kind": { "type": "string", "enum": ["oauth", "apikey", "header", "none"] },
            "template": string(),
            "placements": array(placement),
            "oauth": { "type": "object" },
        }),
        &["id", "label", "kind", "template"],
    );
    object(
        json!({
            "slug": string(),
            "name": string(),
            "description": string(),
            "kind": string(),
            "canRemove": boolean(),
            "canRefresh": boolean(),
            "authMethods": array(auth_method),
            "displayUrl": string(),
        }),
        &[
            "slug",
            "name",
            "description",
            "kind",
            "canRemove",
            "canRefresh",
            "authMethods",
        ],
    )
}

fn connection_properties() -> Map<String, Value> {
    let mut properties = Map::new();
    for (key, schema) in [
        ("owner", owner()),
        ("name", string()),
        ("integration", string()),
        ("template", string()),
        ("provider", string()),
        ("address", string()),
        ("identityLabel", nullable_string()),
        ("description", nullable_string()),
        ("expiresAt", json!({ "type": ["number", "null"] })),
        ("oauthClient", nullable_string()),
        (
            "oauthClientOwner",
            json!({ "type": ["string", "null"], "enum": ["org", "user", null] }),
        ),
    ] {
        properties.insert(key.to_owned(), schema);
    }
    properties
}

const CONNECTION_FIELDS: [&str; 11] = [
    "owner",
    "name",
    "integration",
    "template",
    "provider",
    "address",
    "identityLabel",
    "description",
    "expiresAt",
    "oauthClient",
    "oauthClientOwner",
];

fn connection_schema() -> Value {
    let mut properties = connection_properties();
    properties.insert("oauthScope".into(), nullable_string());
    let mut required = CONNECTION_FIELDS.to_vec();
    required.push("oauthScope");
    object(Value::Object(properties), &required)
}

fn connection_list_item_schema() -> Value {
    let mut properties = connection_properties();
    properties.insert(
        "oauthScopeCount".into(),
        json!({ "type": ["integer", "null"] }),
    );
    properties.insert("oauthScope".into(), nullable_string());
    let mut required = CONNECTION_FIELDS.to_vec();
    required.push("oauthScopeCount");
    object(Value::Object(properties), &required)
}

fn connection_key_schema() -> Value {
    object(
        json!({ "owner": owner(), "integration": string(), "name": string() }),
        &["owner", "integration", "name"],
    )
}

fn policy_schema() -> Value {
    object(
        json!({
            "id": string(),
            "owner": owner(),
            "pattern": string(),
            "action": action(),
            "position": string(),
            "createdAt": { "type": "number" },
            "updatedAt": { "type": "number" },
        }),
        &[
            "id",
            "owner",
            "pattern",
            "action",
            "position",
            "createdAt",
            "updatedAt",
        ],
    )
}

fn provider_reference() -> Value {
    object(
        json!({ "provider": non_empty_string(), "id": non_empty_string() }),
        &["provider", "id"],
    )
}

fn removed() -> Value {
    object(json!({ "removed": boolean() }), &["removed"])
}

fn spec_preview_schema() -> Value {
    let server = object(
        json!({
            "url": string(),
            "description": string(),
            "variables": { "type": "object", "additionalProperties": object(
                json!({ "default": string(), "enum": array(string()), "description": string() }),
                &["default"],
            ) },
        }),
        &["url"],
    );
    let scheme = json!({
        "type": "object",
        "properties": {
            "name": string(),
            "type": { "type": "string", "enum": ["http", "apiKey", "oauth2", "openIdConnect"] },
            "scheme": string(),
            "in": string(),
            "headerName": string(),
            "description": string(),
        },
        "required": ["name", "type"],
    });
    let header_preset = object(
        json!({
            "label": string(),
            "headers": { "type": "object", "additionalProperties": nullable_string() },
            "secretHeaders": array(string()),
        }),
        &["label", "headers", "secretHeaders"],
    );
    let oauth2_preset = json!({
        "type": "object",
        "properties": {
            "label": string(),
            "securitySchemeName": string(),
            "flow": { "type": "string", "enum": ["authorizationCode", "clientCredentials"] },
            "authorizationUrl": string(),
            "tokenUrl": string(),
            "scopes": array(string()),
        },
        "required": ["label", "securitySchemeName", "flow", "tokenUrl", "scopes"],
    });
    object(
        json!({
            "title": string(),
            "description": string(),
            "version": string(),
            "servers": array(server),
            "operationCount": { "type": "integer" },
            "tags": array(string()),
            "securitySchemes": array(scheme),
            "authStrategies": array(object(json!({ "schemes": array(string()) }), &["schemes"])),
            "headerPresets": array(header_preset),
            "oauth2Presets": array(oauth2_preset),
        }),
        &[
            "servers",
            "operationCount",
            "tags",
            "securitySchemes",
            "authStrategies",
            "headerPresets",
            "oauth2Presets",
        ],
    )
}

impl CoreTool {
    /// The JSON Schema of the tool's argument.
    pub(super) fn built_input_schema(&self) -> Value {
        match self.kind {
            Kind::OAuth(tool) => tool.input_schema(),
            Kind::IntegrationsList | Kind::ProvidersList | Kind::PoliciesList => no_arguments(),
            Kind::IntegrationsDetect => object(
                json!({ "url": { "type": "string", "minLength": 1, "maxLength": detect::MAX_URL_CHARS } }),
                &["url"],
            ),
            Kind::ConnectionsList => object(
                json!({ "integration": string(), "owner": owner(), "verbose": boolean() }),
                &[],
            ),
            Kind::ConnectionsCreate => object(
                json!({
                    "owner": owner(),
                    "name": non_empty_string(),
                    "integration": non_empty_string(),
                    "template": non_empty_string(),
                    "identityLabel": nullable_string(),
                    "description": nullable_string(),
                    "from": provider_reference(),
                    "inputs": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": object(
                            json!({ "from": provider_reference() }),
                            &["from"],
                        ),
                    },
                }),
                &["owner", "name", "integration", "template"],
            ),
            Kind::ConnectionsCreateHandoff => object(
                json!({
                    "integration": non_empty_string(),
                    "owner": owner(),
                    "template": string(),
                    "label": string(),
                }),
                &["integration"],
            ),
            Kind::ConnectionsRemove | Kind::ConnectionsRefresh => connection_key_schema(),
            Kind::ProvidersItems => object(json!({ "provider": string() }), &["provider"]),
            Kind::PoliciesCreate => object(
                json!({
                    "owner": owner(),
                    "pattern": string(),
                    "action": action(),
                    "position": string(),
                }),
                &["owner", "pattern", "action"],
            ),
            Kind::PoliciesUpdate => object(
                json!({
                    "id": string(),
                    "owner": owner(),
                    "pattern": string(),
                    "action": action(),
                    "position": string(),
                }),
                &["id", "owner"],
            ),
            Kind::PoliciesRemove => object(
                json!({ "id": string(), "owner": owner() }),
                &["id", "owner"],
            ),
            Kind::PreviewSpec => object(json!({ "spec": non_empty_string() }), &["spec"]),
            Kind::AddSpec => object(
                json!({
                    "spec": non_empty_string(),
                    "slug": non_empty_string(),
                    "name": string(),
                    "description": string(),
                    "baseUrl": string(),
                    "authenticationTemplate": array(json!({ "type": "object" })),
                }),
                &["spec", "slug"],
            ),
            Kind::McpProbe => object(
                json!({
                    "endpoint": non_empty_string(),
                    "headers": { "type": "object", "additionalProperties": string() },
                    "queryParams": { "type": "object", "additionalProperties": string() },
                }),
                &["endpoint"],
            ),
            Kind::McpGetServer | Kind::GraphqlGet => {
                object(json!({ "slug": non_empty_string() }), &["slug"])
            }
            Kind::GraphqlAdd => object(
                json!({
                    "endpoint": non_empty_string(),
                    "slug": string(),
                    "name": string(),
                    "description": string(),
                    "introspectionJson": string(),
                    "authenticationTemplate": array(json!({ "type": "object" })),
                }),
                &["endpoint"],
            ),
            Kind::McpAddServer => object(
                json!({
                    "name": non_empty_string(),
                    "endpoint": non_empty_string(),
                    "slug": string(),
                    "description": string(),
                    "remoteTransport": { "enum": ["auto", "streamable-http", "sse"] },
                    "authenticationTemplate": array(json!({ "type": "object" })),
                    "auth": { "type": "object" },
                }),
                &["name", "endpoint"],
            ),
        }
    }

    /// The JSON Schema of the `data` of a successful call.
    pub(super) fn built_output_schema(&self) -> Value {
        match self.kind {
            Kind::OAuth(tool) => tool.output_schema(),
            Kind::IntegrationsList => object(
                json!({ "integrations": array(integration_schema()) }),
                &["integrations"],
            ),
            Kind::IntegrationsDetect => {
                let detection = object(
                    json!({
                        "kind": string(),
                        "confidence": { "type": "string", "enum": ["high", "medium", "low"] },
                        "endpoint": string(),
                        "name": string(),
                        "slug": string(),
                    }),
                    &["kind", "confidence", "endpoint", "name", "slug"],
                );
                object(json!({ "results": array(detection) }), &["results"])
            }
            Kind::ConnectionsList => object(
                json!({ "connections": array(connection_list_item_schema()) }),
                &["connections"],
            ),
            Kind::ConnectionsCreate => connection_schema(),
            Kind::ConnectionsCreateHandoff => object(
                json!({ "url": string(), "instructions": string() }),
                &["url", "instructions"],
            ),
            Kind::ConnectionsRemove | Kind::PoliciesRemove => removed(),
            Kind::ConnectionsRefresh => {
                let tool = object(
                    json!({
                        "address": string(),
                        "owner": owner(),
                        "integration": string(),
                        "connection": string(),
                        "name": string(),
                        "pluginId": string(),
                        "description": string(),
                    }),
                    &[
                        "address",
                        "owner",
                        "integration",
                        "connection",
                        "name",
                        "pluginId",
                        "description",
                    ],
                );
                object(json!({ "tools": array(tool) }), &["tools"])
            }
            Kind::ProvidersList => object(json!({ "providers": array(string()) }), &["providers"]),
            Kind::ProvidersItems => {
                let item = object(json!({ "id": string(), "name": string() }), &["id", "name"]);
                object(json!({ "items": array(item) }), &["items"])
            }
            Kind::PoliciesList => {
                object(json!({ "policies": array(policy_schema()) }), &["policies"])
            }
            Kind::PoliciesCreate | Kind::PoliciesUpdate => policy_schema(),
            Kind::PreviewSpec => spec_preview_schema(),
            Kind::AddSpec => object(
                json!({ "slug": string(), "toolCount": { "type": "integer" } }),
                &["slug", "toolCount"],
            ),
            Kind::McpProbe => object(
                json!({
                    "connected": boolean(), "requiresAuthentication": boolean(),
                    "requiresOAuth": boolean(), "supportsDynamicRegistration": boolean(),
                    "name": string(), "slug": string(),
                    "toolCount": { "type": ["integer", "null"] },
                    "serverName": { "type": ["string", "null"] },
                    "instructions": { "type": ["string", "null"] },
                }),
                &[
                    "connected",
                    "requiresAuthentication",
                    "requiresOAuth",
                    "name",
                    "slug",
                ],
            ),
            Kind::McpGetServer => object(
                json!({ "slug": string(), "kind": string(), "config": { "type": "object" } }),
                &["slug", "kind", "config"],
            ),
            Kind::McpAddServer => object(json!({ "slug": string() }), &["slug"]),
            Kind::GraphqlGet => object(
                json!({ "slug": string(), "config": { "type": "object" } }),
                &["slug", "config"],
            ),
            Kind::GraphqlAdd => object(
                json!({ "slug": string(), "name": string() }),
                &["slug", "name"],
            ),
        }
    }
}

const KINDS: [(Kind, &str); 20] = [
    (Kind::IntegrationsList, "IntegrationsList"),
    (Kind::IntegrationsDetect, "IntegrationsDetect"),
    (Kind::ConnectionsList, "ConnectionsList"),
    (Kind::ConnectionsCreate, "ConnectionsCreate"),
    (Kind::ConnectionsCreateHandoff, "ConnectionsCreateHandoff"),
    (Kind::ConnectionsRemove, "ConnectionsRemove"),
    (Kind::ConnectionsRefresh, "ConnectionsRefresh"),
    (Kind::ProvidersList, "ProvidersList"),
    (Kind::ProvidersItems, "ProvidersItems"),
    (Kind::PoliciesList, "PoliciesList"),
    (Kind::PoliciesCreate, "PoliciesCreate"),
    (Kind::PoliciesUpdate, "PoliciesUpdate"),
    (Kind::PoliciesRemove, "PoliciesRemove"),
    (Kind::PreviewSpec, "PreviewSpec"),
    (Kind::AddSpec, "AddSpec"),
    (Kind::McpProbe, "McpProbe"),
    (Kind::McpGetServer, "McpGetServer"),
    (Kind::McpAddServer, "McpAddServer"),
    (Kind::GraphqlGet, "GraphqlGet"),
    (Kind::GraphqlAdd, "GraphqlAdd"),
];

#[test]
fn schema_texts_match_the_builders() {
    for (kind, name) in KINDS {
        let tool = CoreTool { kind };
        assert_eq!(
            tool.input_schema(),
            tool.built_input_schema(),
            "{name} input"
        );
        assert_eq!(
            tool.output_schema(),
            tool.built_output_schema(),
            "{name} output"
        );
    }
}

/// Prints the `schema_text` match for pasting after a builder change:
/// `cargo test -p executor --lib print_schema_texts -- --ignored --nocapture`.
#[test]
#[ignore]
fn print_schema_texts() {
    let mut out = String::from(
        "/// The schema text of a non-OAuth tool: its argument (`input`) or its `data`.\n\
         /// Generated from `built` by `print_schema_texts`.\n\
         fn schema_text(kind: Kind, input: bool) -> &'static str {\n    match (kind, input) {\n",
    );
    for input in [true, false] {
        let mut groups: Vec<(Vec<&str>, String)> = Vec::new();
        for (kind, name) in KINDS {
            let tool = CoreTool { kind };
            let schema = if input {
                tool.built_input_schema()
            } else {
                tool.built_output_schema()
            };
            let text = serde_json::to_string(&schema).unwrap_or_default();
            match groups.iter_mut().find(|(_, t)| *t == text) {
                Some((names, _)) => names.push(name),
                None => groups.push((vec![name], text)),
            }
        }
        for (names, text) in groups {
            let pattern: Vec<String> = names
                .iter()
                .map(|n| format!("(Kind::{n}, {input})"))
                .collect();
            out.push_str(&format!(
                "        {} => {{\n            r#\"{text}\"#\n        }}\n",
                pattern.join(" | ")
            ));
        }
    }
    out.push_str("        (Kind::OAuth(_), _) => \"null\",\n    }\n}\n");
    println!("BEGIN-GENERATED\n{out}END-GENERATED");
}
