//! OAuth clients (apps) — `POST/GET /oauth/clients`, `DELETE /oauth/clients/:slug`,
//! `POST /oauth/clients/register-dynamic` (executor-behaviour.md §3.8). A client is owned by
//! `org` or `user`; its secret is sealed into the `encrypted` provider in the client's own
//! partition and never returned.

use crate::json_fields::Fields;
use serde_json::{json, Map, Value};

use super::store::{self, ClientRow};
use super::OAuthError;
use crate::app::Services;
use crate::auth::Principal;
use crate::crypto::SecretValue;
use crate::net::http::{guarded_fetch, OutboundRequest};
use crate::owner::{Owner, Partition};
use crate::providers::encrypted;

pub const GRANT_CODE: &str = "authorization_code";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// `POST /oauth/clients` without its secret (taken out before deserialising, so no parse error
/// can ever quote it).
#[derive(Debug)]
pub struct CreateClient {
    pub owner: Owner,
    pub slug: String,
    pub authorization_url: String,
    pub token_url: String,
    pub grant: String,
    pub client_id: String,
    pub resource: Option<String>,
}

impl CreateClient {
    /// Reads the JSON object text of a create request (without `clientSecret`).
    pub fn parse(text: &str) -> Result<CreateClient, String> {
        const NAMES: &[&str] = &[
            "owner",
            "slug",
            "authorizationUrl",
            "tokenUrl",
            "grant",
            "clientId",
            "resource",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        Ok(CreateClient {
            owner: f.owner("owner")?,
            slug: f.string("slug")?,
            authorization_url: f.string_or_empty("authorizationUrl")?,
            token_url: f.string("tokenUrl")?,
            grant: f.string("grant")?,
            client_id: f.string("clientId")?,
            resource: f.opt_string("resource")?,
        })
    }
}

/// Parses a create body: the fields, and the secret (`None` for a public client).
pub fn parse_create(body: &[u8]) -> Result<(CreateClient, Option<SecretValue>), OAuthError> {
    let mut value: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|_| OAuthError::Schema("expected a JSON object body".into()))?;
    let secret = match value.remove("clientSecret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(SecretValue::new(s)),
        Some(_) => return Err(OAuthError::Schema("`clientSecret` must be a string".into())),
    };
    // Through text, so the one `from_str` instantiation also serves the built-in tool.
    let request = CreateClient::parse(&Value::Object(value).to_string())
        .map_err(|e| OAuthError::Schema(format!("invalid request body: {e}")))?;
    Ok((request, secret))
}

/// The provider item id of a client's secret.
pub fn secret_item_id(owner: Owner, slug: &str) -> String {
    format!("oauth-client:{}:{slug}:secret", owner.as_str())
}

fn partition(principal: &Principal, owner: Owner) -> Result<Partition, OAuthError> {
    Partition::of(principal, owner)
        .map_err(|_| OAuthError::Schema("A user-owned OAuth client needs a signed-in user.".into()))
}

/// Checks a client's endpoints (§3.8): https (http only on loopback); for authorization code
/// the authorization URL must be a real endpoint, not metadata, and not the token URL.
fn validate(row: &ClientRow) -> Result<(), OAuthError> {
    if row.slug.trim().is_empty() || row.client_id.trim().is_empty() {
        return Err(OAuthError::InvalidClient(
            "An OAuth client needs a slug and a client id.".into(),
        ));
    }
    if !super::valid_endpoint(&row.token_url) {
        return Err(OAuthError::InvalidClient(
            "The token URL must be https (http only on localhost).".into(),
        ));
    }
    match row.grant.as_str() {
        GRANT_CODE => {
            if !super::valid_endpoint(&row.authorization_url) {
                return Err(OAuthError::InvalidClient(
                    "The authorization URL must be https (http only on localhost).".into(),
                ));
            }
            if row.authorization_url.contains("/.well-known/") {
                return Err(OAuthError::InvalidClient(
                    "The authorization URL is a metadata document, not the authorization \
                     endpoint."
                        .into(),
                ));
            }
            if row.authorization_url == row.token_url {
                return Err(OAuthError::InvalidClient(
                    "The authorization URL and the token URL must differ.".into(),
                ));
            }
        }
        GRANT_CLIENT_CREDENTIALS => {}
        _ => {
            return Err(OAuthError::Schema(
                "`grant` must be \"authorization_code\" or \"client_credentials\"".into(),
            ))
        }
    }
    Ok(())
}

/// Writes a client (replacing `(owner, slug)`) and its sealed secret in one batch.
async fn put(
    services: Services<'_>,
    partition: &Partition,
    mut row: ClientRow,
    secret: Option<SecretValue>,
) -> Result<(), OAuthError> {
    validate(&row)?;
    let now = services.clock.now_ms() as i64;
    let mut statements = Vec::new();
    if let Some(secret) = secret {
        let item_id = secret_item_id(partition.owner, &row.slug);
        statements.push(encrypted::seal_statement(
            services.keyring,
            partition,
            &item_id,
            &secret,
            now,
        )?);
        row.client_secret_item_id = Some(item_id);
    }
    statements.extend(store::put_client(partition, &row, now));
    services.sql.batch(statements).await?;
    Ok(())
}

/// `POST /oauth/clients` ⇒ `{client: slug}`.
pub async fn create(
    services: Services<'_>,
    principal: &Principal,
    request: CreateClient,
    secret: Option<SecretValue>,
) -> Result<Value, OAuthError> {
    let partition = partition(principal, request.owner)?;
    let row = ClientRow {
        owner: request.owner,
        slug: request.slug,
        authorization_url: request.authorization_url,
        token_url: request.token_url,
        grant: request.grant,
        client_id: request.client_id,
        client_secret_item_id: None,
        resource: request.resource.filter(|r| !r.is_empty()),
        origin_kind: Some("manual".into()),
        origin_integration: None,
    };
    let slug = row.slug.clone();
    put(services, &partition, row, secret).await?;
    Ok(json!({ "client": slug }))
}

/// The wire form of a client (never its secret).
pub fn client_json(row: &ClientRow) -> Value {
    let origin = if row.origin_kind.as_deref() == Some("dynamic_client_registration") {
        json!({"kind": "dynamic_client_registration", "integration": row.origin_integration})
    } else {
        json!({"kind": "manual"})
    };
    json!({
        "owner": row.owner,
        "slug": row.slug,
        "grant": row.grant,
        "authorizationUrl": row.authorization_url,
        "tokenUrl": row.token_url,
        "resource": row.resource,
        "clientId": row.client_id,
        "origin": origin,
    })
}

/// `GET /oauth/clients`: the tenant's org clients and the caller's own.
pub async fn list(services: Services<'_>, principal: &Principal) -> Result<Value, OAuthError> {
    let rows = store::list_clients(services.sql, principal.tenant(), principal.subject()).await?;
    Ok(Value::Array(rows.iter().map(client_json).collect()))
}

/// `DELETE /oauth/clients/:slug` (idempotent); the stored secret goes too.
pub async fn remove(
    services: Services<'_>,
    principal: &Principal,
    owner: Owner,
    slug: &str,
) -> Result<Value, OAuthError> {
    let partition = partition(principal, owner)?;
    if let Some(row) = store::get_client(services.sql, &partition, slug).await? {
        store::delete_client(services.sql, &partition, slug).await?;
        if let Some(item) = row.client_secret_item_id {
            // Best effort: a leftover ciphertext is harmless and listed as an item.
            if let Err(e) = store::delete_secret(services.sql, &partition, &item).await {
                crate::logging::warn(&format!("oauth client secret cleanup failed: {e}"));
            }
        }
    }
    Ok(json!({ "removed": true }))
}

/// `POST /oauth/clients/register-dynamic`.
#[derive(Debug)]
pub struct RegisterDynamic {
    pub owner: Owner,
    pub slug: String,
    pub registration_endpoint: String,
    pub authorization_url: String,
    pub token_url: String,
    pub resource: Option<String>,
    pub scopes: Vec<String>,
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub redirect_uri: Option<String>,
    pub origin_integration: Option<String>,
}

impl RegisterDynamic {
    /// Reads the JSON object text of a registration request.
    pub fn parse(text: &str) -> Result<RegisterDynamic, String> {
        const NAMES: &[&str] = &[
            "owner",
            "slug",
            "registrationEndpoint",
            "authorizationUrl",
            "tokenUrl",
            "resource",
            "scopes",
            "tokenEndpointAuthMethodsSupported",
            "clientName",
            "redirectUri",
            "originIntegration",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        Ok(RegisterDynamic {
            owner: f.owner("owner")?,
            slug: f.string("slug")?,
            registration_endpoint: f.string("registrationEndpoint")?,
            authorization_url: f.string("authorizationUrl")?,
            token_url: f.string("tokenUrl")?,
            resource: f.opt_string("resource")?,
            scopes: f.strings_or_empty("scopes")?,
            token_endpoint_auth_methods_supported: f
                .opt_strings("tokenEndpointAuthMethodsSupported")?,
            client_name: f.opt_string("clientName")?,
            redirect_uri: f.opt_string("redirectUri")?,
            origin_integration: f.opt_string("originIntegration")?,
        })
    }
}

/// RFC 7591 registration, then the client is stored like a created one (grant authorization
/// code, origin `dynamic_client_registration`). `default_redirect` is the callback route.
pub async fn register_dynamic(
    services: Services<'_>,
    principal: &Principal,
    request: RegisterDynamic,
    default_redirect: &str,
) -> Result<Value, OAuthError> {
    let fail = |m: String| OAuthError::RegisterDynamic(m);
    let partition = partition(principal, request.owner)?;
    if !super::valid_endpoint(&request.registration_endpoint) {
        return Err(fail(
            "The registration endpoint must be https (http only on localhost).".into(),
        ));
    }
    let redirect = request
        .redirect_uri
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| default_redirect.to_string());
    if redirect.is_empty() {
        return Err(fail(
            "No redirect URI is known for this registration.".into(),
        ));
    }
    let methods = request
        .token_endpoint_auth_methods_supported
        .clone()
        .unwrap_or_default();
    let auth_method = if methods.is_empty() || methods.iter().any(|m| m == "none") {
        "none"
    } else {
        "client_secret_post"
    };
    let mut body = json!({
        "client_name": request.client_name.clone().unwrap_or_else(|| "Executor".into()),
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    });
    if !request.scopes.is_empty() {
        body["scope"] = Value::String(request.scopes.join(" "));
    }
    let response = guarded_fetch(
        services.http,
        OutboundRequest {
            method: "POST".into(),
            url: request.registration_endpoint.clone(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(body.to_string().into_bytes()),
            timeout_ms: super::HTTP_TIMEOUT_MS,
            max_body_bytes: 256 * 1024,
        },
        services.config.allow_local_network,
    )
    .await
    .map_err(|e| {
        fail(format!(
            "The registration endpoint could not be reached: {e}"
        ))
    })?;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if !(200..300).contains(&response.status) {
        let detail = answer
            .get("error_description")
            .or_else(|| answer.get("error"))
            .and_then(Value::as_str)
            .map(super::clip)
            .unwrap_or_default();
        return Err(fail(format!(
            "The registration endpoint answered HTTP {} {detail}",
            response.status
        )));
    }
    let Some(client_id) = answer
        .get("client_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(fail("The registration answer has no client_id.".into()));
    };
    let secret = answer
        .get("client_secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(SecretValue::new);
    let row = ClientRow {
        owner: request.owner,
        slug: request.slug.clone(),
        authorization_url: request.authorization_url,
        token_url: request.token_url,
        grant: GRANT_CODE.into(),
        client_id: client_id.to_string(),
        client_secret_item_id: None,
        resource: request.resource.filter(|r| !r.is_empty()),
        origin_kind: Some("dynamic_client_registration".into()),
        origin_integration: request.origin_integration,
    };
    put(services, &partition, row, secret)
        .await
        .map_err(|e| match e {
            OAuthError::InvalidClient(m) => fail(m),
            other => other,
        })?;
    Ok(json!({ "client": request.slug }))
}

/// A client as a flow uses it: the row and its secret (if it has one).
pub struct LoadedClient {
    pub row: ClientRow,
    pub secret: Option<SecretValue>,
}

/// Loads the client `(owner, slug)` as seen from `tenant`; `subject` owns user clients.
pub async fn load(
    services: Services<'_>,
    tenant: &str,
    subject: &str,
    owner: Owner,
    slug: &str,
) -> Result<Option<LoadedClient>, OAuthError> {
    let partition = Partition {
        tenant: tenant.into(),
        owner,
        subject: match owner {
            Owner::Org => String::new(),
            Owner::User => subject.into(),
        },
    };
    let Some(row) = store::get_client(services.sql, &partition, slug).await? else {
        return Ok(None);
    };
    let secret = match &row.client_secret_item_id {
        Some(item) => {
            encrypted::resolve(
                services.sql,
                services.keyring,
                tenant,
                &partition.subject,
                item,
            )
            .await?
        }
        None => None,
    };
    Ok(Some(LoadedClient { row, secret }))
}

/// The client-authentication parameters of a token request (`client_secret_post`).
pub fn auth_params<'a>(client: &'a LoadedClient, params: &mut Vec<(&'a str, &'a str)>) {
    params.push(("client_id", &client.row.client_id));
    if let Some(secret) = &client.secret {
        params.push(("client_secret", secret.expose()));
    }
    if let Some(resource) = &client.row.resource {
        params.push(("resource", resource));
    }
}
