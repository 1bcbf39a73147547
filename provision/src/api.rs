//! The Cloudflare API operations `provision` uses, one function each, on top of
//! [`crate::cf::Client`]. Paths, fields and operation ids follow Cloudflare's OpenAPI
//! document (the test suite checks every request against it). Lookups return `Ok(None)` for
//! "does not exist"; everything else that fails is an [`ApiError`].

use reqwest::multipart::Form;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cf::{ApiError, Call, Client};
use crate::secret::Secret;

/// Page size asked for in lists.
const PER_PAGE: u32 = 50;

type Res<T> = Result<T, ApiError>;

fn not_found_is_none<T>(result: Res<T>) -> Res<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_list<T: for<'de> Deserialize<'de>>(operation: &str, items: Vec<Value>) -> Res<Vec<T>> {
    items
        .into_iter()
        .map(|v| {
            serde_json::from_value(v).map_err(|e| ApiError {
                operation: operation.to_string(),
                status: 200,
                errors: Vec::new(),
                detail: Some(format!("unexpected list entry: {e}")),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
pub struct TokenStatus {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    #[serde(default)]
    pub auth_domain: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct D1Database {
    pub uuid: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct D1Result {
    #[serde(default)]
    pub results: Vec<Value>,
    #[serde(default)]
    pub success: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Bucket {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScriptInfo {
    pub id: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub migration_tag: Option<String>,
    #[serde(default)]
    pub has_assets: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecretEntry {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AssetsSession {
    pub jwt: Option<Secret>,
    #[serde(default)]
    pub buckets: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subdomain {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub previews_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomDomain {
    pub id: String,
    pub hostname: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub zone_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceToken {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub client_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub include: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppPolicyRef {
    pub id: String,
    #[serde(default)]
    pub precedence: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccessApp {
    pub id: String,
    #[serde(default)]
    pub aud: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub policies: Vec<AppPolicyRef>,
    #[serde(default)]
    pub session_duration: Option<String>,
}

/// `/accounts/{id}`.
fn acct(account: &str) -> String {
    format!("/accounts/{account}")
}

// ---- token, account, zone, organization -------------------------------------------------

pub async fn verify_user_token(c: &Client) -> Res<TokenStatus> {
    c.send(Call::new(
        "verify the API token",
        Method::GET,
        "/user/tokens/verify",
    ))
    .await?
    .parse("verify the API token")
}

pub async fn verify_account_token(c: &Client, account: &str) -> Res<TokenStatus> {
    let op = "verify the account API token";
    c.send(Call::new(
        op,
        Method::GET,
        format!("{}/tokens/verify", acct(account)),
    ))
    .await?
    .parse(op)
}

pub async fn list_accounts(c: &Client) -> Res<Vec<Account>> {
    let op = "list accounts";
    parse_list(op, c.list_all(op, "/accounts", &[], Some(PER_PAGE)).await?)
}

pub async fn find_zones(c: &Client, account: &str, name: &str) -> Res<Vec<Zone>> {
    let op = format!("look up zone `{name}`");
    let items = c
        .list_all(
            &op,
            "/zones",
            &[("name", name), ("account.id", account)],
            Some(PER_PAGE),
        )
        .await?;
    parse_list(&op, items)
}

pub async fn access_organization(c: &Client, account: &str) -> Res<Option<Organization>> {
    let op = "read the Access organization";
    not_found_is_none(
        c.send(Call::new(
            op,
            Method::GET,
            format!("{}/access/organizations", acct(account)),
        ))
        .await,
    )?
    .map(|env| env.parse(op))
    .transpose()
}

// ---- D1 -------------------------------------------------------------------------------

pub async fn d1_get(c: &Client, account: &str, uuid: &str) -> Res<Option<D1Database>> {
    let op = format!("read D1 database `{uuid}`");
    not_found_is_none(
        c.send(Call::new(
            &op,
            Method::GET,
            format!("{}/d1/database/{uuid}", acct(account)),
        ))
        .await,
    )?
    .map(|env| env.parse(&op))
    .transpose()
}

pub async fn d1_find(c: &Client, account: &str, name: &str) -> Res<Option<D1Database>> {
    let op = format!("list D1 databases named `{name}`");
    let items = c
        .list_all(
            &op,
            &format!("{}/d1/database", acct(account)),
            &[("name", name)],
            Some(PER_PAGE),
        )
        .await?;
    let list: Vec<D1Database> = parse_list(&op, items)?;
    Ok(list.into_iter().find(|d| d.name == name))
}

pub async fn d1_create(c: &Client, account: &str, name: &str) -> Res<D1Database> {
    let op = format!("create D1 database `{name}`");
    c.send(
        Call::new(&op, Method::POST, format!("{}/d1/database", acct(account)))
            .json(json!({ "name": name })),
    )
    .await?
    .parse(&op)
}

pub async fn d1_delete(c: &Client, account: &str, uuid: &str) -> Res<()> {
    let op = format!("delete D1 database `{uuid}`");
    c.send(Call::new(
        op,
        Method::DELETE,
        format!("{}/d1/database/{uuid}", acct(account)),
    ))
    .await
    .map(drop)
}

pub async fn d1_query(
    c: &Client,
    account: &str,
    uuid: &str,
    sql: &str,
    what: &str,
) -> Res<Vec<D1Result>> {
    let op = format!("run {what} on D1 database `{uuid}`");
    c.send(
        Call::new(
            &op,
            Method::POST,
            format!("{}/d1/database/{uuid}/query", acct(account)),
        )
        .json(json!({ "sql": sql })),
    )
    .await?
    .parse(&op)
}

// ---- R2 -------------------------------------------------------------------------------

pub async fn r2_get(c: &Client, account: &str, name: &str) -> Res<Option<Bucket>> {
    let op = format!("read R2 bucket `{name}`");
    not_found_is_none(
        c.send(Call::new(
            &op,
            Method::GET,
            format!("{}/r2/buckets/{name}", acct(account)),
        ))
        .await,
    )?
    .map(|env| env.parse(&op))
    .transpose()
}

pub async fn r2_create(c: &Client, account: &str, name: &str) -> Res<()> {
    let op = format!("create R2 bucket `{name}`");
    c.send(
        Call::new(op, Method::POST, format!("{}/r2/buckets", acct(account)))
            .json(json!({ "name": name })),
    )
    .await
    .map(drop)
}

pub async fn r2_delete(c: &Client, account: &str, name: &str) -> Res<()> {
    let op = format!("delete R2 bucket `{name}`");
    c.send(Call::new(
        op,
        Method::DELETE,
        format!("{}/r2/buckets/{name}", acct(account)),
    ))
    .await
    .map(drop)
}

// ---- Workers --------------------------------------------------------------------------

pub async fn script_find(c: &Client, account: &str, name: &str) -> Res<Option<ScriptInfo>> {
    let op = "list Workers";
    let items = c
        .list_all(op, &format!("{}/workers/scripts", acct(account)), &[], None)
        .await?;
    let list: Vec<ScriptInfo> = parse_list(op, items)?;
    Ok(list.into_iter().find(|s| s.id == name))
}

/// Uploads and deploys the script. `inherit_strict` adds `bindings_inherit=strict`.
pub async fn script_upload(
    c: &Client,
    account: &str,
    name: &str,
    inherit_strict: bool,
    form: impl Fn() -> Form + Send + Sync + 'static,
) -> Res<ScriptInfo> {
    let op = format!("upload Worker `{name}`");
    let mut call = Call::new(
        &op,
        Method::PUT,
        format!("{}/workers/scripts/{name}", acct(account)),
    )
    .form(form);
    if inherit_strict {
        call = call.query("bindings_inherit", "strict");
    }
    c.send(call).await?.parse(&op)
}

pub async fn script_delete(c: &Client, account: &str, name: &str) -> Res<()> {
    let op = format!("delete Worker `{name}`");
    c.send(
        Call::new(
            op,
            Method::DELETE,
            format!("{}/workers/scripts/{name}", acct(account)),
        )
        .query("force", "true"),
    )
    .await
    .map(drop)
}

pub async fn script_secrets(c: &Client, account: &str, name: &str) -> Res<Vec<SecretEntry>> {
    let op = format!("list secrets of Worker `{name}`");
    let items = c
        .list_all(
            &op,
            &format!("{}/workers/scripts/{name}/secrets", acct(account)),
            &[],
            None,
        )
        .await?;
    parse_list(&op, items)
}

pub async fn assets_session(
    c: &Client,
    account: &str,
    name: &str,
    manifest: &Value,
) -> Res<AssetsSession> {
    let op = format!("start the assets upload session of Worker `{name}`");
    let env = c
        .send(
            Call::new(
                &op,
                Method::POST,
                format!(
                    "{}/workers/scripts/{name}/assets-upload-session",
                    acct(account)
                ),
            )
            .json(json!({ "manifest": manifest })),
        )
        .await?;
    if env.result.is_null() {
        return Err(ApiError {
            operation: op,
            status: env.status,
            errors: Vec::new(),
            detail: Some("the session result is empty".into()),
        });
    }
    let session: AssetsSession = env.parse(&op)?;
    if let Some(jwt) = &session.jwt {
        c.remember_secret(jwt);
    }
    Ok(session)
}

/// Uploads one bucket of assets with the session's upload JWT; returns the completion JWT
/// when this was the last bucket.
pub async fn assets_upload(
    c: &Client,
    account: &str,
    upload_jwt: &Secret,
    form: impl Fn() -> Form + Send + Sync + 'static,
) -> Res<Option<Secret>> {
    let op = "upload assets";
    let env = c
        .send(
            Call::new(
                op,
                Method::POST,
                format!("{}/workers/assets/upload", acct(account)),
            )
            .query("base64", "true")
            .bearer(upload_jwt)
            .form(form),
        )
        .await?;
    let jwt = env
        .result
        .get("jwt")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    if let Some(jwt) = &jwt {
        c.remember_secret(jwt);
    }
    Ok(jwt)
}

pub async fn subdomain_get(c: &Client, account: &str, name: &str) -> Res<Subdomain> {
    let op = format!("read the workers.dev setting of Worker `{name}`");
    c.send(Call::new(
        &op,
        Method::GET,
        format!("{}/workers/scripts/{name}/subdomain", acct(account)),
    ))
    .await?
    .parse(&op)
}

pub async fn subdomain_disable(c: &Client, account: &str, name: &str) -> Res<()> {
    let op = format!("turn off workers.dev and preview URLs of Worker `{name}`");
    c.send(
        Call::new(
            op,
            Method::POST,
            format!("{}/workers/scripts/{name}/subdomain", acct(account)),
        )
        .header("Cloudflare-Workers-Script-Api-Date", "2025-08-01")
        .json(json!({ "enabled": false, "previews_enabled": false })),
    )
    .await
    .map(drop)
}

pub async fn domains_for_host(c: &Client, account: &str, hostname: &str) -> Res<Vec<CustomDomain>> {
    let op = format!("list Workers custom domains for `{hostname}`");
    let items = c
        .list_all(
            &op,
            &format!("{}/workers/domains", acct(account)),
            &[("hostname", hostname)],
            None,
        )
        .await?;
    let list: Vec<CustomDomain> = parse_list(&op, items)?;
    Ok(list
        .into_iter()
        .filter(|d| d.hostname == hostname)
        .collect())
}

pub async fn domain_attach(
    c: &Client,
    account: &str,
    hostname: &str,
    service: &str,
    zone_id: &str,
    override_existing_origin: bool,
) -> Res<CustomDomain> {
    let op = format!("attach custom domain `{hostname}` to Worker `{service}`");
    let mut body = json!({
        "hostname": hostname,
        "service": service,
        "zone_id": zone_id,
        "environment": "production",
    });
    if override_existing_origin {
        body["override_existing_origin"] = Value::Bool(true);
    }
    c.send(
        Call::new(
            &op,
            Method::PUT,
            format!("{}/workers/domains", acct(account)),
        )
        .json(body),
    )
    .await?
    .parse(&op)
}

pub async fn domain_delete(c: &Client, account: &str, id: &str, hostname: &str) -> Res<()> {
    let op = format!("detach custom domain `{hostname}`");
    c.send(Call::new(
        op,
        Method::DELETE,
        format!("{}/workers/domains/{id}", acct(account)),
    ))
    .await
    .map(drop)
}

// ---- Access ---------------------------------------------------------------------------

pub async fn service_token_get(c: &Client, account: &str, id: &str) -> Res<Option<ServiceToken>> {
    let op = format!("read Access service token `{id}`");
    not_found_is_none(
        c.send(Call::new(
            &op,
            Method::GET,
            format!("{}/access/service_tokens/{id}", acct(account)),
        ))
        .await,
    )?
    .map(|env| env.parse(&op))
    .transpose()
}

pub async fn service_token_find(
    c: &Client,
    account: &str,
    name: &str,
) -> Res<Option<ServiceToken>> {
    let op = format!("list Access service tokens named `{name}`");
    let items = c
        .list_all(
            &op,
            &format!("{}/access/service_tokens", acct(account)),
            &[("name", name)],
            Some(PER_PAGE),
        )
        .await?;
    let list: Vec<ServiceToken> = parse_list(&op, items)?;
    Ok(list.into_iter().find(|t| t.name == name))
}

#[derive(Deserialize)]
struct CreatedToken {
    id: String,
    name: String,
    client_id: String,
    client_secret: Secret,
}

/// Creates a service token; the client secret is returned only here (and by rotate).
pub async fn service_token_create(
    c: &Client,
    account: &str,
    name: &str,
) -> Res<(ServiceToken, Secret)> {
    let op = format!("create Access service token `{name}`");
    let created: CreatedToken = c
        .send(
            Call::new(
                &op,
                Method::POST,
                format!("{}/access/service_tokens", acct(account)),
            )
            .json(json!({ "name": name, "duration": "8760h" })),
        )
        .await?
        .parse(&op)?;
    c.remember_secret(&created.client_secret);
    Ok((
        ServiceToken {
            id: created.id,
            name: created.name,
            client_id: created.client_id,
        },
        created.client_secret,
    ))
}

pub async fn service_token_rotate(c: &Client, account: &str, id: &str) -> Res<Secret> {
    #[derive(Deserialize)]
    struct Rotated {
        client_secret: Secret,
    }
    let op = format!("rotate Access service token `{id}`");
    let rotated: Rotated = c
        .send(
            Call::new(
                &op,
                Method::POST,
                format!("{}/access/service_tokens/{id}/rotate", acct(account)),
            )
            .json(json!({})),
        )
        .await?
        .parse(&op)?;
    c.remember_secret(&rotated.client_secret);
    Ok(rotated.client_secret)
}

pub async fn service_token_delete(c: &Client, account: &str, id: &str) -> Res<()> {
    let op = format!("delete Access service token `{id}`");
    c.send(Call::new(
        op,
        Method::DELETE,
        format!("{}/access/service_tokens/{id}", acct(account)),
    ))
    .await
    .map(drop)
}

pub async fn policy_get(c: &Client, account: &str, id: &str) -> Res<Option<Policy>> {
    let op = format!("read Access policy `{id}`");
    not_found_is_none(
        c.send(Call::new(
            &op,
            Method::GET,
            format!("{}/access/policies/{id}", acct(account)),
        ))
        .await,
    )?
    .map(|env| env.parse(&op))
    .transpose()
}

pub async fn policy_find(c: &Client, account: &str, name: &str) -> Res<Option<Policy>> {
    let op = "list Access policies";
    let items = c
        .list_all(
            op,
            &format!("{}/access/policies", acct(account)),
            &[],
            Some(PER_PAGE),
        )
        .await?;
    let list: Vec<Policy> = parse_list(op, items)?;
    Ok(list.into_iter().find(|p| p.name == name))
}

/// The body of a reusable policy.
pub fn policy_body(name: &str, decision: &str, include: &[Value]) -> Value {
    json!({ "name": name, "decision": decision, "include": include })
}

pub async fn policy_create(c: &Client, account: &str, body: &Value) -> Res<Policy> {
    let op = format!(
        "create Access policy `{}`",
        body["name"].as_str().unwrap_or_default()
    );
    c.send(
        Call::new(
            &op,
            Method::POST,
            format!("{}/access/policies", acct(account)),
        )
        .json(body.clone()),
    )
    .await?
    .parse(&op)
}

pub async fn policy_update(c: &Client, account: &str, id: &str, body: &Value) -> Res<Policy> {
    let op = format!(
        "update Access policy `{}`",
        body["name"].as_str().unwrap_or_default()
    );
    c.send(
        Call::new(
            &op,
            Method::PUT,
            format!("{}/access/policies/{id}", acct(account)),
        )
        .json(body.clone()),
    )
    .await?
    .parse(&op)
}

pub async fn policy_delete(c: &Client, account: &str, id: &str) -> Res<()> {
    let op = format!("delete Access policy `{id}`");
    c.send(Call::new(
        op,
        Method::DELETE,
        format!("{}/access/policies/{id}", acct(account)),
    ))
    .await
    .map(drop)
}

pub async fn app_get(c: &Client, account: &str, id: &str) -> Res<Option<AccessApp>> {
    let op = format!("read Access application `{id}`");
    not_found_is_none(
        c.send(Call::new(
            &op,
            Method::GET,
            format!("{}/access/apps/{id}", acct(account)),
        ))
        .await,
    )?
    .map(|env| env.parse(&op))
    .transpose()
}

/// Self-hosted applications whose domain is exactly `domain`.
pub async fn apps_for_domain(c: &Client, account: &str, domain: &str) -> Res<Vec<AccessApp>> {
    let op = format!("list Access applications for `{domain}`");
    let items = c
        .list_all(
            &op,
            &format!("{}/access/apps", acct(account)),
            &[("domain", domain), ("exact", "true")],
            Some(PER_PAGE),
        )
        .await?;
    let list: Vec<AccessApp> = parse_list(&op, items)?;
    Ok(list
        .into_iter()
        .filter(|a| a.domain == domain && a.kind == "self_hosted")
        .collect())
}

pub async fn app_create(c: &Client, account: &str, body: &Value) -> Res<AccessApp> {
    let op = format!(
        "create Access application for `{}`",
        body["domain"].as_str().unwrap_or_default()
    );
    c.send(
        Call::new(&op, Method::POST, format!("{}/access/apps", acct(account))).json(body.clone()),
    )
    .await?
    .parse(&op)
}

pub async fn app_update(c: &Client, account: &str, id: &str, body: &Value) -> Res<AccessApp> {
    let op = format!(
        "update Access application for `{}`",
        body["domain"].as_str().unwrap_or_default()
    );
    c.send(
        Call::new(
            &op,
            Method::PUT,
            format!("{}/access/apps/{id}", acct(account)),
        )
        .json(body.clone()),
    )
    .await?
    .parse(&op)
}

pub async fn app_delete(c: &Client, account: &str, id: &str) -> Res<()> {
    let op = format!("delete Access application `{id}`");
    c.send(Call::new(
        op,
        Method::DELETE,
        format!("{}/access/apps/{id}", acct(account)),
    ))
    .await
    .map(drop)
}
