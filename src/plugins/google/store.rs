//! Google Discovery bundles in storage (executor-behaviour.md §3.4.4, §8.4, §8.7): add by URLs or
//! inline documents, get, config, bundle refresh, removal and detection.
//!
//! A bundle is converted to one OpenAPI 3.1 document ([`super::discovery`]) and then stored
//! exactly like an OpenAPI spec, under `plugin_id = 'google'`: `op:`/`defs:` generations in
//! `plugin_storage`, the converted document and the shared `$defs` as content-addressed blobs in
//! R2 (`o:<tenant>/google/spec/<sha256>`), and the integration row last. The row's config is an
//! [`OpenApiConfig`] (so the catalog, tool production and invocation read it unchanged) plus
//! `googleDiscoveryUrls`. Calls go through the OpenAPI invoker; a connection on the
//! `googleOAuth2` method with a `token` value calls with `Authorization: Bearer <token>` — the
//! OAuth flow that mints such connections is not this module's.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::discovery::{self, MAX_DOCUMENT_BYTES};
use crate::app::Services;
use crate::auth::Principal;
use crate::integrations::config as config_rewrite;
use crate::integrations::detect::{slugify, Confidence, Detection};
use crate::integrations::{self, RemoveOutcome};
use crate::logging;
use crate::net::http::{guarded_fetch, FetchError, OutboundRequest};
use crate::plugins::openapi::store::{
    custom_slug, discard_generation_as, merge, ops_collection, parse_inputs, valid_slug,
    write_generation_as, Added, ConfigUpdate, IntegrationView, MergeMode, OpenApiConfig,
    OpenApiStoreError, SpecUpdated, MAX_SLUG_CHARS,
};
use crate::plugins::openapi::{parse, AuthTemplate, OpenApiError};
use crate::store::{decode_rows, FromRow, RowReader, Sql, Statement, StoreError};

/// `plugin_id` (and integration `kind`) of Google bundles.
pub const PLUGIN_ID: &str = "google";

const DEFAULT_SLUG: &str = "google";
const DEFAULT_NAME: &str = "Google";
const DEFAULT_DESCRIPTION: &str = "Google APIs";
/// Wall-clock budget of one document fetch.
const FETCH_TIMEOUT_MS: u64 = 60_000;
const FETCH_PREFIX: &str = "Failed to fetch Google Discovery document";

// ---------------------------------------------------------------------------------------------
// Requests and answers

/// `POST /google/bundles`. `documents` (inline Discovery documents, as JSON objects or JSON text)
/// is our extension; upstream takes URLs only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddRequest {
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub documents: Option<Vec<Value>>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub query_params: Option<BTreeMap<String, String>>,
}

/// `POST /google/integrations/:slug/bundle`: new URLs and/or documents; neither ⇒ re-fetch the
/// stored URLs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BundleUpdate {
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub documents: Option<Vec<Value>>,
}

/// `GET /google/integrations/:slug/config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    pub google_discovery_urls: Option<Vec<String>>,
    pub base_url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub query_params: Option<BTreeMap<String, String>>,
    pub authentication_template: Vec<AuthTemplate>,
}

// ---------------------------------------------------------------------------------------------
// Fetching and converting

fn fetch_failed(detail: Option<String>) -> OpenApiError {
    OpenApiError::Parse(match detail {
        Some(detail) => format!("{FETCH_PREFIX}: {detail}"),
        None => FETCH_PREFIX.to_owned(),
    })
}

/// Fetches one Discovery document through the SSRF guard and parses it straight from the body
/// bytes (no intermediate `String`).
pub async fn fetch_document(services: Services<'_>, url: &str) -> Result<Value, OpenApiError> {
    let request = OutboundRequest {
        method: "GET".into(),
        url: url.to_owned(),
        headers: vec![
            ("accept".into(), "application/json".into()),
            ("user-agent".into(), "executor".into()),
        ],
        body: None,
        timeout_ms: FETCH_TIMEOUT_MS,
        max_body_bytes: MAX_DOCUMENT_BYTES,
    };
    let response = guarded_fetch(services.http, request, services.config.allow_local_network)
        .await
        .map_err(|e| {
            // The reason (blocked address, DNS, …) goes to the log only, as for OpenAPI.
            logging::info(&format!("google: discovery fetch failed: {e}"));
            match e {
                FetchError::TooLarge { .. } => fetch_failed(Some(format!(
                    "the document is larger than {} MiB",
                    MAX_DOCUMENT_BYTES / (1024 * 1024)
                ))),
                _ => fetch_failed(None),
            }
        })?;
    if !(200..300).contains(&response.status) {
        return Err(fetch_failed(Some(format!("HTTP {}", response.status))));
    }
    serde_json::from_slice(&response.body)
        .map_err(|_| OpenApiError::Parse(format!("{url} did not answer a JSON Discovery document")))
}

/// Normalised, de-duplicated URLs (order kept).
fn normalise_urls(urls: &[String]) -> Result<Vec<String>, OpenApiError> {
    let mut out: Vec<String> = Vec::new();
    for url in urls {
        let url = discovery::normalise_url(url)?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

/// Inline documents: JSON objects, or JSON text of one.
fn inline_documents(documents: Vec<Value>) -> Result<Vec<Value>, OpenApiError> {
    documents
        .into_iter()
        .map(|doc| match doc {
            Value::String(text) => {
                if text.len() > MAX_DOCUMENT_BYTES {
                    return Err(OpenApiError::Parse(format!(
                        "An inline Discovery document is larger than {} MiB",
                        MAX_DOCUMENT_BYTES / (1024 * 1024)
                    )));
                }
                serde_json::from_str(&text).map_err(|_| {
                    OpenApiError::Parse("An inline Discovery document is not JSON".into())
                })
            }
            other => Ok(other),
        })
        .collect()
}

/// Fetches the URLs (one at a time: each document is parsed before the next arrives, which
/// bounds memory) and converts them with the inline documents into one OpenAPI text.
async fn build_bundle(
    services: Services<'_>,
    urls: &[String],
    documents: Vec<Value>,
) -> Result<discovery::Converted, OpenApiError> {
    if urls.len() + documents.len() > discovery::MAX_DOCUMENTS {
        return Err(OpenApiError::Parse(format!(
            "A Google bundle holds at most {} Discovery documents",
            discovery::MAX_DOCUMENTS
        )));
    }
    let mut docs = inline_documents(documents)?;
    for url in urls {
        docs.push(fetch_document(services, url).await?);
    }
    discovery::convert(docs)
}

// ---------------------------------------------------------------------------------------------
// Reads

#[derive(Debug)]
struct IntegrationRow {
    plugin_id: String,
    description: Option<String>,
    config: Option<String>,
    can_remove: i64,
    can_refresh: i64,
}

impl FromRow for IntegrationRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(IntegrationRow {
            plugin_id: row.text("plugin_id")?,
            description: row.opt_text("description")?,
            config: row.opt_text("config")?,
            can_remove: row.int("can_remove")?,
            can_refresh: row.int("can_refresh")?,
        })
    }
}

const ROW_SQL: &str = "SELECT plugin_id, description, config, can_remove, can_refresh \
     FROM integration WHERE tenant = ?1 AND slug = ?2";

async fn google_row(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<IntegrationRow>, StoreError> {
    let rows: Vec<IntegrationRow> = decode_rows(
        sql.query(Statement::new(ROW_SQL, vec![tenant.into(), slug.into()]))
            .await?,
    )?;
    Ok(rows.into_iter().find(|r| r.plugin_id == PLUGIN_ID))
}

/// A stored config: its OpenAPI part and the Discovery URLs. Read and written as text with the
/// OpenAPI config's own (de)serialisers — no second serde instantiation of the config types in
/// the Worker.
struct Stored {
    config: OpenApiConfig,
    urls: Vec<String>,
}

fn read_config(slug: &str, row: &IntegrationRow) -> Result<Stored, OpenApiStoreError> {
    text_stored(slug, row.config.as_deref())
}

fn text_stored(slug: &str, text: Option<&str>) -> Result<Stored, OpenApiStoreError> {
    let text = text.unwrap_or("{}");
    let broken =
        |e: serde_json::Error| OpenApiStoreError::Internal(format!("config of {slug}: {e}"));
    let config = OpenApiConfig::parse(text).map_err(broken)?;
    let value: Value = serde_json::from_str(text).map_err(broken)?;
    let urls = value
        .get("googleDiscoveryUrls")
        .and_then(Value::as_array)
        .map(|urls| {
            urls.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Stored { config, urls })
}

/// The config text to store: `config`'s JSON plus `googleDiscoveryUrls` when there are any.
fn config_text(config: &OpenApiConfig, urls: &[String]) -> String {
    let mut text = config.to_json();
    if !urls.is_empty() && text.ends_with('}') {
        text.pop();
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str("\"googleDiscoveryUrls\":");
        text.push_str(&Value::from(urls.to_vec()).to_string());
        text.push('}');
    }
    text
}

/// `GET /google/integrations/:slug`: `None` when there is no Google integration of that slug.
pub async fn get(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<IntegrationView>, OpenApiStoreError> {
    Ok(google_row(sql, tenant, slug)
        .await?
        .map(|row| IntegrationView {
            slug: slug.to_owned(),
            description: row.description.unwrap_or_default(),
            kind: PLUGIN_ID,
            can_remove: row.can_remove != 0,
            can_refresh: row.can_refresh != 0,
        }))
}

/// `GET /google/integrations/:slug/config`.
pub async fn get_config(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<ConfigView>, OpenApiStoreError> {
    let Some(row) = google_row(sql, tenant, slug).await? else {
        return Ok(None);
    };
    let Stored { config, urls } = read_config(slug, &row)?;
    Ok(Some(ConfigView {
        google_discovery_urls: (!urls.is_empty()).then_some(urls),
        base_url: config.base_url,
        headers: config.headers,
        query_params: config.query_params,
        authentication_template: config.authentication_template.unwrap_or_default(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Add

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

const EXISTS_SQL: &str = "SELECT 1 AS one FROM integration WHERE tenant = ?1 AND slug = ?2";

const INSERT_INTEGRATION_SQL: &str = "INSERT INTO integration (row_id, tenant, slug, plugin_id, \
       name, description, config, config_revised_at, can_remove, can_refresh, created_at, \
       updated_at) \
     VALUES (?1, ?2, ?3, 'google', ?4, ?5, ?6, ?7, 1, ?8, ?7, ?7) \
     ON CONFLICT (tenant, slug) DO NOTHING";

/// `POST /google/bundles` (§3.4.4): fetches and converts the documents, writes a generation and
/// its blobs, then inserts the integration row. Tools appear per connection (§8.7).
pub async fn add(
    services: Services<'_>,
    tenant: &str,
    request: AddRequest,
) -> Result<Added, OpenApiStoreError> {
    let slug = non_blank(request.slug).unwrap_or_else(|| DEFAULT_SLUG.to_owned());
    if !valid_slug(&slug) {
        return Err(OpenApiStoreError::Invalid(format!(
            "`slug` must be 1–{MAX_SLUG_CHARS} ASCII letters, digits, `_` or `-`, starting with a \
             letter or digit (got {:?})",
            slug.chars().take(100).collect::<String>()
        )));
    }
    let urls = normalise_urls(request.urls.as_deref().unwrap_or_default())?;
    let documents = request.documents.unwrap_or_default();
    if urls.is_empty() && documents.is_empty() {
        return Err(OpenApiStoreError::Invalid(
            "Give at least one Discovery document URL in `urls` (or a document in `documents`)"
                .into(),
        ));
    }
    let exists = slug == integrations::BUILT_IN_SLUG
        || !services
            .sql
            .query(Statement::new(
                EXISTS_SQL,
                vec![tenant.into(), slug.as_str().into()],
            ))
            .await?
            .is_empty();
    if exists {
        return Err(OpenApiStoreError::AlreadyExists { slug });
    }

    let started_ms = services.clock.now_ms();
    let converted = build_bundle(services, &urls, documents).await?;
    let spec_bytes = converted.text.len();
    let doc = parse(converted.text)?;
    let now = services.clock.now_ms() as i64;
    let generation = write_generation_as(services, PLUGIN_ID, tenant, &slug, doc, now).await?;
    let config = OpenApiConfig {
        spec_hash: Some(generation.spec_hash.clone()),
        spec_key: Some(generation.spec_key.clone()),
        defs_key: Some(generation.defs_key.clone()),
        generation: Some(generation.id.clone()),
        source_url: None,
        base_url: non_blank(request.base_url),
        headers: request.headers,
        query_params: request.query_params,
        authentication_template: Some(vec![discovery::auth_template(converted.scopes)]),
    };
    let config_text = config_text(&config, &urls);
    let inserted = services
        .sql
        .execute(Statement::new(
            INSERT_INTEGRATION_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                tenant.into(),
                slug.as_str().into(),
                non_blank(request.name)
                    .unwrap_or_else(|| DEFAULT_NAME.to_owned())
                    .into(),
                non_blank(request.description)
                    .unwrap_or_else(|| DEFAULT_DESCRIPTION.to_owned())
                    .into(),
                config_text.into(),
                now.into(),
                (!urls.is_empty()).into(),
            ],
        ))
        .await;
    match inserted {
        Ok(1) => {
            log_ingest(
                services,
                "add",
                &slug,
                generation.tool_count,
                spec_bytes,
                started_ms,
            );
            Ok(Added {
                slug,
                tool_count: generation.tool_count,
            })
        }
        other => {
            discard_generation_as(services.sql, PLUGIN_ID, tenant, &slug, &generation.id).await;
            match other {
                Err(e) => Err(e.into()),
                // Someone added the slug while we were converting.
                _ => Err(OpenApiStoreError::AlreadyExists { slug }),
            }
        }
    }
}

fn log_ingest(
    services: Services<'_>,
    what: &str,
    slug: &str,
    tools: usize,
    spec_bytes: usize,
    started_ms: f64,
) {
    let took_ms = services.clock.now_ms() - started_ms;
    let memory = logging::linear_memory_bytes()
        .map(|b| format!(" linear_memory_mb={:.1}", b as f64 / 1_048_576.0))
        .unwrap_or_default();
    logging::info(&format!(
        "google ingest {what}: slug={slug} tools={tools} openapi_bytes={spec_bytes} \
         took_ms={took_ms:.0}{memory}"
    ));
}

// ---------------------------------------------------------------------------------------------
// Config and bundle updates

// `can_refresh` follows the config: refreshable while it names Discovery URLs.
const SWAP_CONFIG_SQL: &str = "UPDATE integration SET config = ?3, config_revised_at = ?4, \
     updated_at = ?4, can_refresh = (COALESCE(json_array_length(?3, '$.googleDiscoveryUrls'), 0) > 0) \
     WHERE tenant = ?1 AND slug = ?2 AND plugin_id = 'google' AND config IS ?5";

/// Rewrites the stored config with `change` (compare-and-swap on the text, retried when
/// another writer won) and bumps `config_revised_at`. `Ok(None)`: no such Google integration.
async fn update_config<T>(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    mut change: impl FnMut(&mut OpenApiConfig, &mut Vec<String>) -> T,
) -> Result<Option<T>, OpenApiStoreError> {
    Ok(
        config_rewrite::rewrite(services, PLUGIN_ID, SWAP_CONFIG_SQL, tenant, slug, |text| {
            let Stored {
                mut config,
                mut urls,
            } = text_stored(slug, text)?;
            let answer = change(&mut config, &mut urls);
            Ok((config_text(&config, &urls), answer))
        })
        .await?,
    )
}

/// `POST /google/integrations/:slug/config`: merges or replaces the auth methods, as for
/// OpenAPI. An unknown slug answers an empty list.
pub async fn set_config(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    update: ConfigUpdate,
) -> Result<Vec<AuthTemplate>, OpenApiStoreError> {
    let mode = match update.mode.as_deref() {
        None => MergeMode::Merge,
        Some(mode) => MergeMode::parse(mode).ok_or_else(|| {
            OpenApiStoreError::Invalid("`mode` must be \"merge\" or \"replace\"".into())
        })?,
    };
    let inputs =
        parse_inputs(&update.authentication_template).map_err(OpenApiStoreError::Invalid)?;
    let stored = update_config(services, tenant, slug, |config, _| {
        let existing = config.authentication_template.take().unwrap_or_default();
        let merged = merge(existing, inputs.clone(), mode, custom_slug);
        config.authentication_template = Some(merged.clone());
        merged
    })
    .await?;
    Ok(stored.unwrap_or_default())
}

const GENERATION_KEYS_SQL: &str = "SELECT key FROM plugin_storage WHERE tenant = ?1 \
     AND owner = 'org' AND subject = '' AND plugin_id = 'google' AND collection = ?2";

async fn generation_names(
    sql: &dyn Sql,
    tenant: &str,
    collection: String,
) -> Result<BTreeSet<String>, StoreError> {
    let rows = sql
        .query(Statement::new(
            GENERATION_KEYS_SQL,
            vec![tenant.into(), collection.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get("key").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// `POST /google/integrations/:slug/bundle`: rebuilds from new URLs/documents, or re-fetches the
/// stored URLs; flips to the new generation, re-produces the caller's visible connections (the
/// others follow through `config_revised_at`) and deletes the old generation. The declared
/// OAuth scopes follow the new documents; other auth methods, base URL and names stay.
pub async fn update_bundle(
    services: Services<'_>,
    principal: &Principal,
    slug: &str,
    update: BundleUpdate,
) -> Result<SpecUpdated, OpenApiStoreError> {
    let tenant = principal.tenant();
    let not_found = || OpenApiStoreError::NotFound {
        slug: slug.to_owned(),
    };
    let row = google_row(services.sql, tenant, slug)
        .await?
        .ok_or_else(not_found)?;
    let stored_urls = read_config(slug, &row)?.urls;
    let new_urls = update.urls.map(|u| normalise_urls(&u)).transpose()?;
    let documents = update.documents.unwrap_or_default();
    let urls =
        match (&new_urls, documents.is_empty()) {
            (Some(urls), _) => urls.clone(),
            // Inline documents alone replace the bundle's documents.
            (None, false) => Vec::new(),
            (None, true) if !stored_urls.is_empty() => stored_urls,
            (None, true) => return Err(OpenApiError::Parse(
                "This Google integration was added from inline documents, so there is no URL to \
                 refresh it from. Send the documents again as `documents`."
                    .to_owned(),
            )
            .into()),
        };
    let started_ms = services.clock.now_ms();
    let converted = build_bundle(services, &urls, documents).await?;
    let spec_bytes = converted.text.len();
    let scopes = converted.scopes;
    let doc = parse(converted.text)?;
    let now = services.clock.now_ms() as i64;
    let generation = write_generation_as(services, PLUGIN_ID, tenant, slug, doc, now).await?;
    log_ingest(
        services,
        "update",
        slug,
        generation.tool_count,
        spec_bytes,
        started_ms,
    );

    let flipped = update_config(services, tenant, slug, |config, stored| {
        let old = config.generation.replace(generation.id.clone());
        config.spec_hash = Some(generation.spec_hash.clone());
        config.spec_key = Some(generation.spec_key.clone());
        config.defs_key = Some(generation.defs_key.clone());
        let mut templates = config.authentication_template.take().unwrap_or_default();
        let google = discovery::auth_template(scopes.clone());
        match templates
            .iter_mut()
            .find(|t| t.slug() == discovery::OAUTH_SLUG)
        {
            Some(existing) => *existing = google,
            None => templates.insert(0, google),
        }
        config.authentication_template = Some(templates);
        stored.clone_from(&urls);
        old
    })
    .await;
    let old_generation = match flipped {
        Ok(Some(old)) => old,
        Ok(None) => {
            discard_generation_as(services.sql, PLUGIN_ID, tenant, slug, &generation.id).await;
            return Err(not_found());
        }
        Err(e) => {
            discard_generation_as(services.sql, PLUGIN_ID, tenant, slug, &generation.id).await;
            return Err(e);
        }
    };
    let old_names = match &old_generation {
        Some(old) => generation_names(services.sql, tenant, ops_collection(slug, old)).await?,
        None => BTreeSet::new(),
    };
    if let Err(e) =
        crate::connections::service::refresh_integration(services, principal, slug).await
    {
        logging::warn(&format!("google: refreshing connections of {slug}: {e:?}"));
    }
    if let Some(old) = &old_generation {
        if *old != generation.id {
            discard_generation_as(services.sql, PLUGIN_ID, tenant, slug, old).await;
        }
    }
    let new_names: BTreeSet<String> = generation.tool_names.iter().cloned().collect();
    Ok(SpecUpdated {
        slug: slug.to_owned(),
        tool_count: generation.tool_count,
        added_tools: new_names.difference(&old_names).cloned().collect(),
        removed_tools: old_names.difference(&new_names).cloned().collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Removal

/// Deletes every generation of `slug`'s Google rows, for the removal batch of
/// `DELETE /integrations/:slug` (same key ranges as the OpenAPI statement).
pub fn cleanup_statement(tenant: &str, slug: &str) -> Statement {
    crate::plugins::openapi::store::generation_cleanup_statement(PLUGIN_ID, tenant, slug)
}

/// `DELETE /google/integrations/:slug`: as `DELETE /integrations/:slug`, for Google rows only.
pub async fn remove(
    sql: &dyn Sql,
    principal: &Principal,
    slug: &str,
) -> Result<(), OpenApiStoreError> {
    if google_row(sql, principal.tenant(), slug).await?.is_none() {
        return Ok(());
    }
    match integrations::remove(sql, principal.tenant(), principal.subject(), slug).await? {
        RemoveOutcome::Removed => Ok(()),
        RemoveOutcome::NotAllowed => Err(OpenApiStoreError::RemovalNotAllowed {
            slug: slug.to_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Detection

/// Whether the URL is worth a Discovery fetch: a Google Discovery URL, or a path with a
/// `discovery` / `$discovery` segment.
fn discovery_shaped(url: &url::Url) -> bool {
    url.path_segments()
        .is_some_and(|mut s| s.any(|seg| seg == "discovery" || seg == "$discovery"))
}

/// The Google detector (our addition; upstream has none): the URL serves a Discovery document ⇒
/// high; a Google Discovery URL that could not be fetched ⇒ medium. Other URLs are not fetched.
pub async fn detect(services: Services<'_>, url: &str) -> Option<Detection> {
    let parsed = crate::net::parse_url(url).ok()?;
    let normalised = discovery::normalise_url(url).ok();
    let google_form = normalised.is_some()
        && parsed
            .host_str()
            .is_some_and(|h| h.ends_with(".googleapis.com"));
    if !google_form && !discovery_shaped(&parsed) {
        return None;
    }
    let endpoint = normalised.unwrap_or_else(|| url.to_owned());
    match fetch_document(services, &endpoint).await {
        Ok(doc) if discovery::is_discovery(&doc) => {
            let title = doc
                .get("title")
                .or_else(|| doc.get("name"))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .unwrap_or(DEFAULT_NAME)
                .to_owned();
            Some(Detection {
                kind: PLUGIN_ID,
                confidence: Confidence::High,
                endpoint,
                slug: slugify(&title, DEFAULT_SLUG),
                name: title,
            })
        }
        _ if google_form => Some(Detection {
            kind: PLUGIN_ID,
            confidence: Confidence::Medium,
            endpoint,
            name: DEFAULT_NAME.to_owned(),
            slug: DEFAULT_SLUG.to_owned(),
        }),
        _ => None,
    }
}
