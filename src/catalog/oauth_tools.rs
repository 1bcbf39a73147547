//! The built-in `executor.coreTools.oauth.*` tools (executor-behaviour.md §8.9) over the same
//! services as `/api/oauth/*` ([`crate::oauth`]). No tool takes or returns a secret:
//! `oauth.clients.create` registers a public client (no secret field), and
//! `oauth.clients.createHandoff` links to the console where the user types a client secret.

use serde_json::{json, Map, Value};
use url::form_urlencoded;

use crate::app::Services;
use crate::auth::Principal;
use crate::oauth::{self, clients, flow, OAuthError};
use crate::owner::Owner;

/// One of the OAuth built-in tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthTool {
    ClientsList,
    ClientsCreate,
    ClientsCreateHandoff,
    ClientsRegisterDynamic,
    ClientsRemove,
    Probe,
    Start,
    Cancel,
}

/// The tool for a built-in name (`coreTools.oauth.…`).
pub fn of(name: &str) -> Option<OAuthTool> {
    Some(match name.strip_prefix("coreTools.oauth.")? {
        "clients.list" => OAuthTool::ClientsList,
        "clients.create" => OAuthTool::ClientsCreate,
        "clients.createHandoff" => OAuthTool::ClientsCreateHandoff,
        "clients.registerDynamic" => OAuthTool::ClientsRegisterDynamic,
        "clients.remove" => OAuthTool::ClientsRemove,
        "probe" => OAuthTool::Probe,
        "start" => OAuthTool::Start,
        "cancel" => OAuthTool::Cancel,
        _ => return None,
    })
}

/// An expected failure: `(code, message, details)`.
pub type ToolFailure = (&'static str, String, Option<Value>);

fn obj(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required,
           "additionalProperties": false})
}

fn s() -> Value {
    json!({"type": "string", "minLength": 1})
}

fn nullable() -> Value {
    json!({"type": ["string", "null"]})
}

fn owner() -> Value {
    json!({"type": "string", "enum": ["org", "user"]})
}

fn grant() -> Value {
    json!({"type": "string", "enum": ["authorization_code", "client_credentials"]})
}

fn client_schema() -> Value {
    obj(
        json!({"owner": owner(), "slug": s(), "grant": grant(), "authorizationUrl": {"type": "string"},
               "tokenUrl": s(), "resource": nullable(), "clientId": s(),
               "origin": {"type": "object"}}),
        &[
            "owner",
            "slug",
            "grant",
            "authorizationUrl",
            "tokenUrl",
            "clientId",
            "origin",
        ],
    )
}

fn connection_schema() -> Value {
    json!({"type": "object", "properties": {
        "owner": owner(), "name": s(), "integration": s(), "template": s(), "provider": s(),
        "address": s(), "identityLabel": nullable(), "expiresAt": {"type": ["number", "null"]},
        "oauthClient": nullable(), "oauthClientOwner": nullable(), "oauthScope": nullable()}})
}

impl OAuthTool {
    pub fn input_schema(self) -> Value {
        match self {
            OAuthTool::ClientsList => obj(json!({}), &[]),
            OAuthTool::ClientsCreate => obj(
                json!({"owner": owner(), "slug": s(), "authorizationUrl": {"type": "string"},
                       "tokenUrl": s(), "grant": grant(), "clientId": s(), "resource": nullable()}),
                &["owner", "slug", "tokenUrl", "grant", "clientId"],
            ),
            OAuthTool::ClientsCreateHandoff => obj(
                json!({"integration": s(), "owner": owner(), "slug": s(), "grant": grant(),
                       "clientId": s(), "authorizationUrl": s(), "tokenUrl": s(),
                       "resource": s(), "label": s()}),
                &["integration"],
            ),
            OAuthTool::ClientsRegisterDynamic => obj(
                json!({"owner": owner(), "slug": s(), "registrationEndpoint": s(),
                       "authorizationUrl": s(), "tokenUrl": s(), "resource": nullable(),
                       "scopes": {"type": "array", "items": {"type": "string"}},
                       "tokenEndpointAuthMethodsSupported": {"type": "array", "items": {"type": "string"}},
                       "clientName": s(), "redirectUri": nullable(), "originIntegration": nullable()}),
                &[
                    "owner",
                    "slug",
                    "registrationEndpoint",
                    "authorizationUrl",
                    "tokenUrl",
                ],
            ),
            OAuthTool::ClientsRemove => {
                obj(json!({"owner": owner(), "slug": s()}), &["owner", "slug"])
            }
            OAuthTool::Probe => obj(json!({"url": s()}), &["url"]),
            OAuthTool::Start => obj(
                json!({"client": s(), "clientOwner": owner(), "owner": owner(), "name": s(),
                       "integration": s(), "template": s(), "identityLabel": nullable(),
                       "redirectUri": nullable()}),
                &[
                    "client",
                    "clientOwner",
                    "owner",
                    "name",
                    "integration",
                    "template",
                ],
            ),
            OAuthTool::Cancel => obj(json!({"state": s()}), &["state"]),
        }
    }

    pub fn output_schema(self) -> Value {
        match self {
            OAuthTool::ClientsList => obj(
                json!({"clients": {"type": "array", "items": client_schema()}}),
                &["clients"],
            ),
            OAuthTool::ClientsCreate | OAuthTool::ClientsRegisterDynamic => {
                obj(json!({"client": s()}), &["client"])
            }
            OAuthTool::ClientsCreateHandoff => obj(
                json!({"url": s(), "instructions": s()}),
                &["url", "instructions"],
            ),
            OAuthTool::ClientsRemove => obj(json!({"removed": {"type": "boolean"}}), &["removed"]),
            OAuthTool::Probe => obj(
                json!({"authorizationUrl": {"type": "string"}, "tokenUrl": {"type": "string"},
                       "resource": nullable(), "registrationEndpoint": nullable(),
                       "scopesSupported": {"type": "array", "items": {"type": "string"}},
                       "tokenEndpointAuthMethodsSupported": {"type": "array", "items": {"type": "string"}}}),
                &["authorizationUrl", "tokenUrl"],
            ),
            OAuthTool::Start => json!({"oneOf": [
                obj(json!({"status": {"const": "connected"}, "connection": connection_schema()}),
                    &["status", "connection"]),
                obj(json!({"status": {"const": "redirect"}, "authorizationUrl": s(), "state": s()}),
                    &["status", "authorizationUrl", "state"]),
            ]}),
            OAuthTool::Cancel => obj(json!({"cancelled": {"type": "boolean"}}), &["cancelled"]),
        }
    }

    /// Runs the tool on checked arguments: `Ok(Ok(data))`, an expected failure, or an internal
    /// cause (`Err`, for the log only).
    pub async fn run(
        self,
        services: Services<'_>,
        principal: &Principal,
        web_base_url: Option<&str>,
        args: &Map<String, Value>,
    ) -> Result<Result<Value, ToolFailure>, String> {
        let callback = web_base_url
            .map(|b| format!("{}/api/oauth/callback", b.trim_end_matches('/')))
            .unwrap_or_default();
        let args_value = Value::Object(args.clone());
        let outcome = match self {
            OAuthTool::ClientsList => clients::list(services, principal)
                .await
                .map(|list| json!({ "clients": list })),
            OAuthTool::ClientsCreate => match serde_json::from_value(args_value) {
                Ok(request) => clients::create(services, principal, request, None).await,
                Err(e) => Err(OAuthError::Schema(e.to_string())),
            },
            OAuthTool::ClientsCreateHandoff => Ok(handoff(principal, web_base_url, args)),
            OAuthTool::ClientsRegisterDynamic => match serde_json::from_value(args_value) {
                Ok(request) => {
                    clients::register_dynamic(services, principal, request, &callback).await
                }
                Err(e) => Err(OAuthError::Schema(e.to_string())),
            },
            OAuthTool::ClientsRemove => {
                let owner = args
                    .get("owner")
                    .and_then(Value::as_str)
                    .and_then(Owner::parse)
                    .unwrap_or(Owner::Org);
                let slug = args.get("slug").and_then(Value::as_str).unwrap_or_default();
                clients::remove(services, principal, owner, slug).await
            }
            OAuthTool::Probe => {
                let url = args.get("url").and_then(Value::as_str).unwrap_or_default();
                oauth::probe::probe(services, url).await
            }
            OAuthTool::Start => match serde_json::from_value(args_value) {
                Ok(request) => flow::start(services, principal, request, &callback).await,
                Err(e) => Err(OAuthError::Schema(e.to_string())),
            },
            OAuthTool::Cancel => {
                let state = args
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                flow::cancel(services, principal, state).await
            }
        };
        Ok(match outcome {
            Ok(data) => Ok(data),
            Err(OAuthError::Internal(cause)) => return Err(cause),
            Err(e) => Err(failure(e)),
        })
    }
}

fn failure(e: OAuthError) -> ToolFailure {
    let message = e.public_message();
    match e {
        OAuthError::Schema(_) => ("invalid_tool_arguments", message, None),
        OAuthError::InvalidClient(_) => ("invalid_oauth_client", message, None),
        OAuthError::Start(_) => ("oauth_start_failed", message, None),
        OAuthError::Complete {
            restart_required, ..
        } => (
            "oauth_complete_failed",
            message,
            Some(json!({ "restartRequired": restart_required })),
        ),
        OAuthError::SessionNotFound { state } => (
            "oauth_session_not_found",
            message,
            Some(json!({ "state": state })),
        ),
        OAuthError::Probe(_) => ("oauth_probe_failed", message, None),
        OAuthError::RegisterDynamic(_) => ("oauth_register_dynamic_failed", message, None),
        OAuthError::Internal(_) => ("internal", message, None),
    }
}

/// `<base>/<orgSlug>/integrations/<integration>?addAccount=1&oauthClient=1&…`: the console page
/// where the user registers the client and types its secret.
fn handoff(principal: &Principal, base: Option<&str>, args: &Map<String, Value>) -> Value {
    let integration = args
        .get("integration")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("addAccount", "1")
        .append_pair("oauthClient", "1");
    for key in [
        "owner",
        "slug",
        "grant",
        "clientId",
        "authorizationUrl",
        "tokenUrl",
        "resource",
        "label",
    ] {
        if let Some(value) = args.get(key).and_then(Value::as_str) {
            query.append_pair(key, value);
        }
    }
    let org = &principal.organization.slug;
    let org = if org.is_empty() {
        String::new()
    } else {
        format!("/{}", crate::http::percent_encode(org))
    };
    let url = format!(
        "{}{org}/integrations/{}?{}",
        base.unwrap_or_default(),
        crate::http::percent_encode(integration),
        query.finish()
    );
    json!({
        "url": url,
        "instructions": "Give the user this link. They register the OAuth client in the \
            browser (entering its secret there, never in the chat); then call \
            oauth.clients.list to confirm and oauth.start to connect.",
    })
}
