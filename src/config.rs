//! Worker configuration: wrangler vars and secrets parsed into one validated [`Config`].
//!
//! The edge reads raw strings from the environment and calls [`Config::from_env`]; every problem
//! is collected so an operator sees all of them at once. A [`ConfigError`] is answered at the first
//! request (and every request after it) with a clear message naming the variables, never their
//! values.

use std::fmt;

/// A secret string. `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plaintext, for the one call that needs it (key derivation).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The single organization this deployment serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub slug: String,
}

/// Cloudflare Access settings, present unless dev auth is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// Normalised team domain, e.g. `myteam.cloudflareaccess.com` (no scheme, no trailing slash).
    pub team_domain: String,
    /// The Access application's AUD tag.
    pub aud: String,
    /// Where the signing keys are fetched from: `https://<team>/cdn-cgi/access/certs`, or plain
    /// `http://` when the team domain was configured as an explicit `http://` loopback address
    /// (tests serve a JWKS on 127.0.0.1).
    pub certs_url: String,
    /// Expected `iss`: `https://<team domain>`.
    pub issuer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// `ENABLE_DEV_AUTH=true`: every request is the fixed development principal.
    Dev,
    Access(AccessConfig),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub secret_key: Secret,
    pub auth: AuthMode,
    pub name_claim: String,
    pub groups_claim: String,
    /// Lowercased, trimmed, non-empty entries of `ADMIN_EMAILS`.
    pub admin_emails: Vec<String>,
    pub organization: Organization,
    /// `ALLOW_LOCAL_NETWORK=true` lets outbound calls reach loopback/private addresses.
    pub allow_local_network: bool,
    /// Wall-clock deadline of one `execute` run.
    pub execute_timeout_ms: u64,
    /// Memory cap of one sandbox runtime.
    pub execute_memory_bytes: usize,
    /// How long a paused execution stays resumable, and how long a settled one keeps its outcome
    /// for repeated resumes (`EXECUTION_PAUSE_TTL_SECONDS`).
    pub execution_pause_ttl_ms: u64,
    /// How long audit rows are kept (`AUDIT_RETENTION_DAYS`).
    pub audit_retention_ms: u64,
    /// Most audit rows kept across tenants (`AUDIT_MAX_ROWS`); 0 records nothing.
    pub audit_max_rows: u64,
    /// Optional pinned public origin of the console (`VITE_PUBLIC_SITE_URL`).
    pub public_site_url: Option<String>,
    /// How long the browser-mode MCP `resume` waits for a decision made on the console
    /// (`MCP_BROWSER_APPROVAL_WAIT_SECONDS`, default 10 minutes).
    pub browser_approval_wait_ms: u64,
    /// Tool calls one execution may make (`EXECUTE_MAX_TOOL_CALLS`).
    pub execute_max_tool_calls: u32,
    /// Executions (runs and resumes) one principal may have running at once, across isolates
    /// (`EXECUTE_MAX_CONCURRENT`; see `executions::lease`).
    pub execute_max_concurrent: u32,
}

/// Every configuration problem found, each naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid Worker configuration: {}",
            self.problems.join("; ")
        )
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_EXECUTE_TIMEOUT_MS: u64 = 30_000;
pub const MIN_EXECUTE_TIMEOUT_MS: u64 = 100;
pub const DEFAULT_EXECUTE_MEMORY_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_EXECUTION_PAUSE_TTL_SECONDS: u64 = 24 * 60 * 60;
/// Bounds of `EXECUTION_PAUSE_TTL_SECONDS`: one minute to 30 days.
pub const EXECUTION_PAUSE_TTL_SECONDS_RANGE: (u64, u64) = (60, 30 * 24 * 60 * 60);
pub const DEFAULT_AUDIT_RETENTION_DAYS: u64 = 30;
/// Bounds of `AUDIT_RETENTION_DAYS`: one day to ten years.
pub const AUDIT_RETENTION_DAYS_RANGE: (u64, u64) = (1, 3650);
pub const DEFAULT_AUDIT_MAX_ROWS: u64 = 100_000;
/// Bounds of `AUDIT_MAX_ROWS`.
pub const AUDIT_MAX_ROWS_RANGE: (u64, u64) = (100, 10_000_000);
/// Default of `MCP_BROWSER_APPROVAL_WAIT_SECONDS` (§6.6: up to ten minutes).
pub const DEFAULT_BROWSER_APPROVAL_WAIT_SECONDS: u64 = 10 * 60;
/// Bounds of `MCP_BROWSER_APPROVAL_WAIT_SECONDS`: one second (tests) to fifteen minutes.
pub const BROWSER_APPROVAL_WAIT_SECONDS_RANGE: (u64, u64) = (1, 15 * 60);
/// Bounds of `EXECUTE_MAX_TOOL_CALLS` (default [`crate::sandbox::DEFAULT_MAX_TOOL_CALLS`]).
pub const EXECUTE_MAX_TOOL_CALLS_RANGE: (u64, u64) = (1, 100_000);
pub const DEFAULT_EXECUTE_MAX_CONCURRENT: u32 = 8;
/// Bounds of `EXECUTE_MAX_CONCURRENT`.
pub const EXECUTE_MAX_CONCURRENT_RANGE: (u64, u64) = (1, 1_000);
const MIN_SECRET_KEY_CHARS: usize = 16;

/// Org slugs that would collide with console or API paths.
const RESERVED_SLUGS: &[&str] = &[
    "api",
    "mcp",
    ".well-known",
    "integrations",
    "policies",
    "secrets",
    "tools",
    "resume",
    "plugins",
    "login",
    "logout",
    "assets",
    "cdn-cgi",
    "oauth",
    "account",
    "accounts",
    "admin",
    "settings",
    "connections",
    "providers",
    "executions",
    "sources",
    "approvals",
    "audit",
    "run",
    "static",
    "public",
    "favicon.ico",
    "robots.txt",
    "health",
    "status",
    "auth",
    "callback",
    "signin",
    "signup",
    "register",
    "new",
    "org",
    "orgs",
    "organizations",
    "user",
    "users",
    "me",
    "docs",
    "help",
    "support",
    "billing",
    "invite",
    "invites",
    "members",
    "roles",
    "keys",
    "api-keys",
    "webhooks",
    "console",
    "dashboard",
    "app",
    "www",
    "mail",
    "sessions",
    "session",
    "mcp-sessions",
    "search",
    "connect",
    "agents",
];

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

fn is_loopback_host(host: &str) -> bool {
    if host.starts_with("[::1]") {
        return true;
    }
    let host = host.split(':').next().unwrap_or(host);
    host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Validates an org slug: 2–48 chars, lowercase alphanumerics with single inner hyphens, not
/// reserved (`default` is allowed).
pub fn validate_org_slug(slug: &str) -> Result<(), String> {
    let len = slug.chars().count();
    if !(2..=48).contains(&len) {
        return Err(format!(
            "SELF_HOSTED_ORG_SLUG must be 2–48 characters (got {len})"
        ));
    }
    let valid_chars = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_chars || slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
        return Err(
            "SELF_HOSTED_ORG_SLUG must be lowercase letters and digits with single inner hyphens"
                .into(),
        );
    }
    if RESERVED_SLUGS.contains(&slug) {
        return Err(format!("SELF_HOSTED_ORG_SLUG `{slug}` is reserved"));
    }
    Ok(())
}

impl Config {
    /// Parses and validates configuration from a variable lookup (vars and secrets alike).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();

        let secret_key = match var("EXECUTOR_SECRET_KEY") {
            None => {
                problems.push(
                    "EXECUTOR_SECRET_KEY is not set (a secret of at least 16 characters)".into(),
                );
                Secret::new("")
            }
            Some(v) if v.chars().count() < MIN_SECRET_KEY_CHARS => {
                problems.push(format!(
                    "EXECUTOR_SECRET_KEY is too short (at least {MIN_SECRET_KEY_CHARS} characters)"
                ));
                Secret::new("")
            }
            Some(v) => Secret::new(v),
        };

        let dev_auth = var("ENABLE_DEV_AUTH").map(|v| truthy(&v)).unwrap_or(false);
        let aud = var("ACCESS_AUD");
        let team = var("ACCESS_TEAM_DOMAIN");
        let auth = if dev_auth {
            if aud.is_some() {
                problems.push(
                    "ENABLE_DEV_AUTH=true and ACCESS_AUD are both set; refusing to serve: dev auth \
                     would bypass Cloudflare Access. Unset one of them"
                        .into(),
                );
            }
            AuthMode::Dev
        } else {
            match (team, aud) {
                (Some(team), Some(aud)) => {
                    let explicit_http = team.starts_with("http://");
                    let domain = team
                        .trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .trim_end_matches('/')
                        .to_string();
                    if domain.is_empty() || domain.contains('/') {
                        problems.push(
                            "ACCESS_TEAM_DOMAIN must be a host name such as myteam.cloudflareaccess.com"
                                .into(),
                        );
                    }
                    let certs_scheme = if explicit_http && is_loopback_host(&domain) {
                        "http"
                    } else {
                        "https"
                    };
                    AuthMode::Access(AccessConfig {
                        certs_url: format!("{certs_scheme}://{domain}/cdn-cgi/access/certs"),
                        issuer: format!("https://{domain}"),
                        team_domain: domain,
                        aud,
                    })
                }
                (team, aud) => {
                    if team.is_none() {
                        problems.push(
                            "ACCESS_TEAM_DOMAIN is not set (required unless ENABLE_DEV_AUTH=true)"
                                .into(),
                        );
                    }
                    if aud.is_none() {
                        problems.push("ACCESS_AUD is not set (required unless ENABLE_DEV_AUTH=true); refusing to skip the audience check".into());
                    }
                    AuthMode::Dev
                }
            }
        };

        let organization = Organization {
            id: var("SELF_HOSTED_ORG_ID").unwrap_or_else(|| "default".into()),
            name: var("SELF_HOSTED_ORG_NAME").unwrap_or_else(|| "Default".into()),
            slug: var("SELF_HOSTED_ORG_SLUG").unwrap_or_else(|| "default".into()),
        };
        if let Err(problem) = validate_org_slug(&organization.slug) {
            problems.push(problem);
        }

        let execute_timeout_ms = match var("EXECUTE_TIMEOUT_MS") {
            None => DEFAULT_EXECUTE_TIMEOUT_MS,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms >= MIN_EXECUTE_TIMEOUT_MS => ms,
                _ => {
                    problems.push(format!(
                        "EXECUTE_TIMEOUT_MS must be a whole number of milliseconds ≥ {MIN_EXECUTE_TIMEOUT_MS}"
                    ));
                    DEFAULT_EXECUTE_TIMEOUT_MS
                }
            },
        };
        let execute_memory_bytes = match var("EXECUTE_MEMORY_MB") {
            None => DEFAULT_EXECUTE_MEMORY_BYTES,
            Some(v) => match v.parse::<usize>() {
                Ok(mb) if (4..=96).contains(&mb) => mb * 1024 * 1024,
                _ => {
                    problems
                        .push("EXECUTE_MEMORY_MB must be a whole number between 4 and 96".into());
                    DEFAULT_EXECUTE_MEMORY_BYTES
                }
            },
        };
        let (min_ttl, max_ttl) = EXECUTION_PAUSE_TTL_SECONDS_RANGE;
        let execution_pause_ttl_ms = match var("EXECUTION_PAUSE_TTL_SECONDS") {
            None => DEFAULT_EXECUTION_PAUSE_TTL_SECONDS,
            Some(v) => match v.parse::<u64>() {
                Ok(secs) if (min_ttl..=max_ttl).contains(&secs) => secs,
                _ => {
                    problems.push(format!(
                        "EXECUTION_PAUSE_TTL_SECONDS must be a whole number of seconds between \
                         {min_ttl} and {max_ttl}"
                    ));
                    DEFAULT_EXECUTION_PAUSE_TTL_SECONDS
                }
            },
        } * 1000;
        // `zero_ok`: 0 is accepted besides the range (`AUDIT_MAX_ROWS=0` turns the log off).
        let mut bounded =
            |name: &str, (min, max): (u64, u64), default: u64, zero_ok: bool| match var(name) {
                None => default,
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) || (zero_ok && n == 0) => n,
                    _ => {
                        let (unit, zero) = if zero_ok {
                            ("rows", " (or 0)")
                        } else {
                            ("days", "")
                        };
                        problems.push(format!(
                            "{name} must be a whole number of {unit} between {min} and {max}{zero}"
                        ));
                        default
                    }
                },
            };
        let audit_retention_ms = bounded(
            "AUDIT_RETENTION_DAYS",
            AUDIT_RETENTION_DAYS_RANGE,
            DEFAULT_AUDIT_RETENTION_DAYS,
            false,
        ) * 24
            * 60
            * 60
            * 1000;
        let audit_max_rows = bounded(
            "AUDIT_MAX_ROWS",
            AUDIT_MAX_ROWS_RANGE,
            DEFAULT_AUDIT_MAX_ROWS,
            true,
        );

        let (min_wait, max_wait) = BROWSER_APPROVAL_WAIT_SECONDS_RANGE;
        let browser_approval_wait_ms = match var("MCP_BROWSER_APPROVAL_WAIT_SECONDS") {
            None => DEFAULT_BROWSER_APPROVAL_WAIT_SECONDS,
            Some(v) => match v.parse::<u64>() {
                Ok(secs) if (min_wait..=max_wait).contains(&secs) => secs,
                _ => {
                    problems.push(format!(
                        "MCP_BROWSER_APPROVAL_WAIT_SECONDS must be a whole number of seconds \
                         between {min_wait} and {max_wait}"
                    ));
                    DEFAULT_BROWSER_APPROVAL_WAIT_SECONDS
                }
            },
        } * 1000;

        let mut count = |name: &str, (min, max): (u64, u64), default: u32| match var(name) {
            None => default,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n as u32,
                _ => {
                    problems.push(format!(
                        "{name} must be a whole number between {min} and {max}"
                    ));
                    default
                }
            },
        };
        let execute_max_tool_calls = count(
            "EXECUTE_MAX_TOOL_CALLS",
            EXECUTE_MAX_TOOL_CALLS_RANGE,
            crate::sandbox::DEFAULT_MAX_TOOL_CALLS,
        );
        let execute_max_concurrent = count(
            "EXECUTE_MAX_CONCURRENT",
            EXECUTE_MAX_CONCURRENT_RANGE,
            DEFAULT_EXECUTE_MAX_CONCURRENT,
        );

        let public_site_url =
            var("VITE_PUBLIC_SITE_URL").map(|u| u.trim_end_matches('/').to_string());
        if let Some(url) = &public_site_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                problems.push("VITE_PUBLIC_SITE_URL must be an http(s) origin".into());
            }
        }

        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Config {
            secret_key,
            auth,
            name_claim: var("ACCESS_NAME_CLAIM").unwrap_or_else(|| "name".into()),
            groups_claim: var("ACCESS_GROUPS_CLAIM").unwrap_or_else(|| "groups".into()),
            admin_emails: var("ADMIN_EMAILS")
                .map(|list| {
                    list.split(',')
                        .map(|e| e.trim().to_ascii_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            organization,
            allow_local_network: var("ALLOW_LOCAL_NETWORK")
                .map(|v| truthy(&v))
                .unwrap_or(false),
            execute_timeout_ms,
            execute_memory_bytes,
            execution_pause_ttl_ms,
            audit_retention_ms,
            audit_max_rows,
            public_site_url,
            browser_approval_wait_ms,
            execute_max_tool_calls,
            execute_max_concurrent,
        })
    }

    /// A development configuration for host tests.
    pub fn for_tests() -> Config {
        Config::from_env(|name| match name {
            "EXECUTOR_SECRET_KEY" => Some("test-secret-key-0123456789".into()),
            "ENABLE_DEV_AUTH" => Some("true".into()),
            _ => None,
        })
        .expect("the test configuration is valid")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(|k| map.get(k).cloned())
    }

    const KEY: (&str, &str) = ("EXECUTOR_SECRET_KEY", "0123456789abcdef0123");

    #[test]
    fn dev_auth_with_defaults() {
        let c = parse(&[KEY, ("ENABLE_DEV_AUTH", "true")]).expect("valid");
        assert_eq!(c.auth, AuthMode::Dev);
        assert_eq!(c.organization.id, "default");
        assert_eq!(c.organization.slug, "default");
        assert_eq!(c.name_claim, "name");
        assert_eq!(c.execute_timeout_ms, DEFAULT_EXECUTE_TIMEOUT_MS);
        assert!(!c.allow_local_network);
    }

    #[test]
    fn missing_and_short_secret_key_are_named() {
        let e = parse(&[("ENABLE_DEV_AUTH", "true")]).unwrap_err();
        assert!(e.to_string().contains("EXECUTOR_SECRET_KEY is not set"));
        let e = parse(&[
            ("ENABLE_DEV_AUTH", "true"),
            ("EXECUTOR_SECRET_KEY", "short"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("too short"));
        assert!(
            !e.to_string().contains("short\""),
            "the value itself is never echoed"
        );
    }

    #[test]
    fn execution_limits_have_defaults_and_bounds() {
        let dev = ("ENABLE_DEV_AUTH", "true");
        let c = parse(&[KEY, dev]).expect("valid");
        assert_eq!(c.execute_max_tool_calls, 1_000);
        assert_eq!(c.execute_max_concurrent, DEFAULT_EXECUTE_MAX_CONCURRENT);
        let c = parse(&[
            KEY,
            dev,
            ("EXECUTE_MAX_TOOL_CALLS", "3"),
            ("EXECUTE_MAX_CONCURRENT", "1"),
        ])
        .expect("valid");
        assert_eq!((c.execute_max_tool_calls, c.execute_max_concurrent), (3, 1));
        for (name, bad) in [
            ("EXECUTE_MAX_TOOL_CALLS", "0"),
            ("EXECUTE_MAX_TOOL_CALLS", "100001"),
            ("EXECUTE_MAX_CONCURRENT", "0"),
            ("EXECUTE_MAX_CONCURRENT", "many"),
        ] {
            let e = parse(&[KEY, dev, (name, bad)]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn dev_auth_and_access_aud_refuse_to_serve() {
        let e = parse(&[KEY, ("ENABLE_DEV_AUTH", "true"), ("ACCESS_AUD", "abc")]).unwrap_err();
        assert!(e.to_string().contains("refusing to serve"));
    }

    #[test]
    fn access_requires_team_and_aud_fail_closed() {
        let e = parse(&[KEY]).unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
        let e = parse(&[KEY, ("ACCESS_TEAM_DOMAIN", "t.cloudflareaccess.com")]).unwrap_err();
        assert!(e.to_string().contains("ACCESS_AUD"));
    }

    #[test]
    fn team_domain_is_normalised_and_certs_url_derived() {
        let c = parse(&[
            KEY,
            ("ACCESS_TEAM_DOMAIN", "https://team.cloudflareaccess.com/"),
            ("ACCESS_AUD", "aud1"),
        ])
        .expect("valid");
        let AuthMode::Access(a) = c.auth else {
            panic!("access mode")
        };
        assert_eq!(a.team_domain, "team.cloudflareaccess.com");
        assert_eq!(a.issuer, "https://team.cloudflareaccess.com");
        assert_eq!(
            a.certs_url,
            "https://team.cloudflareaccess.com/cdn-cgi/access/certs"
        );
    }

    #[test]
    fn explicit_http_loopback_team_domain_fetches_certs_over_http() {
        let c = parse(&[
            KEY,
            ("ACCESS_TEAM_DOMAIN", "http://127.0.0.1:4567"),
            ("ACCESS_AUD", "a"),
        ])
        .expect("valid");
        let AuthMode::Access(a) = c.auth else {
            panic!("access mode")
        };
        assert_eq!(a.certs_url, "http://127.0.0.1:4567/cdn-cgi/access/certs");
        assert_eq!(a.issuer, "https://127.0.0.1:4567");
        // A public host never downgrades to http.
        let c = parse(&[
            KEY,
            ("ACCESS_TEAM_DOMAIN", "http://team.example.com"),
            ("ACCESS_AUD", "a"),
        ])
        .expect("valid");
        let AuthMode::Access(a) = c.auth else {
            panic!("access mode")
        };
        assert!(a.certs_url.starts_with("https://"));
    }

    #[test]
    fn org_slug_rules() {
        assert!(validate_org_slug("default").is_ok());
        assert!(validate_org_slug("acme-co").is_ok());
        assert!(validate_org_slug("a").is_err());
        assert!(validate_org_slug("-acme").is_err());
        assert!(validate_org_slug("ac--me").is_err());
        assert!(validate_org_slug("Acme").is_err());
        assert!(validate_org_slug("api").is_err());
        let e = parse(&[
            KEY,
            ("ENABLE_DEV_AUTH", "1"),
            ("SELF_HOSTED_ORG_SLUG", "mcp"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("reserved"));
    }

    #[test]
    fn admin_emails_and_flags() {
        let c = parse(&[
            KEY,
            ("ENABLE_DEV_AUTH", "true"),
            ("ADMIN_EMAILS", " A@x.com, ,b@y.org "),
            ("ALLOW_LOCAL_NETWORK", "true"),
            ("EXECUTE_TIMEOUT_MS", "1500"),
        ])
        .expect("valid");
        assert_eq!(c.admin_emails, vec!["a@x.com", "b@y.org"]);
        assert!(c.allow_local_network);
        assert_eq!(c.execute_timeout_ms, 1500);
        assert_eq!(c.execution_pause_ttl_ms, 24 * 60 * 60 * 1000);
        let short = parse(&[
            KEY,
            ("ENABLE_DEV_AUTH", "true"),
            ("EXECUTION_PAUSE_TTL_SECONDS", "120"),
        ])
        .expect("valid");
        assert_eq!(short.execution_pause_ttl_ms, 120_000);
        assert_eq!(c.browser_approval_wait_ms, 600_000);
        let quick = parse(&[
            KEY,
            ("ENABLE_DEV_AUTH", "true"),
            ("MCP_BROWSER_APPROVAL_WAIT_SECONDS", "3"),
        ])
        .expect("valid");
        assert_eq!(quick.browser_approval_wait_ms, 3_000);
        for bad in ["0", "5m", "100000"] {
            let e = parse(&[
                KEY,
                ("ENABLE_DEV_AUTH", "true"),
                ("MCP_BROWSER_APPROVAL_WAIT_SECONDS", bad),
            ])
            .unwrap_err();
            assert!(
                e.to_string().contains("MCP_BROWSER_APPROVAL_WAIT_SECONDS"),
                "{e}"
            );
        }
        for bad in ["10", "-1", "1h", "99999999"] {
            let e = parse(&[
                KEY,
                ("ENABLE_DEV_AUTH", "true"),
                ("EXECUTION_PAUSE_TTL_SECONDS", bad),
            ])
            .unwrap_err();
            assert!(e.to_string().contains("EXECUTION_PAUSE_TTL_SECONDS"), "{e}");
        }
        assert!(parse(&[
            KEY,
            ("ENABLE_DEV_AUTH", "true"),
            ("EXECUTE_TIMEOUT_MS", "5")
        ])
        .is_err());
    }

    #[test]
    fn audit_retention_bounds() {
        let c = parse(&[KEY, ("ENABLE_DEV_AUTH", "true")]).expect("valid");
        assert_eq!(c.audit_retention_ms, 30 * 24 * 60 * 60 * 1000);
        assert_eq!(c.audit_max_rows, DEFAULT_AUDIT_MAX_ROWS);
        let c = parse(&[
            KEY,
            ("ENABLE_DEV_AUTH", "true"),
            ("AUDIT_RETENTION_DAYS", "7"),
            ("AUDIT_MAX_ROWS", "5000"),
        ])
        .expect("valid");
        assert_eq!(
            (c.audit_retention_ms, c.audit_max_rows),
            (7 * 24 * 60 * 60 * 1000, 5000)
        );
        let off =
            parse(&[KEY, ("ENABLE_DEV_AUTH", "true"), ("AUDIT_MAX_ROWS", "0")]).expect("valid");
        assert_eq!(off.audit_max_rows, 0);
        for (name, bad) in [
            ("AUDIT_RETENTION_DAYS", "0"),
            ("AUDIT_RETENTION_DAYS", "1d"),
            ("AUDIT_MAX_ROWS", "10"),
            ("AUDIT_MAX_ROWS", "-5"),
        ] {
            let e = parse(&[KEY, ("ENABLE_DEV_AUTH", "true"), (name, bad)]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?}").contains("super"));
    }
}
