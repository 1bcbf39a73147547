//! Every statement on `oauth_client`, `oauth_session` and the OAuth columns of `connection`
//! (`oauth_client`, `oauth_client_owner`, `refresh_item_id`, `expires_at`, `oauth_scope`,
//! `oauth_token_url`, and from migration 0005 `oauth_refresh_lease`, `oauth_reauth_required`).
//! Each query carries the owner predicate (§4.2).

use crate::owner::{Owner, Partition};
use crate::store::{decode_rows, FromRow, RowReader, Sql, SqlValue, Statement, StoreError};

/// An `oauth_client` row.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub owner: Owner,
    pub slug: String,
    pub authorization_url: String,
    pub token_url: String,
    pub grant: String,
    pub client_id: String,
    pub client_secret_item_id: Option<String>,
    pub resource: Option<String>,
    pub origin_kind: Option<String>,
    pub origin_integration: Option<String>,
}

impl FromRow for ClientRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(ClientRow {
            owner: row.owner("owner")?,
            slug: row.text("slug")?,
            authorization_url: row.text("authorization_url")?,
            token_url: row.text("token_url")?,
            grant: row.text("grant")?,
            client_id: row.text("client_id")?,
            client_secret_item_id: row.opt_text("client_secret_item_id")?,
            resource: row.opt_text("resource")?,
            origin_kind: row.opt_text("origin_kind")?,
            origin_integration: row.opt_text("origin_integration")?,
        })
    }
}

const LIST_CLIENTS_SQL: &str = "SELECT owner, slug, authorization_url, token_url, grant, \
     client_id, client_secret_item_id, resource, origin_kind, origin_integration \
     FROM oauth_client WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
     ORDER BY created_at, owner, slug";

pub async fn list_clients(
    sql: &dyn Sql,
    tenant: &str,
    subject: &str,
) -> Result<Vec<ClientRow>, StoreError> {
    decode_rows(
        sql.query(Statement::new(
            LIST_CLIENTS_SQL,
            vec![tenant.into(), subject.into()],
        ))
        .await?,
    )
}

const GET_CLIENT_SQL: &str = "SELECT owner, slug, authorization_url, token_url, grant, \
     client_id, client_secret_item_id, resource, origin_kind, origin_integration \
     FROM oauth_client WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND slug = ?4";

pub async fn get_client(
    sql: &dyn Sql,
    partition: &Partition,
    slug: &str,
) -> Result<Option<ClientRow>, StoreError> {
    let rows: Vec<ClientRow> = decode_rows(
        sql.query(Statement::new(
            GET_CLIENT_SQL,
            vec![
                partition.tenant.as_str().into(),
                partition.owner.as_str().into(),
                partition.subject.as_str().into(),
                slug.into(),
            ],
        ))
        .await?,
    )?;
    Ok(rows.into_iter().next())
}

const DELETE_CLIENT_SQL: &str =
    "DELETE FROM oauth_client WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND slug = ?4";
const INSERT_CLIENT_SQL: &str = "INSERT INTO oauth_client (row_id, tenant, owner, subject, slug, \
     authorization_url, token_url, grant, client_id, client_secret_item_id, resource, \
     origin_kind, origin_integration, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// The statements that replace the client `(partition, row.slug)` (delete, then insert).
pub fn put_client(partition: &Partition, row: &ClientRow, now_ms: i64) -> Vec<Statement> {
    let key = || -> Vec<SqlValue> {
        vec![
            partition.tenant.as_str().into(),
            partition.owner.as_str().into(),
            partition.subject.as_str().into(),
            row.slug.as_str().into(),
        ]
    };
    vec![
        Statement::new(DELETE_CLIENT_SQL, key()),
        Statement::new(
            INSERT_CLIENT_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                partition.tenant.as_str().into(),
                partition.owner.as_str().into(),
                partition.subject.as_str().into(),
                row.slug.as_str().into(),
                row.authorization_url.as_str().into(),
                row.token_url.as_str().into(),
                row.grant.as_str().into(),
                row.client_id.as_str().into(),
                row.client_secret_item_id.clone().into(),
                row.resource.clone().into(),
                row.origin_kind.clone().into(),
                row.origin_integration.clone().into(),
                SqlValue::Integer(now_ms),
            ],
        ),
    ]
}

/// Deletes the client; `true` when a row went.
pub async fn delete_client(
    sql: &dyn Sql,
    partition: &Partition,
    slug: &str,
) -> Result<bool, StoreError> {
    Ok(sql
        .execute(Statement::new(
            DELETE_CLIENT_SQL,
            vec![
                partition.tenant.as_str().into(),
                partition.owner.as_str().into(),
                partition.subject.as_str().into(),
                slug.into(),
            ],
        ))
        .await?
        > 0)
}

const DELETE_SECRET_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND owner = ?2 \
     AND subject = ?3 AND plugin_id = 'encryptedSecrets' AND collection = 'secrets' AND key = ?4";

/// Deletes one sealed secret row of `partition` (best-effort cleanup of a client secret).
pub async fn delete_secret(
    sql: &dyn Sql,
    partition: &Partition,
    item_id: &str,
) -> Result<(), StoreError> {
    sql.execute(Statement::new(
        DELETE_SECRET_SQL,
        vec![
            partition.tenant.as_str().into(),
            partition.owner.as_str().into(),
            partition.subject.as_str().into(),
            item_id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// An `oauth_session` row (an authorization-code flow waiting for its callback).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub row_id: String,
    pub owner: Owner,
    pub subject: String,
    pub client_slug: String,
    pub integration: String,
    pub name: String,
    pub template: String,
    pub redirect_url: String,
    pub pkce_verifier: Option<String>,
    pub identity_label: Option<String>,
    pub payload: String,
    pub expires_at: i64,
}

impl FromRow for SessionRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(SessionRow {
            row_id: row.text("row_id")?,
            owner: row.owner("owner")?,
            subject: row.text("subject")?,
            client_slug: row.text("client_slug")?,
            integration: row.text("integration")?,
            name: row.text("name")?,
            template: row.text("template")?,
            redirect_url: row.text("redirect_url")?,
            pkce_verifier: row.opt_text("pkce_verifier")?,
            identity_label: row.opt_text("identity_label")?,
            payload: row.text("payload")?,
            expires_at: row.int("expires_at")?,
        })
    }
}

const INSERT_SESSION_SQL: &str = "INSERT INTO oauth_session (row_id, tenant, owner, subject, \
     state, client_slug, integration, name, template, redirect_url, pkce_verifier, \
     identity_label, payload, expires_at, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// The fields of a new session.
pub struct NewSession<'a> {
    pub state: &'a str,
    pub client_slug: &'a str,
    pub integration: &'a str,
    pub name: &'a str,
    pub template: &'a str,
    pub redirect_url: &'a str,
    pub verifier: &'a str,
    pub identity_label: Option<&'a str>,
    pub payload: String,
    pub expires_at: i64,
}

const PRUNE_SESSIONS_SQL: &str = "DELETE FROM oauth_session WHERE tenant = ?1 AND expires_at < ?2";

/// Inserts a session (pruning the tenant's expired ones in the same batch).
pub async fn insert_session(
    sql: &dyn Sql,
    partition: &Partition,
    session: NewSession<'_>,
    now_ms: i64,
) -> Result<(), StoreError> {
    sql.batch(vec![
        Statement::new(
            PRUNE_SESSIONS_SQL,
            vec![partition.tenant.as_str().into(), SqlValue::Integer(now_ms)],
        ),
        Statement::new(
            INSERT_SESSION_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                partition.tenant.as_str().into(),
                partition.owner.as_str().into(),
                partition.subject.as_str().into(),
                session.state.into(),
                session.client_slug.into(),
                session.integration.into(),
                session.name.into(),
                session.template.into(),
                session.redirect_url.into(),
                session.verifier.into(),
                session.identity_label.into(),
                session.payload.into(),
                SqlValue::Integer(session.expires_at),
                SqlValue::Integer(now_ms),
            ],
        ),
    ])
    .await
}

const FIND_SESSION_SQL: &str = "SELECT row_id, owner, subject, client_slug, integration, name, \
     template, redirect_url, pkce_verifier, identity_label, payload, expires_at \
     FROM oauth_session WHERE tenant = ?1 AND state = ?2 \
       AND (owner = 'org' OR (owner = 'user' AND subject = ?3))";
const CLAIM_SESSION_SQL: &str = "DELETE FROM oauth_session WHERE tenant = ?1 AND row_id = ?2";

/// The caller's session with `state`, if any (expired or not).
pub async fn find_session(
    sql: &dyn Sql,
    tenant: &str,
    subject: &str,
    state: &str,
) -> Result<Option<SessionRow>, StoreError> {
    let rows: Vec<SessionRow> = decode_rows(
        sql.query(Statement::new(
            FIND_SESSION_SQL,
            vec![tenant.into(), state.into(), subject.into()],
        ))
        .await?,
    )?;
    Ok(rows.into_iter().next())
}

/// Deletes a session row; `true` only for the one caller whose delete removed it, which makes a
/// `state` usable once even when two callbacks race.
pub async fn claim_session(sql: &dyn Sql, tenant: &str, row_id: &str) -> Result<bool, StoreError> {
    Ok(sql
        .execute(Statement::new(
            CLAIM_SESSION_SQL,
            vec![tenant.into(), row_id.into()],
        ))
        .await?
        == 1)
}

const CANCEL_SESSION_SQL: &str = "DELETE FROM oauth_session WHERE tenant = ?1 AND state = ?2 \
     AND (owner = 'org' OR (owner = 'user' AND subject = ?3))";

pub async fn cancel_session(
    sql: &dyn Sql,
    tenant: &str,
    subject: &str,
    state: &str,
) -> Result<(), StoreError> {
    sql.execute(Statement::new(
        CANCEL_SESSION_SQL,
        vec![tenant.into(), state.into(), subject.into()],
    ))
    .await?;
    Ok(())
}

const MINT_CONNECTION_SQL: &str = "INSERT INTO connection (row_id, tenant, owner, subject, \
     integration, name, template, provider, item_ids, identity_label, oauth_client, \
     oauth_client_owner, refresh_item_id, expires_at, oauth_scope, oauth_token_url, \
     oauth_refresh_lease, oauth_reauth_required, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'encrypted', ?8, ?9, ?10, ?11, ?12, ?13, ?14, NULL, \
       NULL, 0, ?15, ?15) \
     ON CONFLICT (tenant, owner, subject, integration, name) DO UPDATE SET \
       template = excluded.template, provider = excluded.provider, \
       item_ids = excluded.item_ids, identity_label = excluded.identity_label, \
       oauth_client = excluded.oauth_client, oauth_client_owner = excluded.oauth_client_owner, \
       refresh_item_id = excluded.refresh_item_id, expires_at = excluded.expires_at, \
       oauth_scope = excluded.oauth_scope, oauth_token_url = NULL, \
       oauth_refresh_lease = NULL, oauth_reauth_required = 0, \
       updated_at = excluded.updated_at";

/// The non-secret columns of a freshly minted OAuth connection.
pub struct Minted<'a> {
    pub integration: &'a str,
    pub name: &'a str,
    pub template: &'a str,
    pub item_ids: String,
    pub identity_label: Option<&'a str>,
    pub client: &'a str,
    pub client_owner: Owner,
    pub refresh_item_id: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub scope: Option<&'a str>,
}

/// Upserts an OAuth connection row (clearing any lease and re-auth mark).
pub fn mint_connection(partition: &Partition, m: &Minted<'_>, now_ms: i64) -> Statement {
    Statement::new(
        MINT_CONNECTION_SQL,
        vec![
            crate::ids::uuid_v4().into(),
            partition.tenant.as_str().into(),
            partition.owner.as_str().into(),
            partition.subject.as_str().into(),
            m.integration.into(),
            m.name.into(),
            m.template.into(),
            m.item_ids.as_str().into(),
            m.identity_label.into(),
            m.client.into(),
            m.client_owner.as_str().into(),
            m.refresh_item_id.into(),
            m.expires_at.into(),
            m.scope.into(),
            SqlValue::Integer(now_ms),
        ],
    )
}

/// The OAuth state of one connection, as the refresher reads it.
#[derive(Debug, Clone)]
pub struct OAuthState {
    pub item_ids: String,
    pub oauth_client: Option<String>,
    pub oauth_client_owner: Option<Owner>,
    pub refresh_item_id: Option<String>,
    pub expires_at: Option<i64>,
    pub oauth_scope: Option<String>,
    pub oauth_token_url: Option<String>,
    pub oauth_refresh_lease: Option<i64>,
    pub oauth_reauth_required: i64,
}

impl FromRow for OAuthState {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(OAuthState {
            item_ids: row.text("item_ids")?,
            oauth_client: row.opt_text("oauth_client")?,
            oauth_client_owner: row.opt_owner("oauth_client_owner")?,
            refresh_item_id: row.opt_text("refresh_item_id")?,
            expires_at: row.opt_int("expires_at")?,
            oauth_scope: row.opt_text("oauth_scope")?,
            oauth_token_url: row.opt_text("oauth_token_url")?,
            oauth_refresh_lease: row.opt_int("oauth_refresh_lease")?,
            oauth_reauth_required: row.int("oauth_reauth_required")?,
        })
    }
}

fn key_params(p: &Partition, integration: &str, name: &str) -> Vec<SqlValue> {
    vec![
        p.tenant.as_str().into(),
        p.owner.as_str().into(),
        p.subject.as_str().into(),
        integration.into(),
        name.into(),
    ]
}

const STATE_SQL: &str = "SELECT item_ids, oauth_client, oauth_client_owner, refresh_item_id, \
     expires_at, oauth_scope, oauth_token_url, oauth_refresh_lease, oauth_reauth_required \
     FROM connection WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 \
       AND name = ?5";

pub async fn oauth_state(
    sql: &dyn Sql,
    p: &Partition,
    integration: &str,
    name: &str,
) -> Result<Option<OAuthState>, StoreError> {
    let rows: Vec<OAuthState> = decode_rows(
        sql.query(Statement::new(STATE_SQL, key_params(p, integration, name)))
            .await?,
    )?;
    Ok(rows.into_iter().next())
}

const CLAIM_LEASE_SQL: &str = "UPDATE connection SET oauth_refresh_lease = ?6 \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5 \
       AND oauth_reauth_required = 0 \
       AND (oauth_refresh_lease IS NULL OR oauth_refresh_lease <= ?7)";

/// Compare-and-swap: takes the refresh lease (`lease` = its expiry, unique per claimant) unless
/// another claimant holds an unexpired one. `true` when this caller now holds it.
pub async fn claim_lease(
    sql: &dyn Sql,
    p: &Partition,
    integration: &str,
    name: &str,
    lease: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let mut params = key_params(p, integration, name);
    params.extend([SqlValue::Integer(lease), SqlValue::Integer(now_ms)]);
    Ok(sql.execute(Statement::new(CLAIM_LEASE_SQL, params)).await? == 1)
}

const RELEASE_SQL: &str = "UPDATE connection SET oauth_refresh_lease = NULL, \
       oauth_reauth_required = CASE WHEN ?7 THEN 1 ELSE oauth_reauth_required END \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5 \
       AND oauth_refresh_lease = ?6";

/// Gives the lease back (only if still held), optionally marking the connection as needing
/// re-authorisation.
pub async fn release_lease(
    sql: &dyn Sql,
    p: &Partition,
    integration: &str,
    name: &str,
    lease: i64,
    reauth: bool,
) -> Result<(), StoreError> {
    let mut params = key_params(p, integration, name);
    params.extend([SqlValue::Integer(lease), reauth.into()]);
    sql.execute(Statement::new(RELEASE_SQL, params)).await?;
    Ok(())
}

const GUARDED_SECRET_SQL: &str = "INSERT INTO plugin_storage \
     (row_id, tenant, owner, subject, plugin_id, collection, key, data, created_at, updated_at) \
     SELECT ?8, ?1, ?2, ?3, 'encryptedSecrets', 'secrets', ?9, ?10, ?11, ?11 \
     WHERE EXISTS (SELECT 1 FROM connection WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 \
       AND integration = ?4 AND name = ?5 AND oauth_refresh_lease = ?6 AND ?7 = ?7) \
     ON CONFLICT (tenant, owner, subject, plugin_id, collection, key) \
     DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";

/// Stores a sealed secret (`sealed` = the provider's row data) only while `lease` is held: the
/// write-back of a refresh is void if another claimant took over meanwhile.
#[allow(clippy::too_many_arguments)]
pub fn guarded_secret(
    p: &Partition,
    integration: &str,
    name: &str,
    lease: i64,
    item_id: &str,
    sealed: String,
    now_ms: i64,
) -> Statement {
    let mut params = key_params(p, integration, name);
    params.extend([
        SqlValue::Integer(lease),
        SqlValue::Integer(0),
        crate::ids::uuid_v4().into(),
        item_id.into(),
        sealed.into(),
        SqlValue::Integer(now_ms),
    ]);
    Statement::new(GUARDED_SECRET_SQL, params)
}

const REFRESHED_SQL: &str = "UPDATE connection SET expires_at = ?7, \
       oauth_scope = COALESCE(?8, oauth_scope), refresh_item_id = COALESCE(?9, refresh_item_id), \
       oauth_refresh_lease = NULL, updated_at = ?10 \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5 \
       AND oauth_refresh_lease = ?6";

/// Records a refresh and releases the lease (only if still held). Goes last in the batch after
/// the [`guarded_secret`] writes, which check the same lease.
#[allow(clippy::too_many_arguments)]
pub fn refreshed(
    p: &Partition,
    integration: &str,
    name: &str,
    lease: i64,
    expires_at: Option<i64>,
    scope: Option<&str>,
    refresh_item_id: Option<&str>,
    now_ms: i64,
) -> Statement {
    let mut params = key_params(p, integration, name);
    params.extend([
        SqlValue::Integer(lease),
        expires_at.into(),
        scope.into(),
        refresh_item_id.into(),
        SqlValue::Integer(now_ms),
    ]);
    Statement::new(REFRESHED_SQL, params)
}
