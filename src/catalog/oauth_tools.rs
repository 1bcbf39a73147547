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

/// Parses one of the schema texts below (kept as text: `json!` trees cost wasm size).
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl OAuthTool {
    pub fn input_schema(self) -> Value {
        parse(match self {
            OAuthTool::ClientsList => {
                r#"{"type":"object","properties":{},"required":[],"additionalProperties":false}"#
            }
            OAuthTool::ClientsCreate => {
                r#"{"type":"object","properties":{"owner":{"type":"string","enum":["org","user"]},"slug":{"type":"string","minLength":1},"authorizationUrl":{"type":"string"},"tokenUrl":{"type":"string","minLength":1},"grant":{"type":"string","enum":["authorization_code","client_credentials"]},"clientId":{"type":"string","minLength":1},"resource":{"type":["string","null"]}},"required":["owner","slug","tokenUrl","grant","clientId"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsCreateHandoff => {
                r#"{"type":"object","properties":{"integration":{"type":"string","minLength":1},"owner":{"type":"string","enum":["org","user"]},"slug":{"type":"string","minLength":1},"grant":{"type":"string","enum":["authorization_code","client_credentials"]},"clientId":{"type":"string","minLength":1},"authorizationUrl":{"type":"string","minLength":1},"tokenUrl":{"type":"string","minLength":1},"resource":{"type":"string","minLength":1},"label":{"type":"string","minLength":1}},"required":["integration"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsRegisterDynamic => {
                r#"{"type":"object","properties":{"owner":{"type":"string","enum":["org","user"]},"slug":{"type":"string","minLength":1},"registrationEndpoint":{"type":"string","minLength":1},"authorizationUrl":{"type":"string","minLength":1},"tokenUrl":{"type":"string","minLength":1},"resource":{"type":["string","null"]},"scopes":{"type":"array","items":{"type":"string"}},"tokenEndpointAuthMethodsSupported":{"type":"array","items":{"type":"string"}},"clientName":{"type":"string","minLength":1},"redirectUri":{"type":["string","null"]},"originIntegration":{"type":["string","null"]}},"required":["owner","slug","registrationEndpoint","authorizationUrl","tokenUrl"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsRemove => {
                r#"{"type":"object","properties":{"owner":{"type":"string","enum":["org","user"]},"slug":{"type":"string","minLength":1}},"required":["owner","slug"],"additionalProperties":false}"#
            }
            OAuthTool::Probe => {
                r#"{"type":"object","properties":{"url":{"type":"string","minLength":1}},"required":["url"],"additionalProperties":false}"#
            }
            OAuthTool::Start => {
                r#"{"type":"object","properties":{"client":{"type":"string","minLength":1},"clientOwner":{"type":"string","enum":["org","user"]},"owner":{"type":"string","enum":["org","user"]},"name":{"type":"string","minLength":1},"integration":{"type":"string","minLength":1},"template":{"type":"string","minLength":1},"identityLabel":{"type":["string","null"]},"redirectUri":{"type":["string","null"]}},"required":["client","clientOwner","owner","name","integration","template"],"additionalProperties":false}"#
            }
            OAuthTool::Cancel => {
                r#"{"type":"object","properties":{"state":{"type":"string","minLength":1}},"required":["state"],"additionalProperties":false}"#
            }
        })
    }

    pub fn output_schema(self) -> Value {
        parse(match self {
            OAuthTool::ClientsList => {
                r#"{"type":"object","properties":{"clients":{"type":"array","items":{"type":"object","properties":{"owner":{"type":"string","enum":["org","user"]},"slug":{"type":"string","minLength":1},"grant":{"type":"string","enum":["authorization_code","client_credentials"]},"authorizationUrl":{"type":"string"},"tokenUrl":{"type":"string","minLength":1},"resource":{"type":["string","null"]},"clientId":{"type":"string","minLength":1},"origin":{"type":"object"}},"required":["owner","slug","grant","authorizationUrl","tokenUrl","clientId","origin"],"additionalProperties":false}}},"required":["clients"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsCreate => {
                r#"{"type":"object","properties":{"client":{"type":"string","minLength":1}},"required":["client"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsRegisterDynamic => {
                r#"{"type":"object","properties":{"client":{"type":"string","minLength":1}},"required":["client"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsCreateHandoff => {
                r#"{"type":"object","properties":{"url":{"type":"string","minLength":1},"instructions":{"type":"string","minLength":1}},"required":["url","instructions"],"additionalProperties":false}"#
            }
            OAuthTool::ClientsRemove => {
                r#"{"type":"object","properties":{"removed":{"type":"boolean"}},"required":["removed"],"additionalProperties":false}"#
            }
            OAuthTool::Probe => {
                r#"{"type":"object","properties":{"authorizationUrl":{"type":"string"},"tokenUrl":{"type":"string"},"resource":{"type":["string","null"]},"registrationEndpoint":{"type":["string","null"]},"scopesSupported":{"type":"array","items":{"type":"string"}},"tokenEndpointAuthMethodsSupported":{"type":"array","items":{"type":"string"}}},"required":["authorizationUrl","tokenUrl"],"additionalProperties":false}"#
            }
            OAuthTool::Start => {
                r#"{"oneOf":[{"type":"object","properties":{"status":{"const":"connected"},"connection":{"type":"object","properties":{"owner":{"type":"string","enum":["org","user"]},"name":{"type":"string","minLength":1},"integration":{"type":"string","minLength":1},"template":{"type":"string","minLength":1},"provider":{"type":"string","minLength":1},"address":{"type":"string","minLength":1},"identityLabel":{"type":["string","null"]},"expiresAt":{"type":["number","null"]},"oauthClient":{"type":["string","null"]},"oauthClientOwner":{"type":["string","null"]},"oauthScope":{"type":["string","null"]}}}},"required":["status","connection"],"additionalProperties":false},{"type":"object","properties":{"status":{"const":"redirect"},"authorizationUrl":{"type":"string","minLength":1},"state":{"type":"string","minLength":1}},"required":["status","authorizationUrl","state"],"additionalProperties":false}]}"#
            }
            OAuthTool::Cancel => {
                r#"{"type":"object","properties":{"cancelled":{"type":"boolean"}},"required":["cancelled"],"additionalProperties":false}"#
            }
        })
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
        // Through text: the routes' readers serve the tools too.
        let args_text = Value::Object(args.clone()).to_string();
        let outcome = match self {
            OAuthTool::ClientsList => clients::list(services, principal)
                .await
                .map(|list| json!({ "clients": list })),
            OAuthTool::ClientsCreate => match clients::CreateClient::parse(&args_text) {
                Ok(request) => clients::create(services, principal, request, None).await,
                Err(e) => Err(OAuthError::Schema(e)),
            },
            OAuthTool::ClientsCreateHandoff => Ok(handoff(principal, web_base_url, args)),
            OAuthTool::ClientsRegisterDynamic => {
                match clients::RegisterDynamic::parse(&args_text) {
                    Ok(request) => {
                        clients::register_dynamic(services, principal, request, &callback).await
                    }
                    Err(e) => Err(OAuthError::Schema(e)),
                }
            }
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
            OAuthTool::Start => match flow::StartRequest::parse(&args_text) {
                Ok(request) => flow::start(services, principal, request, &callback).await,
                Err(e) => Err(OAuthError::Schema(e)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_text_parses() {
        for tool in [
            OAuthTool::ClientsList,
            OAuthTool::ClientsCreate,
            OAuthTool::ClientsCreateHandoff,
            OAuthTool::ClientsRegisterDynamic,
            OAuthTool::ClientsRemove,
            OAuthTool::Probe,
            OAuthTool::Start,
            OAuthTool::Cancel,
        ] {
            assert!(tool.input_schema().is_object(), "{tool:?}");
            assert!(tool.output_schema().is_object(), "{tool:?}");
        }
    }
}
