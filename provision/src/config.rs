//! Deployment inputs: flags, then the environment, then a `.env` file, then what the state
//! file remembers from an earlier run. Every problem is collected and reported at once, with
//! the flag and variable to fix.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::secret::Secret;

/// Cloudflare's API root.
pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";

pub const ENV_HOSTNAME: &str = "EXECUTOR_HOSTNAME";
pub const ENV_EMAIL: &str = "EXECUTOR_ALLOWED_EMAIL";
pub const ENV_TEAM_DOMAIN: &str = "ACCESS_TEAM_DOMAIN";
pub const ENV_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
pub const ENV_ACCOUNT: &str = "CLOUDFLARE_ACCOUNT_ID";
pub const ENV_API_BASE: &str = "CLOUDFLARE_API_BASE_URL";

/// Values given as command-line flags.
#[derive(Debug, Clone, Default)]
pub struct FlagInputs {
    pub hostname: Option<String>,
    pub allowed_emails: Vec<String>,
    pub team_domain: Option<String>,
    pub account_id: Option<String>,
    pub api_base: Option<String>,
}

/// Values an earlier run recorded in the state file (never secrets).
#[derive(Debug, Clone, Default)]
pub struct Remembered {
    pub hostname: Option<String>,
    pub allowed_emails: Vec<String>,
    pub team_domain: Option<String>,
    pub account_id: Option<String>,
}

/// Which inputs a command cannot do without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `up` and `plan`: hostname, allowed email(s) and the API token.
    Deploy,
    /// `destroy` and `status`: hostname and the API token.
    Teardown,
}

/// The environment and the `.env` file, in that order of precedence.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    env: HashMap<String, String>,
    dotenv: HashMap<String, String>,
}

impl Sources {
    pub fn new(env: HashMap<String, String>, dotenv: HashMap<String, String>) -> Self {
        Self { env, dotenv }
    }

    /// The process environment plus `env_file` when it exists.
    pub fn from_process(env_file: &Path) -> Result<Self> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let dotenv = match std::fs::read_to_string(env_file) {
            Ok(text) => parse_dotenv(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", env_file.display()))?
                .into_iter()
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", env_file.display()));
            }
        };
        Ok(Self { env, dotenv })
    }

    /// The non-blank value of `key`: the environment first, then the `.env` file.
    pub fn get(&self, key: &str) -> Option<String> {
        [&self.env, &self.dotenv]
            .into_iter()
            .filter_map(|m| m.get(key))
            .map(|v| v.trim().to_string())
            .find(|v| !v.is_empty())
    }
}

/// Parses a `.env` file: `KEY=value` lines, optional `export `, `#` comments, values
/// optionally in single or double quotes. A malformed line is an error naming its number.
pub fn parse_dotenv(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected `KEY=value`", n + 1));
        };
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("line {}: `{key}` is not a variable name", n + 1));
        }
        let value = value.trim();
        let value = if let Some(inner) = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|_| value.len() >= 2)
        {
            inner.replace("\\\"", "\"").replace("\\n", "\n")
        } else if let Some(inner) = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .filter(|_| value.len() >= 2)
        {
            inner.to_string()
        } else {
            // An unquoted value ends at ` #` (an inline comment).
            value
                .split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Validated inputs.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub hostname: String,
    pub allowed_emails: Vec<String>,
    /// Checked against the account's Access organization by `up`.
    pub team_domain: Option<String>,
    pub account_id: Option<String>,
    pub api_token: Secret,
    pub api_base: String,
}

/// Every problem with the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputErrors(pub Vec<String>);

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == 1 {
            return write!(f, "{}", self.0[0]);
        }
        write!(f, "{} problems with the inputs:", self.0.len())?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

/// `executor.example.com`: lower-cased; `[a-z0-9]` at both ends, `[a-z0-9.-]` inside, at least
/// one dot, no empty label.
pub fn check_hostname(raw: &str) -> std::result::Result<String, String> {
    let host = raw.trim().to_ascii_lowercase();
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = ends_ok(host.chars().next())
        && ends_ok(host.chars().last())
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && host.contains('.')
        && host.split('.').all(|l| !l.is_empty() && l.len() <= 63);
    if ok {
        Ok(host)
    } else {
        Err(format!(
            "`{ENV_HOSTNAME}` (`--hostname`) `{raw}` must be a hostname with a dot, like `executor.example.com`"
        ))
    }
}

/// One email address: `local@domain.tld`, no spaces, lower-cased.
pub fn check_email(raw: &str) -> std::result::Result<String, String> {
    let email = raw.trim().to_ascii_lowercase();
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            let plain =
                |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '@');
            plain(local)
                && plain(domain)
                && domain
                    .rsplit_once('.')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        }
        None => false,
    };
    if ok {
        Ok(email)
    } else {
        Err(format!(
            "`{ENV_EMAIL}` (`--allowed-email`) `{raw}` must be one email address per entry, like `you@example.com`"
        ))
    }
}

/// `your-team.cloudflareaccess.com` (a leading `https://` and trailing `/` are accepted).
pub fn check_team_domain(raw: &str) -> std::result::Result<String, String> {
    let lower = raw.trim().to_ascii_lowercase();
    let domain = lower
        .strip_prefix("https://")
        .unwrap_or(&lower)
        .trim_end_matches('/');
    let ok = domain
        .strip_suffix(".cloudflareaccess.com")
        .is_some_and(|team| {
            !team.is_empty()
                && team
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if ok {
        Ok(domain.to_string())
    } else {
        Err(format!(
            "`{ENV_TEAM_DOMAIN}` (`--team-domain`) `{raw}` must look like `your-team.cloudflareaccess.com`"
        ))
    }
}

/// 32 lower-case hex characters.
pub fn check_account_id(raw: &str) -> std::result::Result<String, String> {
    let id = raw.trim().to_ascii_lowercase();
    if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(format!(
            "`{ENV_ACCOUNT}` (`--account-id`) `{raw}` must be 32 hex characters (the id in the dashboard URL)"
        ))
    }
}

/// `http(s)://…`, without a trailing slash.
pub fn check_api_base(raw: &str) -> std::result::Result<String, String> {
    let base = raw.trim().trim_end_matches('/');
    if (base.starts_with("https://") || base.starts_with("http://")) && base.len() > 8 {
        Ok(base.to_string())
    } else {
        Err(format!(
            "`{ENV_API_BASE}` (`--api-base`) `{raw}` must be an http(s) URL like `{DEFAULT_API_BASE}`"
        ))
    }
}

fn check_token(raw: &str) -> std::result::Result<Secret, String> {
    if raw.chars().any(char::is_whitespace) || raw.len() < 8 {
        // Never echo the value.
        Err(format!(
            "`{ENV_TOKEN}` does not look like an API token (it is too short or contains spaces)"
        ))
    } else {
        Ok(Secret::new(raw))
    }
}

/// Resolves and validates the inputs: flag > environment > `.env` > state > default.
pub fn resolve(
    flags: &FlagInputs,
    sources: &Sources,
    remembered: &Remembered,
    need: Need,
) -> std::result::Result<Inputs, InputErrors> {
    let mut missing: Vec<&str> = Vec::new();
    let mut problems: Vec<String> = Vec::new();

    let hostname = flags
        .hostname
        .clone()
        .or_else(|| sources.get(ENV_HOSTNAME))
        .or_else(|| remembered.hostname.clone());
    let hostname = match hostname {
        Some(raw) => check_hostname(&raw).map_err(|e| problems.push(e)).ok(),
        None => {
            missing.push("EXECUTOR_HOSTNAME (--hostname)");
            None
        }
    };

    let mut raw_emails: Vec<String> = flags.allowed_emails.clone();
    if raw_emails.is_empty() {
        if let Some(list) = sources.get(ENV_EMAIL) {
            raw_emails = list.split(',').map(str::to_string).collect();
        } else {
            raw_emails = remembered.allowed_emails.clone();
        }
    }
    let mut allowed_emails = Vec::new();
    for raw in raw_emails.iter().filter(|e| !e.trim().is_empty()) {
        match check_email(raw) {
            Ok(email) if !allowed_emails.contains(&email) => allowed_emails.push(email),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    if need == Need::Deploy
        && allowed_emails.is_empty()
        && !raw_emails.iter().any(|e| !e.trim().is_empty())
    {
        missing.push("EXECUTOR_ALLOWED_EMAIL (--allowed-email)");
    }

    let team_domain = flags
        .team_domain
        .clone()
        .or_else(|| sources.get(ENV_TEAM_DOMAIN))
        .or_else(|| remembered.team_domain.clone())
        .and_then(|raw| check_team_domain(&raw).map_err(|e| problems.push(e)).ok());

    let account_id = flags
        .account_id
        .clone()
        .or_else(|| sources.get(ENV_ACCOUNT))
        .or_else(|| remembered.account_id.clone())
        .and_then(|raw| check_account_id(&raw).map_err(|e| problems.push(e)).ok());

    let api_token = match sources.get(ENV_TOKEN) {
        Some(raw) => check_token(&raw).map_err(|e| problems.push(e)).ok(),
        None => {
            missing.push("CLOUDFLARE_API_TOKEN (environment or `.env` only)");
            None
        }
    };

    let api_base = flags
        .api_base
        .clone()
        .or_else(|| sources.get(ENV_API_BASE))
        .unwrap_or_else(|| DEFAULT_API_BASE.to_string());
    let api_base = check_api_base(&api_base).map_err(|e| problems.push(e)).ok();

    if !missing.is_empty() {
        problems.insert(0, format!("missing {}", missing.join(", ")));
    }
    match (hostname, api_token, api_base) {
        (Some(hostname), Some(api_token), Some(api_base)) if problems.is_empty() => Ok(Inputs {
            hostname,
            allowed_emails,
            team_domain,
            account_id,
            api_token,
            api_base,
        }),
        _ => Err(InputErrors(problems)),
    }
}

/// The `hint:` printed under input errors.
pub const INPUT_HINT: &str = "set them as flags, in the environment or in `.env` (see `provision up --help` and README \"Deploy to Cloudflare\")";

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(pairs: &[(&str, &str)]) -> Sources {
        Sources::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            HashMap::new(),
        )
    }

    const TOKEN: &str = "tok_0123456789abcdef";

    #[test]
    fn valid_inputs_round_trip_lower_cased() {
        let inputs = resolve(
            &FlagInputs::default(),
            &sources(&[
                (ENV_HOSTNAME, " Executor.Example.com "),
                (ENV_EMAIL, "Me@Example.com, you@example.org"),
                (ENV_TEAM_DOMAIN, "https://Team.cloudflareaccess.com/"),
                (ENV_TOKEN, TOKEN),
            ]),
            &Remembered::default(),
            Need::Deploy,
        )
        .expect("valid");
        assert_eq!(inputs.hostname, "executor.example.com");
        assert_eq!(
            inputs.allowed_emails,
            vec!["me@example.com", "you@example.org"]
        );
        assert_eq!(
            inputs.team_domain.as_deref(),
            Some("team.cloudflareaccess.com")
        );
        assert_eq!(inputs.api_base, DEFAULT_API_BASE);
        assert_eq!(inputs.api_token.expose(), TOKEN);
    }

    #[test]
    fn all_missing_names_are_listed_in_order() {
        let err = resolve(
            &FlagInputs::default(),
            &sources(&[]),
            &Remembered::default(),
            Need::Deploy,
        )
        .expect_err("missing");
        assert_eq!(err.0.len(), 1);
        let text = err.to_string();
        let h = text.find("EXECUTOR_HOSTNAME").expect("hostname");
        let e = text.find("EXECUTOR_ALLOWED_EMAIL").expect("email");
        let t = text.find("CLOUDFLARE_API_TOKEN").expect("token");
        assert!(h < e && e < t, "{text}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = resolve(
            &FlagInputs {
                hostname: Some("localhost".into()),
                allowed_emails: vec!["nope".into()],
                team_domain: Some("team.example.com".into()),
                account_id: Some("123".into()),
                api_base: Some("ftp://x".into()),
            },
            &sources(&[]),
            &Remembered::default(),
            Need::Deploy,
        )
        .expect_err("invalid");
        let text = err.to_string();
        assert_eq!(err.0.len(), 6, "{text}");
        assert!(text.contains("missing CLOUDFLARE_API_TOKEN"), "{text}");
        assert!(text.contains("must be a hostname"), "{text}");
        assert!(text.contains("one email address"), "{text}");
        assert!(
            text.contains("must look like `your-team.cloudflareaccess.com`"),
            "{text}"
        );
        assert!(text.contains("32 hex"), "{text}");
        assert!(text.contains("http(s) URL"), "{text}");
    }

    #[test]
    fn flags_beat_env_beats_dotenv_beats_state() {
        let src = Sources::new(
            [(ENV_HOSTNAME.to_string(), "env.example.com".to_string())].into(),
            [
                (ENV_HOSTNAME.to_string(), "dotenv.example.com".to_string()),
                (ENV_EMAIL.to_string(), "dotenv@example.com".to_string()),
                (ENV_TOKEN.to_string(), TOKEN.to_string()),
            ]
            .into(),
        );
        let remembered = Remembered {
            hostname: Some("state.example.com".into()),
            account_id: Some("0123456789abcdef0123456789abcdef".into()),
            ..Remembered::default()
        };
        let from_env =
            resolve(&FlagInputs::default(), &src, &remembered, Need::Deploy).expect("valid");
        assert_eq!(from_env.hostname, "env.example.com");
        assert_eq!(from_env.allowed_emails, vec!["dotenv@example.com"]);
        assert_eq!(
            from_env.account_id.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        let flagged = FlagInputs {
            hostname: Some("flag.example.com".into()),
            ..FlagInputs::default()
        };
        let from_flag = resolve(&flagged, &src, &remembered, Need::Deploy).expect("valid");
        assert_eq!(from_flag.hostname, "flag.example.com");
    }

    #[test]
    fn teardown_needs_no_email_and_token_is_never_echoed() {
        let secret = "sp ace-in-t0ken";
        let err = resolve(
            &FlagInputs {
                hostname: Some("a.example.com".into()),
                ..FlagInputs::default()
            },
            &sources(&[(ENV_TOKEN, secret)]),
            &Remembered::default(),
            Need::Teardown,
        )
        .expect_err("bad token");
        assert_eq!(err.0.len(), 1);
        assert!(!err.to_string().contains(secret));
    }

    #[test]
    fn dotenv_syntax() {
        let parsed = parse_dotenv(
            "# comment\n\nexport A=1\nB = \"two words\"\nC='x#y'\nD=plain # note\nE=\n",
        )
        .expect("parses");
        assert_eq!(
            parsed,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x#y".into()),
                ("D".into(), "plain".into()),
                ("E".into(), String::new()),
            ]
        );
        assert!(parse_dotenv("just words")
            .expect_err("bad")
            .contains("line 1"));
        assert!(parse_dotenv("1X=2").is_err());
    }

    #[test]
    fn single_rules() {
        assert!(check_hostname("a.b.example.com").is_ok());
        assert!(check_hostname("-a.example.com").is_err());
        assert!(check_hostname("a..example.com").is_err());
        assert!(check_email("a@b").is_err());
        assert!(check_email("a b@c.de").is_err());
        assert!(check_team_domain("my-team.cloudflareaccess.com").is_ok());
        assert!(check_team_domain(".cloudflareaccess.com").is_err());
    }
}
