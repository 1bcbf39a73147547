//! Security schemes ⇒ auth strategies, presets and stored auth templates
//! (executor-behaviour.md §8.1.6), and the `AuthMethodDescriptor` projection (§3.2).

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::json_fields::Fields;

use super::document::OpenApiDocument;
use super::raw::{self, RawObject};
use super::tools::parse_servers;

/// A JSON object whose keys keep their insertion order when serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<V> OrderedMap<V> {
    fn insert_new(&mut self, key: String, value: V) {
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, value));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Preview shapes (`POST /openapi/preview`, wire 08)

/// One entry of the preview's `securitySchemes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySchemeSummary {
    pub name: String,
    /// `http`, `apiKey`, `oauth2` or `openIdConnect`.
    #[serde(rename = "type")]
    pub scheme_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_format: Option<String>,
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The header an `apiKey` scheme sends (only for `in: header`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<OAuthFlowsSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_id_connect_url: Option<String>,
    /// The parameter name of an `apiKey` scheme, whatever its location (not on the wire).
    #[serde(skip)]
    pub(crate) key_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthFlowsSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_code: Option<OAuthFlowSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_credentials: Option<OAuthFlowSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthFlowSummary {
    /// Present for the authorization-code flow only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    pub token_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
    /// Scope ⇒ description, in declaration order.
    pub scopes: OrderedMap<String>,
}

/// A set of schemes used together (one entry of `security`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthStrategy {
    pub schemes: Vec<String>,
}

/// A header-based way to authenticate (one per strategy without OAuth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderPreset {
    pub label: String,
    /// Header name ⇒ fixed value; `null` = the secret the user supplies.
    pub headers: OrderedMap<Option<String>>,
    pub secret_headers: Vec<String>,
    /// Where the secret goes, with prefixes (not on the wire; becomes the apikey template).
    #[serde(skip)]
    pub(crate) placements: Vec<Placement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OAuthFlow {
    AuthorizationCode,
    ClientCredentials,
}

/// `"auto"`, `false` or an explicit list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityScopes {
    Auto,
    Disabled,
    List(Vec<String>),
}

impl Serialize for IdentityScopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IdentityScopes::Auto => serializer.serialize_str("auto"),
            IdentityScopes::Disabled => serializer.serialize_bool(false),
            IdentityScopes::List(list) => list.serialize(serializer),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Preset {
    pub label: String,
    pub security_scheme_name: String,
    pub flow: OAuthFlow,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    pub token_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
    pub scopes: Vec<String>,
    pub identity_scopes: IdentityScopes,
}

// ---------------------------------------------------------------------------------------------
// Stored templates (`authenticationTemplate`, wire 18)

/// Where an apikey credential goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Carrier {
    Header,
    Query,
}

/// One rendered header or query parameter: `literal`, or `prefix + values[variable ?? "token"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub carrier: Carrier,
    pub name: String,
    /// Omitted from the stored form when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
}

/// One stored auth method of an integration, selected by a connection's `template` slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum AuthTemplate {
    #[serde(rename = "apikey")]
    ApiKey(ApiKeyTemplate),
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Template),
    #[serde(rename = "none")]
    None(NoneTemplate),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyTemplate {
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub placements: Vec<Placement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Template {
    pub slug: String,
    /// Empty for the client-credentials flow.
    pub authorization_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoneTemplate {
    pub slug: String,
}

impl Placement {
    /// Reads a stored placement `{carrier, name, prefix?, variable?, literal?}`.
    pub fn parse(text: &str) -> Result<Placement, String> {
        const NAMES: &[&str] = &["carrier", "name", "prefix", "variable", "literal"];
        let f = Fields::parse(text, NAMES, false)?;
        let carrier = match f.variant("carrier", &["header", "query"])? {
            0 => Carrier::Header,
            _ => Carrier::Query,
        };
        Ok(Placement {
            carrier,
            name: f.string("name")?,
            prefix: f.string_or_empty("prefix")?,
            variable: f.opt_string("variable")?,
            literal: f.opt_string("literal")?,
        })
    }
}

impl AuthTemplate {
    /// Reads one stored template (`kind` selects the shape; other members are ignored).
    pub fn parse(text: &str) -> Result<AuthTemplate, String> {
        const NAMES: &[&str] = &[
            "kind",
            "slug",
            "label",
            "placements",
            "authorizationUrl",
            "tokenUrl",
            "scopes",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        let slug = f.string("slug");
        Ok(match f.variant("kind", &["apikey", "oauth2", "none"])? {
            0 => AuthTemplate::ApiKey(ApiKeyTemplate {
                slug: slug?,
                label: f.opt_string("label")?,
                placements: f
                    .raw_items("placements")?
                    .into_iter()
                    .map(|p| Placement::parse(p.get()))
                    .collect::<Result<_, _>>()?,
            }),
            1 => AuthTemplate::OAuth2(OAuth2Template {
                slug: slug?,
                authorization_url: f.string("authorizationUrl")?,
                token_url: f.string("tokenUrl")?,
                scopes: f.strings("scopes")?,
            }),
            _ => AuthTemplate::None(NoneTemplate { slug: slug? }),
        })
    }

    /// Reads a stored list of templates.
    pub fn parse_list(text: &str) -> Result<Vec<AuthTemplate>, String> {
        crate::json_fields::raw_array(text)?
            .into_iter()
            .map(|t| AuthTemplate::parse(t.get()))
            .collect()
    }

    pub fn slug(&self) -> &str {
        match self {
            AuthTemplate::ApiKey(t) => &t.slug,
            AuthTemplate::OAuth2(t) => &t.slug,
            AuthTemplate::None(t) => &t.slug,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Projection (`authMethods` of an integration, §3.2)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethodKind {
    Oauth,
    Apikey,
    Header,
    None,
}

/// `AuthMethodDescriptor` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthMethodDescriptor {
    pub id: String,
    pub label: String,
    pub kind: AuthMethodKind,
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placements: Option<Vec<DescriptorPlacement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthDescriptor>,
}

/// A placement as projected: `prefix` is always present (`""` when bare).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescriptorPlacement {
    pub carrier: Carrier,
    pub name: String,
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_dynamic_registration: Option<bool>,
}

impl AuthMethodDescriptor {
    /// The projection of one stored OpenAPI template.
    pub fn from_template(template: &AuthTemplate) -> Self {
        match template {
            AuthTemplate::ApiKey(t) => AuthMethodDescriptor {
                id: t.slug.clone(),
                label: t
                    .label
                    .clone()
                    .filter(|l| !l.is_empty())
                    .or_else(|| {
                        t.placements
                            .first()
                            .map(|p| format!("API key ({})", p.name))
                    })
                    .unwrap_or_else(|| format!("API key ({})", t.slug)),
                kind: AuthMethodKind::Apikey,
                template: t.slug.clone(),
                placements: Some(
                    t.placements
                        .iter()
                        .map(|p| DescriptorPlacement {
                            carrier: p.carrier,
                            name: p.name.clone(),
                            prefix: p.prefix.clone(),
                            variable: p.variable.clone(),
                            literal: p.literal.clone(),
                        })
                        .collect(),
                ),
                oauth: None,
            },
            AuthTemplate::OAuth2(t) => AuthMethodDescriptor {
                id: t.slug.clone(),
                label: "OAuth2".to_owned(),
                kind: AuthMethodKind::Oauth,
                template: t.slug.clone(),
                placements: None,
                oauth: Some(OAuthDescriptor {
                    authorization_url: Some(t.authorization_url.clone()),
                    token_url: Some(t.token_url.clone()),
                    scopes: Some(t.scopes.clone()),
                    ..OAuthDescriptor::default()
                }),
            },
            AuthTemplate::None(t) => AuthMethodDescriptor {
                id: t.slug.clone(),
                label: "No authentication".to_owned(),
                kind: AuthMethodKind::None,
                template: t.slug.clone(),
                placements: None,
                oauth: None,
            },
        }
    }
}

/// `authMethods` for an OpenAPI integration's stored templates, in template order.
pub fn auth_method_descriptors(templates: &[AuthTemplate]) -> Vec<AuthMethodDescriptor> {
    templates
        .iter()
        .map(AuthMethodDescriptor::from_template)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Analysis of a document

/// Everything auth-related the preview and the default templates need.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthAnalysis {
    pub schemes: Vec<SecuritySchemeSummary>,
    pub strategies: Vec<AuthStrategy>,
    pub header_presets: Vec<HeaderPreset>,
    pub oauth2_presets: Vec<OAuth2Preset>,
}

const SUPPORTED_TYPES: [&str; 4] = ["http", "apiKey", "oauth2", "openIdConnect"];

/// Identity scopes added to authorization-code scopes.
const IDENTITY_SCOPES: [&str; 3] = ["openid", "email", "profile"];

fn flow_summary(raw_flow: &str, with_authorization_url: bool) -> Option<OAuthFlowSummary> {
    let flow = RawObject::parse(raw_flow)?;
    let authorization_url = if with_authorization_url {
        Some(flow.str("authorizationUrl")?)
    } else {
        None
    };
    let scopes = flow
        .object("scopes")
        .map(|scopes| {
            scopes
                .iter()
                .map(|(name, description)| {
                    (
                        name.to_owned(),
                        raw::as_string(description).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(OAuthFlowSummary {
        authorization_url,
        token_url: flow.str("tokenUrl")?,
        refresh_url: flow.str("refreshUrl"),
        scopes: OrderedMap(scopes),
    })
}

fn scheme_summary(
    doc: &OpenApiDocument,
    name: &str,
    raw_scheme: &str,
) -> Option<SecuritySchemeSummary> {
    let scheme = doc.deref(raw_scheme).and_then(RawObject::parse)?;
    let scheme_type = scheme.str("type")?;
    if !SUPPORTED_TYPES.contains(&scheme_type.as_str()) {
        return None;
    }
    let location = scheme.str("in");
    let key_name = (scheme_type == "apiKey")
        .then(|| scheme.str("name"))
        .flatten();
    let header_name = key_name
        .clone()
        .filter(|_| location.as_deref() == Some("header"));
    let flows = (scheme_type == "oauth2")
        .then(|| scheme.object("flows"))
        .flatten()
        .map(|flows| OAuthFlowsSummary {
            authorization_code: flows
                .get("authorizationCode")
                .and_then(|f| flow_summary(f, true)),
            client_credentials: flows
                .get("clientCredentials")
                .and_then(|f| flow_summary(f, false)),
        });
    Some(SecuritySchemeSummary {
        name: name.to_owned(),
        scheme: scheme.str("scheme"),
        bearer_format: scheme.str("bearerFormat"),
        location: if scheme_type == "apiKey" {
            location
        } else {
            None
        },
        header_name,
        description: scheme.str("description"),
        flows,
        open_id_connect_url: scheme.str("openIdConnectUrl"),
        key_name,
        scheme_type,
    })
}

/// The first server's URL with variable defaults applied: used only to absolutise relative
/// OAuth URLs (§8.1.6).
pub fn derived_base_url(doc: &OpenApiDocument) -> Option<String> {
    let servers = parse_servers(doc.top("servers")?);
    servers.first().map(|s| s.resolved_url())
}

/// `url` resolved against `base` (absolute URLs unchanged; no base ⇒ unchanged).
fn absolutize(url: &str, base: Option<&str>) -> String {
    let Some(base) = base else {
        return url.to_owned();
    };
    let has_scheme = url.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme || url.is_empty() {
        return url.to_owned();
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", rest.get(..authority_end).unwrap_or(rest));
    if let Some(network_path) = url.strip_prefix("//") {
        return format!("{scheme}://{network_path}");
    }
    if url.starts_with('/') {
        return format!("{origin}{url}");
    }
    let path = rest.get(authority_end..).unwrap_or_default();
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let dir = match path.rfind('/') {
        Some(i) => path.get(..=i).unwrap_or("/"),
        None => "/",
    };
    format!("{origin}{dir}{url}")
}

pub(crate) fn analyse(doc: &OpenApiDocument) -> AuthAnalysis {
    let schemes: Vec<SecuritySchemeSummary> = doc
        .components("securitySchemes")
        .filter_map(|(name, raw_scheme)| scheme_summary(doc, name, raw_scheme))
        .collect();
    let find = |name: &str| schemes.iter().find(|s| s.name == name);

    let strategies: Vec<AuthStrategy> = match doc.top("security").and_then(raw::array_items) {
        Some(requirements) => requirements
            .into_iter()
            .filter_map(RawObject::parse)
            .map(|requirement| AuthStrategy {
                schemes: requirement
                    .iter()
                    .map(|(name, _)| name.to_owned())
                    .filter(|name| find(name).is_some())
                    .collect(),
            })
            .filter(|s| !s.schemes.is_empty())
            .collect(),
        None => schemes
            .iter()
            .map(|s| AuthStrategy {
                schemes: vec![s.name.clone()],
            })
            .collect(),
    };

    let mut header_presets = Vec::new();
    for strategy in &strategies {
        let members: Vec<&SecuritySchemeSummary> =
            strategy.schemes.iter().filter_map(|n| find(n)).collect();
        if members
            .iter()
            .any(|s| s.scheme_type == "oauth2" || s.scheme_type == "openIdConnect")
        {
            continue;
        }
        let mut headers = OrderedMap::default();
        let mut secret_headers: Vec<String> = Vec::new();
        let mut placements: Vec<Placement> = Vec::new();
        for scheme in members {
            let placement = match (scheme.scheme_type.as_str(), scheme.location.as_deref()) {
                ("http", _) => {
                    let prefix = match scheme.scheme.as_deref().map(str::to_ascii_lowercase) {
                        Some(s) if s == "bearer" => "Bearer ",
                        Some(s) if s == "basic" => "Basic ",
                        _ => continue,
                    };
                    Some((Carrier::Header, "Authorization".to_owned(), prefix))
                }
                ("apiKey", Some("header")) => {
                    scheme.key_name.clone().map(|n| (Carrier::Header, n, ""))
                }
                // Upstream sends nothing for query keys (§14 #14); we add the query placement.
                ("apiKey", Some("query")) => {
                    scheme.key_name.clone().map(|n| (Carrier::Query, n, ""))
                }
                _ => None,
            };
            let Some((carrier, name, prefix)) = placement else {
                continue;
            };
            if carrier == Carrier::Header && !secret_headers.contains(&name) {
                headers.insert_new(name.clone(), None);
                secret_headers.push(name.clone());
            }
            if !placements
                .iter()
                .any(|p| p.carrier == carrier && p.name.eq_ignore_ascii_case(&name))
            {
                placements.push(Placement {
                    carrier,
                    name,
                    prefix: prefix.to_owned(),
                    variable: None,
                    literal: None,
                });
            }
        }
        header_presets.push(HeaderPreset {
            label: strategy.schemes.join(" + "),
            headers,
            secret_headers,
            placements,
        });
    }

    let mut oauth2_presets = Vec::new();
    for scheme in &schemes {
        let Some(flows) = &scheme.flows else {
            continue;
        };
        let entries = [
            (OAuthFlow::AuthorizationCode, &flows.authorization_code),
            (OAuthFlow::ClientCredentials, &flows.client_credentials),
        ];
        for (flow, summary) in entries {
            let Some(summary) = summary else {
                continue;
            };
            let (what, identity) = match flow {
                OAuthFlow::AuthorizationCode => ("authorization code", IdentityScopes::Auto),
                OAuthFlow::ClientCredentials => ("client credentials", IdentityScopes::Disabled),
            };
            oauth2_presets.push(OAuth2Preset {
                label: format!("{} ({what})", scheme.name),
                security_scheme_name: scheme.name.clone(),
                flow,
                authorization_url: summary.authorization_url.clone(),
                token_url: summary.token_url.clone(),
                refresh_url: summary.refresh_url.clone(),
                scopes: summary.scopes.0.iter().map(|(s, _)| s.clone()).collect(),
                identity_scopes: identity,
            });
        }
    }

    AuthAnalysis {
        schemes,
        strategies,
        header_presets,
        oauth2_presets,
    }
}

/// The auth templates an integration gets when the caller supplies none (§8.1.6): one apikey
/// template `apikey-<i>` per header preset (all placements share the `token` input), then one
/// oauth2 template `oauth-<scheme>` per OAuth2 scheme (authorization code preferred, with the
/// identity scopes added; else client credentials). Relative OAuth URLs are resolved against the
/// first server.
pub fn derive_auth_templates(doc: &OpenApiDocument) -> Vec<AuthTemplate> {
    let analysis = analyse(doc);
    let base = derived_base_url(doc);
    let mut templates = Vec::new();
    for (i, preset) in analysis.header_presets.iter().enumerate() {
        templates.push(AuthTemplate::ApiKey(ApiKeyTemplate {
            slug: format!("apikey-{i}"),
            label: None,
            placements: preset.placements.clone(),
        }));
    }
    for scheme in &analysis.schemes {
        let Some(flows) = &scheme.flows else {
            continue;
        };
        let template = if let Some(code) = &flows.authorization_code {
            let mut scopes: Vec<String> = code.scopes.0.iter().map(|(s, _)| s.clone()).collect();
            for identity in IDENTITY_SCOPES {
                if !scopes.iter().any(|s| s == identity) {
                    scopes.push(identity.to_owned());
                }
            }
            OAuth2Template {
                slug: format!("oauth-{}", scheme.name),
                authorization_url: absolutize(
                    code.authorization_url.as_deref().unwrap_or_default(),
                    base.as_deref(),
                ),
                token_url: absolutize(&code.token_url, base.as_deref()),
                scopes,
            }
        } else if let Some(client) = &flows.client_credentials {
            OAuth2Template {
                slug: format!("oauth-{}", scheme.name),
                authorization_url: String::new(),
                token_url: absolutize(&client.token_url, base.as_deref()),
                scopes: client.scopes.0.iter().map(|(s, _)| s.clone()).collect(),
            }
        } else {
            continue;
        };
        templates.push(AuthTemplate::OAuth2(template));
    }
    templates
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plugins::openapi::parse;
    use serde_json::{json, Value};

    #[test]
    fn urls_absolutise() {
        let base = Some("https://api.example.com/v1/root");
        assert_eq!(absolutize("/token", base), "https://api.example.com/token");
        assert_eq!(
            absolutize("token", base),
            "https://api.example.com/v1/token"
        );
        assert_eq!(absolutize("https://x/t", base), "https://x/t");
        assert_eq!(absolutize("//x/t", base), "https://x/t");
        assert_eq!(absolutize("/token", None), "/token");
        assert_eq!(absolutize("/token", Some("/relative")), "/token");
    }

    #[test]
    fn schemes_become_presets_and_templates() {
        let doc = parse(
            r#"{
                "openapi": "3.0.0",
                "servers": [{"url": "https://{host}/api", "variables": {"host": {"default": "auth.example"}}}],
                "security": [{"bearer": []}, {"key": [], "basic": []}, {"oauth": ["read"]}, {"query": []}, {"ghost": []}, {}],
                "paths": {},
                "components": {"securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    "basic": {"type": "http", "scheme": "basic"},
                    "key": {"type": "apiKey", "in": "header", "name": "X-Key", "description": "the key"},
                    "query": {"type": "apiKey", "in": "query", "name": "api_key"},
                    "oauth": {"type": "oauth2", "flows": {
                        "authorizationCode": {"authorizationUrl": "/authorize", "tokenUrl": "/token", "scopes": {"write": "w", "read": "r", "email": "e"}},
                        "clientCredentials": {"tokenUrl": "https://cc/token", "scopes": {}},
                        "implicit": {"authorizationUrl": "/x", "scopes": {}}}},
                    "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://oidc/.well-known"},
                    "mtls": {"type": "mutualTLS"}
                }}
            }"#
            .to_owned(),
        )
        .unwrap();
        let analysis = analyse(&doc);
        let names: Vec<_> = analysis.schemes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["bearer", "basic", "key", "query", "oauth", "oidc"]);
        assert_eq!(
            serde_json::to_value(&analysis.schemes[2]).unwrap(),
            json!({"name": "key", "type": "apiKey", "in": "header", "headerName": "X-Key", "description": "the key"})
        );
        assert_eq!(
            serde_json::to_value(&analysis.schemes[4]).unwrap()["flows"],
            json!({"authorizationCode": {"authorizationUrl": "/authorize", "tokenUrl": "/token",
                                         "scopes": {"write": "w", "read": "r", "email": "e"}},
                   "clientCredentials": {"tokenUrl": "https://cc/token", "scopes": {}}})
        );
        let strategies: Vec<Vec<String>> = analysis
            .strategies
            .iter()
            .map(|s| s.schemes.clone())
            .collect();
        assert_eq!(
            strategies,
            [
                vec!["bearer"],
                vec!["key", "basic"],
                vec!["oauth"],
                vec!["query"]
            ]
        );
        assert_eq!(
            serde_json::to_value(&analysis.header_presets).unwrap(),
            json!([
                {"label": "bearer", "headers": {"Authorization": null}, "secretHeaders": ["Authorization"]},
                {"label": "key + basic", "headers": {"X-Key": null, "Authorization": null}, "secretHeaders": ["X-Key", "Authorization"]},
                {"label": "query", "headers": {}, "secretHeaders": []}
            ])
        );
        assert_eq!(
            serde_json::to_value(&analysis.oauth2_presets).unwrap(),
            json!([
                {"label": "oauth (authorization code)", "securitySchemeName": "oauth", "flow": "authorizationCode",
                 "authorizationUrl": "/authorize", "tokenUrl": "/token", "scopes": ["write", "read", "email"], "identityScopes": "auto"},
                {"label": "oauth (client credentials)", "securitySchemeName": "oauth", "flow": "clientCredentials",
                 "tokenUrl": "https://cc/token", "scopes": [], "identityScopes": false}
            ])
        );

        let templates = derive_auth_templates(&doc);
        assert_eq!(
            serde_json::to_value(&templates).unwrap(),
            json!([
                {"kind": "apikey", "slug": "apikey-0", "placements": [{"carrier": "header", "name": "Authorization", "prefix": "Bearer "}]},
                {"kind": "apikey", "slug": "apikey-1", "placements": [
                    {"carrier": "header", "name": "X-Key"},
                    {"carrier": "header", "name": "Authorization", "prefix": "Basic "}]},
                {"kind": "apikey", "slug": "apikey-2", "placements": [{"carrier": "query", "name": "api_key"}]},
                {"kind": "oauth2", "slug": "oauth-oauth", "authorizationUrl": "https://auth.example/authorize",
                 "tokenUrl": "https://auth.example/token", "scopes": ["write", "read", "email", "openid", "profile"]}
            ])
        );
        let round_trip: Vec<AuthTemplate> =
            serde_json::from_value(serde_json::to_value(&templates).unwrap()).unwrap();
        assert_eq!(round_trip, templates);

        let descriptors = serde_json::to_value(auth_method_descriptors(&templates)).unwrap();
        assert_eq!(descriptors[0]["label"], "API key (Authorization)");
        assert_eq!(
            descriptors[1]["placements"][0],
            json!({"carrier": "header", "name": "X-Key", "prefix": ""})
        );
        assert_eq!(descriptors[3]["kind"], "oauth");
    }

    #[test]
    fn descriptor_projection_matches_the_wire() {
        let templates: Vec<AuthTemplate> = serde_json::from_value(json!([
            {"slug": "apikey-0", "kind": "apikey", "placements": [{"carrier": "header", "name": "X-API-Key"}]},
            {"slug": "custom_abc123", "kind": "apikey", "label": "Mine", "placements": []},
            {"slug": "empty", "kind": "apikey", "placements": []},
            {"slug": "oauth-oauth2", "kind": "oauth2", "authorizationUrl": "http://127.0.0.1:8902/authorize",
             "tokenUrl": "http://127.0.0.1:8902/token", "scopes": ["read", "openid", "email", "profile"]},
            {"slug": "anon", "kind": "none"}
        ]))
        .unwrap();
        let descriptors: Value = serde_json::to_value(auth_method_descriptors(&templates)).unwrap();
        assert_eq!(
            descriptors,
            json!([
                {"id": "apikey-0", "label": "API key (X-API-Key)", "kind": "apikey", "template": "apikey-0",
                 "placements": [{"carrier": "header", "name": "X-API-Key", "prefix": ""}]},
                {"id": "custom_abc123", "label": "Mine", "kind": "apikey", "template": "custom_abc123", "placements": []},
                {"id": "empty", "label": "API key (empty)", "kind": "apikey", "template": "empty", "placements": []},
                {"id": "oauth-oauth2", "label": "OAuth2", "kind": "oauth", "template": "oauth-oauth2",
                 "oauth": {"authorizationUrl": "http://127.0.0.1:8902/authorize", "tokenUrl": "http://127.0.0.1:8902/token",
                           "scopes": ["read", "openid", "email", "profile"]}},
                {"id": "anon", "label": "No authentication", "kind": "none", "template": "anon"}
            ])
        );
        // Field order on the wire (wire 14): id, label, kind, template, placements.
        let text =
            serde_json::to_string(&AuthMethodDescriptor::from_template(&templates[0])).unwrap();
        assert_eq!(
            text,
            r#"{"id":"apikey-0","label":"API key (X-API-Key)","kind":"apikey","template":"apikey-0","placements":[{"carrier":"header","name":"X-API-Key","prefix":""}]}"#
        );
    }

    #[test]
    fn upstream_test_server_gets_the_recorded_oauth_method() {
        let spec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/wire-examples/inputs/upstream-test-server-openapi.json"
        ));
        let Ok(spec) = spec else {
            eprintln!("skipping: shared/reference is not beside the repository");
            return;
        };
        let doc = parse(spec).unwrap();
        let descriptors =
            serde_json::to_value(auth_method_descriptors(&derive_auth_templates(&doc))).unwrap();
        assert_eq!(
            descriptors,
            json!([{"id": "oauth-oauth2", "label": "OAuth2", "kind": "oauth", "template": "oauth-oauth2",
                    "oauth": {"authorizationUrl": "http://127.0.0.1:8902/authorize", "tokenUrl": "http://127.0.0.1:8902/token",
                              "scopes": ["read", "openid", "email", "profile"]}}])
        );
    }
}
