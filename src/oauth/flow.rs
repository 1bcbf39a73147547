//! `POST /oauth/start`, `/oauth/complete`, `/oauth/cancel` (executor-behaviour.md §3.8) and the
//! minting of an OAuth connection from a token response.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::clients::{self, LoadedClient, GRANT_CLIENT_CREDENTIALS, GRANT_CODE};
use super::store::{self, Minted, NewSession};
use super::token::{self, TokenSet};
use super::{pkce, OAuthError};
use crate::app::Services;
use crate::auth::Principal;
use crate::connections::{name, service, ConnectionKey};
use crate::owner::{Owner, Partition};
use crate::providers::encrypted;
use crate::store::Statement;

/// `POST /oauth/start`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRequest {
    pub client: String,
    pub client_owner: Owner,
    pub owner: Owner,
    pub name: String,
    pub integration: String,
    pub template: String,
    #[serde(default)]
    pub identity_label: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// What the session row's `payload` records.
#[derive(Debug)]
struct Payload {
    owner: Owner,
    client_owner: Owner,
    requested_scopes: Vec<String>,
}

impl Payload {
    /// Hand-written over the store's row reader (wasm size; see `crate::store::FromRow`).
    fn from_json_text(text: &str) -> Option<Payload> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let r = crate::store::RowReader::object(&value)?;
        Some(Payload {
            owner: r.owner("owner").ok()?,
            client_owner: r.owner("clientOwner").ok()?,
            requested_scopes: r.texts("requestedScopes").ok()?,
        })
    }
}

/// The access-token item id of a connection; the refresh token's is this plus `:refresh`.
pub fn token_item_id(owner: Owner, integration: &str, name: &str) -> String {
    format!("oauth:{}:{integration}:{name}", owner.as_str())
}

/// The scopes the integration declares for `template` (its oauth2 method; else the first oauth2
/// method; else none).
async fn requested_scopes(
    services: Services<'_>,
    tenant: &str,
    integration: &str,
    template: &str,
) -> Result<Vec<String>, OAuthError> {
    let rows = services
        .sql
        .query(Statement::new(
            "SELECT config FROM integration WHERE tenant = ?1 AND slug = ?2",
            vec![tenant.into(), integration.into()],
        ))
        .await?;
    let Some(row) = rows
        .into_iter()
        .next()
        .filter(|_| integration != "executor")
    else {
        return Err(OAuthError::Start(format!(
            "Integration \"{integration}\" not found."
        )));
    };
    let config: Value = row
        .get("config")
        .and_then(Value::as_str)
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    let methods = config
        .get("authenticationTemplate")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_oauth = |m: &&Value| m.get("kind").and_then(Value::as_str) == Some("oauth2");
    let method = methods
        .iter()
        .filter(is_oauth)
        .find(|m| m.get("slug").and_then(Value::as_str) == Some(template))
        .or_else(|| methods.iter().find(is_oauth));
    Ok(method
        .and_then(|m| m.get("scopes"))
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

/// `POST /oauth/start`: client credentials connect at once; authorization code answers the URL
/// to send the user to. `default_redirect` is `<web origin>/api/oauth/callback`.
pub async fn start(
    services: Services<'_>,
    principal: &Principal,
    request: StartRequest,
    default_redirect: &str,
) -> Result<Value, OAuthError> {
    if request.owner == Owner::Org && request.client_owner == Owner::User {
        return Err(OAuthError::Start(
            "A Workspace connection must use a Workspace app.".into(),
        ));
    }
    let partition = Partition::of(principal, request.owner)
        .map_err(|_| OAuthError::Start("A user-owned connection needs a signed-in user.".into()))?;
    let client = clients::load(
        services,
        principal.tenant(),
        principal.subject(),
        request.client_owner,
        &request.client,
    )
    .await?
    .ok_or_else(|| OAuthError::Start(format!("OAuth client \"{}\" not found.", request.client)))?;
    let scopes = requested_scopes(
        services,
        principal.tenant(),
        &request.integration,
        &request.template,
    )
    .await?;
    let name = name::normalize(&request.name);
    let now = services.clock.now_ms() as i64;

    if client.row.grant == GRANT_CLIENT_CREDENTIALS {
        let scope = scopes.join(" ");
        let mut params = vec![("grant_type", GRANT_CLIENT_CREDENTIALS)];
        if !scope.is_empty() {
            params.push(("scope", scope.as_str()));
        }
        clients::auth_params(&client, &mut params);
        let tokens = token::exchange(services, &client.row.token_url, &params)
            .await
            .map_err(|e| OAuthError::Start(e.message()))?;
        let connection = mint(
            services,
            principal,
            &partition,
            &client,
            MintTarget {
                integration: &request.integration,
                name: &name,
                template: &request.template,
                identity_label: request.identity_label.as_deref(),
                requested: &scopes,
            },
            tokens,
            now,
        )
        .await?;
        return Ok(json!({ "status": "connected", "connection": connection }));
    }
    if client.row.grant != GRANT_CODE {
        return Err(OAuthError::Start(
            "The OAuth client's grant is unknown.".into(),
        ));
    }
    let redirect = request
        .redirect_uri
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| default_redirect.to_string());
    if redirect.is_empty() {
        return Err(OAuthError::Start("No redirect URI is known.".into()));
    }
    let state = pkce::state();
    let verifier = pkce::verifier();
    let challenge = pkce::challenge(&verifier);
    let mut url = crate::net::parse_url(&client.row.authorization_url)
        .map_err(|_| OAuthError::Start("The client's authorization URL is invalid.".into()))?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.row.client_id)
            .append_pair("redirect_uri", &redirect);
        if !scopes.is_empty() {
            query.append_pair("scope", &scopes.join(" "));
        }
        query
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(resource) = &client.row.resource {
            query.append_pair("resource", resource);
        }
        // Google issues a refresh token only when asked for offline access with consent.
        if client
            .row
            .authorization_url
            .starts_with("https://accounts.google.com/")
        {
            query
                .append_pair("access_type", "offline")
                .append_pair("prompt", "consent");
        }
    }
    let payload = json!({
        "owner": request.owner,
        "clientOwner": request.client_owner,
        "requestedScopes": scopes,
    })
    .to_string();
    store::insert_session(
        services.sql,
        &partition,
        NewSession {
            state: &state,
            client_slug: &request.client,
            integration: &request.integration,
            name: &name,
            template: &request.template,
            redirect_url: &redirect,
            verifier: &verifier,
            identity_label: request.identity_label.as_deref(),
            payload,
            expires_at: now + super::SESSION_TTL_MS,
        },
        now,
    )
    .await?;
    Ok(json!({ "status": "redirect", "authorizationUrl": url.as_str(), "state": state }))
}

/// `POST /oauth/complete` (also run by the callback route): claims the session once, exchanges
/// the code with the verifier and mints the connection.
pub async fn complete(
    services: Services<'_>,
    principal: &Principal,
    state: &str,
    code: &str,
) -> Result<Value, OAuthError> {
    let not_found = || OAuthError::SessionNotFound {
        state: state.to_string(),
    };
    let restart = |message: &str| OAuthError::Complete {
        message: message.to_string(),
        restart_required: true,
    };
    let tenant = principal.tenant();
    let session = store::find_session(services.sql, tenant, principal.subject(), state)
        .await?
        .ok_or_else(not_found)?;
    // One use only: whoever deletes the row goes on; an expired row is deleted all the same.
    if !store::claim_session(services.sql, tenant, &session.row_id).await? {
        return Err(not_found());
    }
    let now = services.clock.now_ms() as i64;
    if session.expires_at < now {
        return Err(not_found());
    }
    let payload = Payload::from_json_text(&session.payload)
        .ok_or_else(|| restart("The OAuth session is damaged; start again."))?;
    let partition = Partition {
        tenant: tenant.into(),
        owner: payload.owner,
        subject: session.subject.clone(),
    };
    debug_assert_eq!(partition.owner, session.owner);
    let Some(verifier) = session.pkce_verifier.as_deref() else {
        return Err(restart(
            "The OAuth session has no PKCE verifier; start again.",
        ));
    };
    let client = clients::load(
        services,
        tenant,
        principal.subject(),
        payload.client_owner,
        &session.client_slug,
    )
    .await?
    .ok_or_else(|| restart("The OAuth client of this flow no longer exists; start again."))?;
    let mut params = vec![
        ("grant_type", GRANT_CODE),
        ("code", code),
        ("redirect_uri", session.redirect_url.as_str()),
        ("code_verifier", verifier),
    ];
    clients::auth_params(&client, &mut params);
    let tokens = token::exchange(services, &client.row.token_url, &params)
        .await
        .map_err(|e| OAuthError::Complete {
            message: e.message(),
            restart_required: e.is_invalid_grant(),
        })?;
    mint(
        services,
        principal,
        &partition,
        &client,
        MintTarget {
            integration: &session.integration,
            name: &session.name,
            template: &session.template,
            identity_label: session.identity_label.as_deref(),
            requested: &payload.requested_scopes,
        },
        tokens,
        now,
    )
    .await
}

/// `POST /oauth/cancel` (idempotent).
pub async fn cancel(
    services: Services<'_>,
    principal: &Principal,
    state: &str,
) -> Result<Value, OAuthError> {
    store::cancel_session(services.sql, principal.tenant(), principal.subject(), state).await?;
    Ok(json!({ "cancelled": true }))
}

/// Which connection a token response becomes.
struct MintTarget<'a> {
    integration: &'a str,
    name: &'a str,
    template: &'a str,
    identity_label: Option<&'a str>,
    requested: &'a [String],
}

/// The scope to record: the token's `scope` (plus `offline_access` when it was requested and a
/// refresh token came back), else the requested scopes.
fn granted_scope(tokens: &TokenSet, requested: &[String]) -> Option<String> {
    let mut scope = match &tokens.scope {
        Some(s) => s.clone(),
        None => requested.join(" "),
    };
    if tokens.refresh_token.is_some()
        && requested.iter().any(|s| s == "offline_access")
        && !scope.split(' ').any(|s| s == "offline_access")
    {
        if !scope.is_empty() {
            scope.push(' ');
        }
        scope.push_str("offline_access");
    }
    (!scope.is_empty()).then_some(scope)
}

/// Seals the tokens and upserts the connection in one batch, produces its tools and answers the
/// `OAuthConnection` (a connection without `description`).
async fn mint(
    services: Services<'_>,
    principal: &Principal,
    partition: &Partition,
    client: &LoadedClient,
    target: MintTarget<'_>,
    tokens: TokenSet,
    now: i64,
) -> Result<Value, OAuthError> {
    let access_id = token_item_id(partition.owner, target.integration, target.name);
    let refresh_id = format!("{access_id}:refresh");
    let mut statements = vec![encrypted::seal_statement(
        services.keyring,
        partition,
        &access_id,
        &tokens.access_token,
        now,
    )?];
    if let Some(refresh) = &tokens.refresh_token {
        statements.push(encrypted::seal_statement(
            services.keyring,
            partition,
            &refresh_id,
            refresh,
            now,
        )?);
    }
    let item_ids = serde_json::to_string(&BTreeMap::from([(name::DEFAULT_VARIABLE, &access_id)]))
        .map_err(|e| OAuthError::Internal(format!("encode item ids: {e}")))?;
    let scope = granted_scope(&tokens, target.requested);
    statements.push(store::mint_connection(
        partition,
        &Minted {
            integration: target.integration,
            name: target.name,
            template: target.template,
            item_ids,
            identity_label: target.identity_label,
            client: &client.row.slug,
            client_owner: client.row.owner,
            refresh_item_id: tokens.refresh_token.as_ref().map(|_| refresh_id.as_str()),
            expires_at: tokens.expires_at(now),
            scope: scope.as_deref(),
        },
        now,
    ));
    drop(tokens);
    services.sql.batch(statements).await?;
    let key = ConnectionKey {
        owner: partition.owner,
        integration: target.integration.into(),
        name: target.name.into(),
    };
    service::produce_connection_tools(services, partition, &key).await?;
    let connection = service::get(services.sql, principal, &key).await?;
    let mut value = serde_json::to_value(&connection)
        .map_err(|e| OAuthError::Internal(format!("encode connection: {e}")))?;
    if let Some(map) = value.as_object_mut() {
        map.remove("description");
    }
    Ok(value)
}
